"""The bulk-write benches of issue 16 on a small province of their own: `bench.generate` shows
the load's rate chunk by chunk (a load that slows as the table grows must be visible), and
`bench.bulk` measures the import beside two bare COPYs and leaves the database as it found it.
Speed is never asserted here: only what the scripts print and what they leave behind."""

import asyncio
import contextlib
import io
import re
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrations import alembic_config
from bench import bulk, generate


async def _sql(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def province(database_url: str) -> Iterator[str]:
    """A migrated database of its own with a tiny generated province (~2,000 logs)."""
    name = f"bench_bulk_{uuid.uuid4().hex[:12]}"
    server, _, _ = database_url.rpartition("/")
    asyncio.run(_sql(database_url, f'CREATE DATABASE "{name}"'))
    url = f"{server}/{name}"
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        asyncio.run(_sql(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def generated(province: str) -> str:
    """The tiny province loaded by bench.generate; what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = generate.main(
            [
                *("--database-url", province.replace("postgresql+asyncpg://", "postgresql://")),
                *("--scale", "0.002", "--as-of", "2026-11-27", "--chunk-size", "1000"),
            ]
        )
    assert status == 0
    return out.getvalue()


def test_generate_prints_the_rate_of_every_study_log_chunk(generated: str) -> None:
    chunk_lines = [line for line in generated.splitlines() if " chunk " in line]
    # ~20,000 logs at scale 0.002 in chunks of about 1,000: one line each, numbered in order.
    assert len(chunk_lines) >= 5
    numbers = [int(m.group(1)) for line in chunk_lines if (m := re.search(r"chunk (\d+) ", line))]
    assert numbers == list(range(1, len(chunk_lines) + 1))
    assert all(re.search(r"[\d,]+ rows in [\d.]+s, [\d,]+ logs/s", line) for line in chunk_lines)
    # The summary compares the first tenth of the chunks with the last.
    summary = re.search(
        r"study_log COPY rate: first tenth of the chunks ([\d,]+) logs/s, "
        r"last tenth ([\d,]+) logs/s \(end/start [\d.]+\)",
        generated,
    )
    assert summary is not None


def test_generate_leaves_the_sums_table_vacuumed_and_analysed(
    province: str, generated: str
) -> None:
    """The sums triggers fill cadre_year_kind during the load; the reports read it by
    index-only scans, which need its visibility map, and the planner needs its statistics."""
    [(pages, visible, tuples)] = asyncio.run(
        _sql(
            province,
            "SELECT relpages, relallvisible, reltuples FROM pg_class "
            "WHERE relname = 'cadre_year_kind'",
        )
    )
    assert isinstance(pages, int)
    assert isinstance(visible, int)
    assert isinstance(tuples, float)
    assert tuples > 0  # statistics (reltuples is -1 until a VACUUM or ANALYZE)
    # All-visible (before the fix: 0 pages); the bulk test's rolled-back rows may clear a few.
    assert pages > 0
    assert visible >= 0.9 * pages


COUNTED = (
    "SELECT (SELECT count(*) FROM study_log), (SELECT count(*) FROM audit_event), "
    "(SELECT count(*) FROM change_event), (SELECT count(*) FROM app_user), "
    "(SELECT count(*) FROM cadre_year_kind), (SELECT sum(hours) FROM cadre_year_kind), "
    "(SELECT count(*) FROM pg_class WHERE relname = 'bench_bulk_unindexed')"
)


def test_bulk_measures_import_and_both_copies_and_leaves_nothing_behind(
    province: str, generated: str
) -> None:
    before = asyncio.run(_sql(province, COUNTED))
    figures = bulk.measure(
        province.replace("postgresql+asyncpg://", "postgresql://"),
        rows=300,
        repeat=2,
        seed=7,
        breakdown=True,
    )
    assert asyncio.run(_sql(province, COUNTED)) == before
    # The import beside the COPY into the indexed table (target 50 %) and into an unindexed
    # copy (25 %), then the breakdown: each a figure with its yardstick from the same run.
    assert [f.target for f in figures[:2]] == [0.5, 0.25]
    assert figures[0].value == figures[1].value > 0
    assert all(f.yardstick is not None and f.yardstick > 0 for f in figures)
    assert [f.what for f in figures[2:]] == list(bulk.BREAKDOWN)
