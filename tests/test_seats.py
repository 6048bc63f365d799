"""Audiences, seat quotas, nominations under review and the waitlist (docs/rules.md rule 11)."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.enums import Role
from app.migrations import alembic_config
from tests.conftest import ClientFor, EnglishTransport, add_user, bearer
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem

World = dict[str, Any]


async def city_world(client: httpx.AsyncClient) -> World:
    """A city with its organisation department (the organiser), counties A, B and C, and a
    township under A; a second city elsewhere."""
    city = await create_org_unit(client)
    dept = await create_org_unit(client, city["id"], kind="department", name="市委组织部")
    counties = {
        key: await create_org_unit(client, city["id"], kind="county", name=f"{key}县")
        for key in ("A", "B", "C")
    }
    town = await create_org_unit(client, counties["A"]["id"], kind="township", name="镇")
    other_city = await create_org_unit(client)
    return {"city": city, "dept": dept, **counties, "town": town, "other": other_city}


def audience_url(ts: dict[str, Any]) -> str:
    return f"{API}/training-sessions/{ts['id']}/audience"


async def set_audience(
    client: httpx.AsyncClient, ts: dict[str, Any], units: list[tuple[str, int | None]]
) -> httpx.Response:
    body = {"units": [{"org_unit_id": u, "seat_quota": q} for u, q in units]}
    return await client.put(audience_url(ts), json=body)


async def nominate(client: httpx.AsyncClient, ts: dict[str, Any], cadre_id: str) -> httpx.Response:
    return await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments",
        json={"cadre_id": cadre_id, "origin": "nomination"},
    )


async def seats_taken(client: httpx.AsyncClient, ts: dict[str, Any]) -> int:
    taken: int = (await client.get(f"{API}/training-sessions/{ts['id']}")).json()["enrolled"]
    return taken


# --- visibility --------------------------------------------------------------------------------


async def test_a_city_class_is_visible_to_a_county_admin_and_its_cadres(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """The case of issue 13: 市委组织部 organises, the county is its sibling. By default the class
    is for the whole city, so the county's administrator and cadres see it; another city's do
    not."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"])
    audience = (await client.get(audience_url(ts))).json()
    assert [u["org_unit_id"] for u in audience["units"]] == [w["city"]["id"]]
    cadre = await create_cadre(client, w["town"]["id"])
    viewers = [
        await client_for(Role.org_admin, org_unit_id=w["A"]["id"]),
        await client_for(Role.org_admin, org_unit_id=w["town"]["id"]),
        await client_for(Role.cadre, cadre_id=cadre["id"]),
    ]
    for viewer in viewers:
        assert (await viewer.get(f"{API}/training-sessions/{ts['id']}")).status_code == 200
        listed = (await viewer.get(f"{API}/training-sessions")).json()["items"]
        assert ts["id"] in {s["id"] for s in listed}
    stranger = await client_for(Role.org_admin, org_unit_id=w["other"]["id"])
    assert (await stranger.get(f"{API}/training-sessions/{ts['id']}")).status_code == 404


