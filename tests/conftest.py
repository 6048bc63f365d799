"""Test harness: one throw-away PostgreSQL per run (or TEST_DATABASE_URL), schema built by the
migrations, and each test inside a transaction that is rolled back at its end."""

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Environment, Settings
from app.db import Base, create_sessionmaker
from app.main import create_app
from app.migrations import alembic_config
from devtools.localpg import LocalPostgres


def _async_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in {"postgres", "postgresql"} else url


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield _async_url(given)
        return
    with tempfile.TemporaryDirectory(prefix="cadre-test-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        try:
            yield cluster.start()
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    """Start from an empty schema and apply every migration: tests never use create_all."""
    import asyncio

    async def reset() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    command.upgrade(alembic_config(database_url), "head")
    return database_url


@pytest.fixture(scope="session")
def settings(migrated_url: str) -> Settings:
    return Settings(env=Environment.test, DATABASE_URL=migrated_url, log_level="WARNING")


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.async_database_url, pool_size=20, max_overflow=20)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db_conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            yield conn
        finally:
            await trans.rollback()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def isolated_sessionmaker(db_conn: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Every commit inside the app releases a SAVEPOINT; the test's outer transaction is
    # rolled back at the end, so tests never see each other's rows.
    return async_sessionmaker(
        bind=db_conn,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
async def client(
    app: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    previous = app.state.sessionmaker
    app.state.sessionmaker = isolated_sessionmaker
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c
    finally:
        app.state.sessionmaker = previous


@pytest.fixture
async def committed_client(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose writes really commit, for concurrency tests. Tables are emptied afterwards."""
    previous = app.state.sessionmaker
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c
    finally:
        app.state.sessionmaker = previous
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
