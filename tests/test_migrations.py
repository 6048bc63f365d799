"""The schema is built only by the migrations; the models and the migrations agree."""

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import Base
from app.migrations import alembic_config, head_revisions


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_newest_revision_round_trips(migrated_url: str, engine: AsyncEngine) -> None:
    config = alembic_config(migrated_url)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    assert head is not None
    assert frozenset({head}) == head_revisions()
    previous = script.get_revision(head).down_revision or "base"
    await engine.dispose()  # no pooled connection may hold locks on the tables dropped below
    # Alembic's env runs its own event loop: give it a thread of its own.
    await asyncio.to_thread(command.downgrade, config, str(previous))
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