async def test_a_county_class_is_the_county_s_own_by_default(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Only a department's class is for the unit above it: a county's class is for its own
    subtree, so its sibling counties neither see it nor nominate into it."""
    w = await city_world(client)
    ts = await create_session(client, w["A"]["id"])
    audience = (await client.get(audience_url(ts))).json()
    assert [u["org_unit_id"] for u in audience["units"]] == [w["A"]["id"]]
    url = f"{API}/training-sessions/{ts['id']}"
    sibling = await client_for(Role.org_admin, org_unit_id=w["B"]["id"])
    town = await client_for(Role.org_admin, org_unit_id=w["town"]["id"])
    expected = {sibling: 404, town: 200}
    assert {c: (await c.get(url)).status_code for c in expected} == expected
    r = await nominate(client, ts, (await create_cadre(client, w["B"]["id"]))["id"])
    assert_problem(r, 409, "enrollment.outside_audience")


async def test_the_audience_decides_who_sees_the_class(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Narrowed to county A's township: A's administrator sees it (an audience unit inside its
    subtree), B's does not; a cadre of A outside the township does not either. The organiser
    always does."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"])
    assert (await set_audience(client, ts, [(w["town"]["id"], None)])).status_code == 200
    url = f"{API}/training-sessions/{ts['id']}"
    a_admin = await client_for(Role.org_admin, org_unit_id=w["A"]["id"])
    b_admin = await client_for(Role.org_admin, org_unit_id=w["B"]["id"])
    organiser = await client_for(Role.org_admin, org_unit_id=w["dept"]["id"])
    a_cadre = await client_for(
        Role.cadre, cadre_id=(await create_cadre(client, w["A"]["id"]))["id"]
    )
    town_cadre = await client_for(
        Role.cadre, cadre_id=(await create_cadre(client, w["town"]["id"]))["id"]
    )
    expected = {a_admin: 200, b_admin: 404, organiser: 200, a_cadre: 404, town_cadre: 200}
    assert {c: (await c.get(url)).status_code for c in expected} == expected


# --- audience and quotas -----------------------------------------------------------------------


async def test_quotas_fit_the_capacity_and_the_seats_held(client: httpx.AsyncClient) -> None:
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=10)
    a, b, c = w["A"]["id"], w["B"]["id"], w["C"]["id"]
    # 3 + 3 + 5 = 11 > 10; 3 + 3 + 4 = 10 is exactly the capacity.
    r = await set_audience(client, ts, [(a, 3), (b, 3), (c, 5)])
    assert_problem(r, 409, "training_session.quotas_exceed_capacity")
    r = await set_audience(client, ts, [(a, 3), (b, 3), (c, 4)])
    assert r.status_code == 200, r.text
    assert r.headers["etag"] != ts["version"]
    for _ in range(2):
        assert (
            await nominate(client, ts, (await create_cadre(client, a))["id"])
        ).status_code == 201
    got = {u["org_unit_id"]: (u["seat_quota"], u["seats_taken"]) for u in r.json()["units"]}
    assert got == {a: (3, 0), b: (3, 0), c: (4, 0)}
    got = {
        u["org_unit_id"]: (u["seat_quota"], u["seats_taken"])
        for u in (await client.get(audience_url(ts))).json()["units"]
    }
    assert got == {a: (3, 2), b: (3, 0), c: (4, 0)}
    # A holds 2: its quota may go down to 2, not to 1; nor may A leave the audience.
    r = await set_audience(client, ts, [(a, 1), (b, 3), (c, 4)])
    assert_problem(r, 409, "training_session.quota_below_seats")
    r = await set_audience(client, ts, [(b, 3), (c, 4)])
    assert_problem(r, 409, "training_session.quota_below_seats")
    assert (await set_audience(client, ts, [(a, 2), (b, 3), (c, 5)])).status_code == 200
    # The capacity may not go below the sum of the quotas (10) any more.
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"capacity": 9})
    assert_problem(r, 409, "training_session.quotas_exceed_capacity")
    # Another city's unit is out of reach.
    r = await set_audience(client, ts, [(w["other"]["id"], None)])
    # An admin's scope is the whole tree: an admin may name it; an organiser may not (below).
    assert r.status_code == 409  # A still holds seats and would leave the audience
    assert_problem(r, 409, "training_session.quota_below_seats")


async def test_only_the_organiser_sets_the_audience(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=10)
    county = await client_for(Role.org_admin, org_unit_id=w["A"]["id"])
    r = await set_audience(county, ts, [(w["A"]["id"], 10)])
    assert_problem(r, 403, "training_session.not_organiser")
    organiser = await client_for(Role.org_admin, org_unit_id=w["dept"]["id"])
    r = await set_audience(organiser, ts, [(w["other"]["id"], None)])
    assert_problem(r, 422, "training_session.audience_out_of_reach")
    assert r.json()["errors"][0]["pointer"] == "/body/units/0/org_unit_id"
    # Counties of its own city are in reach, though outside its subtree.
    stale = {"If-Match": f'"{ts["version"]}"'}
    r = await organiser.put(
        audience_url(ts), json={"units": [{"org_unit_id": w["A"]["id"]}]}, headers=stale
    )
    assert r.status_code == 200, r.text
    r = await organiser.put(
        audience_url(ts), json={"units": [{"org_unit_id": w["B"]["id"]}]}, headers=stale
    )
    assert_problem(r, 412, "precondition_failed")


# Seat accounting, hand-computed. Audience A, B, C with the quotas given (None: no quota); each
# step nominates a new cadre of the unit named; the outcome is the status, or the problem code.
SEAT_CASES = [
    pytest.param(
        10,
        {"A": 2, "B": None},
        ["A", "A", "A", "B"],
        ["nominated", "nominated", "enrollment.quota_reached", "nominated"],
        3,
        id="quota-exactly-reached",
    ),
    pytest.param(
        3,
        {"A": None, "B": None},
        ["A", "B", "A", "B", "A"],
        ["nominated", "nominated", "nominated", "waitlisted:1", "waitlisted:2"],
        3,
        id="capacity-exactly-reached",
    ),
    pytest.param(
        10,
        {"A": 3, "B": 3, "C": 4},
        ["A"] * 4 + ["B"] * 3 + ["C"] * 5,
        ["nominated"] * 3
        + ["enrollment.quota_reached"]
        + ["nominated"] * 3
        + ["nominated"] * 4
        + ["enrollment.quota_reached"],
        10,
        id="quotas-add-up-to-capacity",
    ),
    pytest.param(
        4,
        {"A": 2, "B": None},
        ["B", "B", "B", "A", "A", "A"],
        ["nominated"] * 4 + ["waitlisted:1", "waitlisted:2"],
        4,
        # A's quota counts seats held: waiting A cadres do not use it up.
        id="full-with-quota-left-waitlists",
    ),
    pytest.param(
        5,
        {"A": 0, "B": None},
        ["A", "B"],
        ["enrollment.quota_reached", "nominated"],
        1,
        id="zero-quota",
    ),
]


@pytest.mark.parametrize(("capacity", "quotas", "steps", "outcomes", "taken"), SEAT_CASES)
async def test_seat_accounting(
    client: httpx.AsyncClient,
    capacity: int,
    quotas: dict[str, int | None],
    steps: list[str],
    outcomes: list[str],
    taken: int,
) -> None:
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=capacity)
    r = await set_audience(client, ts, [(w[k]["id"], q) for k, q in quotas.items()])
    assert r.status_code == 200, r.text
    seen = []
    for key in steps:
        r = await nominate(client, ts, (await create_cadre(client, w[key]["id"]))["id"])
        body = r.json()
        if r.status_code == 201:
            position = body["waitlist_position"]
            seen.append(body["status"] + (f":{position}" if position else ""))
            assert body["audience_org_unit_id"] == w[key]["id"]
        else:
            seen.append(assert_problem(r, 409, body["code"])["code"])
    assert seen == outcomes
    assert await seats_taken(client, ts) == taken


async def test_the_deepest_audience_unit_counts(client: httpx.AsyncClient) -> None:
    """A township cadre counts against the township's quota when both the township and its
    county are in the audience; a county cadre against the county's."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=10)
    await set_audience(client, ts, [(w["A"]["id"], 5), (w["town"]["id"], 1)])
    r = await nominate(client, ts, (await create_cadre(client, w["town"]["id"]))["id"])
    assert r.json()["audience_org_unit_id"] == w["town"]["id"]
    r = await nominate(client, ts, (await create_cadre(client, w["town"]["id"]))["id"])
    assert_problem(r, 409, "enrollment.quota_reached")
    r = await nominate(client, ts, (await create_cadre(client, w["A"]["id"]))["id"])
    assert r.json()["audience_org_unit_id"] == w["A"]["id"]
    r = await nominate(client, ts, (await create_cadre(client, w["B"]["id"]))["id"])
    assert_problem(r, 409, "enrollment.outside_audience")


# --- nominations and their review --------------------------------------------------------------


async def test_a_unit_nominates_and_the_organiser_reviews(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=5)
    await set_audience(client, ts, [(w["A"]["id"], 2), (w["B"]["id"], 3)])
    county = await client_for(Role.org_admin, org_unit_id=w["A"]["id"])
    organiser = await client_for(Role.org_admin, org_unit_id=w["dept"]["id"])
    cadres = [(await create_cadre(client, w["A"]["id"]))["id"] for _ in range(3)]
    b_cadre = (await create_cadre(client, w["B"]["id"]))["id"]

    # The county nominates its own cadres, not B's; it may not call the roll.
    first = (await nominate(county, ts, cadres[0])).json()
    assert (first["status"], first["origin"]) == ("nominated", "nomination")
    assert first["nominated_by_org_unit_id"] == w["A"]["id"]
    assert (await nominate(county, ts, b_cadre)).status_code == 422
    roll_call = await county.post(
        f"{API}/training-sessions/{ts['id']}/enrollments",
        json={"cadre_id": cadres[1], "origin": "roll_call"},
    )
    assert_problem(roll_call, 403, "training_session.not_organiser")
    second = (await nominate(county, ts, cadres[1])).json()

    review = f"{API}/enrollments/{first['id']}/review"
    # The county may not review; a rejection needs a reason.
    assert_problem(
        await county.post(review, json={"action": "approve"}), 403, "training_session.not_organiser"
    )
    r = await organiser.post(review, json={"action": "reject"})
    assert_problem(r, 422, "validation_failed")
    r = await organiser.post(review, json={"action": "approve"}, headers={"If-Match": '"99"'})
    assert_problem(r, 412, "precondition_failed")
    approved = (await organiser.post(review, json={"action": "approve"})).json()
    assert approved["status"] == "enrolled"
    assert_problem(
        await organiser.post(review, json={"action": "reject", "reason": "晚了"}),
        409,
        "enrollment.invalid_transition",
    )

    # A substitute: the seat stays with the unit, and the replacement takes it.
    asked = await organiser.post(
        f"{API}/enrollments/{second['id']}/review",
        json={"action": "request_substitute", "reason": "岗位不符"},
    )
    assert (asked.json()["status"], asked.json()["review_reason"]) == (
        "substitute_requested",
        "岗位不符",
    )
    assert await seats_taken(client, ts) == 2
    r = await nominate(county, ts, cadres[2])
    assert_problem(r, 409, "enrollment.quota_reached")  # A's 2 seats are both held
    r = await county.post(
        f"{API}/training-sessions/{ts['id']}/enrollments",
        json={
            "cadre_id": cadres[2],
            "origin": "nomination",
            "replaces_enrollment_id": second["id"],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "nominated"
    replaced = (await client.get(f"{API}/enrollments/{second['id']}")).json()
    assert replaced["status"] == "withdrawn"
    assert await seats_taken(client, ts) == 2

    # A rejection frees the seat.
    r = await organiser.post(
        f"{API}/enrollments/{r.json()['id']}/review",
        json={"action": "reject", "reason": "不符合条件"},
    )
    assert r.json()["status"] == "rejected"
    assert await seats_taken(client, ts) == 1


async def test_who_may_nominate_and_enroll_itself(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=5)
    cadre = await create_cadre(client, w["A"]["id"])
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    r = await me.post(url, json={"cadre_id": cadre["id"], "origin": "nomination"})
    assert_problem(r, 422, "field_not_allowed")
    r = await client.post(
        url, json={"cadre_id": cadre["id"], "replaces_enrollment_id": str(uuid.uuid4())}
    )
    assert_problem(r, 422, "field_not_allowed")
    assert r.json()["errors"][0]["pointer"] == "/body/replaces_enrollment_id"
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"self_enrollment": False})
    assert r.json()["self_enrollment"] is False
    r = await me.post(url, json={"cadre_id": cadre["id"], "origin": "self"})
    assert_problem(r, 409, "enrollment.self_enrollment_off")
    await client.patch(f"{API}/training-sessions/{ts['id']}", json={"self_enrollment": True})
    r = await me.post(url, json={"cadre_id": cadre["id"], "origin": "self"})
    assert (r.status_code, r.json()["status"]) == (201, "enrolled")


async def _in_state(client: httpx.AsyncClient, state: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A session of capacity 1 holding one nomination, and an enrollment brought to `state`."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=1)
    first = (await nominate(client, ts, (await create_cadre(client, w["A"]["id"]))["id"])).json()
    if state == "waitlisted":
        second = await nominate(client, ts, (await create_cadre(client, w["A"]["id"]))["id"])
        return ts, second.json()
    review = f"{API}/enrollments/{first['id']}/review"
    steps = {
        "nominated": [],
        "enrolled": [("review", {"action": "approve"})],
        "substitute_requested": [("review", {"action": "request_substitute", "reason": "换人"})],
        "rejected": [("review", {"action": "reject", "reason": "不符"})],
        "withdrawn": [("patch", {"status": "withdrawn"})],
    }[state]
    for kind, body in steps:
        if kind == "review":
            r = await client.post(review, json=body)
        else:
            r = await client.patch(f"{API}/enrollments/{first['id']}", json=body)
        assert r.status_code == 200, r.text
    return ts, (await client.get(f"{API}/enrollments/{first['id']}")).json()


# (state, action) → the new status and the seats held after it, or the problem code.
REVIEWS = [
    ("nominated", "approve", "enrolled", 1),
    ("nominated", "reject", "rejected", 0),
    ("nominated", "request_substitute", "substitute_requested", 1),
    ("substitute_requested", "approve", "enrolled", 1),
    ("substitute_requested", "reject", "rejected", 0),
    ("substitute_requested", "request_substitute", "enrollment.invalid_transition", 1),
    ("enrolled", "approve", "enrollment.invalid_transition", 1),
    ("enrolled", "reject", "enrollment.invalid_transition", 1),
    ("waitlisted", "approve", "enrollment.invalid_transition", 1),
    ("rejected", "approve", "enrollment.invalid_transition", 0),
    ("withdrawn", "reject", "enrollment.invalid_transition", 0),
]


@pytest.mark.parametrize(("state", "action", "outcome", "taken"), REVIEWS)
async def test_review_transitions(
    client: httpx.AsyncClient, state: str, action: str, outcome: str, taken: int
) -> None:
    ts, enrollment = await _in_state(client, state)
    assert enrollment["status"] == state
    body = {"action": action, "reason": "审核意见"}
    r = await client.post(f"{API}/enrollments/{enrollment['id']}/review", json=body)
    if "." in outcome:
        assert_problem(r, 409, outcome)
    else:
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["review_reason"]) == (outcome, "审核意见")
    assert await seats_taken(client, ts) == taken


# (state, PATCH status) → the new status and the seats held after it, or the problem code.
PATCHES = [
    ("nominated", "withdrawn", "withdrawn", 0),
    ("substitute_requested", "withdrawn", "withdrawn", 0),
    ("waitlisted", "withdrawn", "withdrawn", 1),
    ("nominated", "confirmed", "enrollment.invalid_transition", 1),
    ("nominated", "enrolled", "enrollment.invalid_transition", 1),
    ("rejected", "withdrawn", "enrollment.invalid_transition", 0),
    ("withdrawn", "enrolled", "enrollment.invalid_transition", 0),  # a nomination comes back anew
    ("enrolled", "confirmed", "confirmed", 1),
]


@pytest.mark.parametrize(("state", "status", "outcome", "taken"), PATCHES)
async def test_status_changes_of_nominations(
    client: httpx.AsyncClient, state: str, status: str, outcome: str, taken: int
) -> None:
    ts, enrollment = await _in_state(client, state)
    r = await client.patch(f"{API}/enrollments/{enrollment['id']}", json={"status": status})
    if "." in outcome:
        assert_problem(r, 409, outcome)
    else:
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["waitlist_position"]) == (outcome, None)
    assert await seats_taken(client, ts) == taken


