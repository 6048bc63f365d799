"""Benchmark of the study-log import: N historical logs as CSV, in requests of 50,000 rows,
against a server started here; then the same file again (nothing new to create). Last, the
yardstick: one request's rows COPYed straight into study_log and rolled back, twice — with every
trigger (its indexes, foreign keys, the sums trigger and the audit trigger that writes an audit
row and a change event a log, but no checks, no idempotency), and with the audit trigger disabled
in that transaction — so their difference is what the audit trail and the change feed cost.

    python -m bench.imports --database-url postgresql://.../bench_tenth --count 1000000
"""

import argparse
import asyncio
import io
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx

from app import personal_data
from app.config import get_settings
from app.imports import service
from bench.compliance import _free_port, _plain, _prepare, _start_server, _token, _wait_ready

BATCH = 50_000
KINDS = ("online_course", "self_study", "lecture", "seminar", "centralised_training")


def _csv(hr_ids: list[str], start: int, count: int, seed: int) -> bytes:
    rng = random.Random(seed + start)
    out = io.StringIO()
    out.write("hr_id,kind,title,start_date,end_date,hours,days\r\n")
    for n in range(start, start + count):
        day = date(2015, 1, 1) + timedelta(days=rng.randrange(3_000))
        length = rng.randrange(1, 4)
        out.write(
            f"{rng.choice(hr_ids)},{rng.choice(KINDS)},历史记录 {seed}-{n},{day},"
            f"{day + timedelta(days=length - 1)},{rng.randrange(1, 8 * length)},\r\n"
        )
    return out.getvalue().encode()


async def _pass(
    base: str, token: str, bodies: list[bytes], concurrency: int
) -> tuple[float, int, int, int]:
    """Every body posted once, `concurrency` requests in flight (the HR system's uploader)."""
    totals = [0, 0, 0]
    queue = list(reversed(bodies))

    async def uploader(client: httpx.AsyncClient) -> None:
        while queue:
            r = await client.post("/api/v1/imports/study-logs", content=queue.pop())
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--yardstick-runs", type=int, default=2, help="bare COPYs with and without the trigger"
    )
    parser.add_argument(
        "--yardstick-only", action="store_true", help="skip the import: only the bare COPYs"
    )
    args = parser.parse_args()
    if args.yardstick_runs < 1:
        parser.error("--yardstick-runs must be at least 1")
    await _prepare(args.database_url)
    conn = await asyncpg.connect(_plain(args.database_url))
    try:
        hr_ids = [r["hr_id"] for r in await conn.fetch("SELECT hr_id FROM cadre LIMIT 50000")]
    finally:
        await conn.close()
    bodies = [
        _csv(hr_ids, start, min(BATCH, args.count - start), args.seed)
        for start in range(0, args.count, BATCH)
    ]
    if not args.yardstick_only:
        await _imports(args, bodies)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.yardstick_runs):
        for audited in (True, False):
            rows, elapsed = await _bare_copy(args.database_url, bodies[0], audited=audited)
            times[audited].append(elapsed)
            what = "with the audit trigger" if audited else "audit trigger disabled"
            print(
                f"bare COPY into study_log, {what}: {rows:,} rows in {elapsed:.2f} s "
                f"({rows / elapsed:,.0f} rows/s)"
            )
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"medians: {on:.2f} s with, {off:.2f} s without: the audit trigger costs "
        f"{1e6 * (on - off) / rows:.1f} µs a row ({100 * (on - off) / off:+.0f} %)"
    )


async def _imports(args: argparse.Namespace, bodies: list[bytes]) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(args.database_url, port, args.workers)
    try:
        await _wait_ready(base)
        token = await _token(base)
        for label in ("import", "same file again"):
            elapsed, created, skipped, rejected = await _pass(base, token, bodies, args.concurrency)
            print(
                f"{label}: {args.count:,} rows in {elapsed:.1f} s "
                f"({args.count / elapsed:,.0f} rows/s): created {created:,}, "
                f"already imported {skipped:,}, rejected {rejected:,}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _bare_copy(url: str, body: bytes, *, audited: bool) -> tuple[int, float]:
    # The row check derives keyed ids (unused here: the yardstick's ids are fresh).
    personal_data.configure(get_settings().data_key_bytes)
    conn = await asyncpg.connect(_plain(url))
    try:
        rows, _ = service.rows_from_csv(body)
        hr_ids = {row["hr_id"] for row in rows}
        cadres = {
            r["hr_id"]: r["id"]
            for r in await conn.fetch("SELECT hr_id, id FROM cadre WHERE hr_id = ANY($1)", hr_ids)
        }
        now = datetime.now(UTC)
        records = [
            (uuid.uuid4(), *service.check_row(row, cadres)[1:], "import", 1, now) for row in rows
        ]
        columns = [*service.CHECKED_COLUMNS, "source", "version", "reviewed_at"]
        async with conn.transaction():
            if not audited:  # migration 0013's trigger; rolled back with the rest
                await conn.execute("ALTER TABLE study_log DISABLE TRIGGER audit_trail_insert")
            started = time.perf_counter()
            await conn.copy_records_to_table("study_log", columns=columns, records=records)
            elapsed = time.perf_counter() - started
            raise _RollBack
    except _RollBack:
        return len(records), elapsed
    finally:
        await conn.close()


class _RollBack(Exception):
    pass


if __name__ == "__main__":
    asyncio.run(main())
