"""Bulk writes into `study_log` on a grown table (issue 16, Bulk): the study-log import through
the service against two bare COPYs of the same rows, measured in the same run.

1. **import**: `POST /api/v1/imports/study-logs` with a CSV of `rows` historical logs, through
   the application itself (its router, the row checks, `app.study_log.bulk.import_many`, the
   audit and sums triggers), in-process over httpx's ASGITransport;
2. **COPY, indexed**: the same rows, checked once beforehand, COPYed straight into `study_log`
   with everything the product has on it (primary key and indexes, foreign keys, the sums
   triggers of migration 0004 and the audit trigger of migration 0013);
3. **COPY, unindexed**: the same rows COPYed into `CREATE TABLE … (LIKE study_log INCLUDING
   DEFAULTS)`: no index, no constraint but NOT NULL, no trigger. What the disk and the row
   format cost alone.

Everything runs in ONE transaction that is rolled back at the end (the bench admin too), each
step inside its own savepoint, rolled back before the next: the database is left as it was,
and every step writes into the same table state. The steps alternate their order from one
round to the next, and the figures are medians over `repeat` rounds.

    python -m bench.bulk --database-url postgresql://postgres@127.0.0.1:56100/bench_bulk
"""

import argparse
import asyncio
import functools
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.auth.passwords import hash_password
from app.config import DatabaseSettings, Settings
from app.ids import new_id
from app.imports import service
from app.main import create_app
from bench.imports import _csv
from bench.table import Figure, render

BENCH_USER = "bench-bulk"
BENCH_PASSWORD = "bench-bulk-password-0123"
UNINDEXED = "bench_bulk_unindexed"
STATEMENT_TIMEOUT_MS = 600_000
COLUMNS = (*service.CHECKED_COLUMNS, "source", "version", "reviewed_at")


async def _records(conn: AsyncConnection, body: bytes) -> list[tuple[Any, ...]]:
    """The body's rows as the import writes them (its own checks, its ids), for the COPYs."""
    rows, _ = service.rows_from_csv(body)
    hr_ids = list({row["hr_id"] for row in rows})
    found = await conn.execute(
        text("SELECT hr_id, id FROM cadre WHERE hr_id = ANY(:ids)"), {"ids": hr_ids}
    )
    cadres: dict[str, uuid.UUID] = {row[0]: row[1] for row in found}
    now = datetime.now(UTC)
    return [(*service.check_row(row, cadres), "import", 1, now) for row in rows]


async def _copy(conn: AsyncConnection, table: str, records: list[tuple[Any, ...]]) -> float:
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    started = time.perf_counter()
    await driver.copy_records_to_table(table, columns=COLUMNS, records=records)
    return time.perf_counter() - started


async def _copy_unindexed(conn: AsyncConnection, records: list[tuple[Any, ...]]) -> float:
    await conn.execute(text(f"CREATE TABLE {UNINDEXED} (LIKE study_log INCLUDING DEFAULTS)"))
    return await _copy(conn, UNINDEXED, records)


async def _copy_without(
    conn: AsyncConnection, records: list[tuple[Any, ...]], statements: tuple[str, ...]
) -> float:
    """The bare COPY after `statements` (switching a trigger off, dropping an index), in the
    step's savepoint (rolled back with it): what that part costs a row."""
    for statement in statements:
        await conn.execute(text(statement))
    return await _copy(conn, "study_log", records)


def _off(trigger: str) -> str:
    return f"ALTER TABLE study_log DISABLE TRIGGER {trigger}"


# --breakdown: where a bare COPY's time goes, by switching parts off one at a time.
BREAKDOWN = {
    "copy without the audit trigger": (_off("audit_trail_insert"),),
    "copy without the sums trigger": (_off("study_log_sums_insert"),),
    "copy without either trigger": (_off("audit_trail_insert"), _off("study_log_sums_insert")),
    # The sums trigger's upsert rewrites every index of cadre_year_kind (hours and days are in
    # both covering indexes, so no update is HOT): what those two indexes cost it.
    "copy without cadre_year_kind's covering indexes": (
        "DROP INDEX ix_cadre_year_kind_kind_year",
        "DROP INDEX ix_cadre_year_kind_year",
    ),
}


@asynccontextmanager
async def _rolled_back(conn: AsyncConnection) -> AsyncIterator[None]:
    nested = await conn.begin_nested()
    try:
        yield
    finally:
        await nested.rollback()


async def _round(
    steps: dict[str, Callable[[], Awaitable[float]]], conn: AsyncConnection, order: list[str]
) -> dict[str, float]:
    times: dict[str, float] = {}
    for name in order:
        async with _rolled_back(conn):
            times[name] = await steps[name]()
    return times


