"""Annual training plans (docs/rules.md, "Training plans"): the workflow and who may take each
step, scope, a session naming a planned class, the fulfilment report, and the trail each step
leaves."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.audit.models import AuditEvent
from app.change_feed.models import ChangeEvent
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session, session_body

PLANS = f"{API}/training-plans"


def item_body(**fields: Any) -> dict[str, Any]:
    return {
        "title": "县处级干部党性教育专题班",
        "form": "special_class",
        "centralised": True,
        "month": 3,
        "days": "5",
        "credit_hours": "40",
        "target_ranks": ["county_division"],
        "topic_tags": ["党性教育"],
        "planned_seats": 10,
        **fields,
    }


def plan_body(org_unit_id: str, year: int = 2025, **fields: Any) -> dict[str, Any]:
    return {
        "org_unit_id": org_unit_id,
        "year": year,
        "title": f"{year}年度干部教育培训计划",
        "items": [item_body()],
        **fields,
    }


@dataclass
class Tree:
    """A province above a city with two sibling counties, and a client for each kind of
    user."""

    province: dict[str, Any]
    city: dict[str, Any]
    county: dict[str, Any]
    sibling: dict[str, Any]
    clients: dict[str, httpx.AsyncClient]


@pytest.fixture
async def tree(client: httpx.AsyncClient, client_for: ClientFor) -> Tree:
    province = await create_org_unit(client, kind="other", name="安徽省")
    city = await create_org_unit(client, province["id"])
    county = await create_org_unit(client, city["id"], kind="county", name="来安县")
    sibling = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    cadre = await create_cadre(client, county["id"])
    clients = {
        "admin": client,
        "province_admin": await client_for(Role.org_admin, org_unit_id=province["id"]),
        "city_admin": await client_for(Role.org_admin, org_unit_id=city["id"]),
        "county_admin": await client_for(Role.org_admin, org_unit_id=county["id"]),
        "sibling_admin": await client_for(Role.org_admin, org_unit_id=sibling["id"]),
        "hr": await client_for(Role.hr_system),
        "auditor": await client_for(Role.auditor),
        "cadre": await client_for(Role.cadre, cadre_id=cadre["id"]),
    }
    return Tree(province, city, county, sibling, clients)


async def user_id(c: httpx.AsyncClient) -> str:
    r = await c.get(f"{API}/auth/me")
    assert r.status_code == 200, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def etag(r: httpx.Response) -> dict[str, str]:
    return {"If-Match": r.headers["ETag"]}


async def create_plan(c: httpx.AsyncClient, org_unit_id: str, **fields: Any) -> dict[str, Any]:
    r = await c.post(PLANS, json=plan_body(org_unit_id, **fields))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    return r.json()  # type: ignore[no-any-return]


async def step(c: httpx.AsyncClient, plan_id: str, verb: str, **kwargs: Any) -> httpx.Response:
    return await c.post(f"{PLANS}/{plan_id}/{verb}", **kwargs)


async def approved_plan(tree: Tree, **fields: Any) -> dict[str, Any]:
    plan = await create_plan(tree.clients["county_admin"], tree.county["id"], **fields)
    r = await step(tree.clients["county_admin"], plan["id"], "submit")
    assert r.status_code == 200, r.text
    r = await step(tree.clients["city_admin"], plan["id"], "approve")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# --- the workflow, step by step and by who takes it --------------------------------------------

# Bring a fresh plan of the county to a status, as its own admin and the city's would.
Setup = Callable[[Tree, str], Awaitable[None]]


async def _draft(tree: Tree, plan_id: str) -> None:
    return None


async def _submitted(tree: Tree, plan_id: str) -> None:
    assert (await step(tree.clients["county_admin"], plan_id, "submit")).status_code == 200


async def _submitted_by_city(tree: Tree, plan_id: str) -> None:
    assert (await step(tree.clients["city_admin"], plan_id, "submit")).status_code == 200


async def _submitted_by_admin(tree: Tree, plan_id: str) -> None:
    assert (await step(tree.clients["admin"], plan_id, "submit")).status_code == 200


async def _returned(tree: Tree, plan_id: str) -> None:
    await _submitted(tree, plan_id)
    r = await step(tree.clients["city_admin"], plan_id, "return", json={"reason": "补充课程"})
    assert r.status_code == 200, r.text


async def _approved(tree: Tree, plan_id: str) -> None:
    await _submitted(tree, plan_id)
    assert (await step(tree.clients["city_admin"], plan_id, "approve")).status_code == 200


STATES: dict[str, Setup] = {
    "draft": _draft,
    "submitted": _submitted,
    "submitted_by_city": _submitted_by_city,
    "submitted_by_admin": _submitted_by_admin,
    "returned": _returned,
    "approved": _approved,
}
RETURN = {"json": {"reason": "请补充培训对象"}}

# (status before, who, step, body, answer status, its code or the plan's new status)
WORKFLOW: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("draft", "county_admin", "submit", {}, 200, "submitted"),
    ("draft", "city_admin", "submit", {}, 200, "submitted"),  # a unit above may submit it
    ("draft", "admin", "submit", {}, 200, "submitted"),
    ("draft", "sibling_admin", "submit", {}, 404, "training_plan.not_found"),
    ("draft", "hr", "submit", {}, 403, "forbidden"),
    ("draft", "cadre", "submit", {}, 403, "forbidden"),
    ("draft", "city_admin", "approve", {}, 409, "training_plan.invalid_transition"),
    ("returned", "county_admin", "submit", {}, 200, "submitted"),  # resubmitted
    ("submitted", "county_admin", "submit", {}, 409, "training_plan.invalid_transition"),
    ("submitted", "county_admin", "approve", {}, 403, "training_plan.not_approver"),
    ("submitted", "county_admin", "return", RETURN, 403, "training_plan.not_approver"),
    ("submitted", "sibling_admin", "approve", {}, 404, "training_plan.not_found"),
    # the parent unit's administrators decide, not one higher up (docs/rules.md)
    ("submitted", "province_admin", "approve", {}, 403, "training_plan.not_approver"),
    ("submitted", "province_admin", "return", RETURN, 403, "training_plan.not_approver"),
    # who submitted a plan never decides it: another user of the parent unit, or an admin
    ("submitted_by_city", "city_admin", "approve", {}, 403, "training_plan.own_submission"),
    ("submitted_by_city", "city_admin", "return", RETURN, 403, "training_plan.own_submission"),
    ("submitted_by_city", "admin", "approve", {}, 200, "approved"),
    ("submitted_by_admin", "admin", "approve", {}, 403, "training_plan.own_submission"),
    ("submitted_by_admin", "admin", "return", RETURN, 403, "training_plan.own_submission"),
    ("submitted_by_admin", "city_admin", "approve", {}, 200, "approved"),
    ("submitted", "hr", "approve", {}, 403, "forbidden"),
    ("submitted", "auditor", "approve", {}, 403, "forbidden"),
    ("submitted", "city_admin", "approve", {}, 200, "approved"),
    ("submitted", "admin", "approve", {}, 200, "approved"),
    ("submitted", "city_admin", "return", RETURN, 200, "returned"),
    ("submitted", "admin", "return", RETURN, 200, "returned"),
    ("submitted", "city_admin", "return", {}, 422, "validation_failed"),  # a reason is required
    ("submitted", "city_admin", "return", {"json": {"reason": ""}}, 422, "validation_failed"),
    ("approved", "city_admin", "return", RETURN, 409, "training_plan.invalid_transition"),
    ("approved", "city_admin", "approve", {}, 409, "training_plan.invalid_transition"),
    ("approved", "county_admin", "submit", {}, 409, "training_plan.invalid_transition"),
    ("returned", "city_admin", "approve", {}, 409, "training_plan.invalid_transition"),
]


@pytest.mark.parametrize(("before", "who", "verb", "body", "status", "outcome"), WORKFLOW)
async def test_workflow_steps(
    tree: Tree, before: str, who: str, verb: str, body: dict[str, Any], status: int, outcome: str
) -> None:
    plan = await create_plan(tree.clients["county_admin"], tree.county["id"])
    await STATES[before](tree, plan["id"])
    ahead = (await tree.clients["admin"].get(f"{PLANS}/{plan['id']}")).json()
    r = await step(tree.clients[who], plan["id"], verb, **body)
    assert r.status_code == status, r.text
    after = (await tree.clients["admin"].get(f"{PLANS}/{plan['id']}")).json()
    if status == 200:
        assert r.json()["status"] == after["status"] == outcome
        assert r.headers["ETag"] == f'"{after["version"]}"'
    else:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == outcome
        assert after == ahead  # nothing changed


async def test_return_records_the_reason_and_resubmitting_clears_it(tree: Tree) -> None:
    county, city = tree.clients["county_admin"], tree.clients["city_admin"]
    plan = await create_plan(county, tree.county["id"])
    await _submitted(tree, plan["id"])
    r = await step(city, plan["id"], "return", json={"reason": "请增加一期网络专题班"})
    assert r.json()["return_reason"] == "请增加一期网络专题班"
    assert r.json()["decided_at"] is not None
    # Returned: the unit edits its classes, then submits again.
    r = await county.post(f"{PLANS}/{plan['id']}/items", json=item_body(form="online_class"))
    assert r.status_code == 201, r.text
    r = await step(county, plan["id"], "submit")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted"
    assert r.json()["return_reason"] is None
    assert len(r.json()["items"]) == 2
    r = await step(city, plan["id"], "approve", headers=etag(r))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"


async def test_a_root_units_plan_is_approved_by_an_admin_only(tree: Tree) -> None:
    province = tree.clients["province_admin"]
    plan = await create_plan(province, tree.province["id"])
    assert (await step(province, plan["id"], "submit")).status_code == 200
    r = await step(province, plan["id"], "approve")
    assert (r.status_code, r.json()["code"]) == (403, "training_plan.not_approver")
    assert (await step(tree.clients["admin"], plan["id"], "approve")).status_code == 200


async def test_a_citys_plan_is_approved_by_the_province_its_parent(tree: Tree) -> None:
    plan = await create_plan(tree.clients["city_admin"], tree.city["id"])
    assert (await step(tree.clients["city_admin"], plan["id"], "submit")).status_code == 200
    r = await step(tree.clients["province_admin"], plan["id"], "approve")
    assert r.status_code == 200, r.text


async def test_one_person_does_not_run_the_whole_workflow(tree: Tree) -> None:
    """The city's administrator may draft and submit a county's plan, but then another user
    decides it; the submitter is recorded (and audited)."""
    city, admin = tree.clients["city_admin"], tree.clients["admin"]
    plan = await create_plan(city, tree.county["id"])
    assert plan["submitted_by"] is None
    r = await step(city, plan["id"], "submit")
    assert r.status_code == 200, r.text
    assert r.json()["submitted_by"] == await user_id(city)
    for verb, body in (("approve", {}), ("return", RETURN)):
        r = await step(city, plan["id"], verb, **body)
        assert (r.status_code, r.json()["code"]) == (403, "training_plan.own_submission")
    assert (await admin.get(f"{PLANS}/{plan['id']}")).json()["status"] == "submitted"
    r = await step(admin, plan["id"], "approve")
    assert r.status_code == 200, r.text
    assert (r.json()["submitted_by"], r.json()["decided_by"]) == (
        await user_id(city),
        await user_id(admin),
    )


async def test_submitted_and_decided_at_read_the_clock(tree: Tree) -> None:
    plan = await create_plan(tree.clients["county_admin"], tree.county["id"])
    submitted, decided = (
        datetime(2025, 1, 6, 1, 30, tzinfo=UTC),
        datetime(2025, 1, 9, 8, tzinfo=UTC),
    )
    with clock.pinned_at(submitted):
        r = await step(tree.clients["county_admin"], plan["id"], "submit")
    assert datetime.fromisoformat(r.json()["submitted_at"]) == submitted
    with clock.pinned_at(decided):
        r = await step(tree.clients["city_admin"], plan["id"], "approve")
    assert datetime.fromisoformat(r.json()["decided_at"]) == decided
    assert datetime.fromisoformat(r.json()["submitted_at"]) == submitted


async def test_classes_change_only_in_draft_or_returned(tree: Tree) -> None:
    county = tree.clients["county_admin"]
    plan = await create_plan(county, tree.county["id"])
    item_id = plan["items"][0]["id"]
    url = f"{PLANS}/{plan['id']}/items/{item_id}"
    r = await county.patch(url, json={"planned_seats": 12, "topic_tags": ["党史", "党史"]})
    assert r.status_code == 200, r.text
    assert (r.json()["planned_seats"], r.json()["topic_tags"]) == (12, ["党史"])
    await _submitted(tree, plan["id"])
    for r in (
        await county.patch(url, json={"planned_seats": 20}),
        await county.delete(url),
        await county.post(f"{PLANS}/{plan['id']}/items", json=item_body()),
    ):
        assert (r.status_code, r.json()["code"]) == (409, "training_plan.not_editable")
    read = (await county.get(f"{PLANS}/{plan['id']}")).json()
    assert [i["planned_seats"] for i in read["items"]] == [12]


async def test_a_change_to_a_class_changes_the_plans_etag(tree: Tree) -> None:
    county = tree.clients["county_admin"]
    plan = await create_plan(county, tree.county["id"])
    before = await county.get(f"{PLANS}/{plan['id']}")
    r = await county.post(f"{PLANS}/{plan['id']}/items", json=item_body(month=9))
    assert r.status_code == 201, r.text
    # The ETag read before the change no longer submits: 412, nothing changed.
    r = await step(county, plan["id"], "submit", headers=etag(before))
    assert (r.status_code, r.json()["code"]) == (412, "precondition_failed")
    assert (await county.get(f"{PLANS}/{plan['id']}")).json()["status"] == "draft"
    r = await county.delete(f"{PLANS}/{plan['id']}/items/{plan['items'][0]['id']}")
    assert r.status_code == 204, r.text
    current = await county.get(f"{PLANS}/{plan['id']}")
    assert [i["month"] for i in current.json()["items"]] == [9]
    assert (await step(county, plan["id"], "submit", headers=etag(current))).status_code == 200


async def test_an_empty_plan_is_not_submitted(tree: Tree) -> None:
    county = tree.clients["county_admin"]
    plan = await create_plan(county, tree.county["id"], items=[])
    r = await step(county, plan["id"], "submit")
    assert (r.status_code, r.json()["code"]) == (409, "training_plan.empty")


async def test_one_plan_per_unit_and_year(tree: Tree) -> None:
    county = tree.clients["county_admin"]
    await create_plan(county, tree.county["id"])
    r = await county.post(PLANS, json=plan_body(tree.county["id"]))
    assert (r.status_code, r.json()["code"]) == (409, "training_plan.exists")
    await create_plan(county, tree.county["id"], year=2026)


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"year": 1800}, "/body/year"),
    ({"title": ""}, "/body/title"),
    ({"items": [item_body(month=13)]}, "/body/items/0/month"),
    ({"items": [item_body(month=0)]}, "/body/items/0/month"),
    ({"items": [item_body(target_ranks=["general"])]}, "/body/items/0/target_ranks/0"),
    ({"items": [item_body(planned_seats=0)]}, "/body/items/0/planned_seats"),
    ({"items": [item_body(days=2.5)]}, "/body/items/0/days"),
    ({"items": [item_body(title="a\x00b")]}, "/body/items/0/title"),
    ({"items": [item_body(extra=1)]}, "/body/items/0/extra"),
]


@pytest.mark.parametrize(("change", "pointer"), BAD_BODIES)
async def test_bad_input_is_a_problem_and_writes_nothing(
    tree: Tree, change: dict[str, Any], pointer: str
) -> None:
    county = tree.clients["county_admin"]
    r = await county.post(PLANS, json={**plan_body(tree.county["id"]), **change})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert pointer in [e["pointer"] for e in r.json()["errors"]]
    assert (await county.get(PLANS)).json()["items"] == []


async def test_org_admins_draft_only_in_their_subtree(tree: Tree) -> None:
    r = await tree.clients["sibling_admin"].post(PLANS, json=plan_body(tree.county["id"]))
    assert (r.status_code, r.json()["code"]) == (422, "org_unit.reference_not_found")
    r = await tree.clients["county_admin"].post(PLANS, json=plan_body(tree.city["id"]))
    assert (r.status_code, r.json()["code"]) == (422, "org_unit.reference_not_found")
    assert (
        await tree.clients["hr"].post(PLANS, json=plan_body(tree.county["id"]))
    ).status_code == 403
    assert (await tree.clients["admin"].get(PLANS)).json()["items"] == []


# --- scope -------------------------------------------------------------------------------------


async def test_a_sibling_countys_admin_sees_nothing(tree: Tree) -> None:
    plan = await approved_plan(tree)
    sibling = tree.clients["sibling_admin"]
    assert (await sibling.get(PLANS)).json()["items"] == []
    r = await sibling.get(f"{PLANS}/{plan['id']}")
    assert (r.status_code, r.json()["code"]) == (404, "training_plan.not_found")
    r = await sibling.get(
        f"{API}/reports/plan-fulfilment", params={"org_unit_id": tree.county["id"], "year": 2025}
    )
    assert (r.status_code, r.json()["code"]) == (404, "org_unit.not_found")
    item = f"{PLANS}/{plan['id']}/items/{plan['items'][0]['id']}"
    assert (await sibling.patch(item, json={"month": 4})).status_code == 404


async def test_who_reads_plans(tree: Tree) -> None:
    plan = await approved_plan(tree)
    for who in ("admin", "city_admin", "county_admin", "hr", "auditor"):
        listed = (await tree.clients[who].get(PLANS)).json()["items"]
        assert [p["id"] for p in listed] == [plan["id"]], who
    r = await tree.clients["cadre"].get(PLANS)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    r = await tree.clients["admin"].get(PLANS, params={"org_unit_id": tree.sibling["id"]})
    assert r.json()["items"] == []
    r = await tree.clients["admin"].get(PLANS, params={"year": 2025, "status": "approved"})
    assert [p["id"] for p in r.json()["items"]] == [plan["id"]]


# --- a session names the planned class it holds ------------------------------------------------


async def test_a_session_names_a_class_of_its_organisers_approved_plan(tree: Tree) -> None:
    plan = await approved_plan(tree)
    item_id = plan["items"][0]["id"]
    county = tree.clients["county_admin"]
    ts = await create_session(county, tree.county["id"], plan_item_id=item_id)
    assert ts["plan_item_id"] == item_id
    url = f"{API}/training-sessions/{ts['id']}"
    r = await county.patch(url, json={"plan_item_id": None})
    assert (r.status_code, r.json()["plan_item_id"]) == (200, None)
    r = await county.patch(url, json={"plan_item_id": item_id})
    assert (r.status_code, r.json()["plan_item_id"]) == (200, item_id)


async def test_a_unit_inside_the_plans_unit_holds_its_classes(tree: Tree) -> None:
    """A party school under the county's department organises a class of the county's plan;
    a unit outside the county's subtree does not."""
    plan = await approved_plan(tree)
    item_id = plan["items"][0]["id"]
    admin = tree.clients["admin"]
    school = await create_org_unit(admin, tree.county["id"], kind="other", name="来安县委党校")
    ts = await create_session(tree.clients["county_admin"], school["id"], plan_item_id=item_id)
    assert ts["plan_item_id"] == item_id
    for outside in (tree.sibling["id"], tree.city["id"]):
        r = await admin.post(
            f"{API}/training-sessions", json=session_body(outside, plan_item_id=item_id)
        )
        assert (r.status_code, r.json()["code"]) == (409, "training_plan.item_not_usable")


