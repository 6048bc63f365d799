"""The read replica (docs/scaling.md, "Read replica"), against a real hot standby of the test
cluster: `pg_basebackup -R` of it, started on another port (devtools.localpg
`LocalPostgres.standby_of`).

Reports follow the replica's lag. Nothing that must be fresh (writes, the change feed, a record
read by id, the token endpoint, authentication) reads there. A replica that is down or lagging
past the bound sends the read to the primary, counted on /metrics, never an error. Replay is
awaited by polling the standby's `pg_last_wal_replay_lsn()` against the primary's WAL position,
never by sleeping."""

import asyncio
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import PostgresDsn
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.clock import local_today
from app.config import ExportSettings, Settings
from app.db import _REPLICA_LAG, get_read_session
from app.enums import Role
from app.export import worker
from app.main import create_app
from devtools.localpg import LocalPostgres
from tests.conftest import TEST_PASSWORD, EnglishTransport, add_user, bearer, empty_tables
from tests.factories import (
    API,
    create_cadre,
    create_log,
    create_org_unit,
    create_session,
    log_body,
)

SCALING = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
# Operations a client relies on to see its own write, or that must never miss a commit.
MUST_BE_FRESH = {
    "getStudyLog",
    "getCadre",
    "getOrgUnit",
    "getTrainingSession",
    "listChanges",
    "issueToken",
    "getCurrentUser",
    "listExports",
    "getExport",
}
REPLAY_DEADLINE_S = 120
FAST = ExportSettings(heartbeat_seconds=0.2, lease_seconds=5, poll_interval_seconds=0.1)
# The world has no session evaluation: the read that finds so runs on the standby all the same.
NOT_SET_UP = {"getSessionEvaluationReport": "evaluation.not_found"}


def documented_replica_operations() -> set[str]:
    """The list in docs/scaling.md between the `replica-operations` markers."""
    block = SCALING.read_text().split("<!-- replica-operations")[1]
    block = block.split("<!-- /replica-operations -->")[0]
    return set(re.findall(r"`(\w+)`", block))


def _reads_on_replica(dependant: Dependant) -> bool:
    return any(d.call is get_read_session or _reads_on_replica(d) for d in dependant.dependencies)


def _api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route, also those of included routers (FastAPI keeps them nested)."""
    found = (context.original_route for context in iter_route_contexts(app.routes))
    return [route for route in found if isinstance(route, APIRoute)]


def test_every_operation_reads_where_docs_scaling_says(settings: Settings) -> None:
    """The rule is checkable: an operation reads on the replica exactly when docs/scaling.md
    lists it, so a new route chooses (unlisted, it is on the primary)."""
    app = create_app(settings)
    routes = _api_routes(app)
    on_replica = {r.operation_id for r in routes if _reads_on_replica(r.dependant)}
    documented = documented_replica_operations()
    assert on_replica == documented
    assert documented <= {r.operation_id for r in routes}
    for route in routes:
        if _reads_on_replica(route.dependant):
            assert set(route.methods or ()) <= {"GET", "HEAD"}, f"{route.operation_id} writes"
    assert not MUST_BE_FRESH & on_replica
    assert {r.operation_id for r in routes} >= MUST_BE_FRESH


# -- a real standby -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def standby(local_cluster: LocalPostgres | None, migrated_url: str) -> Iterator[LocalPostgres]:
    """A hot standby of the suite's cluster, copied once the schema is migrated."""
    if local_cluster is None:
        if os.environ.get("CI"):
            pytest.fail("CI runs the replica tests on the suite's own cluster")
        pytest.skip("TEST_DATABASE_URL: no local cluster to take a standby of")
    with tempfile.TemporaryDirectory(prefix="cadre-test-standby-") as tmp:
        cluster = LocalPostgres.standby_of(local_cluster, Path(tmp) / "standby")
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="module")
async def standby_engine(standby: LocalPostgres) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(standby.url, pool_size=2)
    yield engine
    await engine.dispose()


