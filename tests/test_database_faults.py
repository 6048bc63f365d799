"""Database faults are 503s with Retry-After, never 500s (issue 11): a full pool, a statement
timeout, a connection that dies at COMMIT, and a streamed export whose query cannot run.

Each test runs an application of its own (its own engine and pool, its own settings) against
the suite's PostgreSQL, with committed writes; the tables are emptied afterwards. The restart of
PostgreSQL itself under load is tests/test_database_restart.py."""

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import DatabaseSettings, Settings
from app.db import create_engine
from app.enums import Role
from app.errors import DatabaseConnectError, DatabaseUnavailable, database_fault
from app.main import create_app
from tests.conftest import add_user, bearer, empty_tables
from tests.factories import API, create_org_unit, unique
from tests.test_platform import assert_problem

RETRY_AFTER = 7


@asynccontextmanager
async def own_app(
    settings: Settings, engine: AsyncEngine, **database: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    """An admin's client of an application with the given database settings, whose writes
    commit; its engine (to take its pool's connections away)."""
    db = DatabaseSettings(retry_after_seconds=RETRY_AFTER, **database)
    app = create_app(settings.model_copy(update={"database": db}))
    try:
        async with app.router.lifespan_context(app):
            admin = await add_user(app.state.sessionmaker, Role.admin)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=bearer(settings, admin)
            ) as client:
                yield client, app.state.engine
    finally:
        await empty_tables(engine)


def assert_retry_later(r: httpx.Response, code: str) -> None:
    assert_problem(r, 503, code)
    assert r.headers["retry-after"] == str(RETRY_AFTER)


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        # authentication loads the actor (app.security)
        ("GET", "/org-units", {}),
        # the Idempotency-Key guard opens its transaction before the route (app.idempotency)
        ("POST", "/org-units", {"Idempotency-Key": "pool-exhausted"}),
        ("POST", "/org-units", {}),
    ],
)
async def test_an_exhausted_pool_is_503_database_unavailable(
    settings: Settings, engine: AsyncEngine, method: str, path: str, headers: dict[str, str]
) -> None:
    """`QueuePool limit ... reached` answered 500 after the pool timeout, with no Retry-After."""
    async with own_app(settings, engine, pool_size=1, max_overflow=0, pool_timeout_seconds=0.2) as (
        client,
        app_engine,
    ):
        body = {"code": unique("POOL"), "name": "x", "kind": "city"}
        async with app_engine.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            r = await client.request(
                method, f"{API}{path}", json=body if method == "POST" else None, headers=headers
            )
            assert_retry_later(r, "database_unavailable")
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["status"] == "not_ready"
        # The connection is back: the same request succeeds.
        r = await client.request(
            method, f"{API}{path}", json=body if method == "POST" else None, headers=headers
        )
        assert r.status_code in (200, 201), r.text