# --- the waitlist ------------------------------------------------------------------------------


async def _feed_of(db_conn: AsyncConnection, enrollment_id: str) -> list[tuple[str, Any]]:
    rows = await db_conn.execute(
        text("SELECT action, changes FROM change_event WHERE entity_id = :id ORDER BY id"),
        {"id": uuid.UUID(enrollment_id)},
    )
    return [(a, c) for a, c in rows.all()]


async def test_the_waitlist_moves_in_order_within_the_quotas(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    """Capacity 2, A's quota 2, B without one. a1, b1 take the seats; a2 then b2 wait (1, 2).
    A's quota goes down to 1. b1 withdraws: a2 comes first but A is at its quota, so b2 takes
    the seat and a2 keeps its place. a1 is rejected: a2 takes that seat. Each promotion is an
    update of the enrollment, in the trail and the change feed."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=2)
    a, b = w["A"]["id"], w["B"]["id"]
    await set_audience(client, ts, [(a, 2), (b, None)])
    order = [a, b, a, b]
    e = [(await nominate(client, ts, (await create_cadre(client, u))["id"])).json() for u in order]
    a1, b1, a2, b2 = e
    assert [x["status"] for x in e] == ["nominated", "nominated", "waitlisted", "waitlisted"]
    assert (a2["waitlist_position"], b2["waitlist_position"]) == (1, 2)
    assert (await set_audience(client, ts, [(a, 1), (b, None)])).status_code == 200

    r = await client.patch(f"{API}/enrollments/{b1['id']}", json={"status": "withdrawn"})
    assert r.json()["status"] == "withdrawn"

    async def state(x: dict[str, Any]) -> tuple[str, int | None]:
        got = (await client.get(f"{API}/enrollments/{x['id']}")).json()
        return got["status"], got["waitlist_position"]

    assert [await state(x) for x in (a2, b2)] == [("waitlisted", 1), ("nominated", None)]
    assert await seats_taken(client, ts) == 2
    await client.post(
        f"{API}/enrollments/{a1['id']}/review", json={"action": "reject", "reason": "名额调整"}
    )
    assert await state(a2) == ("nominated", None)
    assert await seats_taken(client, ts) == 2
    feed = await _feed_of(db_conn, a2["id"])
    assert feed[-1] == (
        "update",
        {
            "status": {"before": "waitlisted", "after": "nominated"},
            "waitlist_position": {"before": 1, "after": None},
        },
    )
    audited = await db_conn.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE entity_id = :id AND action = 'update' "
            "AND changes -> 'status' ->> 'after' = 'nominated'"
        ),
        {"id": uuid.UUID(a2["id"])},
    )
    assert audited == 1


async def test_a_raised_quota_lets_the_waitlist_move(client: httpx.AsyncClient) -> None:
    """Capacity 3, A's quota 2: a1, a2 take their seats; B's b1 takes the third. b1 withdraws:
    the waiting a3 stays (A is at its quota) and a seat is free. Raising A's quota to 3 seats
    a3 at once."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=3)
    a, b = w["A"]["id"], w["B"]["id"]
    await set_audience(client, ts, [(a, 3), (b, None)])
    e = [
        (await nominate(client, ts, (await create_cadre(client, u))["id"])).json()
        for u in (a, a, b, a)
    ]
    assert [x["status"] for x in e] == ["nominated", "nominated", "nominated", "waitlisted"]
    await set_audience(client, ts, [(a, 2), (b, None)])
    await client.patch(f"{API}/enrollments/{e[2]['id']}", json={"status": "withdrawn"})
    assert (await client.get(f"{API}/enrollments/{e[3]['id']}")).json()["status"] == "waitlisted"
    assert await seats_taken(client, ts) == 2
    r = await set_audience(client, ts, [(a, 3), (b, None)])
    assert {u["org_unit_id"]: u["seats_taken"] for u in r.json()["units"]} == {a: 3, b: 0}
    assert r.json()["seats_taken"] == 3
    assert (await client.get(f"{API}/enrollments/{e[3]['id']}")).json()["status"] == "nominated"


async def test_leaving_the_waitlist_and_self_enrollment_waiting(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """A cadre enrolling itself in a full session waits; withdrawing from the waitlist frees no
    seat; a roll call into a full session is refused, as before."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=1)
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    seated = (
        await client.post(url, json={"cadre_id": (await create_cadre(client, w["A"]["id"]))["id"]})
    ).json()
    cadres = [await create_cadre(client, w["B"]["id"]) for _ in range(2)]
    waiting = []
    for cadre in cadres:
        me = await client_for(Role.cadre, cadre_id=cadre["id"])
        r = await me.post(url, json={"cadre_id": cadre["id"], "origin": "self"})
        waiting.append(r.json())
    assert [(x["status"], x["waitlist_position"]) for x in waiting] == [
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    r = await client.post(url, json={"cadre_id": (await create_cadre(client, w["A"]["id"]))["id"]})
    assert_problem(r, 409, "enrollment.session_full")
    r = await client.patch(f"{API}/enrollments/{waiting[0]['id']}", json={"status": "withdrawn"})
    assert (r.json()["status"], r.json()["waitlist_position"]) == ("withdrawn", None)
    assert await seats_taken(client, ts) == 1
    await client.patch(f"{API}/enrollments/{seated['id']}", json={"status": "withdrawn"})
    promoted = (await client.get(f"{API}/enrollments/{waiting[1]['id']}")).json()
    assert (promoted["status"], promoted["waitlist_position"]) == ("enrolled", None)
    assert await seats_taken(client, ts) == 1


async def test_a_withdrawn_or_rejected_cadre_is_nominated_again(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """The loop of issue 13: quota → nominate → review → nominate again. A withdrawn nomination
    and a rejected one come back by nominating the cadre again, on the same enrollment, which
    starts over: nominated (or waitlisted), counted against its unit's quota, no review
    reason. A cadre holding a seat is not nominated twice."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=2)
    await set_audience(client, ts, [(w["A"]["id"], 1), (w["B"]["id"], None)])
    county = await client_for(Role.org_admin, org_unit_id=w["A"]["id"])
    cadre = await create_cadre(client, w["A"]["id"])
    first = (await nominate(county, ts, cadre["id"])).json()
    assert_problem(await nominate(county, ts, cadre["id"]), 409, "enrollment.already_enrolled")
    await county.patch(f"{API}/enrollments/{first['id']}", json={"status": "withdrawn"})
    r = await client.patch(f"{API}/enrollments/{first['id']}", json={"status": "enrolled"})
    assert_problem(r, 409, "enrollment.invalid_transition")
    assert "nominates the cadre again" in r.json()["detail"]
    r = await nominate(county, ts, cadre["id"])
    assert r.status_code == 201, r.text
    assert (r.json()["id"], r.json()["status"]) == (first["id"], "nominated")
    assert await seats_taken(client, ts) == 1
    r = await client.post(
        f"{API}/enrollments/{first['id']}/review", json={"action": "reject", "reason": "不符"}
    )
    assert r.json()["status"] == "rejected"
    # A's one seat went to another cadre meanwhile: the new nomination counts against it.
    other = (await nominate(county, ts, (await create_cadre(client, w["A"]["id"]))["id"])).json()
    assert_problem(await nominate(county, ts, cadre["id"]), 409, "enrollment.quota_reached")
    await county.patch(f"{API}/enrollments/{other['id']}", json={"status": "withdrawn"})
    r = await nominate(county, ts, cadre["id"])
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["id"], got["status"], got["review_reason"]) == (first["id"], "nominated", None)
    assert got["audience_org_unit_id"] == w["A"]["id"]
    assert await seats_taken(client, ts) == 1


@pytest.mark.parametrize(("capacity", "newcomer"), [(2, "waitlisted"), (3, "nominated")])
async def test_a_raised_capacity_seats_the_waitlist_before_a_newcomer(
    client: httpx.AsyncClient, capacity: int, newcomer: str
) -> None:
    """Capacity 1: x holds the seat, y waits. The capacity is raised: the next nomination seats
    y first, in order; the newcomer takes a seat only if one is still free."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=1)
    x, y = [
        (await nominate(client, ts, (await create_cadre(client, w["A"]["id"]))["id"])).json()
        for _ in range(2)
    ]
    assert (x["status"], y["status"]) == ("nominated", "waitlisted")
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"capacity": capacity})
    assert r.status_code == 200, r.text
    z = (await nominate(client, ts, (await create_cadre(client, w["B"]["id"]))["id"])).json()
    assert (await client.get(f"{API}/enrollments/{y['id']}")).json()["status"] == "nominated"
    assert z["status"] == newcomer
    assert await seats_taken(client, ts) == min(capacity, 3)


async def _self_enrolled(
    client: httpx.AsyncClient, client_for: ClientFor, ts: dict[str, Any], unit: str
) -> dict[str, Any]:
    cadre = await create_cadre(client, unit)
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    r = await me.post(
        f"{API}/training-sessions/{ts['id']}/enrollments",
        json={"cadre_id": cadre["id"], "origin": "self"},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_re_enrollment_is_placed_again(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """A self-enrollment withdrawn, then PATCHed back to `enrolled`, is placed as a new one
    would be: B got a quota of 1 meanwhile, which b2 holds, so b1 counts against B (not the
    city it counted against before) and is refused."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=5)
    b1 = await _self_enrolled(client, client_for, ts, w["B"]["id"])
    assert b1["audience_org_unit_id"] == w["city"]["id"]
    e_url = f"{API}/enrollments/{b1['id']}"
    await client.patch(e_url, json={"status": "withdrawn"})
    r = await set_audience(client, ts, [(w["city"]["id"], None), (w["B"]["id"], 1)])
    assert r.status_code == 200, r.text
    await _self_enrolled(client, client_for, ts, w["B"]["id"])
    r = await client.patch(e_url, json={"status": "enrolled"})
    assert_problem(r, 409, "enrollment.quota_reached")
    await set_audience(client, ts, [(w["city"]["id"], None), (w["B"]["id"], 2)])
    r = await client.patch(e_url, json={"status": "enrolled"})
    got = r.json()
    assert (got["status"], got["audience_org_unit_id"]) == ("enrolled", w["B"]["id"])
    assert await seats_taken(client, ts) == 2


async def test_a_re_enrollment_follows_the_self_enrollment_switch(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=5)
    e_url = (
        f"{API}/enrollments/{(await _self_enrolled(client, client_for, ts, w['A']['id']))['id']}"
    )
    await client.patch(e_url, json={"status": "withdrawn"})
    await client.patch(f"{API}/training-sessions/{ts['id']}", json={"self_enrollment": False})
    r = await client.patch(e_url, json={"status": "enrolled"})
    assert_problem(r, 409, "enrollment.self_enrollment_off")
    await client.patch(f"{API}/training-sessions/{ts['id']}", json={"self_enrollment": True})
    assert (await client.patch(e_url, json={"status": "enrolled"})).json()["status"] == "enrolled"


async def test_a_re_enrollment_into_a_full_session_waits_its_turn(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Capacity 2, both seats held: a self-enrollment re-enrolled waits, as a new one would. The
    capacity raised to 4, a roll call re-enrolled finds the waiting one seated before it."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=2)
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    roll_call = (
        await client.post(url, json={"cadre_id": (await create_cadre(client, w["A"]["id"]))["id"]})
    ).json()
    r_url = f"{API}/enrollments/{roll_call['id']}"
    await client.patch(r_url, json={"status": "withdrawn"})
    b1 = await _self_enrolled(client, client_for, ts, w["B"]["id"])
    e_url = f"{API}/enrollments/{b1['id']}"
    await client.patch(e_url, json={"status": "withdrawn"})
    for _ in range(2):
        await _self_enrolled(client, client_for, ts, w["A"]["id"])
    r = await client.patch(e_url, json={"status": "enrolled"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "waitlisted"
    assert r.json()["waitlist_position"] is not None
    assert await seats_taken(client, ts) == 2
    await client.patch(f"{API}/training-sessions/{ts['id']}", json={"capacity": 4})
    r = await client.patch(r_url, json={"status": "enrolled"})
    assert r.json()["status"] == "enrolled"
    got = (await client.get(e_url)).json()
    assert (got["status"], got["waitlist_position"]) == ("enrolled", None)
    assert await seats_taken(client, ts) == 4


async def test_a_re_enrollment_outside_the_audience_is_refused(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """The cadre's unit left the audience while it was withdrawn: it comes back no more than a
    new self-enrollment would (its stored audience unit no longer counts)."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=5)
    await set_audience(client, ts, [(w["A"]["id"], None), (w["B"]["id"], 1)])
    cadre = await create_cadre(client, w["B"]["id"])
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    r = await me.post(
        f"{API}/training-sessions/{ts['id']}/enrollments",
        json={"cadre_id": cadre["id"], "origin": "self"},
    )
    e_url = f"{API}/enrollments/{r.json()['id']}"
    await client.patch(e_url, json={"status": "withdrawn"})
    assert (await set_audience(client, ts, [(w["A"]["id"], None)])).status_code == 200
    r = await client.patch(e_url, json={"status": "enrolled"})
    assert_problem(r, 409, "enrollment.outside_audience")
    assert await seats_taken(client, ts) == 0


async def test_origin_follows_the_caller_when_omitted(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Without `origin`: the organiser calls the roll, a county's administrator nominates (as
    it enrolled before, now under review), a cadre enrolls itself."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=5)
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    organiser = await client_for(Role.org_admin, org_unit_id=w["dept"]["id"])
    county = await client_for(Role.org_admin, org_unit_id=w["A"]["id"])
    cadre = await create_cadre(client, w["A"]["id"])
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    expected = {
        organiser: (w["dept"]["id"], "roll_call", "enrolled"),
        county: (w["A"]["id"], "nomination", "nominated"),
    }
    for caller, (unit, *outcome) in expected.items():
        r = await caller.post(url, json={"cadre_id": (await create_cadre(client, unit))["id"]})
        assert r.status_code == 201, r.text
        assert [r.json()["origin"], r.json()["status"]] == outcome
    r = await me.post(url, json={"cadre_id": cadre["id"]})
    assert (r.status_code, r.json()["origin"], r.json()["status"]) == (201, "self", "enrolled")


async def test_a_replacement_comes_from_the_same_unit(client: httpx.AsyncClient) -> None:
    """The seat kept for a substitute is its unit's: a cadre of another audience unit does not
    take it."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=5)
    await set_audience(client, ts, [(w["A"]["id"], 1), (w["B"]["id"], None)])
    first = (await nominate(client, ts, (await create_cadre(client, w["A"]["id"]))["id"])).json()
    await client.post(
        f"{API}/enrollments/{first['id']}/review",
        json={"action": "request_substitute", "reason": "换人"},
    )
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    body = {"origin": "nomination", "replaces_enrollment_id": first["id"]}
    r = await client.post(
        url, json={**body, "cadre_id": (await create_cadre(client, w["B"]["id"]))["id"]}
    )
    assert_problem(r, 409, "enrollment.not_replaceable")
    r = await client.post(
        url, json={**body, "cadre_id": (await create_cadre(client, w["A"]["id"]))["id"]}
    )
    assert (r.status_code, r.json()["status"]) == (201, "nominated")
    assert await seats_taken(client, ts) == 1


# --- bulk nomination ---------------------------------------------------------------------------


async def test_bulk_nomination_answers_row_by_row(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Capacity 3; A's quota 2, B none. Rows: a1, a2 nominated; a3 over A's quota; b1 takes the
    last seat; b2 waits; a1 again is already enrolled; an unknown cadre; a cadre of C, outside
    the audience."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=3)
    await set_audience(client, ts, [(w["A"]["id"], 2), (w["B"]["id"], None)])
    a1, a2, a3 = [(await create_cadre(client, w["A"]["id"]))["id"] for _ in range(3)]
    b1, b2 = [(await create_cadre(client, w["B"]["id"]))["id"] for _ in range(2)]
    c1 = (await create_cadre(client, w["C"]["id"]))["id"]
    unknown = str(uuid.uuid4())
    ids = [a1, a2, a3, b1, b2, a1, unknown, c1]
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/nominations", json={"cadre_ids": ids}
    )
    assert r.status_code == 200, r.text
    report = r.json()
    rows = [
        (row["index"], row["outcome"], row["code"], row["waitlist_position"])
        for row in report["rows"]
    ]
    assert rows == [
        (0, "created", None, None),
        (1, "created", None, None),
        (2, "refused", "enrollment.quota_reached", None),
        (3, "created", None, None),
        (4, "waitlisted", None, 1),
        (5, "refused", "enrollment.already_enrolled", None),
        (6, "refused", "cadre.reference_not_found", None),
        (7, "refused", "enrollment.outside_audience", None),
    ]
    assert (report["created"], report["waitlisted"], report["refused"]) == (3, 1, 4)
    assert all(row["enrollment_id"] for row in report["rows"] if row["outcome"] != "refused")
    assert await seats_taken(client, ts) == 3
    # The rows speak the caller's language, as a problem answer does.
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/nominations",
        json={"cadre_ids": [a3, str(uuid.uuid4())]},
        headers={"Accept-Language": "zh-CN"},
    )
    assert [row["detail"] for row in r.json()["rows"]] == [
        "该单位的 2 个名额已全部占用。",
        "引用的干部不存在",
    ]
    # A county's administrator nominates its own cadres only: B's are unknown to it.
    county = await client_for(Role.org_admin, org_unit_id=w["A"]["id"])
    other = await create_cadre(client, w["B"]["id"])
    r = await county.post(
        f"{API}/training-sessions/{ts['id']}/nominations", json={"cadre_ids": [other["id"]]}
    )
    assert r.json()["rows"][0]["code"] == "cadre.reference_not_found"
    # A closed door is the whole batch's answer.
    await client.patch(f"{API}/training-sessions/{ts['id']}", json={"status": "running"})
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/nominations", json={"cadre_ids": [b2]}
    )
    assert_problem(r, 409, "enrollment.session_not_open")


# --- concurrency -------------------------------------------------------------------------------


async def _county_admins(
    app: FastAPI, settings: Settings, units: list[str]
) -> list[httpx.AsyncClient]:
    """A committed org_admin for each unit, each with its own client: their requests run in
    parallel over separate connections of the pool."""
    transport = EnglishTransport(app=app, raise_app_exceptions=False)
    clients = []
    for unit in units:
        user = await add_user(app.state.sessionmaker, Role.org_admin, org_unit_id=unit)
        clients.append(
            httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=bearer(settings, user)
            )
        )
    return clients


async def _fifty_parallel_nominations(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    capacity: int,
    quota: int | None,
) -> tuple[dict[str, Any], list[tuple[int, str, Any]], list[str]]:
    """Five counties of a city, ten cadres each, every county's administrator nominating its
    ten at once: 50 requests in parallel."""
    city = await create_org_unit(client)
    dept = await create_org_unit(client, city["id"], kind="department")
    counties = [(await create_org_unit(client, city["id"], kind="county"))["id"] for _ in range(5)]
    ts = await create_session(client, dept["id"], capacity=capacity)
    r = await set_audience(client, ts, [(c, quota) for c in counties])
    assert r.status_code == 200, r.text
    admins = await _county_admins(app, settings, counties)
    jobs = []
    for county, admin in zip(counties, admins, strict=True):
        for _ in range(10):
            cadre = await create_cadre(client, county)
            jobs.append((admin, county, cadre["id"]))
    try:
        answers = await asyncio.gather(*(nominate(admin, ts, cadre) for admin, _, cadre in jobs))
    finally:
        for admin in admins:
            await admin.aclose()
    results = [
        (r.status_code, county, r.json()) for r, (_, county, _) in zip(answers, jobs, strict=True)
    ]
    return ts, results, counties


async def test_fifty_parallel_nominations_hold_the_quotas(
    app: FastAPI, settings: Settings, committed_client: httpx.AsyncClient
) -> None:
    """Capacity 20, five counties with a quota of 4 each (20 in all): whatever the order, each
    county gets exactly 4 seats and its other 6 nominations are refused."""
    client = committed_client
    ts, results, counties = await _fifty_parallel_nominations(app, settings, client, 20, 4)
    seated = [county for status, county, body in results if status == 201]
    refused = [body["code"] for status, _, body in results if status != 201]
    assert {s for s, _, _ in results} == {201, 409}
    assert sorted(seated) == sorted(counties * 4)
    assert refused == ["enrollment.quota_reached"] * 30
    assert {body["status"] for s, _, body in results if s == 201} == {"nominated"}
    assert await seats_taken(client, ts) == 20
    audience = (await client.get(audience_url(ts))).json()
    assert {u["seats_taken"] for u in audience["units"]} == {4}


async def test_fifty_parallel_nominations_hold_the_capacity(
    app: FastAPI, settings: Settings, committed_client: httpx.AsyncClient
) -> None:
    """Capacity 10 and no quotas: 10 nominations take the seats, the other 40 wait in a waitlist
    numbered 1 to 40 without a gap or a repeat."""
    client = committed_client
    ts, results, _ = await _fifty_parallel_nominations(app, settings, client, 10, None)
    assert {s for s, _, _ in results} == {201}
    statuses = [body["status"] for _, _, body in results]
    assert (statuses.count("nominated"), statuses.count("waitlisted")) == (10, 40)
    positions = sorted(b["waitlist_position"] for _, _, b in results if b["status"] == "waitlisted")
    assert positions == list(range(1, 41))
    assert await seats_taken(client, ts) == 10


# --- the migration -----------------------------------------------------------------------------


async def test_0021_gives_existing_sessions_their_default_audience(
    migrated_url: str, engine: AsyncEngine, committed_client: httpx.AsyncClient
) -> None:
    """Sessions and enrollments stored before revision 0021: a department's session is for its
    parent's subtree, any other organiser's for its own, and each enrollment counts against
    that audience unit when its cadre falls in it. Going down first keeps what it can: a
    nomination is a roll call, a seat under review an enrollment, a completed nominee keeps
    its enrollment (its study log references it); the waitlist and the rejections go, and the
    session's count follows."""
    client = committed_client
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    dept = await create_org_unit(client, city["id"], kind="department")
    elsewhere = await create_org_unit(client)
    by_county = await create_session(client, county["id"])
    by_root = await create_session(client, city["id"])
    by_dept = await create_session(client, dept["id"], capacity=3)
    closed = await create_session(client, dept["id"])
    inside = await create_cadre(client, county["id"])
    outside = await create_cadre(client, elsewhere["id"])
    for ts in (by_county, by_root):
        for cadre in (inside, outside):
            r = await client.post(
                f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
            )
            assert r.status_code == 201, r.text
    nominees = [
        (await nominate(client, by_dept, (await create_cadre(client, county["id"]))["id"])).json()
        for _ in range(5)
    ]
    reviews = [("reject", "不符"), ("request_substitute", "换人")]
    for e, (action, reason) in zip(nominees, reviews, strict=False):
        r = await client.post(
            f"{API}/enrollments/{e['id']}/review", json={"action": action, "reason": reason}
        )
        assert r.status_code == 200, r.text
    states = [(await client.get(f"{API}/enrollments/{e['id']}")).json()["status"] for e in nominees]
    assert states == ["rejected", "substitute_requested", "nominated", "nominated", "waitlisted"]
    completed = (await nominate(client, closed, inside["id"])).json()
    await client.post(f"{API}/enrollments/{completed['id']}/review", json={"action": "approve"})
    r = await client.post(f"{API}/training-sessions/{closed['id']}/close")
    assert r.status_code == 200, r.text
    assert r.json()["completed"] == 1
    config = alembic_config(migrated_url)
    previous = ScriptDirectory.from_config(config).get_revision("0021").down_revision
    await engine.dispose()
    try:
        await asyncio.to_thread(command.downgrade, config, str(previous))
        async with engine.connect() as conn:
            kept = (
                await conn.execute(
                    text(
                        "SELECT origin, status FROM enrollment WHERE training_session_id "
                        "IN (:a, :b) ORDER BY status"
                    ),
                    {"a": uuid.UUID(by_dept["id"]), "b": uuid.UUID(closed["id"])},
                )
            ).all()
            counts: dict[uuid.UUID, int] = dict(
                (await conn.execute(text("SELECT id, enrolled FROM training_session"))).all()
            )
        await engine.dispose()
        assert [tuple(row) for row in kept] == [("roll_call", "completed")] + [
            ("roll_call", "enrolled")
        ] * 3
        assert counts[uuid.UUID(by_dept["id"])] == 3
        assert counts[uuid.UUID(closed["id"])] == 0
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await engine.dispose()
    async with engine.connect() as conn:
        audiences: dict[uuid.UUID, uuid.UUID | None] = dict(
            (
                await conn.execute(
                    text("SELECT training_session_id, org_unit_id FROM session_audience")
                )
            ).all()
        )
        counted: dict[uuid.UUID, uuid.UUID | None] = dict(
            (
                await conn.execute(
                    text(
                        "SELECT cadre_id, audience_org_unit_id FROM enrollment "
                        "WHERE training_session_id = :s"
                    ),
                    {"s": uuid.UUID(by_county["id"])},
                )
            ).all()
        )
    assert audiences == {
        uuid.UUID(by_county["id"]): uuid.UUID(county["id"]),
        uuid.UUID(by_root["id"]): uuid.UUID(city["id"]),
        uuid.UUID(by_dept["id"]): uuid.UUID(city["id"]),
        uuid.UUID(closed["id"]): uuid.UUID(city["id"]),
    }
    assert counted == {
        uuid.UUID(inside["id"]): uuid.UUID(county["id"]),
        uuid.UUID(outside["id"]): None,
    }