async def _primary_position(primary: AsyncEngine) -> str:
    """The primary's WAL position past every commit so far: where its next record goes
    (`pg_current_wal_insert_lsn`). The test cluster commits asynchronously, so a commit may
    not be written yet (`pg_current_wal_lsn` would stop short of it); the WAL writer sends it
    within `wal_writer_delay`."""
    async with primary.connect() as conn:
        lsn: str = (
            await conn.execute(text("SELECT pg_current_wal_insert_lsn()::text"))
        ).scalar_one()
    return lsn


async def _wait_for(standby: AsyncEngine, function: str, target: str) -> None:
    """Poll the standby until `function()` (the received or the replayed position) reaches
    `target`. Each poll is a round trip; no sleep."""
    deadline = time.monotonic() + REPLAY_DEADLINE_S
    query = text(f"SELECT {function}() >= CAST(CAST(:target AS text) AS pg_lsn)")
    async with standby.connect() as conn:
        while not (await conn.execute(query, {"target": target})).scalar_one():
            await conn.rollback()
            assert time.monotonic() < deadline, f"{function}() never reached {target}"


async def caught_up(primary: AsyncEngine, standby: AsyncEngine) -> None:
    await _wait_for(standby, "pg_last_wal_replay_lsn", await _primary_position(primary))


async def received(primary: AsyncEngine, standby: AsyncEngine) -> None:
    await _wait_for(standby, "pg_last_wal_receive_lsn", await _primary_position(primary))


async def _on_standby(standby: AsyncEngine, sql: str) -> None:
    async with standby.connect() as conn:
        await conn.execute(text(sql))


class Statements:
    """The statements each of the app's engines ran, for the request under test."""

    def __init__(self, app: FastAPI) -> None:
        self.seen: dict[str, list[str]] = {"primary": [], "replica": []}
        for name, engine in (("primary", app.state.engine), ("replica", app.state.replica_engine)):
            event.listen(engine.sync_engine, "before_cursor_execute", self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            self.seen[name].append(statement)

        return record

    def reset(self) -> None:
        for statements in self.seen.values():
            statements.clear()


@dataclass
class Replicated:
    app: FastAPI
    client: httpx.AsyncClient
    statements: Statements


@asynccontextmanager
async def replicated_app(
    settings: Settings, replica_url: str, *, max_lag: float | None = None
) -> AsyncIterator[Replicated]:
    """The service with APP_DATABASE__REPLICA_URL set, committing for real, and an admin's
    client of it."""
    database = settings.database.model_copy(
        update={"replica_url": PostgresDsn(replica_url), "replica_max_lag_seconds": max_lag}
    )
    app = create_app(settings.model_copy(update={"database": database}))
    async with app.router.lifespan_context(app):
        admin = await add_user(app.state.sessionmaker, Role.admin)
        transport = EnglishTransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer(settings, admin)
        ) as client:
            yield Replicated(app, client, Statements(app))


@pytest.fixture(scope="module")
async def replica(settings: Settings, standby: LocalPostgres) -> AsyncIterator[Replicated]:
    async with replicated_app(settings, standby.url) as replicated:
        yield replicated


@dataclass
class World:
    city: dict[str, Any]
    county: dict[str, Any]
    cadre: dict[str, Any]
    session: dict[str, Any]
    log: dict[str, Any]


@pytest.fixture(scope="module")
async def world(
    replica: Replicated, engine: AsyncEngine, standby_engine: AsyncEngine
) -> AsyncIterator[World]:
    """A city with a county and a cadre whose 2024 class (12 days, 84 h) is still pending,
    committed and replayed on the standby. Emptied afterwards."""
    client = replica.client
    try:
        city = await create_org_unit(client)
        county = await create_org_unit(client, city["id"], kind="county")
        cadre = await create_cadre(client, county["id"], rank="section_member")
        session = await create_session(client, city["id"])
        log = await create_log(client, cadre["id"], **_class(status="pending"))
        r = await client.post(f"{API}/training-plans", json=_plan(city["id"]))
        assert r.status_code == 201, r.text
        await caught_up(engine, standby_engine)
        yield World(city, county, cadre, session, log)
    finally:
        await empty_tables(engine)