@asynccontextmanager
async def locked(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """`table` locked against readers until the block ends: a query of it waits, and the
    statement timeout cancels it (57014), whatever the machine's speed."""
    async with engine.connect() as conn:
        await conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await conn.rollback()


async def test_a_statement_timeout_on_a_report_is_503_query_timeout(
    settings: Settings, engine: AsyncEngine
) -> None:
    """A statement timeout (`QueryCanceledError`) answered 500 on the reports."""
    async with own_app(settings, engine, statement_timeout_ms=300) as (client, _):
        unit = await create_org_unit(client)
        async with locked(engine, "cadre"):
            r = await client.get(
                f"{API}/reports/compliance", params={"org_unit_id": unit["id"], "year": 2025}
            )
            assert_retry_later(r, "query_timeout")
        r = await client.get(
            f"{API}/reports/compliance", params={"org_unit_id": unit["id"], "year": 2025}
        )
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("format", ["csv", "xlsx"])
async def test_a_streamed_export_whose_query_cannot_run_is_503_not_a_cut_200(
    settings: Settings, engine: AsyncEngine, format: str
) -> None:
    """The unit archive is read after the request's own transaction ended, on a session of its
    own: a fault there came after a 200 and its first bytes (a CSV header and nothing else).
    Until the first rows are read, nothing is sent, so the fault is still a 503."""
    async with own_app(settings, engine, statement_timeout_ms=300) as (client, _):
        unit = await create_org_unit(client)
        url = f"{API}/org-units/{unit['id']}/archive"
        async with locked(engine, "cadre"):
            r = await client.get(url, params={"year": 2025, "format": format})
            assert_retry_later(r, "query_timeout")
        r = await client.get(url, params={"year": 2025, "format": format})
        assert r.status_code == 200, r.text


# A connection that dies at COMMIT: a deferred constraint trigger runs inside the COMMIT and
# ends its own server process, as a restart or an operator's pg_terminate_backend would.
_DIE_AT_COMMIT = (
    """CREATE FUNCTION test_die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(5);  -- the termination is delivered here
        RETURN NULL;
    END $$""",
    """CREATE CONSTRAINT TRIGGER test_die_at_commit AFTER INSERT ON org_unit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.code LIKE 'DIE-AT-COMMIT%') EXECUTE FUNCTION test_die_at_commit()""",
)
_DROP_TRIGGER = "DROP TRIGGER IF EXISTS test_die_at_commit ON org_unit"
_DROP_FUNCTION = "DROP FUNCTION IF EXISTS test_die_at_commit()"


async def _run(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


@pytest.fixture
async def dies_at_commit(engine: AsyncEngine) -> AsyncIterator[None]:
    await _run(engine, _DROP_TRIGGER, _DROP_FUNCTION, *_DIE_AT_COMMIT)
    try:
        yield
    finally:
        await _run(engine, _DROP_TRIGGER, _DROP_FUNCTION)


@pytest.mark.parametrize("idempotency_key", [None, "dies-at-commit"])
async def test_a_connection_lost_at_commit_is_503_and_nothing_is_written(
    settings: Settings,
    engine: AsyncEngine,
    dies_at_commit: None,
    idempotency_key: str | None,
) -> None:
    """`AdminShutdownError` or `InternalClientError` at COMMIT, after the route had returned,
    answered 500. Through the request's transaction (app.db) and the Idempotency-Key guard's
    (app.idempotency) alike it is a 503; the write did not happen, and a retry creates it."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    async with own_app(settings, engine) as (client, _):
        body = {"code": unique("DIE-AT-COMMIT"), "name": "x", "kind": "city"}
        r = await client.post(f"{API}/org-units", json=body, headers=headers)
        assert_retry_later(r, "database_unavailable")
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM org_unit WHERE code = :code"), {"code": body["code"]}
            )
        assert found == 0
        await _run(engine, _DROP_TRIGGER)
        r = await client.post(f"{API}/org-units", json=body, headers=headers)
        assert r.status_code == 201, r.text


async def test_a_file_system_error_is_a_500_not_database_unavailable(
    settings: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """An OSError of anything but the database (here the XLSX export's temporary file, in a
    directory that does not exist) answered 503 `database_unavailable` with Retry-After: an
    endless retry-later while /health/ready said 200."""
    async with own_app(settings, engine) as (client, _):
        unit = await create_org_unit(client)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
        r = await client.get(
            f"{API}/org-units/{unit['id']}/archive", params={"year": 2025, "format": "xlsx"}
        )
        assert_problem(r, 500, "internal_error")
        assert "retry-after" not in r.headers


async def test_a_database_that_refuses_connections_is_database_unavailable(
    settings: Settings,
) -> None:
    """The engine's connect turns the socket's error into one the answer recognises; other
    OSErrors are not the database's."""
    with socket.socket() as closed:  # bound, never listening: a connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/cadre"
        refused = create_engine(settings.model_copy(update={"database_url": url}))
        try:
            with pytest.raises(DatabaseConnectError) as caught:
                async with refused.connect():
                    pass
        finally:
            await refused.dispose()
    assert isinstance(caught.value.__cause__, OSError)
    assert isinstance(database_fault(caught.value), DatabaseUnavailable)
    assert database_fault(FileNotFoundError(2, "No such file or directory")) is None
    assert database_fault(TimeoutError()) is None


def _raising(exc: Exception) -> Callable[[Request], Awaitable[None]]:
    async def route(_: Request) -> None:
        raise exc

    return route


_OUT_OF_RANGE = "invalid input for query argument $1: 1099511627776 (value out of int32 range)"


async def test_a_value_the_driver_cannot_encode_is_a_422_not_database_unavailable(
    settings: Settings, engine: AsyncEngine
) -> None:
    """asyncpg's client-side DataError (`asyncpg.exceptions._base.DataError`) is an
    InterfaceError: it was answered 503 `database_unavailable`, an endless retry-later for the
    client's own value. The bind path of today's driver raises the SQLSTATE 22000 DataError
    for the same mistake; both are the client's 422."""
    client_side = asyncpg.exceptions._base.DataError(_OUT_OF_RANGE)
    assert database_fault(client_side) is None
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError) as bind:
            await conn.execute(text("SELECT CAST(:n AS int4)"), {"n": 2**40})
        await conn.rollback()
    assert database_fault(bind.value) is None
    app = create_app(settings)
    for name, exc in (("client-side", client_side), ("bind", bind.value)):
        app.add_api_route(f"/test-driver-data-error/{name}", _raising(exc))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        for name in ("client-side", "bind"):
            r = await client.get(f"/test-driver-data-error/{name}")
            assert_problem(r, 422, "validation_failed")


async def test_a_connection_used_by_two_tasks_at_once_is_a_bug_not_database_unavailable(
    engine: AsyncEngine,
) -> None:
    """ "cannot perform operation: another operation is in progress" is an InterfaceError too:
    a connection shared between tasks, our bug, which must stay a 500. (SQLAlchemy's adapter
    queues its own calls, so the driver's connection is used directly.)"""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        results = await asyncio.gather(
            raw.fetch("SELECT pg_sleep(0.2)"), raw.fetch("SELECT 1"), return_exceptions=True
        )
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors
    assert "another operation is in progress" in str(errors[0])
    assert database_fault(errors[0]) is None


_REFUSED = OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))


class _FailsOutsideTheHandlers:
    """Between the request-context middleware and the handlers: what it raises reaches no
    exception handler of the application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/test-outside/fault":
            raise _REFUSED
        if scope["type"] == "http" and scope["path"] == "/test-outside/bug":
            raise RuntimeError("a bug")
        await self.app(scope, receive, send)


async def test_a_fault_that_escapes_the_handlers_is_still_503(settings: Settings) -> None:
    """The request-context middleware answered its own 500 for whatever passed the handlers,
    so the last-resort mapping never ran: an exception group holding an OperationalError, or
    one raised outside the handlers' reach, answered 500 without Retry-After."""
    app = create_app(
        settings.model_copy(update={"database": DatabaseSettings(retry_after_seconds=RETRY_AFTER)})
    )

    async def grouped(_: Request) -> None:
        raise ExceptionGroup("tasks", [_REFUSED])

    app.add_api_route("/test-outside/group", grouped)
    app.user_middleware.append(Middleware(_FailsOutsideTheHandlers))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        for path in ("/test-outside/group", "/test-outside/fault"):
            r = await client.get(path)
            assert_retry_later(r, "database_unavailable")
            assert r.headers["x-request-id"]
        r = await client.get("/test-outside/bug")
        assert_problem(r, 500, "internal_error")
        assert "retry-after" not in r.headers
