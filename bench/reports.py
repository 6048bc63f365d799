"""How long the province and county reports take (issue 16, "Reports"), beside a plain
`GROUP BY cadre_id` of five years of study logs measured in the same run.

Each case is timed through the service function its route calls
(`app.compliance.service.compliance_report` with `levels=1`, `app.compliance.service.roll_call`
with the route's default top 100), on the service's own engine (`app.db.create_engine`: pooled
connections, asyncpg's prepared statements, the engine's server settings), each run in its own
transaction as a request has. The median of `repeat` interleaved rounds after a warm-up round:
every round runs every case once in turn, so a neighbour's load on this shared machine falls on
all of them alike.

    APP_ENV=development .venv/bin/python -m bench.reports \
        --database-url postgresql://postgres@127.0.0.1:56100/bench_reports [--repeat 3]

The database is a `bench.generate` province (see bench/README.md); nothing is written to it.
Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from pydantic import PostgresDsn
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import local_today
from app.compliance import service as compliance
from app.config import DatabaseSettings, Environment, Settings
from app.credit_policy.engine.common import add_years
from app.db import create_engine, create_sessionmaker
from app.org_unit.models import OrgUnit
from bench.table import Figure, render

# The yardstick: every cadre's hours over five years of logs, the least a five-year report reads.
_GROUP_BY = text(
    "SELECT cadre_id, sum(hours) FROM study_log"
    " WHERE end_date > :window_start AND end_date <= :as_of GROUP BY cadre_id"
)
TOP = 100  # the roll-call route's default
COUNTY_BOUND_MS = 100.0


async def _yardstick(db_session: AsyncSession) -> None:
    as_of = local_today()
    rows = await db_session.execute(
        _GROUP_BY, {"window_start": add_years(as_of, -5), "as_of": as_of}
    )
    rows.all()


async def _interleaved(
    maker: async_sessionmaker[AsyncSession],
    repeat: int,
    cases: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]],
) -> dict[str, float]:
    """The median ms of each case over `repeat` rounds after one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for round_ in range(repeat + 1):
        for name, call in cases:
            async with maker() as db_session:
                start = time.perf_counter()
                await call(db_session)
                await db_session.commit()
                elapsed = time.perf_counter() - start
            if round_:
                times[name].append(elapsed)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


async def _units(maker: async_sessionmaker[AsyncSession]) -> tuple[OrgUnit, OrgUnit]:
    """The province (the first root) and a county: the first unit two levels below it by code."""
    async with maker() as db_session:
        root = (
            await db_session.scalars(
                select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.code).limit(1)
            )
        ).one()
        county = (
            await db_session.scalars(
                select(OrgUnit)
                .where(OrgUnit.depth == root.depth + 2, OrgUnit.path.startswith(root.path))
                .order_by(OrgUnit.code)
                .limit(1)
            )
        ).one()
    return root, county


async def _measure(database_url: str, repeat: int) -> list[Figure]:
    settings = Settings(
        env=Environment.development,
        database_url=PostgresDsn(database_url),
        # Figures even where a report runs past the service's 30 s statement timeout.
        database=DatabaseSettings(statement_timeout_ms=600_000),
    )
    engine = create_engine(settings)
    try:
        maker = create_sessionmaker(engine)
        root, county = await _units(maker)
        this_year = local_today().year

        def report(unit: OrgUnit, year: int) -> Callable[[AsyncSession], Awaitable[Any]]:
            return lambda db: compliance.compliance_report(db, unit, year, 1)

        def roll_call(unit: OrgUnit) -> Callable[[AsyncSession], Awaitable[Any]]:
            return lambda db: compliance.roll_call(db, unit, this_year, TOP)

        cases = [
            ("yardstick", _yardstick),
            ("report", report(root, this_year)),
            ("report last year", report(root, this_year - 1)),
            ("roll-call", roll_call(root)),
            ("county report", report(county, this_year)),
            ("county roll-call", roll_call(county)),
        ]
        ms = await _interleaved(maker, repeat, cases)
    finally:
        await engine.dispose()
    yard = ms["yardstick"]
    yard_what = "plain GROUP BY cadre_id, 5 years of logs"
    detail = f"median of {repeat}"
    county_what = f"county {county.code}"
    return [
        Figure(
            what=f"province compliance report {this_year} (levels=1)",
            value=ms["report"],
            unit="ms",
            yardstick=yard,
            yardstick_what=yard_what,
            target=1 / 3,
            direction="lower",
            before="1.5×",
            detail=detail,
        ),
        Figure(
            what=f"province compliance report {this_year - 1} (levels=1)",
            value=ms["report last year"],
            unit="ms",
            yardstick=yard,
            yardstick_what=yard_what,
            target=1 / 3,
            direction="lower",
            detail=detail,
        ),
        Figure(
            what=f"province roll-call {this_year} (top {TOP})",
            value=ms["roll-call"],
            unit="ms",
            yardstick=yard,
            yardstick_what=yard_what,
            target=1.0,
            direction="lower",
            before="1.8×",
            detail=detail,
        ),
        Figure(
            what=f"county compliance report {this_year} ({county_what})",
            value=ms["county report"],
            unit="ms",
            target=COUNTY_BOUND_MS,
            direction="lower",
            detail=detail,
        ),
        Figure(
            what=f"county roll-call {this_year} ({county_what}, top {TOP})",
            value=ms["county roll-call"],
            unit="ms",
            target=COUNTY_BOUND_MS,
            direction="lower",
            detail=detail,
        ),
    ]


def measure(database_url: str, *, repeat: int = 3) -> list[Figure]:
    """The reports' figures on the province at `database_url` (a `bench.generate` database)."""
    return asyncio.run(_measure(database_url, repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("APP_ENV", "development")
    print(f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}; {date.today()}")
    print(render(measure(args.database_url, repeat=args.repeat)))


if __name__ == "__main__":
    main()
