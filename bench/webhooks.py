"""Benchmark of the webhook worker with a receiver that never answers (issue 11, Webhooks): real
`python -m app.cli webhook-worker` processes, receivers on 127.0.0.1 in this process.

1. yardstick: K fast receivers, a backlog of N events each; messages/s delivered to them;
2. the same with one more subscription whose receiver never answers (until the worker's
   timeout): messages/s delivered to the K fast ones;
3. takeover: a worker is SIGKILLed while a receiver holds its request; a second worker, already
   running, sends the message again: the time from the kill to the re-send, and whether it is
   the same message (same `webhook-id`);
4. stop: the same with SIGTERM: the time until the first worker exits, and until the second
   sends the message again (handed back, so at once).

    python -m bench.webhooks [--database-url URL] [--app-dir DIR] [--receivers 5]
        [--events 2000] [--batch-size 10] [--timeout 15] [--lease 20] [--seconds 30]

`--app-dir`: the code the workers run (default: this checkout), e.g. an export of an older
commit (`git archive <commit> | tar -x -C /tmp/old`) for the "before" figures; `--seconds`
bounds each phase. Without `--database-url` a throw-away PostgreSQL is started and migrated
(devtools/localpg.py).
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg

from bench.compliance import _plain
from devtools.localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Receiver:
    """Answers 204 at once, or (`hang`) holds the first `hang` requests until the worker gives
    up on them."""

    hang: int = 0
    url: str = ""
    messages: list[tuple[float, str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def events(self) -> int:
        with self.lock:
            return len({e for _, _, events in self.messages for e in events})


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with receiver.lock:
                receiver.messages.append(
                    (
                        time.monotonic(),
                        self.headers["webhook-id"],
                        [e["entity_id"] for e in body["events"]],
                    )
                )
                held = len(receiver.messages) <= receiver.hang
            if held:
                receiver.released.wait(timeout=600)
            try:
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the worker gave up on it (timeout) or died

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()


def _worker(url: str, app_dir: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENV": "development",
        "APP_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(app_dir),
        "APP_WEBHOOKS__BATCH_SIZE": str(args.batch_size),
        "APP_WEBHOOKS__TIMEOUT_SECONDS": str(args.timeout),
        "APP_WEBHOOKS__LEASE_SECONDS": str(args.lease),
        "APP_WEBHOOKS__POLL_INTERVAL_SECONDS": "0.2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "webhook-worker"], env=env, cwd=app_dir
    )


async def _subscribe(url: str, receivers: list[Receiver]) -> None:
    """Subscriptions through the service (their secrets sealed as the API seals them), at the
    end of the feed; those of an earlier phase are deleted first."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("APP_ENV", "development")
    from app.cli import configure
    from app.db import attribute, create_engine, create_sessionmaker, transaction
    from app.webhook.schemas import WebhookCreate
    from app.webhook.service import create_webhook

    settings = configure()
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as db_session:
            await attribute(db_session, request_id="bench-webhooks")
            for r in receivers:
                await create_webhook(
                    db_session, WebhookCreate.model_validate({"url": r.url}), settings.webhooks
                )
    finally:
        await engine.dispose()


async def _reset(url: str) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute("DELETE FROM webhook_subscription")
    finally:
        await conn.close()


async def _backlog(url: str, events: int) -> None:
    """N changes in the feed (written to the outbox directly: the worker reads only that)."""
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(
            "INSERT INTO change_event (entity_type, entity_id, action, changes, request_id) "
            "SELECT 'cadre', gen_random_uuid(), 'create', '{}'::jsonb, 'bench-webhooks' "
            "FROM generate_series(1, $1)",
            events,
        )
    finally:
        await conn.close()


async def _until(condition: Callable[[], bool], deadline: float) -> None:
    """The receivers count in threads of their own: polled."""
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def _connections(url: str) -> int:
    """The service's connections to the database (the workers')."""
    conn = await asyncpg.connect(_plain(url))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cadre-training'"
            )
        )
    finally:
        await conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM; the seconds until the process exited."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return float("inf")
    return time.monotonic() - started


