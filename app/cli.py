"""Operator commands: `python -m app.cli {migrate,seed-demo,openapi}`."""

import argparse
import asyncio
import json
import sys

from alembic import command

from app.config import get_settings
from app.db import create_engine, create_sessionmaker, transaction
from app.migrations import alembic_config


def migrate() -> None:
    command.upgrade(alembic_config(get_settings().async_database_url), "head")


async def _seed_demo() -> bool:
    from app.demo import seed_demo

    engine = create_engine(get_settings())
    try:
        async with transaction(create_sessionmaker(engine)) as db_session:
            return await seed_demo(db_session)
    finally:
        await engine.dispose()


def seed() -> None:
    loaded = asyncio.run(_seed_demo())
    print("demo data loaded" if loaded else "demo data already present; left as it is")


def openapi() -> None:
    from app.main import create_app

    doc = create_app().openapi()
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations up to head")
    sub.add_parser("seed-demo", help="load the demo data set into an empty database")
    sub.add_parser("openapi", help="print the OpenAPI document")
    args = parser.parse_args(argv)
    {"migrate": migrate, "seed-demo": seed, "openapi": openapi}[args.command]()


if __name__ == "__main__":
    main()
