"""Bulk master-data sync from the HR system."""

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.actor import Actor
from app.cadre import bulk
from app.cadre import repository as cadres
from app.cadre.models import Cadre
from app.clock import local_today
from app.db import create_sessionmaker
from app.enums import CadreStatus, Gender, PostType, Rank, Role
from app.org_unit import repository as org_units
from app.personal_data import cipher
from tests.factories import API, create_cadre, create_org_unit, id_number
from tests.test_platform import assert_problem


def item(hr_id: str, unit_code: str, **fields: Any) -> dict[str, Any]:
    birth = date(1985, 3, 9)
    return {
        "hr_id": hr_id,
        "name": "李四",
        "id_number": id_number(birth),
        "gender": "male",
        "birth_date": birth.isoformat(),
        "org_unit_code": unit_code,
        "rank": "township_section",
        **fields,
    }


async def _sync(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/sync/cadres", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_twice_changes_nothing_the_second_time(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    items = [item(f"S{n:03d}", unit["code"]) for n in range(5)]
    first = await _sync(client, items=items)
    assert first["counts"] == {
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
        "rejected": 0,
    }
    second = await _sync(client, items=items)
    assert second["counts"]["unchanged"] == 5
    listed = await client.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})
    assert len(listed.json()["items"]) == 5
    # The audit trail and the change feed saw the bulk write.
    cadre_id = listed.json()["items"][0]["id"]
    events = (await client.get(f"{API}/audit-events", params={"entity_id": cadre_id})).json()
    assert [e["action"] for e in events["items"]] == ["create"]


async def test_one_bad_row_does_not_sink_the_rest(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    good = item("OK1", unit["code"])
    bad_number = item("BAD1", unit["code"], id_number="34110219850309001X")
    bad_unit = item("BAD2", "NO-SUCH-UNIT")
    report = await _sync(client, items=[good, bad_number, bad_unit, {"hr_id": 7}, good])
    outcomes = [(r["index"], r["outcome"]) for r in report["results"]]
    assert outcomes == [
        (0, "created"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "rejected"),
    ]
    pointers = {r["index"]: r["errors"][0]["pointer"] for r in report["results"] if r["errors"]}
    assert pointers[1] == "/body/items/1/id_number"
    assert pointers[2] == "/body/items/2/org_unit_code"
    assert pointers[3].startswith("/body/items/3/")
    assert pointers[4] == "/body/items/4/hr_id"  # the same hr_id twice in one request


async def test_dry_run_writes_nothing(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    report = await _sync(client, items=[item("DRY1", unit["code"])], dry_run=True)
    assert report["counts"]["created"] == 1
    assert report["dry_run"] is True
    listed = await client.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})
    assert listed.json()["items"] == []


