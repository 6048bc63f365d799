"""Benchmark of the online-records import (issue 15 §1): N generated records of one platform as
CSV, in requests of 50,000 rows, against a server started here; then the same file again
(nothing new to create). The yardstick, in the same run and on the same server: the study-log
import (`bench.imports`) of the same number of rows, which the online import must match ("the
same speed as the study-log import").

The platform is created through the API; its learner accounts (one per active cadre,
`L<hr_id>`) are set up by one SQL statement before the clock starts: matching by account is
the import's steady state (an account is learned once, by ID number or by an org_admin).

    python -m bench.online_import --database-url postgresql://.../bench_online --count 50000
"""

import argparse
import asyncio
import io
import random
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.ids import new_id
from bench import imports as study_log_import
from bench.compliance import _free_port, _plain, _prepare, _start_server, _token, _wait_ready

BATCH = 50_000
YUNNAN = {
    "bands": [
        {"min_minutes": 1, "hours": "0.25"},
        {"min_minutes": 15, "hours": "0.5"},
        {"min_minutes": 30, "hours": "1"},
    ],
    "test_bonus_hours": "0.5",
}
HEADER = (
    "learner_id,external_id,course_code,course_title,course_minutes,minutes,completed,"
    "test_passed,started_at,ended_at,ip,device\r\n"
)


def _csv(learners: list[str], start: int, count: int, seed: int) -> bytes:
    """`count` records numbered from `start`: a month and more of a county's evenings."""
    rng = random.Random(seed + start)
    out = io.StringIO()
    out.write(HEADER)
    first = datetime(2026, 10, 1, 11, 0, tzinfo=UTC)  # 19:00 in Beijing
    for n in range(start, start + count):
        course = rng.randrange(1, 400)
        length = rng.choice((10, 20, 30, 45, 60, 90))
        watched = max(1, length - rng.randrange(0, 5))
        began = first + timedelta(days=rng.randrange(50), minutes=rng.randrange(240))
        ended = began + timedelta(minutes=watched)
        out.write(
            f"{rng.choice(learners)},{seed}-{n},C{course:04d},网络课程 {course},{length},"
            f"{watched},true,{'true' if rng.random() < 0.3 else 'false'},"
            f"{began.isoformat()},{ended.isoformat()},"
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)},"
            f"dev-{rng.randrange(100_000)}\r\n"
        )
    return out.getvalue().encode()


async def _platform(base: str, token: str, url: str, seed: int) -> str:
    """A fresh platform, and an account for every active cadre; its code."""
    code = f"BENCH-{seed}-{int(time.time())}"
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        r = await client.post(
            "/api/v1/online-platforms",
            json={"code": code, "name": "基准网络学院", "conversion": YUNNAN},
        )
        r.raise_for_status()
        platform_id = r.json()["id"]
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(
            "INSERT INTO online_learner (id, version, platform_id, learner_id, cadre_id,"
            " matched_by) "
            "SELECT i, 1, $1, 'L' || c.hr_id, c.id, 'admin' FROM (SELECT hr_id, id, "
            "row_number() OVER () AS n FROM cadre WHERE status = 'active') AS c "
            "JOIN unnest($2::uuid[]) WITH ORDINALITY AS ids(i, n) USING (n)",
            platform_id,
            [new_id() for _ in range(await conn.fetchval("SELECT count(*) FROM cadre"))],
        )
    finally:
        await conn.close()
    return code


async def _pass(
    base: str, token: str, path: str, bodies: list[bytes], concurrency: int
) -> tuple[float, int, int, int]:
    """Every body posted once to `path`, `concurrency` requests in flight."""
    totals = [0, 0, 0]
    queue = list(reversed(bodies))

    async def uploader(client: httpx.AsyncClient) -> None:
        while queue:
            r = await client.post(path, content=queue.pop())
            r.raise_for_status()
            report = r.json()
            totals[0] += report["created"]
            totals[1] += report["already_imported"]
            totals[2] += report["rejected"]

    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        timeout=900,
    ) as client:
        await asyncio.gather(*(uploader(client) for _ in range(concurrency)))
    return time.perf_counter() - started, totals[0], totals[1], totals[2]


def _line(label: str, count: int, result: tuple[float, int, int, int]) -> None:
    elapsed, created, skipped, rejected = result
    print(
        f"{label}: {count:,} rows in {elapsed:.1f} s ({count / elapsed:,.0f} rows/s): "
        f"created {created:,}, already imported {skipped:,}, rejected {rejected:,}",
        flush=True,
    )


async def files(database_url: str, count: int, seed: int) -> tuple[list[bytes], list[bytes]]:
    """The database prepared, then `count` online records of its active cadres' learner
    accounts and as many study-log rows, as CSV requests of BATCH rows: (online, logs)."""
    await _prepare(database_url)
    conn = await asyncpg.connect(_plain(database_url))
    try:
        hr_ids = [
            r["hr_id"]
            for r in await conn.fetch(
                "SELECT hr_id FROM cadre WHERE status = 'active' ORDER BY hr_id LIMIT 50000"
            )
        ]
    finally:
        await conn.close()
    learners = [f"L{h}" for h in hr_ids]
    spans = [(s, min(BATCH, count - s)) for s in range(0, count, BATCH)]
    online = [_csv(learners, s, n, seed) for s, n in spans]
    logs = [study_log_import._csv(hr_ids, s, n, seed) for s, n in spans]
    return online, logs


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    online, logs = await files(args.database_url, args.count, args.seed)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(args.database_url, port, args.workers)
    try:
        await _wait_ready(base)
        token = await _token(base)
        code = await _platform(base, token, args.database_url, args.seed)
        path = f"/api/v1/imports/online-records?platform={code}"
        _line("online import", args.count, await _pass(base, token, path, online, args.concurrency))
        again = await _pass(base, token, path, online, args.concurrency)
        _line("online, the same file again", args.count, again)
        yardstick = await _pass(base, token, "/api/v1/imports/study-logs", logs, args.concurrency)
        _line("yardstick: study-log import", args.count, yardstick)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
