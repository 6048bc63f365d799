"""HTTP reads beside a yardstick (issue 16, "Reads"): req/s and p50/p99 from wrk.

Starts, one after the other, on free ports of 127.0.0.1, each as one uvicorn worker:
1. the yardstick, bench/yardstick_app.py: a bare FastAPI + asyncpg primary-key read of one
   cadre row, with a pool of the service's size;
2. the service (`app.main`, its settings from the environment), which answers
   `GET /api/v1/cadres/{id}` and `GET /api/v1/cadres/{id}/compliance` with an admin's token.
Each is loaded by `wrk -t2 -c32 -d15s --latency` with a Lua script that spreads the requests over
`--ids` random active cadres, after a short warm-up. The figures are ratios to the yardstick,
measured in the same run.

    python -m bench.http_reads --database-url postgresql://postgres@127.0.0.1:56100/bench_me \
        [--service-database-url URL] [--duration 15] [--connections 32] [--threads 2]

`--service-database-url`: where the service connects (e.g. through pgbouncer); the yardstick and
the preparation use `--database-url`. The bench admin (`bench-reads-admin`) is created once.
Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import httpx

from app.auth.passwords import hash_password
from app.ids import new_id
from bench.compliance import _free_port, _plain
from bench.table import Figure, render

BENCH_USER = "bench-reads-admin"
BENCH_PASSWORD = "bench-password-0123"
REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-06-30"
WARMUP_SECONDS = 3

_LUA = """
local ids = {%(ids)s}
local n = #ids
math.randomseed(42)
%(auth)s
request = function()
  return wrk.format("GET", "%(prefix)s" .. ids[math.random(n)] .. "%(suffix)s")
