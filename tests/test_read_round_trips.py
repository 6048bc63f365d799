"""What a read costs the database (issue 16, "Reads"), counted, never timed: the queries a
`GET /cadres/{id}` sends on its connection (BEGIN and COMMIT included), the pool without
pre-ping surviving connections the server ended, and a GET that writes still attributed.

These run on committed data through a real sessionmaker (`committed_client`): the rolled-back
test transaction of the other tests would hide BEGIN and COMMIT."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.copy import copy_rows
from app.db import attribute, create_engine, create_sessionmaker, transaction
from app.enums import OrgUnitKind, Role
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_of
from tests.conftest import EnglishTransport, add_user, bearer, empty_tables
from tests.factories import API, create_cadre, create_org_unit


@asynccontextmanager
async def queries(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """Every query sent on the engine's connections meanwhile: SQLAlchemy's statements, and
    what asyncpg sends on its own (BEGIN, COMMIT, the pre-ping), from the driver's query
    logger. Not in order: the driver calls its loggers on later turns of the event loop."""
    sent: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append(" ".join(sql.split()))

    def log(record: Any) -> None:
        sent.append(" ".join(record.query.split()).rstrip(";") or ";")

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(log)

    target = engine.sync_engine
    event.listen(target, "before_cursor_execute", statement)
    event.listen(target, "checkout", checkout)
    event.listen(target, "checkin", checkin)
    try:
        yield sent
        for _ in range(10):
            await asyncio.sleep(0)
    finally:
        event.remove(target, "before_cursor_execute", statement)
        event.remove(target, "checkout", checkout)
        event.remove(target, "checkin", checkin)


async def test_a_cadre_read_is_one_round_trip(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """The actor comes from the principal cache, the attribution waits for a write that never
    comes, no pre-ping, no BEGIN and no COMMIT: the cadre's SELECT alone."""
    unit = await create_org_unit(committed_client)
    cadre = await create_cadre(committed_client, unit["id"])
    url = f"{API}/cadres/{cadre['id']}"
    assert (await committed_client.get(url)).status_code == 200  # the actor is now cached
    async with queries(engine) as sent:
        r = await committed_client.get(url)
    assert r.status_code == 200
    assert r.json()["id"] == cadre["id"]
    assert len(sent) == 1, sent
    assert sent[0].startswith("SELECT"), sent
    assert "FROM cadre" in sent[0], sent


async def test_a_write_still_opens_its_transaction_and_is_attributed(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    unit = await create_org_unit(committed_client)
    async with queries(engine) as sent:
        r = await committed_client.patch(
            f"{API}/org-units/{unit['id']}", json={"name": "来安县"}, headers={"If-Match": "*"}
        )
    assert r.status_code == 200, r.text
    assert any(q.startswith("BEGIN") for q in sent), sent  # "BEGIN ISOLATION LEVEL ..." too
    assert "COMMIT" in sent, sent
    assert any("set_config('app.actor_id'" in q for q in sent), sent


async def test_a_get_that_writes_is_attributed_to_its_caller(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """A past year's scorecard is stored at its first read (a GET): the deferred transaction
    opens before the INSERT, with the caller's attribution."""
    me = (await committed_client.get(f"{API}/auth/me")).json()
    root = await create_org_unit(committed_client)
    await create_org_unit(committed_client, root["id"], kind="county")
    last_year = date.today().year - 1
    async with queries(engine) as sent:
        r = await committed_client.get(
            f"{API}/reports/unit-scorecard",
            params={"org_unit_id": root["id"], "year": last_year},
        )
    assert r.status_code == 200, r.text
    assert r.json()["frozen"] is True
    assert any(q.startswith("BEGIN") for q in sent), sent  # "BEGIN ISOLATION LEVEL ..." too
    assert "COMMIT" in sent, sent
    async with engine.connect() as conn:
        actors = (
            await conn.execute(
                text(
                    "SELECT actor_id, actor_role FROM audit_event "
                    "WHERE entity_type = 'unit_scorecard_snapshot' AND entity_id = ANY("
                    "SELECT id FROM unit_scorecard_snapshot WHERE org_unit_id = :u)"
                ),
                {"u": uuid.UUID(root["id"])},
            )
        ).all()
    assert [(str(a), str(role)) for a, role in actors] == [(me["id"], "admin")]


async def test_a_read_whose_first_statement_writes_runs_in_a_transaction(
    engine: AsyncEngine,
) -> None:
    """Deferred BEGIN: a first statement that is not a plain SELECT opens the transaction before
    it runs, with the attribution first; transaction-local settings then last to the end."""
    sessionmaker = create_sessionmaker(engine)
    async with transaction(sessionmaker, read=True) as db_session:
        await attribute(db_session, request_id="first-write", lazy=True)
        await db_session.execute(text("SELECT set_config('app.probe', 'kept', true)"))
        assert await db_session.scalar(text("SELECT current_setting('app.probe')")) == "kept"
        request_id = await db_session.scalar(text("SELECT current_setting('app.request_id')"))
        assert request_id == "first-write"
    async with transaction(sessionmaker, read=True) as db_session:
        await attribute(db_session, request_id="plain-read", lazy=True)
        assert await db_session.scalar(select(func.txid_current_if_assigned())) is None
        await db_session.execute(text("SELECT set_config('app.probe', 'late', true)"))
        assert await db_session.scalar(text("SELECT current_setting('app.probe')")) == "late"


async def _terminate(engine: AsyncEngine, pids: list[int]) -> None:
    """End those server processes, as a restart or an operator would, and wait until they
    are gone."""
    async with engine.connect() as conn:
        await conn.execute(
            text("SELECT pg_terminate_backend(p) FROM unnest(CAST(:p AS int[])) AS p"), {"p": pids}
        )
        for _ in range(500):
            left = await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(CAST(:p AS int[]))"),
                {"p": pids},
            )
            if left == 0:
                return
            await conn.rollback()  # pg_stat_activity is read once a transaction
            await asyncio.sleep(0.02)
    raise AssertionError(f"backends {pids} did not end")


async def test_requests_survive_the_server_ending_the_pooled_connections(
    app: FastAPI, engine: AsyncEngine, settings: Settings
) -> None:
    """No pre-ping: a pooled connection the server ended is found by the transaction's first
    statement, which runs again once on a fresh connection."""
    own = create_engine(settings)  # the service's engine, as the lifespan builds it
    pids: list[int] = []

    def connected(dbapi_connection: Any, _record: Any) -> None:
        pids.append(dbapi_connection.driver_connection.get_server_pid())

    event.listen(own.sync_engine, "connect", connected)
    previous = app.state.sessionmaker
    app.state.sessionmaker = create_sessionmaker(own)
    try:
        admin = await add_user(app.state.sessionmaker, Role.admin)
        transport = EnglishTransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer(settings, admin)
        ) as c:
            unit = await create_org_unit(c)
            url = f"{API}/org-units/{unit['id']}"
            assert (await c.get(url)).status_code == 200
            await _terminate(engine, pids)
            r = await c.get(url)  # a read
            assert r.status_code == 200, r.text
            await _terminate(engine, pids)
            r = await c.patch(url, json={"name": "凤阳县"}, headers={"If-Match": "*"})  # a write
            assert r.status_code == 200, r.text
            assert (await c.get(url)).json()["name"] == "凤阳县"
    finally:
        app.state.sessionmaker = previous
        await own.dispose()
        await empty_tables(engine)


