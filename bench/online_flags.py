"""Benchmark of the online-records import WITH the plausibility checks (issue 15 §1, docs/rules.md
"Plausibility flags"), against a server started here on a `bench_province` database:

1. `bench.online_import`'s N records (a county's evenings, random addresses and devices), in
   requests of 50,000 rows: the import with every check, and how many rows were flagged;
2. the same file again (nothing new: the checks do not run for known records);
3. a generated month of one county's cadres with the planted cheats (bench/generate_online.py),
   imported on top: how many were flagged against how many were planted;
4. the yardstick, same run and server: the study-log import of N rows (`bench.imports`).

    python -m bench.online_flags --database-url postgresql://.../bench_province --count 50000
"""

import argparse
import asyncio
import time
from typing import Any

import asyncpg
import httpx

from bench.compliance import _free_port, _plain, _start_server, _token, _wait_ready
from bench.generate_online import Learner, generate_month, to_csv
from bench.online_import import _platform, files


async def _post_all(
    base: str, token: str, path: str, bodies: list[bytes], concurrency: int
) -> tuple[float, dict[str, int]]:
    """Every body posted once to `path`, `concurrency` requests in flight; elapsed and totals."""
    totals: dict[str, int] = {"created": 0, "already_imported": 0, "rejected": 0, "flagged": 0}
    queue = list(reversed(bodies))

    async def uploader(client: httpx.AsyncClient) -> None:
        while queue:
            r = await client.post(path, content=queue.pop())
            r.raise_for_status()
            report: dict[str, Any] = r.json()
            for key in totals:
                totals[key] += int(report.get(key, 0))

    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        timeout=900,
    ) as client:
        await asyncio.gather(*(uploader(client) for _ in range(concurrency)))
    return time.perf_counter() - started, totals


def _line(label: str, count: int, elapsed: float, totals: dict[str, int]) -> None:
    print(
        f"{label}: {count:,} rows in {elapsed:.1f} s ({count / elapsed:,.0f} rows/s): "
        + ", ".join(f"{k} {v:,}" for k, v in totals.items()),
        flush=True,
    )


async def _county_learners(url: str) -> list[Learner]:
    """The active cadres of the unit with the most of them (a county), as `L<hr_id>` accounts
    (`bench.online_import._platform` sets them up)."""
    conn = await asyncpg.connect(_plain(url))
    try:
        rows = await conn.fetch(
            "SELECT hr_id FROM cadre WHERE status = 'active' AND org_unit_id = ("
            "  SELECT org_unit_id FROM cadre WHERE status = 'active'"
            "  GROUP BY org_unit_id ORDER BY count(*) DESC LIMIT 1) ORDER BY hr_id"
        )
    finally:
        await conn.close()
    return [Learner(f"L{row['hr_id']}") for row in rows]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    online, logs = await files(args.database_url, args.count, args.seed)
    county = await _county_learners(args.database_url)
    month = generate_month(county, year=2026, month=3, seed=args.seed, prefix=f"M{args.seed}")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(args.database_url, port, args.workers)
    try:
        await _wait_ready(base)
        token = await _token(base)
        code = await _platform(base, token, args.database_url, args.seed)
        path = f"/api/v1/imports/online-records?platform={code}"
        elapsed, totals = await _post_all(base, token, path, online, args.concurrency)
        _line("online import with the checks", args.count, elapsed, totals)
        elapsed, totals = await _post_all(base, token, path, online, args.concurrency)
        _line("online, the same file again", args.count, elapsed, totals)
        body = [to_csv(month.rows).encode()]
        elapsed, totals = await _post_all(base, token, path, body, 1)
        _line(f"a county's month ({len(county)} cadres)", len(month.rows), elapsed, totals)
        print(f"  planted cheats: {len(month.planted)}, flagged: {totals['flagged']}", flush=True)
        yardstick = "/api/v1/imports/study-logs"
        elapsed, totals = await _post_all(base, token, yardstick, logs, args.concurrency)
        _line("yardstick: study-log import", args.count, elapsed, totals)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