async def test_a_session_cannot_name_a_class_it_does_not_hold(tree: Tree) -> None:
    approved = await approved_plan(tree)
    approved_item = approved["items"][0]["id"]
    draft = await create_plan(tree.clients["county_admin"], tree.county["id"], year=2026)
    admin = tree.clients["admin"]
    cases = [
        # an unknown class
        (session_body(tree.county["id"], plan_item_id=str(uuid.uuid4())), 422,
         "training_plan.item_reference_not_found"),
        # a class of a plan not approved
        (session_body(tree.county["id"], plan_item_id=draft["items"][0]["id"],
                      start_date="2026-03-02", end_date="2026-03-06"), 409,
         "training_plan.item_not_usable"),
        # another unit's class (the city organises, the county planned)
        (session_body(tree.city["id"], plan_item_id=approved_item), 409,
         "training_plan.item_not_usable"),
        # the plan is for 2025, the session starts in 2026
        (session_body(tree.county["id"], plan_item_id=approved_item,
                      start_date="2026-03-02", end_date="2026-03-06"), 409,
         "training_plan.item_not_usable"),
    ]  # fmt: skip
    for body, status, code in cases:
        r = await admin.post(f"{API}/training-sessions", json=body)
        assert (r.status_code, r.json()["code"]) == (status, code), body
    assert (await admin.get(f"{API}/training-sessions")).json()["items"] == []
    # An update is checked too: linked, the session cannot move to another year.
    ts = await create_session(admin, tree.county["id"], plan_item_id=approved_item)
    url = f"{API}/training-sessions/{ts['id']}"
    r = await admin.patch(url, json={"start_date": "2026-03-02", "end_date": "2026-03-06"})
    assert (r.status_code, r.json()["code"]) == (409, "training_plan.item_not_usable")
    r = await admin.patch(url, json={"plan_item_id": draft["items"][0]["id"]})
    assert (r.status_code, r.json()["code"]) == (409, "training_plan.item_not_usable")
    assert (await admin.get(url)).json() == ts


