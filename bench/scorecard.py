"""How long the unit scorecard takes on a synthetic province (docs/rules.md, "Unit scorecard"),
beside the province compliance report (the yardstick), in the same run and process.

With `--database-url`, it reads a `bench_province` database (bench/generate.py); without it, it
starts its own throw-away PostgreSQL, applies the migrations and generates a province at
`--scale` (default 0.05: ~50 units, 10,000 cadres, ~500,000 logs). It times, in process (no
HTTP), the median of `--repeat` interleaved rounds after a warm-up round, of:
- the compliance report of the root, one level down (`compliance.service.compliance_report`);
- the scorecard of the root's children, computed live (`scorecard.service.live_scorecard`),
  for the current year and for the last one;
- a frozen read: the snapshot stored by a first read, read back (`scorecard.service.freeze`),
  inside a transaction that is rolled back, so the database is left as it was.

    .venv/bin/python -m bench.scorecard [--database-url postgresql://.../bench_province]
        [--scale 0.05] [--repeat 5] [--plan-cache-mode auto|force_custom_plan|...]

With its own PostgreSQL it measures twice: with the server's `plan_cache_mode`, then with
`force_custom_plan`. The figures statement the two reports share runs, on a pooled connection,
as an asyncpg prepared statement; after five runs PostgreSQL may plan it generically (without
the values of its parameters), which is several times slower here. The second pass shows the
cost of the queries themselves.

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

from app.clock import local_today
from app.compliance import service as compliance
from app.migrations import alembic_config
from app.org_unit.models import OrgUnit
from app.scorecard import service as scorecard
from bench import generate
from bench.province import async_url
from devtools.localpg import LocalPostgres


async def _interleaved(
    maker: async_sessionmaker[AsyncSession],
    repeat: int,
    cases: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]],
) -> dict[str, float]:
    """The median time of each case over `repeat` rounds after one warm-up round; each round
    runs every case once, in turn, so that a neighbour's load on the machine (shared here)
    falls on every case alike. Each run is rolled back (a frozen read stores nothing)."""
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for round_ in range(repeat + 1):
        for name, call in cases:
            async with maker() as db_session:
                start = time.perf_counter()
                await call(db_session)
                elapsed = time.perf_counter() - start
                await db_session.rollback()
            if round_:
                times[name].append(elapsed)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


async def _measure(url: str, repeat: int, plan_cache_mode: str | None) -> None:
    settings = {} if plan_cache_mode is None else {"plan_cache_mode": plan_cache_mode}
    engine = create_async_engine(async_url(url), connect_args={"server_settings": settings})
    print(f"plan_cache_mode: {plan_cache_mode or 'server default (auto)'}")
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
    for name, median in (await _interleaved(maker, repeat, cases)).items():
        print(f"{name:<56} {median:>9.0f}")

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
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--plan-cache-mode",
        choices=["auto", "force_custom_plan", "force_generic_plan"],
        default=None,
        help="PostgreSQL's plan_cache_mode for the measuring connections (default: the server's)",
    )
    args = parser.parse_args()
    print(
        f"{platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    )
    os.environ.setdefault("APP_ENV", "development")
    if args.database_url:
        asyncio.run(_measure(args.database_url, args.repeat, args.plan_cache_mode))
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
            for mode in (args.plan_cache_mode, "force_custom_plan"):
                asyncio.run(_measure(url, args.repeat, mode))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
