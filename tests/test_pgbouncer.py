"""The service through Debian's pgbouncer in `pool_mode = transaction` (issue 16,
`APP_DATABASE__PGBOUNCER`, docs/scaling.md "pgbouncer").

pgbouncer (devtools/pgbouncer.py) runs in front of the suite's PostgreSQL with fewer server
connections than the application's pool has client connections, so transactions of different
requests run one after the other on the same server connections: a prepared statement, a setting
or a lock that outlived its transaction would show. Each test runs an application of its own
through it, with committed writes; the tables are emptied afterwards.

Under CI the test fails, never skips, without pgbouncer (.ci/run installs it)."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import DatabaseSettings, Settings
from app.enums import Role
from app.main import create_app
from devtools.pgbouncer import find_pgbouncer, pgbouncer
from tests.conftest import EnglishTransport, add_user, bearer, empty_tables
from tests.evaluation_factories import close_session, evaluated_class
from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.test_database_faults import locked
from tests.test_imports import row
from tests.test_platform import assert_problem

pytestmark = pytest.mark.skipif(
    find_pgbouncer() is None and not os.environ.get("CI"),
    reason="pgbouncer is not installed (Debian: apt-get install pgbouncer)",
)

# Transactions interleave: more client connections than pgbouncer has server connections.
SERVER_CONNECTIONS = 2
CLIENT_CONNECTIONS = 8


@pytest.fixture(scope="module")
def pooled_url(migrated_url: str) -> Iterator[str]:
    with pgbouncer(migrated_url, pool_size=SERVER_CONNECTIONS) as url:
        yield url


@dataclass
class Pooled:
    app: FastAPI
    transport: httpx.ASGITransport
    admin: httpx.AsyncClient
    settings: Settings
    opened: list[httpx.AsyncClient]

    async def client_for(
        self,
        role: Role,
        *,
        org_unit_id: str | uuid.UUID | None = None,
        cadre_id: str | uuid.UUID | None = None,
    ) -> httpx.AsyncClient:
        user = await add_user(
            self.app.state.sessionmaker, role, org_unit_id=org_unit_id, cadre_id=cadre_id
        )
        client = httpx.AsyncClient(
            transport=self.transport,
            base_url="http://test",
            headers=bearer(self.settings, user),
        )
        self.opened.append(client)
        return client


@asynccontextmanager
async def through_pgbouncer(
    settings: Settings, engine: AsyncEngine, pooled_url: str, **database: Any
) -> AsyncIterator[Pooled]:
    """An admin's client of an application whose database is pgbouncer (writes commit)."""
    db = DatabaseSettings(pgbouncer=True, pool_size=CLIENT_CONNECTIONS, max_overflow=0, **database)
    own = settings.model_copy(update={"database_url": pooled_url, "database": db})
    app = create_app(own)
    try:
        async with app.router.lifespan_context(app):
            admin = await add_user(app.state.sessionmaker, Role.admin)
            transport = EnglishTransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=bearer(own, admin)
            ) as client:
                pooled = Pooled(app, transport, client, own, opened=[])
                try:
                    yield pooled
                finally:
                    for opened in pooled.opened:
                        await opened.aclose()
    finally:
        await empty_tables(engine)


async def _server_defaults_seen_through(pooled_url: str) -> list[tuple[Any, ...]]:
    """What a fresh client sees on each of pgbouncer's server connections (as many clients at
    once as there are server connections, each inside a transaction, so each holds one)."""
    dsn = pooled_url.replace("postgresql+asyncpg://", "postgresql://")
    clients = [
        await asyncpg.connect(dsn, statement_cache_size=0) for _ in range(SERVER_CONNECTIONS)
    ]
    try:
        seen = []
        for client in clients:
            await client.execute("BEGIN")
            seen.append(
                tuple(
                    await client.fetchrow(
                        "SELECT current_setting('statement_timeout'), current_setting('jit'), "
                        "(SELECT count(*) FROM pg_prepared_statements), "
                        "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND pid = pg_backend_pid())"
                    )
                    or ()
                )
            )
        return seen
    finally:
        for client in clients:
            await client.close()


async def test_writes_and_reads_through_pgbouncer(
    settings: Settings, engine: AsyncEngine, pooled_url: str
) -> None:
    """A cadre, a study log and its approval, each audited as the actor's; then the reads."""
    async with through_pgbouncer(settings, engine, pooled_url) as pooled:
        client = pooled.admin
        unit = await create_org_unit(client)
        cadre = await create_cadre(client, unit["id"])
        log = await create_log(client, cadre["id"])
        r = await client.post(f"{API}/study-logs/{log['id']}/approve", json={"comment": "齐全"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"

        me = (await client.get(f"{API}/auth/me")).json()
        r = await client.get(f"{API}/audit-events", params={"entity_id": log["id"]})
        assert r.status_code == 200, r.text
        events = r.json()["items"]
        assert [e["action"] for e in events] == ["create", "update"]
        assert {(e["actor_id"], e["actor_role"]) for e in events} == {(me["id"], "admin")}

        r = await client.get(f"{API}/cadres/{cadre['id']}")
        assert (r.status_code, r.json()["name"]) == (200, cadre["name"])
        r = await client.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})
        assert [c["id"] for c in r.json()["items"]] == [cadre["id"]]
        r = await client.get(f"{API}/cadres/{cadre['id']}/compliance")
        assert r.status_code == 200, r.text


