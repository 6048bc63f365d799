"""Benchmark: the national roll-up, two provinces followed through their change feeds.

Two generated provinces (`bench.generate`, scale 0.01 seed 1 and scale 0.02 seed 2), each in its
own database served by its own uvicorn (127.0.0.1, one worker), and a national consumer
(devtools/national_rollup.py) with a THIRD database of its own, which reads each province only
through its API as an `auditor` (no shared database, no cross-database query):

1. snapshot: the end of each province's feed taken as the cursor, then every cadre and study log
   copied through the list APIs at the largest page (500) — a generated province holds no change
   events for its rows (bench/README.md "No audit rows"): rows/s;
2. writes in each province through its API: `--backlog` study logs imported
   (`POST /api/v1/imports/study-logs`, one change event each; the province's write rate is timed),
   a pending log approved, a cadre deactivated, an approved log voided;
3. catch-up: each province's feed followed from the cursor to its end, 500 events a page: events/s.
   Steps 2 and 3 run four times: with the next feed page read ahead while one is applied, and
   without (the lever), in the order without, with, with, without;
4. the check: the national figures (active cadres by rank; approved hours per year and kind,
   docs/rules.md rule 2) equal each province's own, read from its database. A difference is
   printed and the exit status is 1.

Yardsticks, measured in the same run: the busiest day of the generated provinces (logs created
that day, scaled to a scale-1.0 province; two events a log: created, approved) spread over the
day, times thirty provinces; and the rate the province itself wrote the imported backlog.

    .venv/bin/python -m bench.national [--backlog 10000] [--server-url postgresql://...]

Without `--server-url`, a throw-away cluster; with it, the bench creates (and drops) databases
`national_bench_*` on that server. Figures only: this is not a test and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.province import AS_OF, REPO, async_url, development_env, plain_url
from bench.table import Figure, render
from devtools import national_rollup as rollup
from devtools.localpg import LocalPostgres

PROVINCES = (("A", "0.01", 1), ("B", "0.02", 2))
BACKLOG = 10_000
PROVINCES_IN_THE_COUNTRY = 30
EVENTS_PER_LOG = 2  # created (pending), then approved
ADMIN = "bench-admin"
AUDITOR = "national-auditor"


@dataclass
class Result:
    snapshot_rows: int = 0
    snapshot_seconds: float = 0.0
    written: int = 0
    write_seconds: float = 0.0
    # Catch-up with the next feed page read ahead (True) and one page after the other (False).
    events: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    catch_up_seconds: dict[bool, float] = field(default_factory=lambda: {True: 0.0, False: 0.0})
    apply_seconds: dict[bool, float] = field(default_factory=lambda: {True: 0.0, False: 0.0})
    busiest_day_scale_1: float = 0.0  # logs created on the busiest day, per scale 1.0
    busiest_day: str = ""
    differences: list[str] = field(default_factory=list)


def _database(server_url: str, name: str) -> str:
    return plain_url(server_url).rsplit("/", 1)[0] + "/" + name


async def _admin_sql(server_url: str, *statements: str) -> None:
    engine = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, *argv], env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL
    )


def _generate(url: str, scale: str, seed: int, password: str) -> None:
    env = {**development_env(url), "APP_ADMIN_PASSWORD": password}
    _run(["-m", "app.cli", "migrate"], env)
    generate = ["-m", "bench.generate", "--database-url", plain_url(url)]
    _run([*generate, "--scale", scale, "--seed", str(seed), "--as-of", AS_OF], env)
    _run(["-m", "app.cli", "create-admin", ADMIN], env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=REPO)


@asynccontextmanager
async def _serve(url: str) -> AsyncIterator[str]:
    port = _free_port()
    env = {
        **development_env(url),
        "APP_RATE_LIMIT__TOKEN_PER_MINUTE": "100000",
        "APP_RATE_LIMIT__WRITES_PER_MINUTE": "1000000",
    }
    argv = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--workers", "1"]
    argv += [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = _start(argv, env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as c:
            for _ in range(600):
                try:
                    if (await c.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the province's service did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def _login(base: str, username: str, password: str) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=base) as c:
        r = await c.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        r.raise_for_status()
    token = r.json()["access_token"]
    return httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600
    )


async def _auditor(admin: httpx.AsyncClient, base: str, password: str) -> httpx.AsyncClient:
    r = await admin.post(
        "/api/v1/users", json={"username": AUDITOR, "password": password, "role": "auditor"}
    )
    r.raise_for_status()
    return await _login(base, AUDITOR, password)


async def _busiest_day(url: str) -> tuple[str, int]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date, count(*) "
                        "FROM study_log WHERE created_at < CAST(:as_of AS date) - 1 "
                        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
                    ),
                    # The last days hold what the generator dated past the as-of day: no peak.
                    {"as_of": date.fromisoformat(AS_OF)},
                )
            ).one()
            return str(row[0]), int(row[1])
    finally:
        await engine.dispose()


async def _write(admin: httpx.AsyncClient, backlog: int, offset: int) -> float:
    """The province's writes through its API; the seconds the import took."""
    cadres = (await admin.get("/api/v1/cadres", params={"status": "active", "limit": 500})).json()
    hr_ids = [c["hr_id"] for c in cadres["items"]]
    kinds = ("online_course", "self_study", "lecture", "seminar")
    rows = [
        {
            "hr_id": hr_ids[i % len(hr_ids)],
            "kind": kinds[i % len(kinds)],
            "title": f"国家汇总基准 {offset + i}",
            "start_date": f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}",
            "end_date": f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}",
            "hours": f"{1 + i % 7}.{25 * (i % 4):02d}",
        }
        for i in range(backlog)
    ]
    started = time.perf_counter()
    r = await admin.post("/api/v1/imports/study-logs", json={"items": rows})
    r.raise_for_status()
    seconds = time.perf_counter() - started
    if r.json()["created"] != backlog:
        raise SystemExit(f"the import created {r.json()['created']} of {backlog}: {r.text[:500]}")
    pending = await admin.get("/api/v1/study-logs", params={"status": "pending", "limit": 1})
    for log in pending.json()["items"]:
        (await admin.post(f"/api/v1/study-logs/{log['id']}/approve")).raise_for_status()
    approved = await admin.get("/api/v1/study-logs", params={"status": "approved", "limit": 1})
    for log in approved.json()["items"]:
        (await admin.post(f"/api/v1/study-logs/{log['id']}/void")).raise_for_status()
    (await admin.delete(f"/api/v1/cadres/{cadres['items'][0]['id']}")).raise_for_status()
    return seconds


