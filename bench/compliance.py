"""Benchmark of the compliance figures on a synthetic province (see bench/generate.py).

Starts the service against the database given (uvicorn, `--workers` processes), then measures:
1. the per-cadre compliance endpoint: latency p50/p99 and throughput with `--concurrency`
   clients for `--seconds`, over cadres drawn at random;
2. the whole-province compliance report: wall time of `--report-runs` runs;
3. the roll-call report of one county.

    python -m bench.compliance --database-url postgresql://postgres@127.0.0.1:55432/bench_province

Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

import asyncpg
import httpx

from app.auth.passwords import hash_password
from app.ids import new_id

BENCH_USER = "bench-admin"
BENCH_PASSWORD = "bench-password-0123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plain(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def _prepare(url: str) -> tuple[list[str], str, str]:
    """The bench admin (created once), some cadre ids, the root unit and a county."""
    conn = await asyncpg.connect(_plain(url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM app_user WHERE username = $1", BENCH_USER)
        if not exists:
            await conn.execute(
                "INSERT INTO app_user (id, username, password_hash, role, active, failed_logins,"
                " version) VALUES ($1, $2, $3, 'admin', true, 0, 1)",
                new_id(),
                BENCH_USER,
                hash_password(BENCH_PASSWORD),
            )
        ids = [
            str(r["id"])
            for r in await conn.fetch(
                "SELECT id FROM cadre WHERE status = 'active' ORDER BY random() LIMIT 5000"
            )
        ]
        root = await conn.fetchval("SELECT id FROM org_unit WHERE depth = 0 ORDER BY code LIMIT 1")
        county = await conn.fetchval(
            "SELECT u.id FROM org_unit u WHERE u.depth = 2 ORDER BY u.code LIMIT 1"
        )
        return ids, str(root), str(county)
    finally:
        await conn.close()


def _start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "APP_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
    )


async def _wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as c:
        for _ in range(300):
            try:
                if (await c.get(f"{base}/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


async def _token(base: str) -> str:
    async with httpx.AsyncClient() as c:
        r = await c.post(
            f"{base}/api/v1/auth/token",
            data={"grant_type": "password", "username": BENCH_USER, "password": BENCH_PASSWORD},
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


async def _load(
    base: str, token: str, ids: list[str], concurrency: int, seconds: float, as_of: str
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as c:

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                cadre = rng.choice(ids)
                started = time.perf_counter()
                r = await c.get(f"/api/v1/cadres/{cadre}/compliance", params={"as_of": as_of})
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, errors


_WRK_SCRIPT = """
local ids = {%s}
local n = #ids
math.randomseed(42)
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  local id = ids[math.random(n)]
  return wrk.format("GET", "/api/v1/cadres/" .. id .. "/compliance?as_of=%s")
end
"""


def _wrk(
    base: str, token: str, ids: list[str], concurrency: int, seconds: float, as_of: str
) -> str:
    """The same load from wrk (C, its own threads), so the client does not eat the server's CPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % (",".join(f'"{i}"' for i in ids), token, as_of))
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t",
                "2",
                "-c",
                str(concurrency),
                "-d",
                f"{int(seconds)}s",
                "--latency",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout
    finally:
        os.unlink(script.name)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def _timed_get(base: str, token: str, path: str, params: dict[str, str]) -> tuple[float, int]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        started = time.perf_counter()
        r = await c.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        return time.perf_counter() - started, r.status_code


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup-seconds", type=float, default=5)
    parser.add_argument("--report-runs", type=int, default=5)
    parser.add_argument(
        "--client",
        choices=["python", "wrk"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator for the per-cadre figures (wrk: apt-get install wrk); the Python "
        "client runs as well, as a second opinion",
    )
    parser.add_argument("--year", type=int, default=date.today().year)
    args = parser.parse_args()

    ids, root, county = await _prepare(args.database_url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(args.database_url, port, args.workers)
    try:
        await _wait_ready(base)
        token = await _token(base)
        as_of = f"{args.year}-06-30"
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
        print(f"server: uvicorn --workers {args.workers}; cadres sampled: {len(ids)}")

        await _load(base, token, ids, args.concurrency, args.warmup_seconds, as_of)
        if args.client == "wrk":
            print(f"per-cadre compliance, wrk, {args.concurrency} connections:")
            print(_wrk(base, token, ids, args.concurrency, args.seconds, as_of))
        latencies, errors = await _load(base, token, ids, args.concurrency, args.seconds, as_of)
        print(
            f"per-cadre compliance, Python client, {args.concurrency} clients, "
            f"{args.seconds:.0f} s: "
            f"{len(latencies)} requests, {len(latencies) / args.seconds:.0f} req/s, "
            f"p50 {_pct(latencies, 0.50) * 1000:.1f} ms, "
            f"p99 {_pct(latencies, 0.99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms, errors {errors}"
        )

        times = []
        for _ in range(args.report_runs):
            elapsed, status = await _timed_get(
                base,
                token,
                "/api/v1/reports/compliance",
                {"org_unit_id": root, "year": str(args.year), "levels": "1"},
            )
            assert status == 200, status
            times.append(elapsed)
        print(
            f"province compliance report ({args.report_runs} runs): "
            f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
            f"max {max(times):.2f} s"
        )
        elapsed, status = await _timed_get(
            base,
            token,
            "/api/v1/reports/roll-call",
            {"org_unit_id": county, "year": str(args.year), "limit": "100"},
        )
        print(f"county roll-call report: {elapsed:.2f} s (HTTP {status})")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