end
"""


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors
    requests: int = 0
    cpu_ms: float = 0.0  # the server process's CPU time (user + system) a request

    @property
    def spread(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else 0.0


async def _prepare(url: str, count: int) -> list[str]:
    """The bench admin (created once) and `count` random active cadres."""
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
        rows = await conn.fetch(
            "SELECT id FROM cadre WHERE status = 'active' ORDER BY random() LIMIT $1", count
        )
        return [str(r["id"]) for r in rows]
    finally:
        await conn.close()


@contextmanager
def _serve(target: str, database_url: str, *, factory: bool = True) -> Iterator[tuple[str, int]]:
    """One uvicorn worker serving `target` on a free port; stopped on leaving."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        "APP_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--no-access-log", "--log-level", "warning"] + (["--factory"] if factory else [])
    server = subprocess.Popen(argv, env=env, cwd=REPO)
    try:
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _wait_up(base: str, probe: str, seconds: float = 180) -> None:
    """Until `probe` answers 200 (a loaded machine may take a while to import the service)."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=30) as c:
        while time.monotonic() < deadline:
            try:
                if (await c.get(f"{base}{probe}")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{base}{probe} did not answer 200 within {seconds:.0f} s")


async def _token(base: str) -> str:
    async with httpx.AsyncClient() as c:
        r = await c.post(
            f"{base}/api/v1/auth/token",
            data={"grant_type": "password", "username": BENCH_USER, "password": BENCH_PASSWORD},
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> Load:
    """req/s, p50, p99 and errors from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentile = dict(re.findall(r"^\s*(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.M))
    if set(percentile) != {"50", "99"}:
        raise RuntimeError(f"no p50/p99 in wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    return Load(rps, _ms(percentile["50"]), _ms(percentile["99"]), errors, requests)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks of 1/100 s on Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(pid: int, run: Callable[[], str]) -> Load:
    """One wrk run, with the server's CPU time a request: on a machine shared with other work
    the req/s follow the neighbours, the CPU a request costs does not."""
    before = _cpu_seconds(pid)
    load = parse_wrk(run())
    spent = _cpu_seconds(pid) - before
    return replace(load, cpu_ms=1000 * spent / load.requests if load.requests else 0.0)


def _wrk(
    base: str,
    prefix: str,
    suffix: str,
    ids: list[str],
    token: str | None,
    *,
    seconds: int,
    connections: int,
    threads: int,
) -> str:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script = _LUA % {
        "ids": ",".join(f'"{i}"' for i in ids),
        "auth": auth,
        "prefix": prefix,
        "suffix": suffix,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        argv = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
        ]
        result = subprocess.run(
            [*argv, "--latency", "-s", lua.name, base], capture_output=True, text=True, check=True
        )
    return result.stdout


def _figure(what: str, load: Load, yardstick: Load, target: float, before: str) -> Figure:
    return Figure(
        what=what,
        value=load.requests_per_second,
        unit="req/s",
        yardstick=yardstick.requests_per_second,
        yardstick_what="bare FastAPI + asyncpg PK read",
        target=target,
        before=before,
        detail=f"p50 {load.p50_ms:.1f} / p99 {load.p99_ms:.1f} ms (p99/p50 "
        f"{load.spread:.1f}×, target ≤ 4×); errors {load.errors}",
    )


def measure(
    database_url: str,
    *,
    duration: int = 15,
    connections: int = 32,
    threads: int = 2,
    service_database_url: str | None = None,
    ids: int = 5000,
) -> list[Figure]:
    """The yardstick and the two cadre reads, one after the other, in this run."""
    sample = asyncio.run(_prepare(database_url, ids))
    run = {"seconds": duration, "connections": connections, "threads": threads}
    warm = {"seconds": WARMUP_SECONDS, "connections": connections, "threads": threads}

    with _serve("bench.yardstick_app:create_app", database_url) as (base, pid):
        asyncio.run(_wait_up(base, "/docs"))
        _wrk(base, "/cadres/", "", sample, None, **warm)
        yardstick = _measured(pid, lambda: _wrk(base, "/cadres/", "", sample, None, **run))

    with _serve("app.main:create_app", service_database_url or database_url) as (base, pid):
        asyncio.run(_wait_up(base, "/health/ready"))
        token = asyncio.run(_token(base))
        prefix = "/api/v1/cadres/"
        _wrk(base, prefix, "", sample, token, **warm)
        cadre = _measured(pid, lambda: _wrk(base, prefix, "", sample, token, **run))
        suffix = f"/compliance?as_of={AS_OF}"
        _wrk(base, prefix, suffix, sample, token, **warm)
        compliance = _measured(pid, lambda: _wrk(base, prefix, suffix, sample, token, **run))

    return [
        Figure(
            what="yardstick: bare FastAPI + asyncpg PK read",
            value=yardstick.requests_per_second,
            unit="req/s",
            before="1,330–1,577 req/s",
            detail=f"p50 {yardstick.p50_ms:.1f} / p99 {yardstick.p99_ms:.1f} ms; "
            f"server CPU {yardstick.cpu_ms:.2f} ms a request; errors {yardstick.errors}",
        ),
        _figure("`GET /api/v1/cadres/{id}`", cadre, yardstick, 0.5, "13 %"),
        _figure("`GET /api/v1/cadres/{id}/compliance`", compliance, yardstick, 0.33, "8 %"),
        _cpu("`GET /api/v1/cadres/{id}`", cadre, yardstick, 2.0),
        _cpu("`GET /api/v1/cadres/{id}/compliance`", compliance, yardstick, 3.0),
    ]


def _cpu(what: str, load: Load, yardstick: Load, target: float) -> Figure:
    """The server's CPU a request beside the yardstick's: what the req/s ratio would be on a
    machine that ran nothing else (≤ 2× its CPU is ≥ 50 % of its req/s)."""
    return Figure(
        what=f"{what}: server CPU a request",
        value=load.cpu_ms,
        unit="ms",
        yardstick=yardstick.cpu_ms,
        yardstick_what="the yardstick's, same run",
        target=target,
        direction="lower",
        detail=f"req/s at equal CPU: {yardstick.cpu_ms / load.cpu_ms:.0%} of the yardstick's",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--service-database-url")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ids", type=int, default=5000)
    args = parser.parse_args()
    started = time.perf_counter()
    figures = measure(
        args.database_url,
        duration=args.duration,
        connections=args.connections,
        threads=args.threads,
        service_database_url=args.service_database_url,
        ids=args.ids,
    )
    print(
        f"machine: {os.cpu_count()} cores; one uvicorn worker each; wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s"
    )
    print(render(figures))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