async def run(server_url: str, backlog: int) -> Result:
    result = Result()
    tag = secrets.token_hex(3)
    names = {code: f"national_bench_{code.lower()}_{tag}" for code, _, _ in PROVINCES}
    national_name = f"national_bench_hq_{tag}"
    password = secrets.token_urlsafe(16)
    all_names = [*names.values(), national_name]
    await _admin_sql(server_url, *(f"CREATE DATABASE {n}" for n in all_names))
    try:
        for code, scale, seed in PROVINCES:
            url = _database(server_url, names[code])
            print(f"province {code}: generating at scale {scale}, seed {seed}", flush=True)
            await asyncio.to_thread(_generate, url, scale, seed, password)
            day, logs = await _busiest_day(url)
            if logs / float(scale) > result.busiest_day_scale_1:
                result.busiest_day_scale_1, result.busiest_day = logs / float(scale), day
        await _measure(server_url, names, national_name, password, backlog, result)
    finally:
        await _admin_sql(
            server_url, *(f"DROP DATABASE IF EXISTS {n} WITH (FORCE)" for n in all_names)
        )
    return result


async def _measure(
    server_url: str,
    names: dict[str, str],
    national_name: str,
    password: str,
    backlog: int,
    result: Result,
) -> None:
    national_engine = create_async_engine(async_url(_database(server_url, national_name)))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(national_engine.dispose)
        national = await stack.enter_async_context(national_engine.connect())
        await rollup.prepare(national)
        provinces: list[tuple[rollup.Province, httpx.AsyncClient, str]] = []
        for code, url_name in names.items():
            url = _database(server_url, url_name)
            base = await stack.enter_async_context(_serve(url))
            admin = await stack.enter_async_context(await _login(base, ADMIN, password))
            auditor = await stack.enter_async_context(await _auditor(admin, base, password))
            provinces.append((rollup.Province(code, auditor), admin, url))
        for province, _, url in provinces:
            started = time.perf_counter()
            result.snapshot_rows += await rollup.snapshot(national, province)
            result.snapshot_seconds += time.perf_counter() - started
            result.differences += await _check(national, province.code, url)
        # The lever: the next feed page read while this one is applied. Measured both ways, each
        # on a backlog of its own, in the order ABBA so that a drift of the machine cancels out.
        for round, ahead in enumerate((False, True, True, False)):
            for _, admin, _ in provinces:
                result.write_seconds += await _write(admin, backlog, round * backlog)
                result.written += backlog
            for province, _, url in provinces:
                progress = await rollup.catch_up(national, province, ahead=ahead)
                result.events[ahead] += progress.events
                result.catch_up_seconds[ahead] += progress.seconds
                result.apply_seconds[ahead] += progress.apply_seconds
                result.differences += await _check(national, province.code, url)


