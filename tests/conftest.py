"""Test harness: one throw-away PostgreSQL per run (or TEST_DATABASE_URL), schema built by the
migrations, and each test inside a transaction that is rolled back at its end."""

import base64
import hashlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.audit.models import AuditEvent
from app.auth.passwords import hash_password
from app.auth.tokens import issue
from app.config import Environment, RateLimitSettings, Settings, get_settings
from app.credit_policy.models import CreditPolicy
from app.db import Base, create_sessionmaker
from app.enums import Role
from app.i18n import current_language
from app.main import create_app
from app.migrations import alembic_config
from app.user.models import User
from devtools.localpg import LocalPostgres
from tests.problem_ledger import LEDGER

# CI runs the property tests (hypothesis, schemathesis) on a fixed sequence of examples, so a
# submission passes or fails on its code alone; a developer's run explores new examples.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def _async_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in {"postgres", "postgresql"} else url


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalPostgres | None]:
    """The throw-away cluster the suite runs on (tests/test_replica.py starts a standby of it);
    None with TEST_DATABASE_URL."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="cadre-test-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def database_url(local_cluster: LocalPostgres | None) -> str:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        return _async_url(given)
    assert local_cluster is not None
    return local_cluster.url


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


TEST_SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
# Fixed, so runs are reproducible, and random-looking, as the secret checks require.
TEST_DATA_KEY = base64.b64encode(hashlib.sha256(b"cadre test data key").digest()).decode()
# Whatever reads settings from the environment (the migrations, the CLI) runs as a test too,
# with the same keys; the default environment, production, would refuse to start.
os.environ["APP_ENV"] = "test"
os.environ["APP_SECRET_KEY"] = TEST_SECRET_KEY
os.environ["APP_DATA_KEY"] = TEST_DATA_KEY
get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings(migrated_url: str) -> Settings:
    return Settings(
        env=Environment.test,
        DATABASE_URL=migrated_url,
        log_level="WARNING",
        secret_key=TEST_SECRET_KEY,
        data_key=TEST_DATA_KEY,
        # High enough for schemathesis and the suite; the limiter has tests of its own.
        rate_limit=RateLimitSettings(
            token_per_minute=10_000, writes_per_minute=100_000, id_number_lookups_per_hour=10_000
        ),
    )


# One argon2 hash for every test user: hashing is deliberately slow.
TEST_PASSWORD = "correct horse battery staple"
_TEST_HASH = hash_password(TEST_PASSWORD)


async def add_user(
    sessionmaker: async_sessionmaker[AsyncSession],
    role: Role,
    *,
    org_unit_id: str | uuid.UUID | None = None,
    cadre_id: str | uuid.UUID | None = None,
    username: str | None = None,
) -> User:
    user = User(
        username=username or f"{role.value}-{uuid.uuid4().hex[:10]}",
        password_hash=_TEST_HASH,
        role=role,
        org_unit_id=uuid.UUID(str(org_unit_id)) if org_unit_id else None,
        cadre_id=uuid.UUID(str(cadre_id)) if cadre_id else None,
        active=True,
        failed_logins=0,
    )
    async with sessionmaker() as db_session:
        db_session.add(user)
        await db_session.commit()
    return user


def bearer(settings: Settings, user: User) -> dict[str, str]:
    token = issue(settings, user_id=user.id, role=user.role, token_version=user.token_version)
    return {"Authorization": f"Bearer {token.access_token}"}


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


@pytest.fixture(autouse=True)
def english_outside_requests() -> Iterator[None]:
    """The engine's derivation texts follow `current_language` (zh-CN by default); a test that
    calls the engine directly, outside a request, reads them in English, as the table-driven
    tests assert. Requests set their own language (app.i18n.LanguageMiddleware)."""
    token = current_language.set("en")
    yield
    current_language.reset(token)


class EnglishTransport(httpx.ASGITransport):
    """Asks for English answers unless the request names a language: the suite asserts the
    English texts (the message ids of app/locale); tests/test_i18n.py covers zh-CN, the default."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.setdefault("Accept-Language", "en")
        return await super().handle_async_request(request)


@pytest.fixture(scope="session", autouse=True)
def problem_ledger() -> Iterator[None]:
    """Every in-process answer of the suite (any ASGITransport) goes past the ledger of
    declared problem codes (tests/problem_ledger.py)."""
    with LEDGER.recording():
        yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A problem answer with a code its operation does not declare at its status fails the run
    # (the suite runs in one process: no xdist).
    if LEDGER.undeclared and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if LEDGER.seen:
        terminalreporter.write_line(
            f"problem codes: {LEDGER.seen} problem answers held against their operations' "
            f"declared codes, {len(LEDGER.undeclared)} undeclared"
        )
    if LEDGER.undeclared:
        terminalreporter.section("problem codes not declared in the contract", red=True)
        for line in LEDGER.report():
            terminalreporter.line(line)


@pytest.fixture
async def transport(
    app: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.ASGITransport]:
    previous = app.state.sessionmaker
    app.state.sessionmaker = isolated_sessionmaker
    try:
        yield EnglishTransport(app=app, raise_app_exceptions=False)
    finally:
        app.state.sessionmaker = previous


@pytest.fixture
async def anonymous(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def client(
    transport: httpx.ASGITransport,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client: every test starts with full rights unless it asks for a role."""
    admin = await add_user(isolated_sessionmaker, Role.admin)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(settings, admin)
    ) as c:
        yield c


class ClientFor(Protocol):
    async def __call__(
        self,
        role: Role,
        *,
        org_unit_id: str | uuid.UUID | None = None,
        cadre_id: str | uuid.UUID | None = None,
    ) -> httpx.AsyncClient: ...


@pytest.fixture
async def client_for(
    transport: httpx.ASGITransport,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[ClientFor]:
    """Clients acting as a user of the given role (bound to a unit or a cadre as it needs)."""
    opened: list[httpx.AsyncClient] = []

    async def make(
        role: Role,
        *,
        org_unit_id: str | uuid.UUID | None = None,
        cadre_id: str | uuid.UUID | None = None,
    ) -> httpx.AsyncClient:
        user = await add_user(
            isolated_sessionmaker, role, org_unit_id=org_unit_id, cadre_id=cadre_id
        )
        c = httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer(settings, user)
        )
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.aclose()


# The migration's policies are data every test relies on: only what tests added goes.
KEPT_TABLES = {AuditEvent.__tablename__, CreditPolicy.__tablename__}
BUILT_IN_POLICY_RESET = (
    "DELETE FROM credit_policy WHERE code <> 'cn-2023'; "
    "UPDATE credit_policy SET effective_to = NULL WHERE code = 'cn-2023'"
)


async def empty_tables(engine: AsyncEngine) -> None:
    """Remove committed test data; the audit trail is append-only and stays."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        # Back to the migration's policies: cn-2023 alone, open-ended.
        for statement in BUILT_IN_POLICY_RESET.split("; "):
            await conn.execute(text(statement))


@pytest.fixture
async def committed_client(
    app: FastAPI, engine: AsyncEngine, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client whose writes really commit, for concurrency tests. Tables are emptied
    afterwards."""
    previous = app.state.sessionmaker
    sessionmaker = create_sessionmaker(engine)
    app.state.sessionmaker = sessionmaker
    transport = EnglishTransport(app=app, raise_app_exceptions=False)
    try:
        admin = await add_user(sessionmaker, Role.admin)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer(settings, admin)
        ) as c:
            yield c
    finally:
        app.state.sessionmaker = previous
        await empty_tables(engine)
