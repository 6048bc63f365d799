"""The read replica (docs/scaling.md, "Read replica"): what a report costs on a streaming
standby beside the primary, and what moving the reports there gives the primary's writes.

It starts its own two clusters: a throw-away primary, migrated and filled by bench.generate at
`--scale` (default 0.05: ~50 units, 10,000 cadres, ~500,000 logs), and a hot standby of it
(`pg_basebackup -R`, devtools.localpg `LocalPostgres.standby_of`). Both run on this machine,
which the replica would not share in production, so the write figure is a lower bound of what a
separate machine gives. One run measures:

- the province compliance report (the root, one level down, `compliance.service`), median of
  `--repeat` interleaved rounds after a warm-up round, on the standby and on the primary (the
  yardstick);
- the primary's write throughput while `--readers` loops run that report. The writes are
  `--writers` connections of a separate process, each committing one approved study log at a
  time, with the sums and audit triggers. The phases alternate over `--rounds` rounds: reports
  on the replica, reports on the primary (the yardstick), and no reports (shown as detail).

    .venv/bin/python -m bench.replica [--scale 0.05] [--repeat 5] [--seconds 8] [--rounds 2]

Figures only: nothing is asserted.
"""

import argparse
import asyncio
import multiprocessing
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import app.models  # noqa: F401  (every mapper, for the writer process's inserts)
from app.clock import local_today
from app.compliance import service as compliance
from app.db import attribute
from app.enums import StudyLogKind, StudyLogSource, StudyLogStatus
from app.migrations import alembic_config
from app.org_unit.models import OrgUnit
from app.study_log.models import StudyLog
from bench import generate
from bench.table import Figure, render
from devtools.localpg import LocalPostgres

Report = Callable[[AsyncSession], Awaitable[Any]]


async def _caught_up(primary: AsyncEngine, standby: AsyncEngine) -> None:
    """Until the standby has replayed everything the primary has written (polled, no sleep)."""
    async with primary.connect() as conn:
        # Past every commit, written or not yet (the throw-away cluster commits asynchronously).
        target = (await conn.execute(text("SELECT pg_current_wal_insert_lsn()::text"))).scalar_one()
    query = text("SELECT pg_last_wal_replay_lsn() >= CAST(CAST(:t AS text) AS pg_lsn)")
    async with standby.connect() as conn:
        while not (await conn.execute(query, {"t": target})).scalar_one():
            await conn.rollback()


async def _report_times(
    makers: dict[str, async_sessionmaker[AsyncSession]], report: Report, repeat: int
) -> dict[str, float]:
    """Median seconds of the report on each database, rounds interleaved."""
    times: dict[str, list[float]] = {name: [] for name in makers}
    for round_ in range(repeat + 1):
        for name, maker in makers.items():
            async with maker() as db_session:
                start = time.perf_counter()
                await report(db_session)
                elapsed = time.perf_counter() - start
            if round_:
                times[name].append(elapsed)
    return {name: statistics.median(t) for name, t in times.items()}


async def _write(url: str, seconds: float, connections: int, cadre_ids: list[str]) -> int:
    engine = create_async_engine(url, pool_size=connections, max_overflow=0)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    deadline = time.monotonic() + seconds
    rng = random.Random(1)

    async def writer() -> int:
        done = 0
        while time.monotonic() < deadline:
            async with maker() as db_session, db_session.begin():
                await attribute(db_session, request_id="bench-replica")
                db_session.add(
                    StudyLog(
                        id=uuid.uuid4(),
                        cadre_id=uuid.UUID(rng.choice(cadre_ids)),
                        kind=StudyLogKind.online_course,
                        title="bench.replica",
                        start_date=date(2026, 3, 2),
                        end_date=date(2026, 3, 2),
                        hours=Decimal(2),
                        days=Decimal(0),
                        status=StudyLogStatus.approved,
                        source=StudyLogSource.manual,
                        version=1,
                    )
                )
            done += 1
        return done

    try:
        return sum(await asyncio.gather(*(writer() for _ in range(connections))))
    finally:
        await engine.dispose()


def _writer_process(url: str, seconds: float, connections: int, ids: list[str], out: Any) -> None:
    os.environ.setdefault("APP_ENV", "development")
    out.put(asyncio.run(_write(url, seconds, connections, ids)))


async def _reading(maker: async_sessionmaker[AsyncSession], report: Report, until: float) -> int:
    runs = 0
    while time.monotonic() < until:
        async with maker() as db_session:
            await report(db_session)
        runs += 1
    return runs


