"""Operator commands:
`python -m app.cli {migrate,serve,create-admin,prune,remind,webhook-worker,export-worker,openapi}`
(`prune-changes` is the old name of `prune`). The demo data set is a developer tool:
`python -m devtools.demo`."""

import argparse
import asyncio
import datetime as dt
import getpass
import json
import os
import sys

from alembic import command

from app import personal_data
from app.change_feed import service as change_feed
from app.config import Settings, get_settings
from app.db import attribute, create_engine, create_sessionmaker, transaction
from app.idempotency import service as idempotency
from app.migrations import alembic_config
from app.user.service import ensure_admin


def migrate() -> None:
    command.upgrade(alembic_config(get_settings().async_database_url), "head")


def configure() -> Settings:
    """Settings of a process outside the API (CLI, worker, developer tools), with the data key
    installed."""
    settings = get_settings()
    personal_data.configure(settings.data_key_bytes)
    return settings


async def _create_admin(username: str, password: str) -> bool:
    engine = create_engine(configure())
    try:
        async with transaction(create_sessionmaker(engine)) as db_session:
            await attribute(db_session, request_id="cli:create-admin")
            return await ensure_admin(db_session, username, password)
    finally:
        await engine.dispose()


def create_admin(username: str) -> None:
    password = os.environ.get("APP_ADMIN_PASSWORD") or getpass.getpass(f"password for {username}: ")
    if len(password) < 12:
        sys.exit("the password must have at least 12 characters")
    created = asyncio.run(_create_admin(username, password))
    print(f"admin {username!r} created" if created else f"a user named {username!r} exists already")


async def _prune() -> tuple[int, int]:
    settings = configure()
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as db_session:
            changes = await change_feed.prune(db_session, settings.changes_retention_days)
            keys = await idempotency.prune(db_session, settings.idempotency_retention_hours)
            return changes, keys
    finally:
        await engine.dispose()


def prune() -> None:
    changes, keys = asyncio.run(_prune())
    print(f"removed past their retention: {changes} change events, {keys} idempotency records")


async def _remind(on: dt.date | None) -> str:
    from app.clock import local_today
    from app.reminder.job import remind

    settings = configure()
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as db_session:
            await attribute(db_session, request_id="cli:remind")
            result = await remind(db_session, settings, on or local_today())
    finally:
        await engine.dispose()
    lines = [f"reminders of {result.on}:"]
    lines += [f"  {kind.value}: {count}" for kind, count in result.written.items()]
    lines += [f"  skipped {r.value}: no credit policy in force" for r in result.skipped]
    return "\n".join(lines)


def remind(on: dt.date | None) -> None:
    print(asyncio.run(_remind(on)))


def serve(host: str, port: int, fd: int | None = None) -> None:
    from app import serve

    serve.serve(get_settings(), host, port, fd)


def webhook_worker() -> None:
    from app.webhook import runner

    settings = configure()
    if problems := runner.pool_problems(settings):
        sys.exit("refusing to start the webhook worker: " + "; ".join(problems))
    asyncio.run(runner.run(settings))


def export_worker() -> None:
    from app.export import worker

    asyncio.run(worker.run(configure()))


def openapi() -> None:
    from app.main import create_app

    doc = create_app().openapi()
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


async def _freeze_scorecards(year: int) -> int:
    from app.scorecard import service as scorecard

    engine = create_engine(configure())
    try:
        async with transaction(create_sessionmaker(engine)) as db_session:
            await attribute(db_session, request_id="cli:freeze-scorecards")
            return len(list(await scorecard.freeze_all(db_session, year)))
    finally:
        await engine.dispose()


def freeze_scorecards(year: int) -> None:
    from app.clock import local_today

    if year >= local_today().year:
        sys.exit(f"{year} is not over yet: only a past year's scorecards are frozen")
    count = asyncio.run(_freeze_scorecards(year))
    print(f"{count} unit scorecards of {year} frozen (stored now or before)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations up to head")
    for name in ("prune", "prune-changes"):
        sub.add_parser(
            name,
            help="drop change-feed events older than APP_CHANGES_RETENTION_DAYS and idempotency "
            "records older than APP_IDEMPOTENCY_RETENTION_HOURS (run it daily)",
        )
    server = sub.add_parser(
        "serve",
        help="serve the API; on SIGTERM drain (readiness 503 for APP_SERVER__DRAIN_SECONDS), "
        "then stop listening and let requests in flight finish",
    )
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    server.add_argument(
        "--fd",
        type=int,
        default=None,
        help="serve on this inherited, already listening socket instead of --host/--port",
    )
    sub.add_parser(
        "webhook-worker",
        help="deliver the change feed to the webhook subscriptions until SIGINT/SIGTERM",
    )
    sub.add_parser(
        "export-worker",
        help="write the files of export jobs until SIGINT/SIGTERM (hands its job back then)",
    )
    reminders = sub.add_parser(
        "remind",
        help="write the day's reminders to cadres (docs/notifications.md); idempotent: run it "
        "daily, again at will",
    )
    reminders.add_argument(
        "--on", type=dt.date.fromisoformat, default=None, help="the day (YYYY-MM-DD; default today)"
    )
    sub.add_parser("openapi", help="print the OpenAPI document")
    admin = sub.add_parser(
        "create-admin", help="create the first admin (password from APP_ADMIN_PASSWORD or a prompt)"
    )
    admin.add_argument("username")
    freeze = sub.add_parser(
        "freeze-scorecards",
        help="store the unit scorecard of a past year for every unit with child units "
        '(docs/rules.md, "Unit scorecard"); those stored already stay as they are',
    )
    freeze.add_argument("--year", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "freeze-scorecards":
        freeze_scorecards(args.year)
        return
    if args.command == "create-admin":
        create_admin(args.username)
        return
    if args.command == "remind":
        remind(args.on)
        return
    if args.command == "serve":
        serve(args.host, args.port, args.fd)
        return
    {
        "migrate": migrate,
        "prune": prune,
        "prune-changes": prune,
        "webhook-worker": webhook_worker,
        "export-worker": export_worker,
        "openapi": openapi,
    }[args.command]()


if __name__ == "__main__":
    main()
