import asyncio

import httpx
import pytest

from tests.factories import API, create_cadre, create_org_unit, create_session, session_body
from tests.test_platform import assert_problem


async def test_lifecycle(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], status="draft")
    url = f"{API}/training-sessions/{ts['id']}"
    for step in ("open", "running"):
        r = await client.patch(url, json={"status": step})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == step
    r = await client.patch(url, json={"status": "open"})
    assert_problem(r, 409, "training_session.invalid_transition")
    r = await client.patch(url, json={"status": "closed"})
    assert_problem(r, 409, "training_session.invalid_transition")
    r = await client.patch(url, json={"status": "cancelled"})
    assert r.json()["status"] == "cancelled"
    r = await client.patch(url, json={"title": "改名"})
    assert_problem(r, 409, "training_session.immutable")


@pytest.mark.parametrize(
    "change",
    [
        {"end_date": "2025-03-01"},  # before start
        {"days": "6"},  # 5 calendar days
        {"status": "running"},  # must be created draft or open
        {"credit_hours": "0"},
        {"days": 1.5},  # a float is not an exact decimal
    ],
)
async def test_invalid_sessions_are_422(
    client: httpx.AsyncClient, change: dict[str, object]
) -> None:
    unit = await create_org_unit(client)
    r = await client.post(f"{API}/training-sessions", json=session_body(unit["id"], **change))
    assert_problem(r, 422, "validation_failed")


async def test_decimals_are_exact_strings(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], days="4.5", credit_hours=36)
    assert (ts["days"], ts["credit_hours"]) == ("4.50", "36.00")


async def test_enrollment_rules(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], capacity=1)
    a = await create_cadre(client, unit["id"])
    b = await create_cadre(client, unit["id"])
    url = f"{API}/training-sessions/{ts['id']}/enrollments"

    first = await client.post(url, json={"cadre_id": a["id"]})
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "enrolled"
    assert_problem(
        await client.post(url, json={"cadre_id": a["id"]}), 409, "enrollment.already_enrolled"
    )
    assert_problem(
        await client.post(url, json={"cadre_id": b["id"]}), 409, "enrollment.session_full"
    )

    # Withdrawing frees the place; re-enrolling takes it back only if still free.
    e_url = f"{API}/enrollments/{first.json()['id']}"
    assert (await client.patch(e_url, json={"status": "withdrawn"})).json()["status"] == "withdrawn"
    assert (await client.post(url, json={"cadre_id": b["id"]})).status_code == 201
    assert_problem(
        await client.patch(e_url, json={"status": "enrolled"}), 409, "enrollment.session_full"
    )
    session = (await client.get(f"{API}/training-sessions/{ts['id']}")).json()
    assert session["enrolled"] == 1

    listing = (await client.get(url)).json()["items"]
    assert {(e["cadre_id"], e["status"]) for e in listing} == {
        (a["id"], "withdrawn"),
        (b["id"], "enrolled"),
    }


async def test_capacity_cannot_drop_below_enrolled(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], capacity=2)
    for _ in range(2):
        c = await create_cadre(client, unit["id"])
        await client.post(
            f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": c["id"]}
        )
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"capacity": 1})
    assert_problem(r, 409, "training_session.capacity_below_enrolled")


async def test_self_enrollment_only_in_open_sessions(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], status="draft")
    cadre = await create_cadre(client, unit["id"])
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    assert_problem(
        await client.post(url, json={"cadre_id": cadre["id"], "origin": "self"}),
        409,
        "enrollment.session_not_open",
    )
    nominated = await client.post(url, json={"cadre_id": cadre["id"], "origin": "roll_call"})
    assert nominated.status_code == 201


async def test_leave_hours_bounded_by_session(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    cadre = await create_cadre(client, unit["id"])
    e = (
        await client.post(
            f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
    ).json()
    r = await client.patch(f"{API}/enrollments/{e['id']}", json={"leave_hours": "41"})
    assert_problem(r, 409, "enrollment.leave_exceeds_session")
    r = await client.patch(
        f"{API}/enrollments/{e['id']}", json={"leave_hours": "4.5", "score": "92.5"}
    )
    assert (r.json()["leave_hours"], r.json()["score"]) == ("4.50", "92.50")


async def test_concurrent_enrollments_never_overfill(committed_client: httpx.AsyncClient) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], capacity=5)
    cadres = [await create_cadre(client, unit["id"]) for _ in range(20)]
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    responses = await asyncio.gather(
        *(client.post(url, json={"cadre_id": c["id"]}) for c in cadres)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 15
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "enrollment.session_full"
    }
    session = (await client.get(f"{API}/training-sessions/{ts['id']}")).json()
    assert session["enrolled"] == 5
    listed = (await client.get(url, params={"limit": 100})).json()["items"]
    assert len(listed) == 5