async def _check(national: AsyncConnection, code: str, url: str) -> list[str]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            own = await rollup.province_figures(conn)
    finally:
        await engine.dispose()
    theirs = await rollup.national_figures(national, code)
    return [f"province {code}: {d}" for d in rollup.differences(theirs, own)]


def figures(result: Result) -> list[Figure]:
    # The consumer's default reads one page after the other; reading ahead is the lever.
    apply_rate = result.events[False] / result.catch_up_seconds[False]
    ahead = result.events[True] / result.catch_up_seconds[True]
    day_rate = result.busiest_day_scale_1 * EVENTS_PER_LOG / 86_400
    country = day_rate * PROVINCES_IN_THE_COUNTRY
    snapshot_rate = result.snapshot_rows / result.snapshot_seconds
    return [
        Figure(
            what="national consumer: change events applied (feed pages of 500, over HTTP)",
            value=apply_rate,
            unit="events/s",
            yardstick=country,
            yardstick_what=f"{PROVINCES_IN_THE_COUNTRY} scale-1.0 provinces' busiest day",
            target=1,
            detail=(
                f"{result.events[False]:,} events in {result.catch_up_seconds[False]:,.1f} s "
                f"({result.apply_seconds[False]:,.1f} s applying); "
                f"busiest day {result.busiest_day}: "
                f"{result.busiest_day_scale_1:,.0f} logs at scale 1.0, "
                f"{result.busiest_day_scale_1 * EVENTS_PER_LOG / apply_rate:,.0f} s to apply"
            ),
        ),
        Figure(
            what="national consumer beside a province writing flat out (study-log import)",
            value=apply_rate,
            unit="events/s",
            yardstick=result.written / result.write_seconds,
            yardstick_what="the province's import, one event a row",
            target=1,
            detail=f"{result.written:,} rows imported in {result.write_seconds:,.1f} s",
        ),
        Figure(
            what="lever: national consumer reading the next feed page ahead",
            value=ahead,
            unit="events/s",
            yardstick=apply_rate,
            yardstick_what="one page after the other (the default)",
            detail=(
                f"{result.events[True]:,} events in {result.catch_up_seconds[True]:,.1f} s, "
                f"{result.apply_seconds[True]:,.1f} s of it applying in the national database"
            ),
        ),
        Figure(
            what="national snapshot through the list APIs (pages of 500)",
            value=snapshot_rate,
            unit="rows/s",
            detail=(
                f"{result.snapshot_rows:,} rows in {result.snapshot_seconds:,.1f} s; a scale-1.0 "
                f"province (~10.2 M rows) ≈ {10_200_000 / snapshot_rate / 60:,.0f} min"
            ),
        ),
    ]


def measure(*, server_url: str | None = None, backlog: int = BACKLOG) -> list[Figure]:
    """The national consumer's rates (snapshot, catch-up) beside the provinces' rates of change.
    Exits with status 1 when the national figures differ from a province's own."""
    if server_url:
        result = asyncio.run(run(server_url, backlog))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-national-") as tmp:
            cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
            try:
                result = asyncio.run(run(cluster.start(), backlog))
            finally:
                cluster.stop()
    if result.differences:
        print("\n".join(result.differences), file=sys.stderr)
        raise SystemExit(1)
    return figures(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server-url",
        default=os.environ.get("NATIONAL_BENCH_SERVER_URL"),
        help="a PostgreSQL server where the bench may create and drop its databases "
        "(default: a throw-away cluster)",
    )
    parser.add_argument(
        "--backlog", type=int, default=BACKLOG, help="study logs imported per province"
    )
    args = parser.parse_args()
    print(render(measure(server_url=args.server_url, backlog=args.backlog)))


if __name__ == "__main__":
    main()
