"""A generated province to measure on: an existing database, or a kept local cluster.

`make bench` measures on a scale-1.0 province (200,000 cadres, ~10 million logs). Generating it
takes about ten minutes here, so the cluster is kept (`.data/bench` by default) and reused while
it holds cadres at the head migration; `--database-url` names a database that already holds one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devtools.localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-27"  # every generated province is the same data for the same scale
# What docs/scaling.md ("Loading a province") tells a deployment to set for bulk loads: with the
# default 1 GB of WAL between checkpoints, the load's last tenth ran at a quarter of its first.
BULK_SETTINGS = {"max_wal_size": "8GB", "checkpoint_timeout": "15min"}


def async_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in {"postgres", "postgresql"} else url


def plain_url(url: str) -> str:
    """The URL asyncpg, psql and wrk's helpers take (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def development_env(url: str) -> dict[str, str]:
    """The environment of a service, worker or CLI run against a bench database."""
    return {
        **os.environ,
        "DATABASE_URL": plain_url(url),
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        "APP_LOG_LEVEL": os.environ.get("APP_LOG_LEVEL", "WARNING"),
    }


async def has_cadres(url: str) -> bool:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return bool(
                await conn.scalar(text("SELECT to_regclass('cadre') IS NOT NULL"))
            ) and bool(await conn.scalar(text("SELECT EXISTS (SELECT FROM cadre)")))
    finally:
        await engine.dispose()


def migrate(url: str) -> None:
    """To the head: a kept province generated before a migration still serves."""
    subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env=development_env(url),
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )


def generate(url: str, scale: str) -> None:
    migrate(url)
    started = time.monotonic()
    command = [sys.executable, "-m", "bench.generate", "--database-url", plain_url(url)]
    subprocess.run(
        [*command, "--scale", scale, "--as-of", AS_OF],
        env=development_env(url),
        check=True,
        cwd=REPO,
    )
    print(f"generated at scale {scale} in {time.monotonic() - started:,.0f} s", flush=True)


@contextmanager
def province(
    database_url: str | None, *, scale: str, data_dir: Path | None = None
) -> Iterator[str]:
    """The URL of a database holding a generated province, migrated to the head.

    With `database_url`, that database (generated into when it has no cadres). Without, a local
    cluster in `data_dir` (kept, reused) or a throw-away one, started for the duration."""
    if database_url:
        if not asyncio.run(has_cadres(database_url)):
            generate(database_url, scale)
        else:
            migrate(database_url)
        yield database_url
        return
    kept = data_dir is not None
    directory = data_dir or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-pg-{os.getpid()}"
    cluster = LocalPostgres(directory, ephemeral=not kept, conf=BULK_SETTINGS)
    url = cluster.start()
    try:
        if asyncio.run(has_cadres(url)):
            migrate(url)
        else:
            generate(url, scale)
        yield url
    finally:
        if kept:
            cluster.stop()
        else:
            cluster.remove()
