"""Benchmark: `/health/live` latency while 40 logins hash (issue 10, Medium 3).

Serves a source tree (`--app-dir`, default this one) with one uvicorn process on its own
throw-away PostgreSQL, then, `--rounds` times, sends `--logins` concurrent bad logins (unknown
users: each still pays for one argon2 verification) while probing `/health/live` one request
after another until the logins are all answered. Reports the probe latencies (median, p90, max),
the logins' wall time and their status codes, and the idle latency for comparison.

Before / after: export the tree to compare and point `--app-dir` at it, e.g.

    git archive main | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    .venv/bin/python -m bench.logins --app-dir /tmp/before
    .venv/bin/python -m bench.logins

Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import base64
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from devtools.localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, hash_queue: int, hash_concurrency: int | None) -> dict[str, str]:
    threads = (
        {}
        if hash_concurrency is None
        else {"APP_AUTH__PASSWORD_HASH_CONCURRENCY": str(hash_concurrency)}
    )
    return {
        **threads,
        **os.environ,
        "APP_ENV": "test",
        "APP_SECRET_KEY": secrets.token_urlsafe(32),
        "APP_DATA_KEY": base64.b64encode(os.urandom(32)).decode(),
        "DATABASE_URL": database_url,
        "APP_LOG_LEVEL": "WARNING",
        # Only the event loop is measured here, not the token limit nor the login queue.
        "APP_RATE_LIMIT__TOKEN_PER_MINUTE": "1000000",
        "APP_AUTH__PASSWORD_HASH_QUEUE": str(hash_queue),
    }


def _serve(app_dir: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    migrate = [sys.executable, "-m", "app.cli", "migrate"]
    subprocess.run(migrate, env=env, cwd=app_dir, check=True, capture_output=True)
    argv = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    argv += ["--no-proxy-headers", "--log-level", "warning"]
    return subprocess.Popen(argv, env=env, cwd=app_dir)


async def _wait_live(c: httpx.AsyncClient) -> None:
    for _ in range(600):
        try:
            if (await c.get("/health/live")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def _probe(
    c: httpx.AsyncClient, until: "asyncio.Future[Any] | None", count: int
) -> list[float]:
    latencies: list[float] = []
    while (until is not None and not until.done()) or (until is None and len(latencies) < count):
        start = time.perf_counter()
        (await c.get("/health/live")).raise_for_status()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


async def _round(c: httpx.AsyncClient, logins: int, n: int) -> tuple[list[float], float, list[int]]:
    start = time.perf_counter()
    answers = asyncio.ensure_future(
        asyncio.gather(
            *(
                c.post(
                    "/api/v1/auth/token",
                    data={
                        "grant_type": "password",
                        "username": f"nobody-{n}-{i}",
                        "password": "wrong password",
                    },
                )
                for i in range(logins)
            )
        )
    )
    latencies = await _probe(c, answers, 0)
    responses = await answers
    return latencies, time.perf_counter() - start, [r.status_code for r in responses]


def _summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"{name}: {len(ms)} probes, median {statistics.median(ms):.1f} ms, "
        f"p90 {p90:.1f} ms, max {max(ms):.1f} ms"
    )


async def _measure(base: str, logins: int, rounds: int) -> None:
    limits = httpx.Limits(max_connections=logins + 10, max_keepalive_connections=logins + 10)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as c:
        await _wait_live(c)
        await _round(c, 2, -1)  # warm-up: imports, the pool's first connections
        print(_summary("idle", await _probe(c, None, 200)))
        probes: list[float] = []
        statuses: dict[int, int] = {}
        for n in range(rounds):
            latencies, wall, codes = await _round(c, logins, n)
            probes += latencies
            for code in codes:
                statuses[code] = statuses.get(code, 0) + 1
            print(
                f"round {n + 1}: {logins} logins answered in {wall:.2f} s; "
                + _summary("/health/live", latencies)
            )
        print(_summary(f"/health/live under {logins} logins, all rounds", probes))
        print(f"login answers: {dict(sorted(statuses.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-dir", type=Path, default=REPO, help="source tree to serve")
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--hash-queue",
        type=int,
        default=64,
        help="APP_AUTH__PASSWORD_HASH_QUEUE: high enough that every login hashes",
    )
    parser.add_argument(
        "--hash-concurrency",
        type=int,
        default=None,
        help="APP_AUTH__PASSWORD_HASH_CONCURRENCY (default: the service's default)",
    )
    args = parser.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores, app {args.app_dir}")
    with tempfile.TemporaryDirectory(prefix="bench-logins-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        url = cluster.start()
        port = _free_port()
        server = _serve(
            args.app_dir.resolve(), _env(url, args.hash_queue, args.hash_concurrency), port
        )
        try:
            asyncio.run(_measure(f"http://127.0.0.1:{port}", args.logins, args.rounds))
        finally:
            server.terminate()
            server.wait(timeout=30)
            cluster.stop()


if __name__ == "__main__":
    main()
