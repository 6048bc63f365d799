"""The change feed: written with the change, followed by cursor, never skipping a change when
transactions commit out of order."""

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.change_feed import service
from app.change_feed.service import START, CursorExpired, decode_cursor, encode_cursor
from app.db import create_sessionmaker
from app.enums import OrgUnitKind, Role
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_of
from tests.conftest import ClientFor, empty_tables
from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.test_platform import assert_problem


async def _follow(
    client: httpx.AsyncClient, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    params = {"cursor": cursor} if cursor else {}
    r = await client.get(f"{API}/changes", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return body["items"], body["next_cursor"]


def _add_unit(db_session: AsyncSession) -> str:
    """A write that the feed carries (through the audit trigger, at flush); its entity id."""
    unit_id = new_id()
    db_session.add(
        OrgUnit(
            id=unit_id,
            code=f"feed-{unit_id.hex[-12:]}",
            name="单位",
            kind=OrgUnitKind.department,
            path=path_of(None, unit_id),
            depth=0,
            active=True,
        )
    )
    return str(unit_id)


async def test_writes_appear_in_the_feed(committed_client: httpx.AsyncClient) -> None:
    # Committed for real: a transaction's own events wait for it to end (see below).
    client = committed_client
    _, start = await _follow(client, None)
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    log = await create_log(client, cadre["id"])
    await client.post(f"{API}/study-logs/{log['id']}/approve")
    items, cursor = await _follow(client, start)
    seen = [(i["entity_type"], i["action"], i["entity_id"]) for i in items]
    # Org units are in the feed too: HR follows unit changes (moves, renames) as well.
    assert seen == [
        ("org_unit", "create", unit["id"]),
        ("cadre", "create", cadre["id"]),
        ("study_log", "create", log["id"]),
        ("study_log", "update", log["id"]),
    ]
    assert items[0]["changes"]["code"] == unit["code"]
    assert items[1]["changes"]["id_number"] == "<changed>"
    assert cadre["id_number"] not in str(items)
    assert items[3]["changes"]["status"] == {"before": "pending", "after": "approved"}
    again, same = await _follow(client, cursor)
    assert (again, same) == ([], cursor)  # nothing new: the poller keeps its place


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    await empty_tables(engine)


async def test_out_of_order_commits_are_never_skipped(committed: AsyncEngine) -> None:
    maker = create_sessionmaker(committed)

    async def poll(cursor: str | None) -> tuple[list[str], str | None]:
        async with maker() as reader:
            events, nxt = await service.read(reader, cursor, 100)
            return [str(e.entity_id) for e in events], nxt

    _, cursor = await poll(None)
    async with maker() as a, maker() as b:
        # A takes its transaction id first, B second; B commits first.
        first = _add_unit(a)
        await a.flush()
        second = _add_unit(b)
        await b.flush()
        await b.commit()
        seen, cursor_after_b = await poll(cursor)
        # B is committed but A, older, is still open: B is held back, not skipped later.
        assert seen == []
        assert cursor_after_b == cursor
        await a.commit()
    seen, cursor = await poll(cursor)
    assert seen == [first, second]
    assert (await poll(cursor))[0] == []


async def test_a_pruned_cursor_is_gone(committed: AsyncEngine) -> None:
    maker = create_sessionmaker(committed)
    async with maker() as db_session:
        _add_unit(db_session)
        await db_session.commit()
    async with maker() as db_session:
        _, old_cursor = await service.read(db_session, None, 100)
    async with maker() as db_session:
        _add_unit(db_session)
        await db_session.commit()
    async with maker() as db_session:
        assert await service.prune(db_session, retention_days=0) == 2
        await db_session.commit()
    async with maker() as db_session:
        with pytest.raises(CursorExpired):
            await service.read(db_session, old_cursor, 100)
        # A new follower (no cursor) starts at the oldest event kept, and keeps its place.
        events, start = await service.read(db_session, None, 100)
        assert events == []
        assert start is not None
    async with maker() as db_session:
        third = _add_unit(db_session)
        await db_session.commit()
    async with maker() as db_session:
        events, _ = await service.read(db_session, start, 100)
        assert [str(e.entity_id) for e in events] == [third]


async def test_the_feed_is_for_the_hr_system(client_for: ClientFor) -> None:
    hr = await client_for(Role.hr_system)
    assert (await hr.get(f"{API}/changes")).status_code == 200
    unit_admin = await client_for(Role.auditor)
    assert (await unit_admin.get(f"{API}/changes", params={"cursor": "!!"})).status_code == 422


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "raw",
    ["99999999999999999999999:1", "1:99999999999999999999999", "9223372036854775808:0", "-2:-1"],
)
async def test_a_cursor_out_of_range_is_422_not_500(client_for: ClientFor, raw: str) -> None:
    hr = await client_for(Role.hr_system)
    r = await hr.get(f"{API}/changes", params={"cursor": _cursor(raw)})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["code"] == "invalid_cursor"


@pytest.mark.parametrize("position", [START, (9223372036854775807, 9223372036854775807)])
async def test_the_start_and_the_largest_positions_are_valid_cursors(
    client_for: ClientFor, position: tuple[int, int]
) -> None:
    assert decode_cursor(encode_cursor(*position)) == position
    hr = await client_for(Role.hr_system)
    r = await hr.get(f"{API}/changes", params={"cursor": encode_cursor(*position)})
    assert r.status_code == 200, r.text