async def test_a_connection_lost_after_a_flush_is_an_error_never_half_a_commit(
    engine: AsyncEngine, settings: Settings
) -> None:
    """The retry-once is for a transaction's first use of its connection only: once a flush
    wrote on it, a lost connection lost that write, and the next statement must fail rather
    than run again on a fresh connection and let the transaction commit without it."""
    own = create_engine(settings)
    pids: list[int] = []

    def connected(dbapi_connection: Any, _record: Any) -> None:
        pids.append(dbapi_connection.driver_connection.get_server_pid())

    event.listen(own.sync_engine, "connect", connected)
    unit_id = new_id()
    try:
        async with create_sessionmaker(own)() as db_session:
            db_session.add(
                OrgUnit(
                    id=unit_id,
                    code=f"lost-{unit_id.hex[-12:]}",
                    name="单位",
                    kind=OrgUnitKind.department,
                    path=path_of(None, unit_id),
                    depth=0,
                    active=True,
                )
            )
            await db_session.flush()
            await _terminate(engine, pids)
            with pytest.raises(DBAPIError) as raised:
                await db_session.execute(select(func.count()).select_from(OrgUnit))
            assert raised.value.connection_invalidated
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(func.count()).select_from(OrgUnit).where(OrgUnit.id == unit_id)
            )
        assert found == 0
    finally:
        await own.dispose()
        await empty_tables(engine)


async def _copy_then_fail(engine: AsyncEngine, row: tuple[Any, ...]) -> None:
    async with transaction(create_sessionmaker(engine), read=True) as db_session:
        columns = ("id", "code", "name", "kind", "path", "depth", "active", "version")
        await copy_rows(db_session, "org_unit", columns, [row])
        raise RuntimeError("rolled back")


async def test_a_copy_first_in_a_read_runs_inside_its_transaction(
    engine: AsyncEngine,
) -> None:
    """A read sends no BEGIN until it writes; COPY goes to the driver, not through an execute,
    so `copy_rows` opens the transaction first: a COPY rolled back leaves nothing."""
    unit_id = new_id()
    row = (unit_id, f"copy-{unit_id.hex[-12:]}", "单位", "department", path_of(None, unit_id), 0)
    try:
        with pytest.raises(RuntimeError):
            await _copy_then_fail(engine, (*row, True, 1))
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(func.count()).select_from(OrgUnit).where(OrgUnit.id == unit_id)
            )
        assert found == 0
    finally:
        await empty_tables(engine)
