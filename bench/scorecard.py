"""How long the unit scorecard takes on a synthetic province (docs/rules.md, "Unit scorecard"),
beside the province compliance report (the yardstick), in the same run and process.

With `--database-url`, it reads a `bench_province` database (bench/generate.py); without it, it
starts its own throw-away PostgreSQL, applies the migrations and generates a province at
`--scale` (default 0.05: ~50 units, 10,000 cadres, ~500,000 logs). It times, in process (no
HTTP), `--repeat` times each, the median of:
- the compliance report of the root, one level down (`compliance.service.compliance_report`);
- the scorecard of the root's children, computed live (`scorecard.service.live_scorecard`),
  for the current year and for the last one;
- a frozen read: the snapshot stored by a first read, read back (`scorecard.service.freeze`),
  inside a transaction that is rolled back, so the database is left as it was.

    .venv/bin/python -m bench.scorecard [--database-url postgresql://.../bench_province]
        [--scale 0.05] [--repeat 5]

Figures only: this is not a test and asserts nothing. The generator makes no evaluations and
no plans: those two indicators' queries run over the sessions and enrollments and find none.
"""

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.clock import local_today
from app.compliance import service as compliance
from app.migrations import alembic_config
from app.org_unit.models import OrgUnit
from app.scorecard import service as scorecard
from bench import generate
from devtools.localpg import LocalPostgres


def _async_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def _time(url: str, repeat: int, call: Callable[[AsyncSession], Awaitable[Any]]) -> float:
    """The median of `repeat` runs, on an engine of its own: asyncpg prepares each statement
    once per connection, and PostgreSQL may switch a prepared statement to a generic plan from
    its sixth run on, which is slower here; a fresh connection per operation keeps every
    operation on the same footing (at most `repeat` ≤ 5 runs of a statement per connection)."""
    engine = create_async_engine(_async_url(url), poolclass=NullPool)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    times = []
    try:
        for _ in range(repeat):
            async with maker() as db_session:
                start = time.perf_counter()
                await call(db_session)
                times.append(time.perf_counter() - start)
                await db_session.rollback()
    finally:
        await engine.dispose()
    return statistics.median(times) * 1000


async def _measure(url: str, repeat: int) -> None:
    engine = create_async_engine(_async_url(url))
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as db_session:
        root = (
            await db_session.scalars(
                select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.path).limit(1)
            )
        ).one()
        children = await db_session.scalar(
            select(text("count(*)")).select_from(OrgUnit).where(OrgUnit.parent_id == root.id)
        )
        cadres = await db_session.scalar(text("SELECT count(*) FROM cadre"))
        logs = await db_session.scalar(text("SELECT count(*) FROM study_log"))
    this_year = local_today().year
    print(
        f"province: {cadres:,} cadres, {logs:,} study logs; root {root.code}, {children} children"
    )

    async def frozen_read(db: AsyncSession) -> None:
        await scorecard.freeze(db, root, this_year - 1)  # stores it (rolled back after)

    cases: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]] = [
        (
            f"compliance report {this_year} (yardstick)",
            lambda db: compliance.compliance_report(db, root, this_year, 1),
        ),
        (f"scorecard {this_year} (live)", lambda db: scorecard.live_scorecard(db, root, this_year)),
        (
            f"compliance report {this_year - 1} (yardstick)",
            lambda db: compliance.compliance_report(db, root, this_year - 1, 1),
        ),
        (
            f"scorecard {this_year - 1} (first read: computed and stored)",
            frozen_read,
        ),
    ]
    print(f"{'operation':<56} {'median ms':>9}")
    for name, call in cases:
        print(f"{name:<56} {await _time(url, repeat, call):>9.0f}")

    async def stored_then_read(db: AsyncSession) -> float:
        await scorecard.freeze(db, root, this_year - 1)
        start = time.perf_counter()
        await scorecard.freeze(db, root, this_year - 1)
        return time.perf_counter() - start

    reads = []
    for _ in range(repeat):
        async with maker() as db_session:
            reads.append(await stored_then_read(db_session))
            await db_session.rollback()
    label = f"scorecard {this_year - 1} (frozen: the snapshot read back)"
    print(f"{label:<56} {statistics.median(reads) * 1000:>9.0f}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=5, choices=range(1, 6))
    args = parser.parse_args()
    print(
        f"{platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    )
    os.environ.setdefault("APP_ENV", "development")
    if args.database_url:
        asyncio.run(_measure(args.database_url, args.repeat))
        return
    with tempfile.TemporaryDirectory(prefix="bench-scorecard-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        url = cluster.start()
        try:
            command.upgrade(alembic_config(url), "head")
            started = time.perf_counter()
            plain = "postgresql://" + url.split("://", 1)[1]
            gen = generate.parse_args(["--database-url", plain, "--scale", str(args.scale)])
            asyncio.run(generate.run(gen))
            print(f"generated at scale {args.scale} in {time.perf_counter() - started:.0f} s")
            asyncio.run(_measure(url, args.repeat))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