def _plan(org_unit_id: str) -> dict[str, Any]:
    """This year's training plan of the unit (the plan fulfilment report needs one)."""
    item = {
        "title": "党性教育专题班",
        "form": "special_class",
        "centralised": True,
        "month": 3,
        "days": "5",
        "credit_hours": "40",
        "target_ranks": ["section_member"],
        "topic_tags": ["党性教育"],
        "planned_seats": 10,
    }
    year = local_today().year
    return {"org_unit_id": org_unit_id, "year": year, "title": f"{year}年度计划", "items": [item]}


def _class(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "centralised_training",
        "start_date": "2024-04-01",
        "end_date": "2024-04-12",
        "days": "12",
        "hours": "84",
        **fields,
    }


async def _trained(client: httpx.AsyncClient, world: World) -> int:
    """The city's cadres trained in 2024, as the province compliance report shows them."""
    r = await client.get(
        f"{API}/reports/compliance", params={"org_unit_id": world.city["id"], "year": 2024}
    )
    assert r.status_code == 200, r.text
    units = {u["org_unit_id"]: u for u in r.json()["units"]}
    trained: int = units[world.city["id"]]["trained"]
    return trained


async def _changes_of(client: httpx.AsyncClient, entity_id: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        r = await client.get(f"{API}/changes", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        found += [c for c in body["items"] if c["entity_id"] == entity_id]
        cursor = body["next_cursor"]
        if not body["items"] or cursor is None:
            return found


def _fallbacks(app: FastAPI, reason: str) -> float:
    value = app.state.metrics.registry.get_sample_value(
        "replica_fallbacks_total", {"reason": reason}
    )
    return float(value or 0)


async def test_reports_follow_the_replicas_lag(
    replica: Replicated, world: World, engine: AsyncEngine, standby_engine: AsyncEngine
) -> None:
    """With replay paused, an approval is missing from the report (the replica) but present in
    the log's own read and in the change feed (the primary); once replay resumes and catches
    up, the report shows it."""
    client = replica.client
    assert await _trained(client, world) == 0
    await _on_standby(standby_engine, "SELECT pg_wal_replay_pause()")
    try:
        r = await client.post(f"{API}/study-logs/{world.log['id']}/approve")
        assert r.status_code == 200, r.text

        assert await _trained(client, world) == 0  # the replica has not replayed it
        r = await client.get(f"{API}/study-logs/{world.log['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"
        approvals = [
            c
            for c in await _changes_of(client, world.log["id"])
            if c["action"] == "update" and "status" in c["changes"]
        ]
        assert [c["changes"]["status"]["after"] for c in approvals] == ["approved"]
    finally:
        await _on_standby(standby_engine, "SELECT pg_wal_replay_resume()")
    await caught_up(engine, standby_engine)
    assert await _trained(client, world) == 1
    assert _fallbacks(replica.app, "unavailable") == _fallbacks(replica.app, "lag") == 0


async def test_writes_and_fresh_reads_never_reach_the_replica(
    replica: Replicated, world: World
) -> None:
    client, statements = replica.client, replica.statements
    user = await add_user(replica.app.state.sessionmaker, Role.auditor)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"{API}/study-logs", {"json": log_body(world.cadre["id"])}),
        ("GET", f"{API}/study-logs/{world.log['id']}", {}),
        ("GET", f"{API}/cadres/{world.cadre['id']}", {}),
        ("GET", f"{API}/org-units/{world.city['id']}", {}),
        ("GET", f"{API}/training-sessions/{world.session['id']}", {}),
        ("GET", f"{API}/changes", {}),
        ("GET", f"{API}/auth/me", {}),
        ("GET", f"{API}/exports", {}),
        (
            "POST",
            f"{API}/auth/token",
            {
                "data": {
                    "grant_type": "password",
                    "username": user.username,
                    "password": TEST_PASSWORD,
                }
            },
        ),
    ]
    for method, url, kwargs in requests:
        statements.reset()
        r = await client.request(method, url, **kwargs)
        assert r.status_code in (200, 201), (url, r.text)
        assert statements.seen["primary"], url
        assert statements.seen["replica"] == [], (url, statements.seen["replica"])


def _request_for(app: FastAPI, operation_id: str, world: World) -> tuple[str, dict[str, Any]]:
    """The operation's path with its required parameters filled in from the world."""
    values: dict[str, Any] = {
        "org_unit_id": world.city["id"],
        "cadre_id": world.cadre["id"],
        "training_session_id": world.session["id"],
        "year": local_today().year,
        "target_rank": "county_division",
        "post_type": "leading",
    }
    for path, item in app.openapi()["paths"].items():
        for method, spec in item.items():
            if spec.get("operationId") != operation_id:
                continue
            assert method == "get", operation_id
            params: dict[str, Any] = {}
            for parameter in spec.get("parameters", []):
                if parameter.get("required"):
                    value = values[parameter["name"]]
                    if parameter["in"] == "path":
                        path = path.replace(f"{{{parameter['name']}}}", str(value))
                    else:
                        params[parameter["name"]] = value
            return path, params
    raise AssertionError(f"no operation {operation_id}")


async def test_every_replica_operation_reads_on_the_standby(
    replica: Replicated, world: World
) -> None:
    """Each listed operation answers from the read-only standby: it reads there and writes
    nothing (a write would fail on a hot standby)."""
    client, statements = replica.client, replica.statements
    for operation_id in sorted(documented_replica_operations()):
        path, params = _request_for(replica.app, operation_id, world)
        statements.reset()
        r = await client.get(path, params=params)
        if operation_id in NOT_SET_UP:
            assert r.json()["code"] == NOT_SET_UP[operation_id], r.text
        else:
            assert r.status_code == 200, (operation_id, r.text)
        assert statements.seen["replica"], operation_id


async def test_a_past_years_scorecard_is_frozen_on_the_primary(
    replica: Replicated, world: World
) -> None:
    """Freezing is a write: it reaches the primary (the standby would refuse it)."""
    r = await replica.client.get(
        f"{API}/reports/unit-scorecard", params={"org_unit_id": world.city["id"], "year": 2024}
    )
    assert r.status_code == 200, r.text
    assert r.json()["frozen"] is True


async def _export_job(replica: Replicated, world: World) -> uuid.UUID:
    """Queue the city's 2024 export and run it with the worker reading on the replica."""
    r = await replica.client.post(
        f"{API}/exports", json={"org_unit_id": world.city["id"], "year": 2024}
    )
    assert r.status_code == 202, r.text
    job_id = uuid.UUID(r.json()["id"])
    state = replica.app.state
    ran = await worker.work_once(state.sessionmaker, FAST, reader=state.replica_sessionmaker)
    assert ran == job_id
    done = (await replica.client.get(f"{API}/exports/{job_id}")).json()
    assert (done["status"], done["rows_done"]) == ("succeeded", done["rows_total"])
    assert done["rows_total"] >= 1
    return job_id


async def test_the_export_worker_reads_its_rows_on_the_replica(
    replica: Replicated, world: World
) -> None:
    """The job (claim, lease, file) is written on the primary; its rows are read on the
    standby."""
    replica.statements.reset()
    await _export_job(replica, world)
    reads = replica.statements.seen["replica"]
    assert any("study_log" in statement for statement in reads), reads
    assert any("export_chunk" in s for s in replica.statements.seen["primary"])


async def test_a_replica_lagging_past_the_bound_is_bypassed(
    settings: Settings,
    standby: LocalPostgres,
    world: World,
    engine: AsyncEngine,
    standby_engine: AsyncEngine,
) -> None:
    """APP_DATABASE__REPLICA_MAX_LAG_SECONDS=0: while the standby has received a commit it has
    not replayed, reports read on the primary and show it."""
    async with replicated_app(settings, standby.url, max_lag=0) as lagging:
        await caught_up(engine, standby_engine)  # its admin's creation replayed: no lag
        assert await _trained(lagging.client, world) == 1
        assert _fallbacks(lagging.app, "lag") == 0
        await _on_standby(standby_engine, "SELECT pg_wal_replay_pause()")
        try:
            other = await create_cadre(lagging.client, world.county["id"], rank="section_member")
            await create_log(lagging.client, other["id"], **_class(status="approved"))
            await received(engine, standby_engine)
            assert await _trained(lagging.client, world) == 2
            assert _fallbacks(lagging.app, "lag") == 1
        finally:
            await _on_standby(standby_engine, "SELECT pg_wal_replay_resume()")
        await caught_up(engine, standby_engine)


async def _standby_settings(standby: AsyncEngine, *statements: str) -> None:
    """ALTER SYSTEM on the standby (outside a transaction block), then reload."""
    async with standby.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            await conn.execute(text(statement))
        await conn.execute(text("SELECT pg_reload_conf()"))


async def _streaming(standby: AsyncEngine, expected: bool) -> None:
    for _ in range(3000):
        async with standby.connect() as conn:
            streams = await conn.scalar(
                text("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")
            )
        if bool(streams) == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the standby's streaming never became {expected}")


async def test_a_standby_cut_off_from_its_primary_is_bypassed(
    settings: Settings,
    standby: LocalPostgres,
    world: World,
    engine: AsyncEngine,
    standby_engine: AsyncEngine,
) -> None:
    """A standby that no longer streams has replayed all it received, yet may be any time
    behind: its lag is the age of its last replayed commit, not 0, so with the bound at 0
    reports go to the primary; streaming again, they return to it."""
    async with standby_engine.connect() as conn:
        conninfo = await conn.scalar(text("SHOW primary_conninfo"))
    assert conninfo
    async with replicated_app(settings, standby.url, max_lag=0) as lagging:
        await caught_up(engine, standby_engine)
        before = await _trained(lagging.client, world)
        assert _fallbacks(lagging.app, "lag") == 0
        await _standby_settings(standby_engine, "ALTER SYSTEM SET primary_conninfo = ''")
        try:
            await _streaming(standby_engine, False)
            assert await _trained(lagging.client, world) == before
            assert _fallbacks(lagging.app, "lag") == 1
        finally:
            quoted = conninfo.replace("'", "''")
            await _standby_settings(
                standby_engine, f"ALTER SYSTEM SET primary_conninfo = '{quoted}'"
            )
            await _streaming(standby_engine, True)
        await caught_up(engine, standby_engine)
        assert await _trained(lagging.client, world) == before
        assert _fallbacks(lagging.app, "lag") == 1


async def test_a_stopped_replica_sends_reads_to_the_primary(
    replica: Replicated,
    standby: LocalPostgres,
    world: World,
    engine: AsyncEngine,
    standby_engine: AsyncEngine,
) -> None:
    """The standby stopped: writes work, reports answer 200 from the primary, and each
    fallback is counted; started again, reads return to it."""
    client, statements = replica.client, replica.statements
    before = await _trained(client, world)
    await standby_engine.dispose()
    standby.shutdown("fast")
    try:
        other = await create_cadre(client, world.county["id"], rank="section_member")
        await create_log(client, other["id"], **_class(status="approved"))
        statements.reset()
        assert await _trained(client, world) == before + 1
        # Only the probe tried the stopped standby (the pool is not pre-pinged: the probe finds
        # the dead connection, its retry is refused, and the report reads on the primary).
        assert set(statements.seen["replica"]) <= {_REPLICA_LAG.text}
        assert _fallbacks(replica.app, "unavailable") == 1
        r = await client.get(f"{API}/org-units/{world.city['id']}/archive", params={"year": 2024})
        assert r.status_code == 200, r.text
        assert _fallbacks(replica.app, "unavailable") == 2
        statements.reset()
        await _export_job(replica, world)  # the worker reads on the primary
        assert statements.seen["replica"] == []
    finally:
        standby.resume()
    await caught_up(engine, standby_engine)
    statements.reset()
    assert await _trained(client, world) == before + 1
    assert statements.seen["replica"]