async def test_a_promotion_into_a_leading_post_starts_the_grace_year(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    post = item("PROM1", unit["code"])
    grade = item("PROM2", unit["code"], id_number=id_number(date(1985, 3, 9)))
    await _sync(client, items=[post, grade])
    report = await _sync(
        client,
        items=[
            {**post, "rank": "county_division", "post_type": "leading"},
            {**grade, "rank": "county_division", "post_type": "non_leading"},
        ],
    )
    changed = [r["changed_fields"] for r in report["results"]]
    # Both now state their post type (the first sync left it out).
    assert changed == [
        ["rank", "post_type", "post_type_stated", "promoted_on"],
        ["rank", "post_type_stated"],
    ]
    leader = (await client.get(f"{API}/cadres/by-hr-id/PROM1")).json()
    assert (leader["post_type"], leader["promoted_on"]) == ("leading", local_today().isoformat())
    compliance = (await client.get(f"{API}/cadres/{leader['id']}/compliance")).json()
    assert compliance["five_year"]["status"] == "in_grace"
    # A rise of grade alone (职级) opens no grace year.
    graded = (await client.get(f"{API}/cadres/by-hr-id/PROM2")).json()
    assert (graded["post_type"], graded["promoted_on"]) == ("non_leading", None)
    compliance = (await client.get(f"{API}/cadres/{graded['id']}/compliance")).json()
    assert compliance["five_year"]["status"] == "not_met"
    # The same rows again (post type left out, no date named) change nothing.
    again = await _sync(
        client, items=[{**post, "rank": "county_division"}, grade | {"rank": "county_division"}]
    )
    assert again["counts"]["unchanged"] == 2


async def test_a_truncated_snapshot_is_refused(client: httpx.AsyncClient) -> None:
    county = await create_org_unit(client, kind="county")
    items = [item(f"SNAP{n:02d}", county["code"]) for n in range(10)]
    await _sync(client, items=items)
    half = {"items": items[:5], "mode": "snapshot", "snapshot_of": county["code"]}
    r = await client.post(f"{API}/sync/cadres", json=half)
    body = assert_problem(r, 409, "sync.snapshot_guard")
    assert "5 of 10" in body["detail"]
    still = await client.get(
        f"{API}/cadres", params={"org_unit_id": county["id"], "status": "active"}
    )
    assert len(still.json()["items"]) == 10
    # One missing of ten is within the 10% allowed; forcing takes the rest.
    one_gone = await _sync(client, items=items[:9], mode="snapshot", snapshot_of=county["code"])
    assert one_gone["counts"]["deactivated"] == 1
    forced = await _sync(client, **half, force=True)
    assert forced["counts"]["deactivated"] == 4


async def test_org_units_in_any_order_twice(client: httpx.AsyncClient) -> None:
    items = [
        {"code": "T-TOWN", "name": "半塔镇", "kind": "township", "parent_code": "T-COUNTY"},
        {"code": "T-COUNTY", "name": "来安县", "kind": "county", "parent_code": "T-CITY"},
        {"code": "T-CITY", "name": "滁州市", "kind": "city"},
        {"code": "T-BAD", "name": "x", "kind": "county", "parent_code": "NOWHERE"},
        {"code": "T-CITY", "name": "again", "kind": "city"},
    ]
    r = await client.post(f"{API}/sync/org-units", json={"items": items, "dry_run": True})
    assert r.json()["counts"]["created"] == 3
    assert (await client.get(f"{API}/org-units", params={"code": "T-CITY"})).json()["items"] == []

    r = await client.post(f"{API}/sync/org-units", json={"items": items})
    assert r.status_code == 200, r.text
    outcomes = [(x["index"], x["outcome"]) for x in r.json()["results"]]
    assert outcomes == [
        (0, "created"),
        (1, "created"),
        (2, "created"),
        (3, "rejected"),
        (4, "rejected"),
    ]
    town = (await client.get(f"{API}/org-units", params={"code": "T-TOWN"})).json()["items"][0]
    assert town["depth"] == 2
    again = await client.post(f"{API}/sync/org-units", json={"items": items[:3]})
    assert again.json()["counts"]["unchanged"] == 3
    renamed = await client.post(
        f"{API}/sync/org-units",
        json={"items": [{**items[1], "name": "来安县（新）"}]},
    )
    assert renamed.json()["results"][0]["changed_fields"] == ["name"]


async def test_a_snapshot_row_rejected_for_a_bad_field_keeps_its_cadre(
    client: httpx.AsyncClient,
) -> None:
    county = await create_org_unit(client, kind="county")
    items = [item(f"KEEP{n:02d}", county["code"]) for n in range(10)]
    await _sync(client, items=items)
    typo = [*items[:9], {**items[9], "gender": "unknown"}]
    report = await _sync(client, items=typo, mode="snapshot", snapshot_of=county["code"])
    assert (report["counts"]["rejected"], report["counts"]["deactivated"]) == (1, 0)


def _units(prefix: str, parent: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "code": f"{prefix}{n:02d}",
            "name": f"第{n}乡镇",
            "kind": "township",
            "parent_code": parent,
        }
        for n in range(count)
    ]


async def test_org_unit_snapshot_deactivates_what_it_leaves_out_within_the_guard(
    client: httpx.AsyncClient,
) -> None:
    county = await create_org_unit(client, kind="county")
    towns = _units("OT", county["code"], 20)
    r = await client.post(f"{API}/sync/org-units", json={"items": towns})
    assert r.json()["counts"]["created"] == 20
    # A unit left out that still has an active cadre is reported, never deactivated.
    await _sync(client, items=[item("OTC01", "OT19")])
    snapshot = {"mode": "snapshot", "snapshot_of": county["code"]}

    half = await client.post(f"{API}/sync/org-units", json={"items": towns[:10], **snapshot})
    body = assert_problem(half, 409, "sync.snapshot_guard")
    assert "10 of the 20" in body["detail"]

    dry = await client.post(
        f"{API}/sync/org-units", json={"items": towns[:18], **snapshot, "dry_run": True}
    )
    assert dry.status_code == 200, dry.text
    tail = [(x["index"], x["code"], x["outcome"]) for x in dry.json()["results"][18:]]
    assert tail == [(None, "OT18", "deactivated"), (None, "OT19", "rejected")]
    assert dry.json()["results"][19]["errors"][0]["code"] == "unit_still_in_use"
    active = await client.get(
        f"{API}/org-units", params={"parent_id": county["id"], "active": True, "limit": 100}
    )
    assert len(active.json()["items"]) == 20  # the dry run changed nothing

    real = await client.post(f"{API}/sync/org-units", json={"items": towns[:18], **snapshot})
    assert (real.json()["mode"], real.json()["counts"]["deactivated"]) == ("snapshot", 1)
    gone = (await client.get(f"{API}/org-units", params={"code": "OT18"})).json()["items"][0]
    assert gone["active"] is False
    forced = await client.post(
        f"{API}/sync/org-units", json={"items": towns[:10], **snapshot, "force": True}
    )
    assert forced.json()["counts"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 10,
        "deactivated": 8,
        "rejected": 1,
    }
    # The county itself is the snapshot's scope, not one of its units.
    county_now = (await client.get(f"{API}/org-units/{county['id']}")).json()
    assert county_now["active"] is True