async def _throughput(
    url: str, app_dir: Path, args: argparse.Namespace, with_hanging: bool
) -> tuple[float, int, float]:
    """(messages/s to the fast receivers, their messages, seconds to deliver them)."""
    await _reset(url)
    with contextmanager_all(
        [Receiver() for _ in range(args.receivers)]
        + ([Receiver(hang=10**6)] if with_hanging else [])
    ) as receivers:
        fast = receivers[: args.receivers]
        await _subscribe(url, receivers)
        await _backlog(url, args.events)
        proc = _worker(url, app_dir, args)
        try:
            deadline = time.monotonic() + args.seconds + 10
            await _until(lambda: all(r.events() >= args.events for r in fast), deadline)
        finally:
            _stop(proc)
        times = [t for r in fast for t, _, _ in r.messages]
        count = len(times)
        elapsed = (max(times) - min(times)) if count > 1 else float("nan")
        return (count / elapsed if elapsed else float("nan"), count, elapsed)


@contextmanager
def contextmanager_all(receivers: list[Receiver]) -> Iterator[list[Receiver]]:
    if not receivers:
        yield []
        return
    with receiving(receivers[0]), contextmanager_all(receivers[1:]):
        yield receivers


async def _takeover(
    url: str, app_dir: Path, args: argparse.Namespace, sig: signal.Signals
) -> tuple[float, float, bool]:
    """A worker is sent `sig` while the receiver holds its request; another, already running,
    takes over. (Seconds from the signal to the first worker's exit, seconds from the signal
    to the re-send, whether it was the same message.)"""
    await _reset(url)
    with receiving(Receiver(hang=1)) as receiver:
        await _subscribe(url, [receiver])
        await _backlog(url, args.batch_size)
        first = _worker(url, app_dir, args)
        second: subprocess.Popen[bytes] | None = None
        try:
            deadline = time.monotonic() + 60
            await _until(lambda: bool(receiver.messages), deadline)
            before = await _connections(url)
            second = _worker(url, app_dir, args)
            # Up once it has connected (its first pass), and found the subscription taken.
            up = time.monotonic() + 60
            while await _connections(url) <= before and time.monotonic() < up:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            killed = time.monotonic()
            first.send_signal(sig)
            first.wait(timeout=120)
            exited = time.monotonic() - killed
            deadline = killed + args.seconds + 4 * args.timeout + 60
            await _until(lambda: len(receiver.messages) >= 2, deadline)
        finally:
            if first.poll() is None:
                first.kill()
            if second is not None:
                _stop(second)
        if len(receiver.messages) < 2:
            return exited, float("inf"), False
        (_, lost, _), (resent_at, again, _) = receiver.messages[:2]
        return exited, resent_at - killed, lost == again


async def run(url: str, app_dir: Path, args: argparse.Namespace) -> None:
    print(
        f"worker code: {app_dir}\n{args.receivers} fast receivers, {args.events} events each, "
        f"{args.batch_size} per message; timeout {args.timeout:g} s, lease {args.lease:g} s"
    )
    for with_hanging in (False, True):
        rate, count, elapsed = await _throughput(url, app_dir, args, with_hanging)
        label = "with one hanging receiver" if with_hanging else "fast receivers only      "
        print(f"{label}: {rate:8.1f} messages/s to the fast ones ({count} in {elapsed:.2f} s)")
    for sig in (signal.SIGKILL, signal.SIGTERM):
        exited, resent, same = await _takeover(url, app_dir, args, sig)
        print(
            f"{sig.name} while a receiver holds the request: exit {exited:.2f} s, re-sent by "
            f"the other worker {resent:.2f} s after the signal; same webhook-id: {same}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--app-dir", type=Path, default=REPO)
    parser.add_argument("--receivers", type=int, default=5)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--lease", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    app_dir = args.app_dir.resolve()
    if args.database_url:
        asyncio.run(run(args.database_url, app_dir, args))
        return
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        url = cluster.start()
        try:
            env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
            subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True)
            asyncio.run(run(url, app_dir, args))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
