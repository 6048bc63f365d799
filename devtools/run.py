"""`make run`: database, migrations, demo data and the API server in one command.

Without DATABASE_URL (in the environment or in .env) the local cluster in
.data/pg is started (created on first use, see devtools/localpg.py) and its URL
handed to the children. Then `python -m devtools.demo prepare` (migrate, then the
idempotent demo seed) and the API server (`python -m app.cli serve`, uvicorn) on
127.0.0.1:${PORT:-8000}.

Ctrl+C / SIGTERM, or the server exiting, stops the server first and then the
local PostgreSQL; a stop asked for (Ctrl+C, SIGTERM) that goes cleanly exits 0, so that make
reports no error, but only if this launcher started it: a cluster that was
already running (another `make run`, or `python -m devtools.localpg start`) is
left up. The server stops as in production: it drains (readiness 503) for
APP_SERVER__DRAIN_SECONDS, then lets requests in flight finish (both read, as
the server reads them, from the environment or .env); a second
Ctrl+C skips the drain, a third cancels those requests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from pydantic import ValidationError

from app.config import ServerSettings
from devtools.localpg import LocalPostgres, LocalPostgresError

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# Beyond the server's own drain and graceful timeout, before it is killed.
SHUTDOWN_MARGIN_S = 10.0


def _say(message: str, prefix: str = "[make run] ") -> None:
    # A closed stderr (e.g. `make run | tee log` after Ctrl+C killed tee) must
    # not abort the shutdown and leave PostgreSQL running.
    with contextlib.suppress(OSError):
        print(f"{prefix}{message}", file=sys.stderr, flush=True)


def redact(url: str) -> str:
    """The URL without its password (safe to print)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class BadSetting(Exception):
    """A setting the launcher reads (as the server will) is malformed."""


def _dotenv(path: Path = REPO / ".env") -> dict[str, str]:
    """The .env file as the app's settings read it (pydantic-settings uses python-dotenv),
    empty when there is none."""
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _database_url_from_dotenv() -> str | None:
    # The app's settings also read .env; a URL there must win over a local
    # cluster just as one in the environment does.
    return _dotenv().get("DATABASE_URL", "").strip() or None


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _prepare_demo(env: dict[str, str]) -> None:
    command = "python -m devtools.demo prepare"
    _say(command)
    argv = [sys.executable, "-m", "devtools.demo", "prepare"]
    result = subprocess.run(argv, env=env, cwd=REPO, check=False)
    if result.returncode != 0:
        raise SystemExit(f"[make run] `{command}` failed (exit {result.returncode})")


def server_argv(port: int) -> list[str]:
    """The API server's command line: the service's own (app/serve.py), which drains on
    SIGTERM, writes its own JSON access log and ignores X-Forwarded-For."""
    return [sys.executable, "-m", "app.cli", "serve", "--host", HOST, "--port", str(port)]


def shutdown_grace_s(env: dict[str, str], dotenv: Path = REPO / ".env") -> float:
    """How long the server may take to stop after the first signal before it is killed: its
    drain and graceful timeout, read as the server reads them (the environment first, then
    .env), and a margin. BadSetting, saying which, when one of them is malformed."""
    prefix = "APP_SERVER__"
    given: dict[str, tuple[str, str]] = {}  # field: (value, where it was read)
    for source, values in ((str(dotenv.name), _dotenv(dotenv)), ("the environment", env)):
        for key, value in values.items():
            name = key[len(prefix) :].lower()
            if key.upper().startswith(prefix) and name in ServerSettings.model_fields:
                given[name] = (value, source)
    try:
        server = ServerSettings.model_validate({k: v for k, (v, _) in given.items()})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0])
            value, source = given.get(name, ("", "?"))
            problems.append(f"{prefix}{name.upper()}={value!r} (in {source}): {error['msg']}")
        raise BadSetting("; ".join(problems)) from None
    return server.drain_seconds + server.graceful_timeout_seconds + SHUTDOWN_MARGIN_S