async def test_org_unit_snapshot_needs_a_scope_it_can_see(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/sync/org-units",
        json={"items": [], "mode": "snapshot", "snapshot_of": "NO-SUCH-UNIT"},
    )
    assert_problem(r, 404, "sync.snapshot_scope_not_found")
    r = await client.post(f"{API}/sync/org-units", json={"items": [], "mode": "snapshot"})
    assert_problem(r, 422, "validation_failed")


async def test_org_unit_snapshot_never_leaves_active_units_under_an_inactive_one(
    client: httpx.AsyncClient,
) -> None:
    county = await create_org_unit(client, kind="county")
    town = {"code": "NP-TOWN", "name": "镇", "kind": "township", "parent_code": county["code"]}
    office = {"code": "NP-OFFICE", "name": "办公室", "kind": "department", "parent_code": "NP-TOWN"}
    idle = {"code": "NP-IDLE", "name": "闲置", "kind": "department", "parent_code": "NP-TOWN"}
    await client.post(f"{API}/sync/org-units", json={"items": [town, office, idle]})
    await _sync(client, items=[item("NPC01", "NP-OFFICE")])  # the office has a cadre
    snapshot = {"mode": "snapshot", "snapshot_of": county["code"], "force": True}
    r = await client.post(f"{API}/sync/org-units", json={"items": [], **snapshot})
    assert r.status_code == 200, r.text
    outcomes = {x["code"]: x["outcome"] for x in r.json()["results"]}
    # The office keeps its cadre, so the town above it stays too; the idle office goes.
    assert outcomes == {"NP-IDLE": "deactivated", "NP-OFFICE": "rejected", "NP-TOWN": "rejected"}
    details = {x["code"]: x["errors"][0]["detail"] for x in r.json()["results"] if x["errors"]}
    assert "1 active cadre" in details["NP-OFFICE"]
    assert "active units under it" in details["NP-TOWN"]
    # A unit the snapshot names keeps its parent, which it names as such: nothing to refuse.
    r = await client.post(
        f"{API}/sync/org-units", json={"items": [{**idle, "active": True}], **snapshot}
    )
    outcomes = {x["code"]: x["outcome"] for x in r.json()["results"]}
    assert outcomes == {"NP-IDLE": "updated", "NP-OFFICE": "rejected"}


async def test_org_unit_snapshot_judges_the_tree_the_items_leave(
    client: httpx.AsyncClient,
) -> None:
    county = await create_org_unit(client, kind="county")
    c = county["code"]
    a = {"code": "GP-A", "name": "甲镇", "kind": "township", "parent_code": c}
    b = {"code": "GP-B", "name": "乙镇", "kind": "township", "parent_code": c}
    a1 = {"code": "GP-A1", "name": "甲镇办", "kind": "department", "parent_code": "GP-A"}
    await client.post(f"{API}/sync/org-units", json={"items": [a, b, a1]})
    snapshot = {"mode": "snapshot", "snapshot_of": c, "force": True}
    # The office moves from 甲镇 to 乙镇, and 甲镇 is left out: once the move is made it is
    # empty, so it goes (judged before the move, its office would have kept it).
    moved = {**a1, "parent_code": "GP-B"}
    r = await client.post(f"{API}/sync/org-units", json={"items": [b, moved], **snapshot})
    assert {x["code"]: x["outcome"] for x in r.json()["results"]} == {
        "GP-B": "unchanged",
        "GP-A1": "updated",
        "GP-A": "deactivated",
    }
    # A unit named only as a parent is named: a new office under 乙镇 keeps it.
    new = {"code": "GP-B2", "name": "乙镇新办", "kind": "department", "parent_code": "GP-B"}
    r = await client.post(f"{API}/sync/org-units", json={"items": [new, moved], **snapshot})
    assert {x["code"]: x["outcome"] for x in r.json()["results"]} == {
        "GP-B2": "created",
        "GP-A1": "unchanged",
    }


