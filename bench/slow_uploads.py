"""Benchmark of what bad uploads cost the server (issue 10, Medium 1 and 2), against a uvicorn
subprocess started here (one worker, the default pool of 10 + 10 connections):

1. memory: the RSS of the server process before, and its peak RSS (VmHWM, reset before each case)
   during, one 104 MB POST without a token, eight at once, and one 50 MB one-row CSV sent to the
   import;
2. slow uploads: the share of requests served (2xx) and their latency, reads of `/api/v1/org-units`
   and `/health/ready` from 4 clients, while 30 uploads to the import send one byte a second.

    python -m bench.slow_uploads [--database-url URL] [--app-dir DIR] [--seconds 20]

`--app-dir`: the code the server runs (default: this checkout), e.g. an export of an older
commit (`git archive <commit> | tar -x -C /tmp/old`) for the "before" figures. Without
`--database-url` a throw-away PostgreSQL is started and migrated (devtools/localpg.py).
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import asyncpg
import httpx

from app.auth.passwords import hash_password
from app.ids import new_id
from bench.compliance import _free_port, _plain, _wait_ready
from devtools.localpg import LocalPostgres

BENCH_USER = "bench-uploads-admin"
BENCH_PASSWORD = "bench-password-0123"
UPLOADS = 30
MB = 1024 * 1024


async def _ensure_admin(url: str) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        if not await conn.fetchval("SELECT 1 FROM app_user WHERE username = $1", BENCH_USER):
            await conn.execute(
                "INSERT INTO app_user (id, username, password_hash, role, active, failed_logins,"
                " version) VALUES ($1, $2, $3, 'admin', true, 0, 1)",
                new_id(),
                BENCH_USER,
                hash_password(BENCH_PASSWORD),
            )
    finally:
        await conn.close()


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A throw-away PostgreSQL (devtools/localpg.py), migrated; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        url = cluster.start()
        try:
            env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
            subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True)
            yield url
        finally:
            cluster.stop()


def _start_server(
    url: str, port: int, app_dir: Path, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """`log`: where the server's output goes (default: this process's)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENV": "development",
        "APP_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(app_dir),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--app-dir",
            str(app_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "critical",
        ],
        env=env,
        cwd=app_dir,
        stdout=log,
        stderr=log,
    )


def _memory(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of the process in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _reset_peak(pid: int) -> None:
    """The peak RSS starts again from the current RSS (Linux: `5` to clear_refs), so that each
    case's peak is its own."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


async def _token(base: str) -> str:
    async with httpx.AsyncClient() as c:
        r = await c.post(
            f"{base}/api/v1/auth/token",
            data={"grant_type": "password", "username": BENCH_USER, "password": BENCH_PASSWORD},
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


async def _post(base: str, path: str, body: bytes, headers: dict[str, str]) -> str:
    """The status code of a POST, read while the body is still being sent: a server that
    refuses early answers and closes, which an HTTP client would report as a send error."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def send() -> None:
        with contextlib.suppress(OSError):
            for at in range(0, len(body), MB):
                writer.write(body[at : at + MB])
                await writer.drain()

    # Like curl with `Expect: 100-continue`: a moment for an early answer before the body.
    answer = asyncio.create_task(reader.readline())
    await asyncio.wait([answer], timeout=0.2)
    sending = asyncio.create_task(send())
    try:
        status = (await asyncio.wait_for(answer, 300)).split(b" ")
        return status[1].decode() if len(status) > 1 else "closed"
    except (OSError, TimeoutError) as exc:
        return type(exc).__name__
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()


async def _memory_phase(base: str, pid: int, token: str) -> list[tuple[str, str, float, float]]:
    """(case, statuses, RSS before, peak RSS after) for each bad body in turn."""
    big = b'{"name": "' + b"x" * (104 * MB - 12) + b'"}'
    json_headers = {"Content-Type": "application/json"}
    one_row = b"hr_id,kind,title,start_date,end_date,hours\r\n" + b"a," * (25 * MB) + b"\r\n"
    csv_headers = {"Content-Type": "text/csv", "Authorization": f"Bearer {token}"}
    cases = [
        ("one 104 MB POST, no token", [("/api/v1/org-units", big, json_headers)]),
        ("eight 104 MB POSTs at once", [("/api/v1/org-units", big, json_headers)] * 8),
        ("one 50 MB one-row CSV import", [("/api/v1/imports/study-logs", one_row, csv_headers)]),
    ]
    out = []
    for name, requests in cases:
        _reset_peak(pid)
        before, _ = _memory(pid)
        statuses = await asyncio.gather(*[_post(base, *r) for r in requests])
        _, peak = _memory(pid)
        out.append((name, ",".join(sorted(set(statuses))), before, peak))
    return out


async def _trickle(base: str, token: str, stop: asyncio.Event) -> None:
    """An upload of 1,000 bytes to the import at one byte a second, until `stop`."""
    url = urlsplit(base)
    try:
        _, writer = await asyncio.open_connection(url.hostname, url.port)
    except OSError:
        return
    head = (
        "POST /api/v1/imports/study-logs HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: text/csv\r\nContent-Length: 1000\r\n\r\n"
    )
    try:
        writer.write(head.encode())
        while not stop.is_set():
            writer.write(b"h")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    except OSError:
        pass
    finally:
        writer.close()


async def _reads(base: str, token: str, seconds: float) -> tuple[int, int, list[float]]:
    """(requests, served with 2xx, latencies in seconds) of 4 clients reading for `seconds`."""
    latencies: list[float] = []
    counts = [0, 0]
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as c:
            while time.perf_counter() < deadline:
                path = "/health/ready" if n % 2 else "/api/v1/org-units"
                started = time.perf_counter()
                try:
                    ok = (await c.get(path)).is_success
                except httpx.TransportError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                counts[0] += 1
                counts[1] += ok

    await asyncio.gather(*[client(n) for n in range(4)])
    return counts[0], counts[1], latencies


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def _report(label: str, total: int, served: int, latencies: list[float]) -> None:
    print(
        f"{label}: {served}/{total} served ({100 * served / max(total, 1):.1f}%), latency ms "
        f"p50 {statistics.median(latencies) * 1000:.1f}, p95 {_pct(latencies, 0.95):.1f}, "
        f"max {max(latencies) * 1000:.1f}"
    )


async def run(url: str, app_dir: Path, seconds: float) -> None:
    await _ensure_admin(url)
    port = _free_port()
    server = _start_server(url, port, app_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base)
        token = await _token(base)
        rss, peak = _memory(server.pid)
        print(f"server code: {app_dir}\nidle: RSS {rss:.0f} MB, peak {peak:.0f} MB")
        for name, statuses, before, after in await _memory_phase(base, server.pid, token):
            print(f"{name}: answered {statuses}; RSS before {before:.0f} MB, peak {after:.0f} MB")
        _report("reads, no uploads", *await _reads(base, token, min(seconds, 5)))
        stop = asyncio.Event()
        uploads = [asyncio.create_task(_trickle(base, token, stop)) for _ in range(UPLOADS)]
        await asyncio.sleep(1)
        _report(f"reads, {UPLOADS} slow uploads", *await _reads(base, token, seconds))
        stop.set()
        await asyncio.gather(*uploads)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--app-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    app_dir = args.app_dir.resolve()
    if args.database_url:
        asyncio.run(run(args.database_url, app_dir, args.seconds))
        return
    with throwaway_database("bench-uploads-pg-") as url:
        asyncio.run(run(url, app_dir, args.seconds))


if __name__ == "__main__":
    main()
