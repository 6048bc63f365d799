"""Who may do what, checked on every operation of the published document, so a new route is
covered the day it is added."""

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.enums import Role
from app.security import PERMISSIONS
from tests.conftest import ClientFor
from tests.factories import (
    API,
    cadre_body,
    create_cadre,
    create_log,
    create_org_unit,
    create_session,
    log_body,
    session_body,
)

METHODS = ("get", "post", "put", "patch", "delete")
EVALUATION_INDICATORS = [{"subject": "session", "code": "content", "label": "内容", "weight": 1}]
PUBLIC = {
    "/api/v1/auth/token",
    "/api/v1/auth/revoke",
    "/health/live",
    "/health/ready",
    "/api/v1/certificates/verify/{code}",
    "/api/v1/calendar-feeds/{token}.ics",
}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
        if method in METHODS and path not in PUBLIC
    ]


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def test_every_operation_has_a_permission_entry(app: FastAPI) -> None:
    """Deny by default: an operation missing from the table is refused to everyone."""
    documented = {op["operationId"] for _, _, op in operations(app)}
    assert documented == set(PERMISSIONS)


async def test_every_operation_needs_a_token(app: FastAPI, anonymous: httpx.AsyncClient) -> None:
    random_ids = {
        name: str(uuid.uuid4())
        for name in (
            "org_unit_id",
            "cadre_id",
            "training_session_id",
            "enrollment_id",
            "study_log_id",
            "assessment_id",
            "user_id",
            "webhook_id",
            "export_id",
            "training_plan_id",
            "plan_item_id",
            "part_id",
            "leave_request_id",
            "certificate_id",
            "cadre_qualification_id",
            "teacher_id",
            "course_id",
            "thesis_id",
            "evaluation_form_id",
            "online_platform_id",
            "notification_id",
        )
    } | {"hr_id": "HR1", "learner_id": "u-1", "year": "2025"}
    for method, path, _ in operations(app):
        r = await anonymous.request(method, fill(path, random_ids), json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_tampered_and_expired_tokens_are_401(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Any
) -> None:
    import jwt

    good = client.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(good, options={"verify_signature": False})
    forged_role = jwt.encode(
        {**claims, "role": "admin", "sub": str(uuid.uuid4())},
        "a-wrong-key-that-is-long-enough-for-hs256!!",
    )
    expired = jwt.encode({**claims, "exp": 1, "iat": 0, "nbf": 0}, settings.secret_key_value)
    for token in (good[:-2] + "xx", forged_role, expired, "not.a.jwt"):
        r = await anonymous.get(f"{API}/org-units", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
    r = await anonymous.get(f"{API}/org-units", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200


@pytest.fixture
async def two_counties(client: httpx.AsyncClient) -> dict[str, Any]:
    """A city with counties A and B; one record of every kind inside A."""
    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county", name="来安县")
    b = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    cadre = await create_cadre(client, a["id"])
    session = await create_session(client, a["id"])
    # A county's class is for its own subtree by default (docs/rules.md rule 11): county B, its
    # sibling, has nothing to see.
    r = await client.get(f"{API}/training-sessions/{session['id']}/audience")
    assert [u["org_unit_id"] for u in r.json()["units"]] == [a["id"]], r.text
    enrollment = (
        await client.post(
            f"{API}/training-sessions/{session['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
    ).json()
    log = await create_log(client, cadre["id"])
    assessment = (
        await client.post(
            f"{API}/assessments",
            json={"cadre_id": cadre["id"], "year": 2024, "rating": "competent"},
        )
    ).json()
    parts = await client.put(
        f"{API}/training-sessions/{session['id']}/parts",
        json={"parts": [{"part_date": "2025-03-03", "period": "morning", "credit_hours": "40"}]},
    )
    part = parts.json()["parts"][0]
    leave = (
        await client.post(
            f"{API}/enrollments/{enrollment['id']}/leave-requests",
            json={"session_part_ids": [part["id"]], "reason": "病假"},
        )
    ).json()
    users = (await client.get(f"{API}/users")).json()["items"]
    export = (
        await client.post(f"{API}/exports", json={"org_unit_id": a["id"], "year": 2024})
    ).json()
    plan_item = {
        "title": "党性教育专题班",
        "form": "special_class",
        "centralised": True,
        "month": 3,
        "days": "5",
        "credit_hours": "40",
        "planned_seats": 10,
    }
    plan = (
        await client.post(
            f"{API}/training-plans",
            json={"org_unit_id": a["id"], "year": 2025, "title": "计划", "items": [plan_item]},
        )
    ).json()
    # A certificate: a second class of A, closed.
    closed = await create_session(client, a["id"])
    await client.post(
        f"{API}/training-sessions/{closed['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    assert (await client.post(f"{API}/training-sessions/{closed['id']}/close")).status_code == 200
    certificate = (await client.get(f"{API}/cadres/{cadre['id']}/certificates")).json()["items"][0]
    qtype = (
        await client.post(
            f"{API}/qualification-types",
            json={"org_unit_id": a["id"], "name": "任职资格", "validity_years": 3},
        )
    ).json()
    held = (
        await client.post(
            f"{API}/cadres/{cadre['id']}/qualifications",
            json={
                "qualification_type_id": qtype["id"],
                "valid_from": "2026-03-01",
                "evidence": "证",
            },
        )
    ).json()
    teacher = (
        await client.post(
            f"{API}/teachers", json={"org_unit_id": a["id"], "name": "李四", "kind": "internal"}
        )
    ).json()
    course = (
        await client.post(f"{API}/courses", json={"org_unit_id": a["id"], "title": "党史"})
    ).json()
    thesis = (
        await client.post(
            f"{API}/theses",
            json={
                "cadre_id": cadre["id"],
                "training_session_id": session["id"],
                "kind": "thesis",
                "title": "调研",
                "body": "正文",
            },
        )
    ).json()
    evaluation_form = (
        await client.post(
            f"{API}/evaluation-forms",
            json={
                "org_unit_id": a["id"],
                "name": "评估表",
                "allow_comments": False,
                "indicators": EVALUATION_INDICATORS,
            },
        )
    ).json()
    r = await client.put(
        f"{API}/training-sessions/{session['id']}/evaluation",
        json={"form_id": evaluation_form["id"]},
    )
    assert r.status_code == 200, r.text
    return {
        "city": city,
        "a": a,
        "b": b,
        "plan_item": plan_item,
        "qualification_type_id": qtype["id"],
        "ids": {
            "org_unit_id": a["id"],
            "cadre_id": cadre["id"],
            "hr_id": cadre["hr_id"],
            "training_session_id": session["id"],
            "enrollment_id": enrollment["id"],
            "study_log_id": log["id"],
            "assessment_id": assessment["id"],
            "user_id": users[0]["id"],
            "webhook_id": str(uuid.uuid4()),  # org_admin may not manage webhooks at all
            "export_id": export["id"],  # an admin's job: only its requester (and admins) see it
            "training_plan_id": plan["id"],
            "plan_item_id": plan["items"][0]["id"],
            "part_id": part["id"],
            "leave_request_id": leave["id"],
            "certificate_id": certificate["id"],
            "cadre_qualification_id": held["id"],
            "teacher_id": teacher["id"],
            "course_id": course["id"],
            "thesis_id": thesis["id"],
            "evaluation_form_id": evaluation_form["id"],
            # online platforms are the province's, of no unit: see below
            "online_platform_id": str(uuid.uuid4()),
            "learner_id": "u-1",
            "notification_id": str(uuid.uuid4()),  # a cadre's own: org_admin has no such route
            "year": "2025",
        },
    }


def _body_for(op_id: str, world: dict[str, Any]) -> dict[str, Any]:
    """A valid body aimed at county A, so only scope can make it fail."""
    ids = world["ids"]
    a = world["a"]["id"]
    bodies: dict[str, dict[str, Any]] = {
        "createOrgUnit": {"code": "SCOPED1", "name": "x", "kind": "department", "parent_id": a},
        "updateOrgUnit": {"name": "改名"},
        "createCadre": cadre_body(a),
        "updateCadre": {"position": "科员"},
        "upsertCadreByHrId": {k: v for k, v in cadre_body(a).items() if k != "hr_id"},
        "createTrainingSession": session_body(a),
        "updateTrainingSession": {"title": "改名"},
        "enrollCadre": {"cadre_id": ids["cadre_id"]},
        "updateEnrollment": {"status": "confirmed"},
        "reviewEnrollment": {"action": "approve"},
        "nominateCadres": {"cadre_ids": [ids["cadre_id"]]},
        "setSessionAudience": {"units": [{"org_unit_id": a}]},
        "createStudyLog": log_body(ids["cadre_id"]),
        "putStudyLog": log_body(ids["cadre_id"]),
        "createAssessment": {"cadre_id": ids["cadre_id"], "year": 2023, "rating": "competent"},
        "updateAssessment": {"rating": "excellent"},
        "addTrainingPlanItem": world["plan_item"],
        "returnTrainingPlan": {"reason": "补充"},
        "replaceSessionParts": {"parts": []},
        "markAttendance": {
            "marks": [
                {
                    "enrollment_id": ids["enrollment_id"],
                    "session_part_id": ids["part_id"],
                    "mark": "present",
                }
            ]
        },
        "requestLeave": {"session_part_ids": [ids["part_id"]], "reason": "病假"},
        "refuseLeaveRequest": {"reason": "不予批准"},
        "recordCadreQualification": {
            "qualification_type_id": world["qualification_type_id"],
            "valid_from": "2027-03-01",
            "evidence": "证书",
        },
        "revokeCadreQualification": {"reason": "撤销"},
        "replaceSessionCourses": {"course_ids": []},
        "updateThesis": {"title": "改名"},
        "gradeThesis": {"grade": "pass"},
        "createEvaluationFormRevision": {
            "name": "改",
            "allow_comments": False,
            "indicators": EVALUATION_INDICATORS,
        },
        "updateEvaluationForm": {"active": False},
        "setUnitTarget": {
            i: {"weight": 1}
            for i in ("roll_call", "five_year", "annual", "online", "evaluation", "plan")
        },
        "attachSessionEvaluation": {"form_id": ids["evaluation_form_id"]},
        "answerSessionEvaluation": {"ratings": [{"subject": "session", "scores": [4]}]},
    }
    return bodies.get(op_id, {})


# Required query parameters, valid, so only scope can make the call fail.
_QUERY: dict[str, dict[str, str]] = {
    "getCadrePromotionCheck": {"target_rank": "county_division", "post_type": "leading"},
}


async def test_org_admin_of_another_county_finds_nothing(
    app: FastAPI, two_counties: dict[str, Any], client_for: ClientFor
) -> None:
    """Every path that takes an id of county A answers 404 to county B's administrator (or 403
    where the role may not use the operation at all): nothing leaks about what exists."""
    other = await client_for(Role.org_admin, org_unit_id=two_counties["b"]["id"])
    for method, path, op in operations(app):
        if "{" not in path:
            continue
        # An online platform belongs to no unit (every reader sees it); its learner accounts
        # are scoped by their cadres: tests/test_online_import.py, the org_admin's scope.
        if path.startswith(f"{API}/online-platforms/"):
            continue
        r = await other.request(
            method,
            fill(path, two_counties["ids"]),
            json=_body_for(op["operationId"], two_counties),
            params=_QUERY.get(op["operationId"]),
        )
        allowed = Role.org_admin in PERMISSIONS[op["operationId"]]
        expected = 404 if allowed else 403
        assert r.status_code == expected, (method, path, r.status_code, r.text)


async def test_org_admin_of_the_county_may(
    app: FastAPI, two_counties: dict[str, Any], client_for: ClientFor
) -> None:
    own = await client_for(Role.org_admin, org_unit_id=two_counties["a"]["id"])
    ids = two_counties["ids"]
    for path in (
        f"{API}/cadres/{ids['cadre_id']}",
        f"{API}/study-logs/{ids['study_log_id']}",
        f"{API}/enrollments/{ids['enrollment_id']}",
        f"{API}/assessments/{ids['assessment_id']}",
        f"{API}/training-sessions/{ids['training_session_id']}",
    ):
        assert (await own.get(path)).status_code == 200, path
    r = await own.post(f"{API}/study-logs/{ids['study_log_id']}/approve")
    assert r.status_code == 200
    # The county's administrator cannot reach up to the city or sideways.
    assert (await own.get(f"{API}/org-units/{two_counties['city']['id']}")).status_code == 404
    assert (await own.get(f"{API}/org-units/{two_counties['b']['id']}")).status_code == 404
    listed = (await own.get(f"{API}/org-units")).json()["items"]
    assert {u["id"] for u in listed} == {two_counties["a"]["id"]}
    r = await own.post(f"{API}/org-units", json={"code": "ROOTX", "name": "x", "kind": "city"})
    assert r.status_code == 403
    r = await own.post(f"{API}/cadres", json=cadre_body(two_counties["b"]["id"]))
    assert r.status_code == 422  # B does not exist as far as A's administrator knows


@pytest.mark.parametrize(
    ("role", "allowed_writes"),
    [
        (Role.auditor, set()),
        (Role.hr_system, {"createOrgUnit", "createCadre"}),
    ],
)
async def test_read_only_and_machine_roles(
    two_counties: dict[str, Any], client_for: ClientFor, role: Role, allowed_writes: set[str]
) -> None:
    c = await client_for(role)
    a = two_counties["a"]["id"]
    assert (await c.get(f"{API}/cadres/{two_counties['ids']['cadre_id']}")).status_code == 200
    attempts = {
        "createOrgUnit": c.post(
            f"{API}/org-units",
            json={"code": f"R{role.value}", "name": "x", "kind": "department", "parent_id": a},
        ),
        "createCadre": c.post(f"{API}/cadres", json=cadre_body(a)),
        "approveStudyLog": c.post(
            f"{API}/study-logs/{two_counties['ids']['study_log_id']}/approve"
        ),
        "createTrainingSession": c.post(f"{API}/training-sessions", json=session_body(a)),
    }
    for op_id, call in attempts.items():
        r = await call
        if op_id in allowed_writes:
            assert r.status_code == 201, (op_id, r.text)
        else:
            assert r.status_code == 403, (op_id, r.status_code)


async def test_cadre_sees_only_itself(
    client: httpx.AsyncClient, two_counties: dict[str, Any], client_for: ClientFor
) -> None:
    a = two_counties["a"]["id"]
    me = two_counties["ids"]["cadre_id"]
    colleague = await create_cadre(client, a)
    c = await client_for(Role.cadre, cadre_id=me)

    assert (await c.get(f"{API}/cadres/{me}")).status_code == 200
    assert (await c.get(f"{API}/cadres/{colleague['id']}")).status_code == 404
    assert [x["id"] for x in (await c.get(f"{API}/cadres")).json()["items"]] == [me]
    # Own logs, submitted for review; never approved by the cadre itself.
    mine = await c.post(f"{API}/study-logs", json=log_body(me))
    assert mine.status_code == 201
    assert mine.json()["status"] == "pending"
    approved = await c.post(f"{API}/study-logs", json=log_body(me, status="approved"))
    assert approved.status_code == 422
    assert approved.json()["errors"][0]["pointer"] == "/body/status"
    r = await c.post(f"{API}/study-logs/{mine.json()['id']}/approve")
    assert r.status_code == 403
    r = await c.post(f"{API}/study-logs", json=log_body(colleague["id"]))
    assert r.status_code == 422
    # Cannot change its own record (rank included).
    r = await c.patch(f"{API}/cadres/{me}", json={"rank": "county_division"})
    assert r.status_code == 403
    # Enrolls itself in an open session of its unit (or above), with origin `self` only.
    session = await create_session(client, two_counties["city"]["id"], capacity=5)
    url = f"{API}/training-sessions/{session['id']}/enrollments"
    r = await c.post(url, json={"cadre_id": me, "origin": "roll_call"})
    assert r.status_code == 422
    r = await c.post(url, json={"cadre_id": me, "origin": "self"})
    assert r.status_code == 201
    r = await c.post(url, json={"cadre_id": colleague["id"], "origin": "self"})
    assert r.status_code == 422
    # Its ID number comes back masked: only admin and hr_system see it whole.
    shown = (await c.get(f"{API}/cadres/{me}")).json()["id_number"]
    assert "*" in shown


@pytest.mark.parametrize(
    ("role", "whole"),
    [(Role.admin, True), (Role.hr_system, True), (Role.auditor, False), (Role.org_admin, False)],
)
async def test_id_number_shown_whole_only_to_admin_and_hr(
    two_counties: dict[str, Any], client_for: ClientFor, role: Role, whole: bool
) -> None:
    unit = two_counties["a"]["id"] if role == Role.org_admin else None
    c = await client_for(role, org_unit_id=unit)
    cadre_id = two_counties["ids"]["cadre_id"]
    hr_id = two_counties["ids"]["hr_id"]
    shapes = [
        (await c.get(f"{API}/cadres/{cadre_id}")).json()["id_number"],
        (await c.get(f"{API}/cadres/by-hr-id/{hr_id}")).json()["id_number"],
    ]
    listed = (await c.get(f"{API}/cadres", params={"org_unit_id": two_counties["a"]["id"]})).json()
    for shown in shapes:
        assert ("*" not in shown) is whole
    assert all("*" in x["id_number"] for x in listed["items"])