async def test_an_import_through_pgbouncer(
    settings: Settings, engine: AsyncEngine, pooled_url: str
) -> None:
    """The import's COPY into a transaction's temporary table (ON COMMIT DROP)."""
    async with through_pgbouncer(settings, engine, pooled_url) as pooled:
        client = pooled.admin
        unit = await create_org_unit(client)
        cadre = await create_cadre(client, unit["id"], rank="county_division")
        items = [row(cadre["hr_id"]), row(cadre["hr_id"], title="网络学习", kind="online_course")]
        for created, already in ((2, 0), (0, 2)):
            r = await client.post(f"{API}/imports/study-logs", json={"items": items})
            assert r.status_code == 200, r.text
            assert (r.json()["created"], r.json()["already_imported"]) == (created, already)


async def test_concurrent_requests_share_server_connections(
    settings: Settings, engine: AsyncEngine, pooled_url: str
) -> None:
    """More requests at once than the pool has connections, and more client connections than
    pgbouncer has server connections: every request answers, and what a transaction set (the
    statement timeout, jit, the actor, an advisory lock, a prepared statement) is gone from
    the server connections afterwards."""
    async with through_pgbouncer(settings, engine, pooled_url) as pooled:
        client = pooled.admin
        unit = await create_org_unit(client)
        cadres = [await create_cadre(client, unit["id"]) for _ in range(4)]

        async def work(n: int) -> list[int]:
            cadre = cadres[n % len(cadres)]
            log = await client.post(
                f"{API}/study-logs",
                json={
                    "cadre_id": cadre["id"],
                    "kind": "online_course",
                    "title": f"专题 {n}",
                    "start_date": "2025-04-01",
                    "end_date": "2025-04-01",
                    "hours": "2",
                },
            )
            if log.status_code != 201:
                return [log.status_code]
            approve = await client.post(f"{API}/study-logs/{log.json()['id']}/approve")
            reads = [
                await client.get(f"{API}/cadres/{cadre['id']}"),
                await client.get(f"{API}/cadres/{cadre['id']}/compliance"),
                await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]}),
            ]
            return [log.status_code, approve.status_code, *(r.status_code for r in reads)]

        results = await asyncio.gather(*(work(n) for n in range(3 * CLIENT_CONNECTIONS)))
        assert results == [[201, 200, 200, 200, 200]] * (3 * CLIENT_CONNECTIONS)
        logs = 0
        for cadre in cadres:
            r = await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})
            logs += len(r.json()["items"])
        assert logs == 3 * CLIENT_CONNECTIONS

    # The server's defaults (no timeout, jit on), no prepared statement, no lock held.
    assert await _server_defaults_seen_through(pooled_url) == [("0", "on", 0, 0)] * (
        SERVER_CONNECTIONS
    )


async def test_the_evaluation_answer_through_pgbouncer(
    settings: Settings, engine: AsyncEngine, pooled_url: str
) -> None:
    """The answer's three transactions (app/evaluation/answering.py) and its transaction-local
    statement-log switch."""
    async with through_pgbouncer(settings, engine, pooled_url) as pooled:
        client = pooled.admin
        unit = await create_org_unit(client)
        klass = await evaluated_class(client, pooled.client_for, unit["id"], 2)
        await close_session(client, klass)
        answers = await asyncio.gather(
            *(t.post(f"{klass.url}/answers", json=klass.full_answer()) for t in klass.trainees)
        )
        assert [r.status_code for r in answers] == [204, 204], [r.text for r in answers]
        assert_problem(
            await klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer()),
            409,
            "evaluation.already_answered",
        )
        got = (await client.get(klass.url)).json()
        assert got["answered_count"] == 2


async def test_the_statement_timeout_applies_through_pgbouncer(
    settings: Settings, engine: AsyncEngine, pooled_url: str
) -> None:
    """pgbouncer refuses `statement_timeout` and `jit` as startup parameters; they are set in
    every transaction instead, so the timeout still cancels a query (a 503 `query_timeout`)."""
    async with through_pgbouncer(
        settings, engine, pooled_url, statement_timeout_ms=300, retry_after_seconds=7
    ) as pooled:
        client = pooled.admin
        unit = await create_org_unit(client)
        async with pooled.app.state.engine.connect() as conn:
            got = (
                await conn.execute(
                    text(
                        "SELECT current_setting('statement_timeout'), current_setting('jit'), "
                        "current_setting('application_name'), current_setting('TimeZone')"
                    )
                )
            ).one()
        assert tuple(got) == ("300ms", "off", "cadre-training", "UTC")
        params = {"org_unit_id": unit["id"], "year": 2025}
        async with locked(engine, "cadre"):
            r = await client.get(f"{API}/reports/compliance", params=params)
            assert_problem(r, 503, "query_timeout")
        r = await client.get(f"{API}/reports/compliance", params=params)
        assert r.status_code == 200, r.text