def development_env() -> dict[str, str]:
    """The environment of the children: development unless the caller chose otherwise (the
    service's own default is production, which refuses the published development keys)."""
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    return env


def _serve(
    env: dict[str, str], port: int, db_url: str, pg: LocalPostgres | None, grace: float
) -> int:
    argv = server_argv(port)
    # Own process group: the terminal's Ctrl+C reaches only this launcher, which
    # passes each one on exactly once (the first drains, a second skips the
    # drain, a third cancels the requests in flight).
    proc = subprocess.Popen(argv, env=env, cwd=REPO, start_new_session=True)
    signals: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)
        if proc.poll() is None:
            proc.send_signal(signum)
        if len(signals) == 1:
            _say("stopping: draining first (Ctrl+C again to skip the drain)")

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        if _wait_until_listening(proc, port, timeout=120) and not signals:
            base = f"http://{HOST}:{port}"
            where = f" (cluster {pg.data_dir}, log {pg.log_file})" if pg else ""
            _say(
                f"\n  Cadre training records service is up\n"
                f"  API:       {base}/api/v1\n"
                f"  Docs:      {base}/docs  (ReDoc: {base}/redoc)\n"
                f"  Database:  {redact(db_url)}{where}\n"
                f"  Stop with Ctrl+C.\n",
                prefix="",
            )
        deadline: float | None = None
        while True:
            try:
                returncode = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if signals and deadline is None:
                    deadline = time.monotonic() + grace
                if deadline is not None and time.monotonic() > deadline:
                    _say("the server did not stop in time; killing it")
                    proc.kill()
    finally:
        if proc.poll() is None:  # only on an unexpected error in this function
            proc.kill()
            proc.wait()
    if signals:
        # Stopping is what Ctrl+C asked for: not an error, for make or for the person.
        if returncode == 0:
            _say("the server stopped")
            return 0
        _say(f"the server did not stop cleanly (exit code {returncode})")
        return 128 - returncode if returncode < 0 else returncode
    _say(f"the server exited with code {returncode}")
    # It is not supposed to exit on its own: never report success.
    if returncode < 0:
        return 128 - returncode  # killed by a signal
    return returncode or 1


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    try:
        port = int(os.environ.get("PORT", "8000"))
    except ValueError:
        _say(f"PORT must be a number, not {os.environ['PORT']!r}")
        return 2
    if _port_in_use(port):
        _say(f"port {port} on {HOST} is already in use; choose another, e.g. `PORT=8001 make run`")
        return 1

    # Until the server runs, SIGTERM unwinds like Ctrl+C so that `finally` stops
    # the database (subprocess.run kills a running migrate/seed step on the way).
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    env = development_env()
    try:
        grace = shutdown_grace_s(env)
    except BadSetting as exc:
        _say(f"cannot start the server: {exc}")
        return 2
    pg: LocalPostgres | None = None
    try:
        db_url = env.get("DATABASE_URL") or _database_url_from_dotenv()
        if db_url:
            _say(f"using DATABASE_URL {redact(db_url)}")
        else:
            pg = LocalPostgres(REPO / ".data" / "pg")
            db_url = pg.start()
            env["DATABASE_URL"] = db_url
            if pg.started:
                _say(f"started local PostgreSQL: {db_url}")
            else:
                _say(f"local PostgreSQL was already running, reusing it: {db_url}")
        # One process for both: importing the app costs about two seconds.
        _prepare_demo(env)
        return _serve(env, port, db_url, pg, grace)
    except KeyboardInterrupt:
        _say("stopped before the server started")
        return 0
    except LocalPostgresError as exc:
        _say(f"local PostgreSQL: {exc}")
        return 1
    finally:
        # Ignore further Ctrl+C while shutting down: an interrupted stop would
        # leave the server running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if pg is not None and pg.started:
            _say("stopping local PostgreSQL")
            pg.stop()
        elif pg is not None:
            _say("leaving the local PostgreSQL running (this launcher did not start it)")


if __name__ == "__main__":
    sys.exit(main())