async def _measure(
    database_url: str, rows: int, repeat: int, seed: int, breakdown: bool
) -> dict[str, list[float]]:
    # The service's settings but for the statement timeout (30 s by default): on the grown
    # province a 50,000-row import on a busy machine can pass it, and a 503 measures nothing.
    settings = Settings(
        DATABASE_URL=database_url,
        log_level="WARNING",
        database=DatabaseSettings(statement_timeout_ms=STATEMENT_TIMEOUT_MS),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine = app.state.engine
        async with engine.connect() as conn:
            outer = await conn.begin()
            try:
                previous = app.state.sessionmaker
                app.state.sessionmaker = async_sessionmaker(
                    bind=conn,
                    class_=AsyncSession,
                    expire_on_commit=False,
                    autoflush=False,
                    join_transaction_mode="create_savepoint",
                )
                try:
                    return await _rounds(app, conn, rows, repeat, seed, breakdown)
                finally:
                    app.state.sessionmaker = previous
            finally:
                await outer.rollback()


async def _rounds(
    app: Any, conn: AsyncConnection, rows: int, repeat: int, seed: int, breakdown: bool
) -> dict[str, list[float]]:
    await conn.execute(
        text(
            "INSERT INTO app_user (id, username, password_hash, role, active, failed_logins,"
            " version) VALUES (:id, :username, :hash, 'admin', true, 0, 1)"
        ),
        {"id": new_id(), "username": BENCH_USER, "hash": hash_password(BENCH_PASSWORD)},
    )
    hr_ids = list(await conn.scalars(text("SELECT hr_id FROM cadre ORDER BY random() LIMIT 50000")))
    body = _csv(hr_ids, 0, rows, seed)
    records = await _records(conn, body)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=900
    ) as client:
        answer = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": BENCH_USER, "password": BENCH_PASSWORD},
        )
        answer.raise_for_status()
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

        async def imported() -> float:
            started = time.perf_counter()
            answer = await client.post(
                "/api/v1/imports/study-logs", content=body, headers={"Content-Type": "text/csv"}
            )
            elapsed = time.perf_counter() - started
            answer.raise_for_status()
            if answer.json()["created"] != len(records):
                raise RuntimeError(f"the import created {answer.json()['created']} of {rows}")
            return elapsed

        steps: dict[str, Callable[[], Awaitable[float]]] = {
            "import": imported,
            "copy": lambda: _copy(conn, "study_log", records),
            "unindexed": lambda: _copy_unindexed(conn, records),
        }
        if breakdown:
            for name, statements in BREAKDOWN.items():
                steps[name] = functools.partial(_copy_without, conn, records, statements)
        times: dict[str, list[float]] = {name: [] for name in steps}
        for n in range(repeat):
            order = list(steps) if n % 2 == 0 else list(reversed(steps))
            for name, seconds in (await _round(steps, conn, order)).items():
                times[name].append(seconds)
    return times


async def measure_async(
    database_url: str,
    *,
    rows: int = 50_000,
    repeat: int = 3,
    seed: int | None = None,
    breakdown: bool = False,
) -> list[Figure]:
    times = await _measure(
        database_url, rows, repeat, int(time.time()) if seed is None else seed, breakdown
    )
    rate = {name: rows / statistics.median(seconds) for name, seconds in times.items()}
    detail = "; ".join(
        f"{name} " + ", ".join(f"{s:.2f}" for s in times[name]) + " s"
        for name in ("import", "copy", "unindexed")
    )
    return [
        Figure(
            what=f"study-log import, {rows:,} rows (POST /imports/study-logs)",
            value=rate["import"],
            unit="rows/s",
            yardstick=rate["copy"],
            yardstick_what="bare COPY into study_log, its indexes and triggers",
            target=0.5,
            before="83 % (young table)",
            detail=detail,
        ),
        Figure(
            what=f"study-log import, {rows:,} rows (POST /imports/study-logs)",
            value=rate["import"],
            unit="rows/s",
            yardstick=rate["unindexed"],
            yardstick_what="COPY into an unindexed copy (LIKE study_log)",
            target=0.25,
            detail=f"median of {repeat} rounds",
        ),
        *(
            Figure(
                what=name,
                value=rate[name],
                unit="rows/s",
                yardstick=rate["copy"],
                yardstick_what="bare COPY into study_log, its indexes and triggers",
                detail=", ".join(f"{s:.2f}" for s in times[name]) + " s",
            )
            for name in BREAKDOWN
            if name in rate
        ),
    ]


def measure(
    database_url: str,
    *,
    rows: int = 50_000,
    repeat: int = 3,
    seed: int | None = None,
    breakdown: bool = False,
) -> list[Figure]:
    """The import's rows/s beside a bare COPY into the indexed `study_log` and into an
    unindexed copy, same rows, same run; nothing is left in the database. `breakdown` adds the
    bare COPY with a part switched off (BREAKDOWN)."""
    return asyncio.run(
        measure_async(database_url, rows=rows, repeat=repeat, seed=seed, breakdown=breakdown)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=50_000, help="rows per import (≤ 50,000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the figures are medians")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--breakdown", action="store_true", help="also COPY with parts switched off"
    )
    args = parser.parse_args()
    figures = measure(
        args.database_url,
        rows=args.rows,
        repeat=args.repeat,
        seed=args.seed,
        breakdown=args.breakdown,
    )
    print(render(figures))


if __name__ == "__main__":
    main()
