"""Benchmark of the reminder job (`python -m app.cli remind`, docs/notifications.md) on a
synthetic province (bench/generate.py).

In one transaction, rolled back at the end (the database is left as it was):
1. the yardstick: the compliance figures of every active cadre of the tree, on the day (the
   per-cadre SQL of the compliance report, every row returned to Python);
2. the job, first run of the day: every rule, with the counts it wrote;
3. the job again, the same day: it must write nothing (idempotence), and shows what checking
   every key costs.

    python -m bench.remind --database-url postgresql://postgres@127.0.0.1:55432/bench_province \
        [--on 2026-11-20]

Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import os
import platform
import time
from datetime import date

from pydantic import PostgresDsn
from sqlalchemy import text

from app.compliance import repository as compliance_figures
from app.config import Environment, Settings
from app.credit_policy import service as policies
from app.db import attribute, create_engine, create_sessionmaker
from app.reminder.job import remind


async def _main(url: str, day: date) -> None:
    settings = Settings(env=Environment.development, database_url=PostgresDsn(url))
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as db_session:
            await attribute(db_session, request_id="bench:remind")
            cadres = await db_session.scalar(
                text("SELECT count(*) FROM cadre WHERE status = 'active'")
            )
            print(f"machine: {platform.machine()}, {os.cpu_count()} cores; day {day}")
            print(f"active cadres: {cadres}")
            policy = await policies.policy_on(db_session, day)
            started = time.perf_counter()
            rows = await compliance_figures.cadre_figures(db_session, "/", day, policy)
            yardstick = time.perf_counter() - started
            print(f"yardstick, the figures of every cadre: {len(rows)} rows in {yardstick:.2f} s")
            for label in ("first run", "second run (same day)"):
                started = time.perf_counter()
                result = await remind(db_session, settings, day)
                took = time.perf_counter() - started
                counts = ", ".join(f"{k.value} {n}" for k, n in result.written.items())
                print(
                    f"remind, {label}: {took:.2f} s "
                    f"({took / yardstick:.1f}x the yardstick); {counts}"
                )
            await db_session.rollback()
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.remind")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--on", type=date.fromisoformat, default=date(2026, 11, 20))
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("give --database-url or DATABASE_URL")
    asyncio.run(_main(args.database_url, args.on))


if __name__ == "__main__":
    main()
