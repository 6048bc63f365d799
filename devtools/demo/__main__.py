"""`python -m devtools.demo {seed,prepare}`: load the demo data set into an empty database
(`prepare` migrates first; this is what `make run` does). Refuses to run in production."""

import argparse
import asyncio
import sys

from app import cli
from app.config import Environment, get_settings
from app.db import attribute, create_engine, create_sessionmaker, transaction
from devtools.demo.data import seed_demo
from devtools.demo.users import DEMO_PASSWORD, DemoLogin, ensure_demo_users, freeze_demo_snapshots


def _say(message: str) -> None:
    print(f"demo: {message}", flush=True)


async def _seed() -> tuple[bool, list[DemoLogin]]:
    engine = create_engine(cli.configure())
    try:
        async with transaction(create_sessionmaker(engine)) as db_session:
            await attribute(db_session, request_id="devtools:demo")
            loaded = await seed_demo(db_session, progress=_say)
            if loaded:
                _say("freezing the figures each assessment was decided on")
                await freeze_demo_snapshots(db_session)
            _say("demo logins")
            logins = await ensure_demo_users(db_session)
            if loaded:
                _say("committing")
        return loaded, logins
    finally:
        await engine.dispose()


def seed() -> None:
    if get_settings().env == Environment.production:
        sys.exit("the demo data set refuses to load in production")
    loaded, logins = asyncio.run(_seed())
    print("demo data loaded" if loaded else "demo data already present; left as it is")
    if logins:
        print(f"demo logins (password {DEMO_PASSWORD!r} for all; POST /api/v1/auth/token):")
        for login in logins:
            print(f"  {login.username:<15} {login.role.value:<10} {login.note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("seed", help="load the demo data set into an empty database")
    sub.add_parser("prepare", help="migrate, then seed (what `make run` does)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        print("migrating the database to the latest revision", flush=True)
        cli.migrate()
    seed()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # Ctrl+C in `make run` reaches this step too: the launcher says it stopped; a
        # traceback here would read as a crash. The transaction was not committed.
        sys.exit(130)