async def test_the_bulk_reads_and_the_deactivation_take_more_keys_than_a_statement_has_parameters(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # One array parameter for any number of keys: PostgreSQL's protocol carries at most 32,767
    # parameters a statement (a snapshot may deactivate more cadres than that at once).
    unit = await create_org_unit(client)
    other = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    n = 33_000
    hr_ids = [f"NOBODY-{i}" for i in range(n)] + [cadre["hr_id"]]
    ids = [uuid.uuid4() for _ in range(n)] + [uuid.UUID(cadre["id"])]
    admin = Actor(user_id=uuid.uuid4(), username="admin", role=Role.admin)
    async with isolated_sessionmaker() as db_session:
        assert list(await cadres.by_hr_ids(db_session, hr_ids)) == [cadre["hr_id"]]
        assert await cadres.readable_ids_by_hr_id(db_session, hr_ids, admin) == {
            cadre["hr_id"]: uuid.UUID(cadre["id"])
        }
        assert await cadres.in_scope(db_session, ids, admin) == {uuid.UUID(cadre["id"])}
        assert list(await cadres.by_ids(db_session, ids)) == [uuid.UUID(cadre["id"])]
        hashes = [bytes(32)] * n
        assert await cadres.hr_ids_by_id_number_hash(db_session, hashes) == {}
        codes = [f"NO-{i}" for i in range(n)] + [unit["code"]]
        assert await org_units.ids_by_code(db_session, codes, admin) == {
            unit["code"]: uuid.UUID(unit["id"])
        }
        # Only cadres still active in the subtree go: one moved elsewhere meanwhile stays.
        elsewhere = await org_units.get(db_session, uuid.UUID(other["id"]))
        assert elsewhere is not None
        await bulk.deactivate_many(db_session, ids, within=elsewhere.path)
        await db_session.commit()
        r = await client.get(f"{API}/cadres/{cadre['id']}")
        assert r.json()["status"] == "active"
        await bulk.deactivate_many(db_session, ids, within="/")
        await db_session.commit()
    r = await client.get(f"{API}/cadres/{cadre['id']}")
    assert r.json()["status"] == "inactive"


async def _until_waiting_on_a_lock(engine: AsyncEngine, query_start: str) -> None:
    """Return once a backend running a statement that starts with `query_start` waits on a
    lock (the other transaction holds it)."""
    async with engine.connect() as conn:
        for _ in range(2_000):
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE :q"
                ),
                {"q": query_start + "%"},
            )
            await conn.rollback()
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"no {query_start!r} waited on the lock")


async def test_a_sync_that_loses_the_race_to_create_an_hr_id_is_409(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    row = item("RACE-1", unit["code"])
    other = item("RACE-1", unit["code"], id_number=id_number(date(1985, 3, 9), male=False))
    # Another sync (or a PUT by HR id) has created the HR id and not yet committed.
    async with create_sessionmaker(engine)() as first:
        units = await org_units.ids_by_code(
            first, {unit["code"]}, Actor(user_id=uuid.uuid4(), username="a", role=Role.admin)
        )
        birth = date.fromisoformat(other["birth_date"])
        await bulk.insert_many(
            first,
            [
                bulk.Incoming(
                    hr_id="RACE-1",
                    name=other["name"],
                    id_number=other["id_number"],
                    id_number_hash=cipher().lookup_hash(other["id_number"]),
                    gender=Gender.female,
                    birth_date=birth,
                    org_unit_id=units[unit["code"]],
                    rank=Rank.township_section,
                    post_type=None,
                    position=None,
                    promoted_on=None,
                    status=CadreStatus.active,
                )
            ],
        )
        second = asyncio.create_task(client.post(f"{API}/sync/cadres", json={"items": [row]}))
        await _until_waiting_on_a_lock(engine, "COPY")
        await first.commit()
    r = await second
    assert_problem(r, 409, "cadre.hr_id_taken")
    listed = (await client.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})).json()
    assert [(c["hr_id"], c["gender"]) for c in listed["items"]] == [("RACE-1", "female")]


async def test_a_sync_never_overwrites_a_concurrent_change_it_did_not_make(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    row = item("LOST-1", unit["code"])  # no post_type: the sync keeps the cadre's
    await _sync(client, items=[row])
    cadre = (await client.get(f"{API}/cadres/by-hr-id/LOST-1")).json()
    assert cadre["post_type"] == "non_leading"
    # A PATCH of the post type is written and not yet committed when the sync renames the cadre.
    async with create_sessionmaker(engine)() as patch:
        record = await patch.get(Cadre, uuid.UUID(cadre["id"]))
        assert record is not None
        record.post_type = PostType.leading
        await patch.flush()
        sync = asyncio.create_task(
            client.post(f"{API}/sync/cadres", json={"items": [{**row, "name": "李四新"}]})
        )
        await _until_waiting_on_a_lock(engine, "")
        await patch.commit()
    r = await sync
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["changed_fields"] == ["name"]
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert (after["name"], after["post_type"]) == ("李四新", "leading")
