"""A real uvicorn server in a background thread, for tests that speak HTTP over a socket."""

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from app.config import Settings
from app.main import create_app


def listening_socket() -> socket.socket:
    """A socket listening on a free port of 127.0.0.1, for a server to take over. Choosing a
    free port and letting the server bind it later is a race: another process (a parallel
    test run's PostgreSQL, say) may take the port in between."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    with serving_in_thread(create_app(settings)) as base:
        yield base


@contextmanager
def serving_in_thread(app: ASGIApp, log_level: str = "warning") -> Iterator[str]:
    """`app` served by a real uvicorn in a background thread, on a socket bound beforehand."""
    sock = listening_socket()
    port = port_of(sock)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serving_process(
    argv: list[str], env: dict[str, str], cwd: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m app.cli serve` (argv) in a process of its own, on a socket this process
    bound and hands over (`--fd`). This process closes its copy at once, so that once the
    server closes its listener, new connections are refused."""
    with listening_socket() as sock:
        port = port_of(sock)
        fd = sock.fileno()
        proc = subprocess.Popen([*argv, "--fd", str(fd)], env=env, cwd=cwd, pass_fds=[fd])
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