async def _write_phase(
    url: str,
    seconds: float,
    writers: int,
    cadre_ids: list[str],
    readers: int,
    maker: async_sessionmaker[AsyncSession] | None,
    report: Report,
) -> tuple[int, int]:
    """Writes committed by the writer process in `seconds`, and reports run meanwhile."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_writer_process, args=(url, seconds, writers, cadre_ids, out))
    process.start()
    until = time.monotonic() + seconds
    runs = 0
    if maker is not None:
        runs = sum(await asyncio.gather(*(_reading(maker, report, until) for _ in range(readers))))
    written: int = await asyncio.to_thread(out.get, True, seconds + 120)
    process.join()
    return written, runs


async def _measure(primary_url: str, standby_url: str, args: argparse.Namespace) -> list[Figure]:
    primary = create_async_engine(primary_url, pool_size=args.readers + 1)
    standby = create_async_engine(standby_url, pool_size=args.readers + 1)
    makers = {
        "primary": async_sessionmaker(primary, expire_on_commit=False),
        "replica": async_sessionmaker(standby, expire_on_commit=False),
    }
    try:
        await _caught_up(primary, standby)
        async with makers["primary"]() as db_session:
            root = (
                await db_session.scalars(
                    select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.path)
                )
            ).first()
            assert root is not None, "no province generated"
            ids = [str(i) for i in (await db_session.scalars(text("SELECT id FROM cadre"))).all()]
            logs = await db_session.scalar(text("SELECT count(*) FROM study_log"))
        year = local_today().year
        print(f"province: {len(ids):,} cadres, {logs:,} study logs, report year {year}")

        async def report(db_session: AsyncSession) -> None:
            await compliance.compliance_report(db_session, root, year, 1)

        times = await _report_times(makers, report, args.repeat)
        written: dict[str, list[int]] = {"replica": [], "primary": [], "none": []}
        reports: dict[str, int] = {"replica": 0, "primary": 0, "none": 0}
        url = primary_url
        for _ in range(args.rounds):
            for where in ("replica", "primary", "none"):
                maker = makers.get(where)
                count, runs = await _write_phase(
                    url, args.seconds, args.writers, ids, args.readers, maker, report
                )
                written[where].append(count)
                reports[where] += runs
                await _caught_up(primary, standby)
    finally:
        await primary.dispose()
        await standby.dispose()
    span = args.seconds * args.rounds
    rate = {where: sum(counts) / span for where, counts in written.items()}
    scale = f"scale {args.scale}, own clusters, both on this machine"
    return [
        Figure(
            what="province compliance report on the replica",
            value=times["replica"] * 1000,
            unit="ms",
            yardstick=times["primary"] * 1000,
            yardstick_what="the same report on the primary",
            target=1.25,
            direction="lower",
            detail=f"median of {args.repeat}; {scale}",
        ),
        Figure(
            what="primary's writes while reports run on the replica",
            value=rate["replica"],
            unit="writes/s",
            yardstick=rate["primary"],
            yardstick_what="while the same reports run on the primary",
            target=1.0,
            direction="higher",
            detail=(
                f"{args.writers} writers, {args.readers} report loops, {span:g} s each; "
                f"reports run {reports['replica']} vs {reports['primary']}; "
                f"no reports: {rate['none']:,.0f} writes/s; {scale}"
            ),
        ),
    ]


def measure(
    scale: float = 0.05,
    repeat: int = 5,
    seconds: float = 8.0,
    rounds: int = 2,
    writers: int = 4,
    readers: int = 2,
) -> list[Figure]:
    """Start a primary and a standby of it, fill the primary at `scale`, and measure."""
    os.environ.setdefault("APP_ENV", "development")
    args = argparse.Namespace(
        scale=scale, repeat=repeat, seconds=seconds, rounds=rounds, writers=writers, readers=readers
    )
    with tempfile.TemporaryDirectory(prefix="bench-replica-pg-") as tmp:
        primary = LocalPostgres(Path(tmp) / "primary", ephemeral=True)
        url = primary.start()
        try:
            command.upgrade(alembic_config(url), "head")
            started = time.perf_counter()
            plain = "postgresql://" + url.split("://", 1)[1]
            gen = generate.parse_args(["--database-url", plain, "--scale", str(scale)])
            asyncio.run(generate.run(gen))
            print(f"generated at scale {scale} in {time.perf_counter() - started:.0f} s")
            standby = LocalPostgres.standby_of(primary, Path(tmp) / "standby")
            started = time.perf_counter()
            standby.start()
            print(f"standby copied and started in {time.perf_counter() - started:.0f} s")
            try:
                return asyncio.run(_measure(url, standby.url, args))
            finally:
                standby.stop()
        finally:
            primary.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=2)
    args = parser.parse_args()
    print(
        f"{platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    )
    figures = measure(
        args.scale, args.repeat, args.seconds, args.rounds, args.writers, args.readers
    )
    print(render(figures))


if __name__ == "__main__":
    main()
