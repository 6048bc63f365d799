"""The national roll-up (devtools/national_rollup.py) against two real provinces: two databases
of the test cluster, each served by its own app instance, read only through their APIs, and a
third database for the national consumer. No shared database, no cross-database query: each
province's own figures are read from its own database, for the comparison only."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.change_feed import service as change_feed
from app.config import Settings
from app.db import create_sessionmaker
from app.enums import Role
from app.main import create_app
from app.migrations import alembic_config
from devtools import national_rollup as rollup
from tests.conftest import EnglishTransport, add_user, bearer
from tests.factories import API, create_cadre, create_log, create_org_unit


def _database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def template(migrated_url: str) -> Iterator[str]:
    """A migrated, empty province database to copy: each test starts from fresh provinces."""
    name = f"province_template_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(migrated_url, f"CREATE DATABASE {name}"))
    command.upgrade(alembic_config(_database(migrated_url, name)), "head")
    try:
        yield name
    finally:
        asyncio.run(_admin(migrated_url, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture
async def databases(migrated_url: str, template: str) -> AsyncIterator[tuple[str, str, str]]:
    """Two province databases and the national one, all three new."""
    tag = uuid.uuid4().hex[:8]
    names = (f"province_a_{tag}", f"province_b_{tag}", f"national_{tag}")
    await _admin(
        migrated_url,
        f"CREATE DATABASE {names[0]} TEMPLATE {template}",
        f"CREATE DATABASE {names[1]} TEMPLATE {template}",
        f"CREATE DATABASE {names[2]}",
    )
    try:
        yield (
            _database(migrated_url, names[0]),
            _database(migrated_url, names[1]),
            _database(migrated_url, names[2]),
        )
    finally:
        await _admin(migrated_url, *(f"DROP DATABASE {n} WITH (FORCE)" for n in names))


@dataclass
class ProvinceUnderTest:
    code: str
    app: FastAPI
    engine: AsyncEngine  # the province's own database: writes' checks and pruning, never read
    admin: httpx.AsyncClient  # writes through the province's API
    consumer: rollup.Province  # the national consumer's auditor client


@pytest.fixture
async def provinces(
    databases: tuple[str, str, str], settings: Settings
) -> AsyncIterator[list[ProvinceUnderTest]]:
    opened: list[ProvinceUnderTest] = []
    async with contextlib.AsyncExitStack() as stack:
        for code, url in zip(("A", "B"), databases[:2], strict=True):
            app = create_app(settings.model_copy(update={"database_url": url}))
            await stack.enter_async_context(app.router.lifespan_context(app))
            engine = create_async_engine(url)
            stack.push_async_callback(engine.dispose)
            maker = create_sessionmaker(engine)
            admin_user = await add_user(maker, Role.admin)
            auditor_user = await add_user(maker, Role.auditor)

            def client(user: Any, app: FastAPI = app) -> httpx.AsyncClient:
                return httpx.AsyncClient(
                    transport=EnglishTransport(app=app, raise_app_exceptions=False),
                    base_url="http://test",
                    headers=bearer(settings, user),
                )

            admin = await stack.enter_async_context(client(admin_user))
            auditor = await stack.enter_async_context(client(auditor_user))
            opened.append(
                ProvinceUnderTest(code, app, engine, admin, rollup.Province(code, auditor))
            )
        yield opened


@pytest.fixture
async def national(databases: tuple[str, str, str]) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(databases[2])
    async with engine.connect() as conn:
        await rollup.prepare(conn)
        yield conn
    await engine.dispose()


async def _approved_log(admin: httpx.AsyncClient, cadre_id: str, **fields: Any) -> dict[str, Any]:
    log = await create_log(admin, cadre_id, **fields)
    r = await admin.post(f"{API}/study-logs/{log['id']}/approve")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _seed(p: ProvinceUnderTest, cadres: int) -> dict[str, Any]:
    """A province before the national consumer starts: cadres of two ranks, approved logs (one
    across the turn of a year), a pending one."""
    unit = await create_org_unit(p.admin)
    people = [
        await create_cadre(
            p.admin, unit["id"], rank="county_division" if i % 2 else "township_section"
        )
        for i in range(cadres)
    ]
    logs = [
        await _approved_log(p.admin, c["id"], kind="online_course", hours="4.5") for c in people
    ]
    across = await _approved_log(
        p.admin,
        people[0]["id"],
        kind="centralised_training",
        start_date="2024-12-30",
        end_date="2025-01-02",
        hours="32",
    )
    pending = await create_log(p.admin, people[-1]["id"], kind="self_study", hours="3")
    return {"unit": unit, "cadres": people, "logs": logs, "across": across, "pending": pending}


async def _write(p: ProvinceUnderTest, seeded: dict[str, Any]) -> None:
    """Writes after the snapshot, through the API: a log approved, a cadre deactivated, a log
    voided, a cadre and a log added, a cadre promoted."""
    admin = p.admin
    ok = await admin.post(f"{API}/study-logs/{seeded['pending']['id']}/approve")
    assert ok.status_code == 200, ok.text
    gone = await admin.delete(f"{API}/cadres/{seeded['cadres'][1]['id']}")
    assert gone.status_code == 204, gone.text
    void = await admin.post(f"{API}/study-logs/{seeded['across']['id']}/void")
    assert void.status_code == 200, void.text
    new = await create_cadre(admin, seeded["unit"]["id"], rank="section_member")
    await _approved_log(admin, new["id"], kind="lecture", hours="2.25")
    up = await admin.patch(
        f"{API}/cadres/{seeded['cadres'][0]['id']}",
        json={"rank": "department_bureau", "post_type": "leading"},
    )
    assert up.status_code == 200, up.text


async def _differences(national: AsyncConnection, p: ProvinceUnderTest) -> list[str]:
    async with p.engine.connect() as conn:
        own = await rollup.province_figures(conn)
    return rollup.differences(await rollup.national_figures(national, p.code), own)


async def _all_events(p: ProvinceUnderTest) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await p.consumer.client.get(f"{API}/changes", params=params)).json()
        if not page["items"]:
            return events
        events += page["items"]
        cursor = page["next_cursor"]


async def test_the_national_aggregate_equals_each_provinces_own_figures(
    provinces: list[ProvinceUnderTest], national: AsyncConnection
) -> None:
    seeded = [await _seed(p, cadres) for p, cadres in zip(provinces, (3, 4), strict=True)]
    for p in provinces:
        assert await rollup.snapshot(national, p.consumer) > 0
        assert await _differences(national, p) == []
    before = await rollup.national_figures(national, "A")
    for p, s in zip(provinces, seeded, strict=True):
        await _write(p, s)
    # Not yet followed: the national figures are the snapshot's, now out of date.
    assert await _differences(national, provinces[0]) != []
    for p in provinces:
        progress = await rollup.catch_up(national, p.consumer)
        assert progress.applied > 0
        assert await _differences(national, p) == []
    after = await rollup.national_figures(national, "A")
    assert after != before
    assert after.active_by_rank == {
        "department_bureau": 1,
        "township_section": 1,
        "section_member": 1,
    }
    # Followed again with nothing new: nothing moves.
    assert (await rollup.catch_up(national, provinces[1].consumer)).events == 0


async def test_an_event_replayed_changes_nothing_in_any_order(
    provinces: list[ProvinceUnderTest], national: AsyncConnection
) -> None:
    p = provinces[0]
    seeded = await _seed(p, 3)
    await rollup.snapshot(national, p.consumer)
    await _write(p, seeded)
    await rollup.catch_up(national, p.consumer)
    figures = await rollup.national_figures(national, p.code)
    events = await _all_events(p)
    # Every event again, once in feed order and once backwards (a later change listed first, as
    # the feed may when transactions commit out of order): the later change still wins.
    for replay in (events, events[::-1], events[:5]):
        async with national.begin():
            await rollup.apply_events(national, p.code, replay)
        assert await rollup.national_figures(national, p.code) == figures
    assert await _differences(national, p) == []


async def test_a_mirror_built_from_the_feed_alone_equals_the_province(
    provinces: list[ProvinceUnderTest], national: AsyncConnection
) -> None:
    """Order-proof apply: every event of the feed, newest first, builds the same figures."""
    p = provinces[1]
    await _write(p, await _seed(p, 2))
    async with national.begin():
        await rollup.apply_events(national, p.code, (await _all_events(p))[::-1])
    assert await _differences(national, p) == []


async def _prune_everything(p: ProvinceUnderTest) -> None:
    async with create_sessionmaker(p.engine)() as db_session:
        assert await change_feed.prune(db_session, retention_days=0) > 0
        await db_session.commit()


async def test_a_pruned_cursor_is_reported_as_needing_a_new_snapshot(
    provinces: list[ProvinceUnderTest], national: AsyncConnection
) -> None:
    p = provinces[0]
    seeded = await _seed(p, 2)
    await rollup.snapshot(national, p.consumer)
    await _write(p, seeded)
    # The consumer paused longer than the province keeps its feed (APP_CHANGES_RETENTION_DAYS).
    await _prune_everything(p)
    with pytest.raises(rollup.NeedsSnapshot) as raised:
        await rollup.catch_up(national, p.consumer)
    assert raised.value.province == p.code
    assert await rollup.needs_snapshot(national, p.code)
    # Once marked, the province is not followed until it is copied again.
    with pytest.raises(rollup.NeedsSnapshot):
        await rollup.catch_up(national, p.consumer)


async def test_a_new_snapshot_after_a_prune_resumes_following(
    provinces: list[ProvinceUnderTest], national: AsyncConnection
) -> None:
    p = provinces[1]
    seeded = await _seed(p, 2)
    await _prune_everything(p)
    await rollup.snapshot(national, p.consumer)
    await _write(p, seeded)
    await rollup.catch_up(national, p.consumer)
    assert await _differences(national, p) == []