# --- the fulfilment report ---------------------------------------------------------------------


async def _enroll(c: httpx.AsyncClient, ts_id: str, unit_id: str) -> dict[str, Any]:
    cadre = await create_cadre(c, unit_id)
    r = await c.post(f"{API}/training-sessions/{ts_id}/enrollments", json={"cadre_id": cadre["id"]})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_the_fulfilment_report_counts_by_hand(tree: Tree) -> None:
    """Three planned classes (10, 5 and 8 seats).
    X: S1 held (3 enrolled, 1 withdrew: 2 completed) and S2 open (1 enrolled): 2 sessions,
       1 held, 3 seats filled.
    Y: S3 cancelled (2 enrolled: not counted), S4 open with nobody: 1 session, 0 held, 0 seats.
    Z: nothing. Totals: 3 classes planned, 3 sessions, 1 held, 1 fulfilled, 23 seats, 3 filled."""
    c, unit = tree.clients["admin"], tree.county["id"]
    plan = await approved_plan(
        tree,
        items=[
            item_body(title="X", month=3, planned_seats=10),
            item_body(title="Y", month=5, planned_seats=5),
            item_body(title="Z", month=9, planned_seats=8),
        ],
    )
    x, y, z = (i["id"] for i in plan["items"])
    s1 = await create_session(c, unit, plan_item_id=x)
    for _ in range(2):
        await _enroll(c, s1["id"], unit)
    gone = await _enroll(c, s1["id"], unit)
    r = await c.patch(f"{API}/enrollments/{gone['id']}", json={"status": "withdrawn"})
    assert r.status_code == 200, r.text
    assert (await c.post(f"{API}/training-sessions/{s1['id']}/close")).status_code == 200
    s2 = await create_session(c, unit, plan_item_id=x)
    await _enroll(c, s2["id"], unit)
    s3 = await create_session(c, unit, plan_item_id=y)
    for _ in range(2):
        await _enroll(c, s3["id"], unit)
    r = await c.patch(f"{API}/training-sessions/{s3['id']}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    await create_session(c, unit, plan_item_id=y)
    await create_session(c, unit)  # not in the plan

    for who in ("admin", "city_admin", "county_admin", "hr", "auditor"):
        r = await tree.clients[who].get(
            f"{API}/reports/plan-fulfilment", params={"org_unit_id": unit, "year": 2025}
        )
        assert r.status_code == 200, (who, r.text)
        report = r.json()
        assert (report["training_plan_id"], report["status"]) == (plan["id"], "approved")
        rows = {
            i["plan_item_id"]: (
                i["planned_classes"],
                i["sessions"],
                i["held_classes"],
                i["planned_seats"],
                i["filled_seats"],
            )
            for i in report["items"]
        }
        assert rows == {x: (1, 2, 1, 10, 3), y: (1, 1, 0, 5, 0), z: (1, 0, 0, 8, 0)}
        assert report["totals"] == {
            "planned_classes": 3,
            "sessions": 3,
            "held_classes": 1,
            "fulfilled_classes": 1,
            "planned_seats": 23,
            "filled_seats": 3,
        }
    r = await c.get(f"{API}/reports/plan-fulfilment", params={"org_unit_id": unit, "year": 2024})
    assert (r.status_code, r.json()["code"]) == (404, "training_plan.not_found")
    r = await tree.clients["cadre"].get(
        f"{API}/reports/plan-fulfilment", params={"org_unit_id": unit, "year": 2025}
    )
    assert r.status_code == 403


# --- the trail ---------------------------------------------------------------------------------


async def test_every_step_is_audited_and_in_the_change_feed(
    tree: Tree, db_conn: AsyncConnection
) -> None:
    county, city = tree.clients["county_admin"], tree.clients["city_admin"]
    plan = await create_plan(county, tree.county["id"])
    await _returned(tree, plan["id"])
    item = plan["items"][0]
    r = await county.patch(f"{PLANS}/{plan['id']}/items/{item['id']}", json={"month": 4})
    assert r.status_code == 200, r.text
    assert (await step(county, plan["id"], "submit")).status_code == 200
    assert (await step(city, plan["id"], "approve")).status_code == 200

    trail = (
        await db_conn.execute(
            select(AuditEvent.action, AuditEvent.changes, AuditEvent.actor_role)
            .where(AuditEvent.entity_id == uuid.UUID(plan["id"]))
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    steps = [(str(a), c.get("status")) for a, c, _ in trail]
    assert steps == [
        ("create", "draft"),
        ("update", {"before": "draft", "after": "submitted"}),
        ("update", {"before": "submitted", "after": "returned"}),
        ("update", {"before": "returned", "after": "submitted"}),
        ("update", {"before": "submitted", "after": "approved"}),
    ]
    assert trail[2][1]["return_reason"] == {"before": None, "after": "补充课程"}
    assert trail[1][1]["submitted_by"] == {"before": None, "after": await user_id(county)}
    assert {str(r) for *_, r in trail} == {"org_admin"}
    fed = (
        await db_conn.execute(
            select(ChangeEvent.entity_type, ChangeEvent.action, ChangeEvent.changes)
            .where(ChangeEvent.entity_id.in_([uuid.UUID(plan["id"]), uuid.UUID(item["id"])]))
            .order_by(ChangeEvent.id)
        )
    ).all()
    assert [(t, str(a)) for t, a, _ in fed] == [
        ("training_plan", "create"),
        ("training_plan_item", "create"),
        ("training_plan", "update"),
        ("training_plan", "update"),
        ("training_plan_item", "update"),
        ("training_plan", "update"),
        ("training_plan", "update"),
    ]
    assert fed[4][2] == {"month": {"before": 3, "after": 4}}


async def test_plan_problems_speak_chinese(tree: Tree) -> None:
    plan = await create_plan(tree.clients["county_admin"], tree.county["id"])
    await _submitted(tree, plan["id"])
    r = await step(
        tree.clients["county_admin"], plan["id"], "approve", headers={"Accept-Language": "zh-CN"}
    )
    assert r.status_code == 403
    assert r.json()["title"] == "只有计划所属单位的上级单位管理员才能批准或退回计划"
    r = await tree.clients["county_admin"].post(
        PLANS, json=plan_body(tree.county["id"]), headers={"Accept-Language": "zh-CN"}
    )
    assert (r.status_code, r.json()["title"]) == (409, "该单位已有该年度的培训计划")
    assert r.json()["detail"] == "该单位 2025 年度的计划已存在。"
