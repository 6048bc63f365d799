"""Every write path of the API and the CLI leaves exactly the audit rows of the records it changed,
attributed to its caller and its request, and a change event for each of them that the change
feed carries. The audit trail is written by the database (migration 0013), whatever wrote the
rows: ORM flush, Core statement, COPY or SQL inside a CTE.

`WRITE_PATHS` lists every write operation of the OpenAPI document: a new one that is not listed
fails `test_every_write_route_is_listed`. `CLI_COMMANDS` does the same for the CLI."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import cli
from app.audit.models import AuditEvent
from app.change_feed.models import ChangeEvent
from app.change_feed.service import FEED_ENTITIES
from app.clock import LOCAL_TZ, pinned_at
from app.config import ExportSettings, Settings
from app.credit_policy.policy import CHUZHOU_2007
from app.credit_policy.schemas import definition_of
from app.db import Base
from app.enums import Role
from app.export import worker as export_worker
from app.main import BOOTSTRAP_REQUEST_ID, create_app
from app.webhook import worker
from tests.conftest import TEST_PASSWORD, add_user, bearer
from tests.factories import (
    API,
    cadre_body,
    create_cadre,
    create_log,
    create_org_unit,
    create_session,
    log_body,
    session_body,
    unique,
)
from tests.test_imports import row
from tests.test_online_import import YUNNAN, record
from tests.test_sync import item
from tests.test_webhooks import FAST, Receiver, receiving

# (entity_type, action, entity_id) of one audit row.
Trace = tuple[str, str, str]


@dataclass
class World:
    client: httpx.AsyncClient  # an admin's
    anonymous: httpx.AsyncClient
    sessionmaker: async_sessionmaker[AsyncSession]
    db_conn: AsyncConnection
    request_id: str
    settings: Settings | None = None
    # Other users a case writes as (a trainee signing in): (user id, role).
    other_actors: set[tuple[str, str]] = field(default_factory=set)

    async def cadre_client(self, cadre_id: str) -> httpx.AsyncClient:
        """A client acting as the cadre's own user; the case closes it."""
        assert self.settings is not None
        user = await add_user(self.sessionmaker, Role.cadre, cadre_id=cadre_id)
        self.other_actors.add((str(user.id), "cadre"))
        return httpx.AsyncClient(
            transport=self.client._transport,
            base_url="http://test",
            headers=bearer(self.settings, user),
        )

    async def write(
        self, method: str, url: str, *, client: httpx.AsyncClient | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The write under test, sent with this case's request id."""
        headers = {"X-Request-ID": self.request_id, **kwargs.pop("headers", {})}
        r = await (client or self.client).request(method, f"{API}{url}", headers=headers, **kwargs)
        assert r.status_code < 300, r.text
        return r

    async def ids(self, sql: str, **params: Any) -> list[str]:
        return [str(i) for i in (await self.db_conn.scalars(text(sql), params))]


Case = Callable[[World], Awaitable[list[Trace]]]
WRITE_PATHS: dict[str, Case] = {}


def path(operation_id: str) -> Callable[[Case], Case]:
    def register(case: Case) -> Case:
        WRITE_PATHS[operation_id] = case
        return case

    return register


def _etag(read: dict[str, Any]) -> dict[str, str]:
    return {"If-Match": f'"{read["version"]}"'}


# --- org units ---------------------------------------------------------------------------------


@path("createOrgUnit")
async def _create_org_unit(w: World) -> list[Trace]:
    """Sent with an Idempotency-Key, then replayed: the replay writes nothing."""
    body = {"code": unique("OU"), "name": "来安县", "kind": "county", "parent_id": None}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    unit = (await w.write("POST", "/org-units", json=body, headers=key)).json()
    replay = await w.write("POST", "/org-units", json=body, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    return [("org_unit", "create", unit["id"])]


@path("updateOrgUnit")
async def _move_org_unit(w: World) -> list[Trace]:
    """A move rewrites the path of every unit below: each of them is a change too."""
    city = await create_org_unit(w.client)
    county = await create_org_unit(w.client, city["id"], kind="county")
    town = await create_org_unit(w.client, county["id"], kind="township")
    office = await create_org_unit(w.client, town["id"], kind="other")
    other_city = await create_org_unit(w.client)
    await w.write("PATCH", f"/org-units/{county['id']}", json={"parent_id": other_city["id"]})
    return [
        ("org_unit", "update", county["id"]),
        ("org_unit", "update", town["id"]),
        ("org_unit", "update", office["id"]),
    ]


# --- cadres ------------------------------------------------------------------------------------


@path("createCadre")
async def _create_cadre(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    cadre = (await w.write("POST", "/cadres", json=cadre_body(unit["id"]))).json()
    return [("cadre", "create", cadre["id"])]


@path("upsertCadreByHrId")
async def _upsert_cadre(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    body = cadre_body(unit["id"])
    hr_id = body.pop("hr_id")
    created = (await w.write("PUT", f"/cadres/by-hr-id/{hr_id}", json=body)).json()
    await w.write("PUT", f"/cadres/by-hr-id/{hr_id}", json={**body, "name": "张三丰"})
    await w.write("PUT", f"/cadres/by-hr-id/{hr_id}", json={**body, "name": "张三丰"})  # same
    return [("cadre", "create", created["id"]), ("cadre", "update", created["id"])]


@path("updateCadre")
async def _update_cadre(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    cadre = await create_cadre(w.client, unit["id"])
    await w.write("PATCH", f"/cadres/{cadre['id']}", json={"name": "李四"})
    return [("cadre", "update", cadre["id"])]


@path("deactivateCadre")
async def _deactivate_cadre(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    cadre = await create_cadre(w.client, unit["id"])
    await w.write("DELETE", f"/cadres/{cadre['id']}")
    return [("cadre", "update", cadre["id"])]


# --- training sessions and enrollments ---------------------------------------------------------


@path("createTrainingSession")
async def _create_session(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    ts = (await w.write("POST", "/training-sessions", json=session_body(unit["id"]))).json()
    audience = await w.ids(
        "SELECT id FROM session_audience WHERE training_session_id = :id", id=ts["id"]
    )
    return [("training_session", "create", ts["id"]), ("session_audience", "create", audience[0])]


@path("updateTrainingSession")
async def _update_session(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    ts = await create_session(w.client, unit["id"])
    await w.write("PATCH", f"/training-sessions/{ts['id']}", json={"title": "新标题"})
    return [("training_session", "update", ts["id"])]


async def _enroll(w: World, ts_id: str, cadre_id: str, **kwargs: Any) -> dict[str, Any]:
    r = await w.client.post(
        f"{API}/training-sessions/{ts_id}/enrollments", json={"cadre_id": cadre_id}, **kwargs
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@path("closeTrainingSession")
async def _close_session(w: World) -> list[Trace]:
    """Closing changes the session, every active enrollment, and issues a log to each who
    completed; one who left too much drops out with none."""
    unit = await create_org_unit(w.client)
    ts = await create_session(w.client, unit["id"])
    stayed = await _enroll(w, ts["id"], (await create_cadre(w.client, unit["id"]))["id"])
    left = await _enroll(w, ts["id"], (await create_cadre(w.client, unit["id"]))["id"])
    r = await w.client.patch(f"{API}/enrollments/{left['id']}", json={"leave_hours": "20"})
    assert r.status_code == 200, r.text
    closing = (await w.write("POST", f"/training-sessions/{ts['id']}/close")).json()
    issued = [o["study_log_id"] for o in closing["outcomes"] if o["study_log_id"]]
    assert len(issued) == 1
    certificates = (await w.client.get(f"{API}/training-sessions/{ts['id']}/certificates")).json()
    return [
        ("training_session", "update", ts["id"]),
        ("enrollment", "update", stayed["id"]),
        ("enrollment", "update", left["id"]),
        ("study_log", "create", issued[0]),
        ("certificate", "create", certificates["items"][0]["id"]),
    ]


@path("enrollCadre")
async def _enroll_cadre(w: World) -> list[Trace]:
    """An enrollment, and the session's count of enrolled trainees."""
    unit = await create_org_unit(w.client)
    ts = await create_session(w.client, unit["id"])
    cadre = await create_cadre(w.client, unit["id"])
    url = f"/training-sessions/{ts['id']}/enrollments"
    enrollment = (await w.write("POST", url, json={"cadre_id": cadre["id"]})).json()
    return [("enrollment", "create", enrollment["id"]), ("training_session", "update", ts["id"])]


@path("updateEnrollment")
async def _update_enrollment(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    ts = await create_session(w.client, unit["id"])
    enrollment = await _enroll(w, ts["id"], (await create_cadre(w.client, unit["id"]))["id"])
    await w.write("PATCH", f"/enrollments/{enrollment['id']}", json={"leave_hours": "4.5"})
    return [("enrollment", "update", enrollment["id"])]


# --- training plans ----------------------------------------------------------------------------


def _plan_item(**fields: Any) -> dict[str, Any]:
    return {
        "title": "党性教育专题班",
        "form": "special_class",
        "centralised": True,
        "month": 3,
        "days": "5",
        "credit_hours": "40",
        "planned_seats": 10,
        **fields,
    }


async def _plan(w: World, *, submitted: bool = False) -> dict[str, Any]:
    city = await create_org_unit(w.client)
    county = await create_org_unit(w.client, city["id"], kind="county")
    body = {"org_unit_id": county["id"], "year": 2025, "title": "年度计划", "items": [_plan_item()]}
    r = await w.client.post(f"{API}/training-plans", json=body)
    assert r.status_code == 201, r.text
    if submitted:
        # The county's own administrator submits: the admin under test then decides it (a
        # submitter never decides its own submission, docs/rules.md "Training plans").
        user = await add_user(w.sessionmaker, Role.org_admin, org_unit_id=county["id"])
        form = {"grant_type": "password", "username": user.username, "password": TEST_PASSWORD}
        login = await w.anonymous.post(f"{API}/auth/token", data=form)
        assert login.status_code == 200, login.text
        r = await w.anonymous.post(
            f"{API}/training-plans/{r.json()['id']}/submit",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@path("createTrainingPlan")
async def _create_plan(w: World) -> list[Trace]:
    """The plan and each of its classes; replayed with its Idempotency-Key, nothing more."""
    city = await create_org_unit(w.client)
    body = {"org_unit_id": city["id"], "year": 2025, "title": "年度计划", "items": [_plan_item()]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    plan = (await w.write("POST", "/training-plans", json=body, headers=key)).json()
    replay = await w.write("POST", "/training-plans", json=body, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    return [
        ("training_plan", "create", plan["id"]),
        ("training_plan_item", "create", plan["items"][0]["id"]),
    ]


@path("addTrainingPlanItem")
async def _add_plan_item(w: World) -> list[Trace]:
    """The class, and the plan whose version it raises (no column of it changes: no trace)."""
    plan = await _plan(w)
    item = (await w.write("POST", f"/training-plans/{plan['id']}/items", json=_plan_item())).json()
    return [("training_plan_item", "create", item["id"])]


@path("updateTrainingPlanItem")
async def _update_plan_item(w: World) -> list[Trace]:
    plan = await _plan(w)
    item = plan["items"][0]
    url = f"/training-plans/{plan['id']}/items/{item['id']}"
    await w.write("PATCH", url, json={"month": 5})
    return [("training_plan_item", "update", item["id"])]


@path("deleteTrainingPlanItem")
async def _delete_plan_item(w: World) -> list[Trace]:
    plan = await _plan(w)
    item = plan["items"][0]
    await w.write("DELETE", f"/training-plans/{plan['id']}/items/{item['id']}")
    return [("training_plan_item", "delete", item["id"])]


@path("submitTrainingPlan")
async def _submit_plan(w: World) -> list[Trace]:
    plan = await _plan(w)
    await w.write("POST", f"/training-plans/{plan['id']}/submit")
    return [("training_plan", "update", plan["id"])]


@path("approveTrainingPlan")
async def _approve_plan(w: World) -> list[Trace]:
    plan = await _plan(w, submitted=True)
    await w.write("POST", f"/training-plans/{plan['id']}/approve")
    return [("training_plan", "update", plan["id"])]


@path("returnTrainingPlan")
async def _return_plan(w: World) -> list[Trace]:
    plan = await _plan(w, submitted=True)
    await w.write("POST", f"/training-plans/{plan['id']}/return", json={"reason": "补充"})
    return [("training_plan", "update", plan["id"])]


# --- seats -------------------------------------------------------------------------------------


@path("setSessionAudience")
async def _set_audience(w: World) -> list[Trace]:
    """The default audience (the organiser itself, a root) replaced by two units with quotas;
    the session's version moves (its ETag covers the audience) with nothing else changed."""
    city = await create_org_unit(w.client)
    a = await create_org_unit(w.client, city["id"], kind="county")
    b = await create_org_unit(w.client, city["id"], kind="county")
    ts = await create_session(w.client, city["id"], capacity=10)
    default = await w.ids(
        "SELECT id FROM session_audience WHERE training_session_id = :id", id=ts["id"]
    )
    units = [{"org_unit_id": a["id"], "seat_quota": 3}, {"org_unit_id": b["id"]}]
    await w.write("PUT", f"/training-sessions/{ts['id']}/audience", json={"units": units})
    added = await w.ids(
        "SELECT id FROM session_audience WHERE training_session_id = :id", id=ts["id"]
    )
    return [("session_audience", "delete", default[0])] + [
        ("session_audience", "create", i) for i in added
    ]


@path("reviewEnrollment")
async def _review_nomination(w: World) -> list[Trace]:
    """A rejection frees the seat: the first waitlisted enrollment takes it, in the same request
    (both rows are updates the feed carries; the session's count is unchanged)."""
    city = await create_org_unit(w.client)
    county = await create_org_unit(w.client, city["id"], kind="county")
    ts = await create_session(w.client, county["id"], capacity=1)
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    ids = []
    for _ in range(2):
        cadre = await create_cadre(w.client, county["id"])
        r = await w.client.post(url, json={"cadre_id": cadre["id"], "origin": "nomination"})
        ids.append(r.json()["id"])
    body = {"action": "reject", "reason": "不符合调训条件"}
    await w.write("POST", f"/enrollments/{ids[0]}/review", json=body)
    # The promoted one hears of it (docs/notifications.md).
    promoted = await w.ids(
        "SELECT id FROM notification WHERE enrollment_id = :e AND kind = 'promoted_from_waitlist'",
        e=uuid.UUID(ids[1]),
    )
    return [
        ("enrollment", "update", ids[0]),
        ("enrollment", "update", ids[1]),
        ("notification", "create", promoted[0]),
    ]


@path("nominateCadres")
async def _nominate(w: World) -> list[Trace]:
    city = await create_org_unit(w.client)
    county = await create_org_unit(w.client, city["id"], kind="county")
    ts = await create_session(w.client, county["id"])
    cadres = [(await create_cadre(w.client, county["id"]))["id"] for _ in range(2)]
    report = (
        await w.write(
            "POST", f"/training-sessions/{ts['id']}/nominations", json={"cadre_ids": cadres}
        )
    ).json()
    # Row by row: each nomination takes its seat in the session's count as it is written, and
    # tells its cadre (docs/notifications.md).
    notices = await w.ids(
        "SELECT id FROM notification WHERE training_session_id = :s", s=uuid.UUID(ts["id"])
    )
    return (
        [("enrollment", "create", r["enrollment_id"]) for r in report["rows"]]
        + [("training_session", "update", ts["id"])] * len(cadres)
        + [("notification", "create", i) for i in notices]
    )


# --- sign-in by class part (docs/rules.md rule 12) -----------------------------------------------

_PARTS = [
    {"part_date": "2025-03-03", "period": "morning", "credit_hours": "20"},
    {"part_date": "2025-03-04", "period": "morning", "credit_hours": "20"},
]


async def _a_class(w: World) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """A session with two parts and one trainee: (session, parts, enrollment)."""
    unit = await create_org_unit(w.client)
    ts = await create_session(w.client, unit["id"])
    r = await w.client.put(
        f"{API}/training-sessions/{ts['id']}/parts", json={"parts": _PARTS}, headers=_etag(ts)
    )
    assert r.status_code == 200, r.text
    enrollment = await _enroll(w, ts["id"], (await create_cadre(w.client, unit["id"]))["id"])
    return ts, r.json()["parts"], enrollment


@path("replaceSessionParts")
async def _replace_parts(w: World) -> list[Trace]:
    """Each part is a record; replacing the list again adds one, changes one, removes one."""
    unit = await create_org_unit(w.client)
    ts = await create_session(w.client, unit["id"])
    url = f"/training-sessions/{ts['id']}/parts"
    first = (await w.write("PUT", url, json={"parts": _PARTS})).json()["parts"]
    changed = [
        {**_PARTS[0], "credit_hours": "16"},
        {"part_date": "2025-03-05", "period": "evening", "credit_hours": "24"},
    ]
    second = (await w.write("PUT", url, json={"parts": changed})).json()["parts"]
    return [
        ("session_part", "create", first[0]["id"]),
        ("session_part", "create", first[1]["id"]),
        ("session_part", "update", first[0]["id"]),
        ("session_part", "delete", first[1]["id"]),
        ("session_part", "create", second[1]["id"]),
    ]


@path("markAttendance")
async def _mark_attendance(w: World) -> list[Trace]:
    ts, parts, enrollment = await _a_class(w)
    rows = [
        {"enrollment_id": enrollment["id"], "session_part_id": p["id"], "mark": "present"}
        for p in parts
    ]
    result = (
        await w.write("POST", f"/training-sessions/{ts['id']}/attendance", json={"marks": rows})
    ).json()
    return [("attendance", "create", r["attendance"]["id"]) for r in result["rows"]]


@path("scanSignInCode")
async def _scan(w: World) -> list[Trace]:
    """The trainee's own sign-in, as its user."""
    ts, parts, enrollment = await _a_class(w)
    app = await w.cadre_client(enrollment["cadre_id"])
    with pinned_at(datetime(2025, 3, 3, 8, 1, tzinfo=LOCAL_TZ)):
        url = f"{API}/training-sessions/{ts['id']}/parts/{parts[0]['id']}/sign-in-code"
        code = (await w.client.get(url)).json()["sign_in_code"]
        headers = {"X-Device-ID": "phone-1"}
        mark = await w.write(
            "POST", "/attendance/scan", client=app, json={"sign_in_code": code}, headers=headers
        )
    await app.aclose()
    return [("attendance", "create", mark.json()["id"])]


async def _a_leave_request(w: World) -> dict[str, Any]:
    _, parts, enrollment = await _a_class(w)
    body = {"session_part_ids": [parts[1]["id"]], "reason": "病假"}
    r = await w.client.post(f"{API}/enrollments/{enrollment['id']}/leave-requests", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@path("requestLeave")
async def _request_leave(w: World) -> list[Trace]:
    _, parts, enrollment = await _a_class(w)
    body = {"session_part_ids": [parts[1]["id"]], "reason": "病假"}
    url = f"/enrollments/{enrollment['id']}/leave-requests"
    request = (await w.write("POST", url, json=body)).json()
    return [("leave_request", "create", request["id"])]


@path("approveLeaveRequest")
async def _approve_leave(w: World) -> list[Trace]:
    """Approval marks the requested part on leave."""
    request = await _a_leave_request(w)
    await w.write("POST", f"/leave-requests/{request['id']}/approve", headers=_etag(request))
    (mark,) = await w.ids("SELECT id FROM attendance WHERE leave_request_id = :r", r=request["id"])
    return [("leave_request", "update", request["id"]), ("attendance", "create", mark)]


@path("refuseLeaveRequest")
async def _refuse_leave(w: World) -> list[Trace]:
    request = await _a_leave_request(w)
    url = f"/leave-requests/{request['id']}/refuse"
    await w.write("POST", url, json={"reason": "结业考试"}, headers=_etag(request))
    return [("leave_request", "update", request["id"])]


# --- study logs --------------------------------------------------------------------------------


async def _a_cadre(w: World) -> dict[str, Any]:
    return await create_cadre(w.client, (await create_org_unit(w.client))["id"])


@path("createStudyLog")
async def _create_log(w: World) -> list[Trace]:
    cadre = await _a_cadre(w)
    log = (await w.write("POST", "/study-logs", json=log_body(cadre["id"]))).json()
    return [("study_log", "create", log["id"])]


@path("putStudyLog")
async def _put_log(w: World) -> list[Trace]:
    """Created once by a Core INSERT ... ON CONFLICT; the replay changes nothing."""
    cadre = await _a_cadre(w)
    log_id = str(uuid.uuid4())
    await w.write("PUT", f"/study-logs/{log_id}", json=log_body(cadre["id"]))
    await w.write("PUT", f"/study-logs/{log_id}", json=log_body(cadre["id"]))
    return [("study_log", "create", log_id)]


async def _review(w: World, step: str) -> list[Trace]:
    log = await create_log(w.client, (await _a_cadre(w))["id"])
    await w.write("POST", f"/study-logs/{log['id']}/{step}", json={})
    return [("study_log", "update", log["id"])]


@path("approveStudyLog")
async def _approve(w: World) -> list[Trace]:
    return await _review(w, "approve")


@path("rejectStudyLog")
async def _reject(w: World) -> list[Trace]:
    return await _review(w, "reject")


@path("voidStudyLog")
async def _void(w: World) -> list[Trace]:
    return await _review(w, "void")


@path("importStudyLogs")
async def _import(w: World) -> list[Trace]:
    """Logs loaded by COPY and moved by one INSERT: one trace each, none for the re-import."""
    cadre = await _a_cadre(w)
    items = [row(cadre["hr_id"]), row(cadre["hr_id"], title="2019年秋季进修班")]
    await w.write("POST", "/imports/study-logs", json={"items": items})
    await w.write("POST", "/imports/study-logs", json={"items": items})
    logs = await w.ids("SELECT id FROM study_log WHERE cadre_id = :c", c=uuid.UUID(cadre["id"]))
    assert len(logs) == 2
    return [("study_log", "create", log_id) for log_id in logs]


# --- assessments and policies ------------------------------------------------------------------


@path("createAssessment")
async def _create_assessment(w: World) -> list[Trace]:
    cadre = await _a_cadre(w)
    body = {"cadre_id": cadre["id"], "year": 2025, "rating": "competent"}
    assessment = (await w.write("POST", "/assessments", json=body)).json()
    return [("assessment", "create", assessment["id"])]


@path("updateAssessment")
async def _update_assessment(w: World) -> list[Trace]:
    cadre = await _a_cadre(w)
    body = {"cadre_id": cadre["id"], "year": 2025, "rating": "competent"}
    r = await w.client.post(f"{API}/assessments", json=body)
    assert r.status_code == 201, r.text
    assessment = r.json()
    url = f"/assessments/{assessment['id']}"
    await w.write("PATCH", url, json={"rating": "basically_competent"})
    return [("assessment", "update", assessment["id"])]


@path("createCreditPolicy")
async def _create_policy(w: World) -> list[Trace]:
    """The new policy, and the end date of the one it follows."""
    (in_force,) = await w.ids("SELECT id FROM credit_policy WHERE effective_to IS NULL")
    body = {
        **definition_of(CHUZHOU_2007),
        "code": "chuzhou-2007",
        "name": CHUZHOU_2007.name,
        "effective_from": "2026-01-01",
    }
    policy = (await w.write("POST", "/credit-policies", json=body)).json()
    return [("credit_policy", "create", policy["id"]), ("credit_policy", "update", in_force)]


# --- HR sync -----------------------------------------------------------------------------------


@path("syncCadres")
async def _sync_cadres(w: World) -> list[Trace]:
    """Created by COPY, updated by a Core executemany, deactivated by one UPDATE."""
    unit = await create_org_unit(w.client, kind="county")
    kept, moved, left = (unique("SY") for _ in range(3))
    first = [item(kept, unit["code"]), item(moved, unit["code"]), item(left, unit["code"])]
    r = await w.client.post(f"{API}/sync/cadres", json={"items": first})
    assert r.status_code == 200, r.text
    new = unique("SY")
    again = [first[0], {**first[1], "name": "王五"}, item(new, unit["code"])]
    snapshot = {"mode": "snapshot", "snapshot_of": unit["code"], "force": True}
    await w.write("POST", "/sync/cadres", json={"items": again, **snapshot})
    sql = "SELECT id FROM cadre WHERE hr_id = :h"
    ((moved_id,), (left_id,), (new_id,)) = [await w.ids(sql, h=h) for h in (moved, left, new)]
    return [
        ("cadre", "update", moved_id),
        ("cadre", "update", left_id),
        ("cadre", "create", new_id),
    ]


@path("syncOrgUnits")
async def _sync_org_units(w: World) -> list[Trace]:
    parent = await create_org_unit(w.client)
    county, town = unique("SU"), unique("SU")
    items = [
        {"code": county, "name": "来安县", "kind": "county", "parent_code": parent["code"]},
        {"code": town, "name": "新安镇", "kind": "township", "parent_code": county},
        {"code": unique("SU"), "name": "撤销的", "kind": "township", "active": False},
    ]
    await w.write("POST", "/sync/org-units", json={"items": items})
    codes = [i["code"] for i in items]
    units = await w.ids("SELECT id FROM org_unit WHERE code = ANY(:codes)", codes=codes)
    return [("org_unit", "create", unit_id) for unit_id in units]


# --- users and webhooks (audit trail only) -----------------------------------------------------


@path("createUser")
async def _create_user(w: World) -> list[Trace]:
    body = {"username": unique("user"), "password": "a-long-password-1", "role": "auditor"}
    user = (await w.write("POST", "/users", json=body)).json()
    return [("app_user", "create", user["id"])]


@path("updateUser")
async def _update_user(w: World) -> list[Trace]:
    body = {"username": unique("user"), "password": "a-long-password-1", "role": "auditor"}
    r = await w.client.post(f"{API}/users", json=body)
    assert r.status_code == 201, r.text
    user = r.json()
    await w.write("PATCH", f"/users/{user['id']}", json={"active": False})
    return [("app_user", "update", user["id"])]


async def _a_webhook(w: World) -> dict[str, Any]:
    r = await w.client.post(f"{API}/webhooks", json={"url": "http://127.0.0.1:9/hooks"})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@path("createWebhook")
async def _create_webhook(w: World) -> list[Trace]:
    hook = (await w.write("POST", "/webhooks", json={"url": "http://127.0.0.1:9/h"})).json()
    return [("webhook_subscription", "create", hook["id"])]


@path("updateWebhook")
async def _update_webhook(w: World) -> list[Trace]:
    hook = await _a_webhook(w)
    url = f"/webhooks/{hook['id']}"
    await w.write("PATCH", url, json={"description": "人事系统"}, headers=_etag(hook))
    return [("webhook_subscription", "update", hook["id"])]


@path("deleteWebhook")
async def _delete_webhook(w: World) -> list[Trace]:
    hook = await _a_webhook(w)
    await w.write("DELETE", f"/webhooks/{hook['id']}", headers=_etag(hook))
    return [("webhook_subscription", "delete", hook["id"])]


@path("rotateWebhookSecret")
async def _rotate_secret(w: World) -> list[Trace]:
    hook = await _a_webhook(w)
    await w.write("POST", f"/webhooks/{hook['id']}/rotate-secret", headers=_etag(hook))
    return [("webhook_subscription", "update", hook["id"])]


# --- export jobs -------------------------------------------------------------------------------


@path("createExport")
async def _create_export(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    body = {"org_unit_id": unit["id"], "year": 2024}
    job = (await w.write("POST", "/exports", json=body)).json()
    return [("export_job", "create", job["id"])]


# --- the token endpoint ------------------------------------------------------------------------


async def _sign_in(w: World) -> tuple[str, str]:
    """The admin (whose writes the test expects) signs in after a failed attempt: its user id
    and refresh token."""
    me = (await w.client.get(f"{API}/auth/me")).json()
    token = ""
    for password in ("wrong password", TEST_PASSWORD):
        form = {"grant_type": "password", "username": me["username"], "password": password}
        r = await w.anonymous.post(
            f"{API}/auth/token", data=form, headers={"X-Request-ID": w.request_id}
        )
        assert r.status_code in (200, 401), r.text
        token = r.json().get("refresh_token") or ""
    return me["id"], token


@path("issueToken")
async def _issue_token(w: World) -> list[Trace]:
    """A failed login writes only its bookkeeping (failed attempts, lock-out): nothing to
    audit. A sign-in starts a refresh-token family; a refresh creates the child (the parent's
    use is bookkeeping); a reuse revokes the family, and a refresh of a revoked token writes
    nothing. Each as the user the token belongs to."""
    user_id, first = await _sign_in(w)
    answers = []
    for token in (first, first, first):
        form = {"grant_type": "refresh_token", "refresh_token": token}
        r = await w.anonymous.post(
            f"{API}/auth/token", data=form, headers={"X-Request-ID": w.request_id}
        )
        answers.append(r.status_code)
    assert answers == [200, 400, 400]
    root, child = await w.ids(
        "SELECT id FROM refresh_token WHERE user_id = :u ORDER BY parent_id NULLS FIRST",
        u=user_id,
    )
    return [
        ("refresh_token", "create", root),
        ("refresh_token", "create", child),
        ("refresh_token", "update", root),
        ("refresh_token", "update", child),
    ]


@path("revokeToken")
async def _revoke_token(w: World) -> list[Trace]:
    """Logout revokes the family, as the user's; revoking again writes nothing."""
    user_id, token = await _sign_in(w)
    for _ in range(2):
        await w.write("POST", "/auth/revoke", client=w.anonymous, data={"token": token})
    (root,) = await w.ids("SELECT id FROM refresh_token WHERE user_id = :u", u=user_id)
    return [("refresh_token", "create", root), ("refresh_token", "update", root)]


async def _a_qualification_type(w: World, org_unit_id: str) -> dict[str, Any]:
    body = {"org_unit_id": org_unit_id, "name": unique("资格"), "validity_years": 3}
    r = await w.client.post(f"{API}/qualification-types", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@path("createQualificationType")
async def _create_qualification_type(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    body = {"org_unit_id": unit["id"], "name": "任职资格", "validity_years": 3}
    qtype = (await w.write("POST", "/qualification-types", json=body)).json()
    return [("qualification_type", "create", qtype["id"])]


async def _a_held_qualification(w: World, *, write: bool) -> dict[str, Any]:
    cadre = await _a_cadre(w)
    qtype = await _a_qualification_type(w, cadre["org_unit_id"])
    url = f"/cadres/{cadre['id']}/qualifications"
    body = {"qualification_type_id": qtype["id"], "valid_from": "2026-03-01", "evidence": "证书"}
    if write:
        return (await w.write("POST", url, json=body)).json()  # type: ignore[no-any-return]
    r = await w.client.post(f"{API}{url}", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@path("recordCadreQualification")
async def _record_qualification(w: World) -> list[Trace]:
    held = await _a_held_qualification(w, write=True)
    return [("cadre_qualification", "create", held["id"])]


@path("revokeCadreQualification")
async def _revoke_qualification(w: World) -> list[Trace]:
    held = await _a_held_qualification(w, write=False)
    url = f"/cadre-qualifications/{held['id']}/revoke"
    await w.write("POST", url, json={"reason": "证书系伪造"})
    return [("cadre_qualification", "update", held["id"])]


# the course and teacher catalogue (docs/rules.md, "Catalogue")
def _teacher_body(org_unit_id: str) -> dict[str, Any]:
    return {"org_unit_id": org_unit_id, "name": "李四", "kind": "external"}


@path("createTeacher")
async def _create_teacher(w: World) -> list[Trace]:
    """The teacher; replayed with its Idempotency-Key, nothing more."""
    unit = await create_org_unit(w.client)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = _teacher_body(unit["id"])
    teacher = (await w.write("POST", "/teachers", json=body, headers=key)).json()
    replay = await w.write("POST", "/teachers", json=body, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    return [("teacher", "create", teacher["id"])]


@path("updateTeacher")
async def _update_teacher(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    r = await w.client.post(f"{API}/teachers", json=_teacher_body(unit["id"]))
    teacher = r.json()
    await w.write("PATCH", f"/teachers/{teacher['id']}", json={"active": False})
    return [("teacher", "update", teacher["id"])]


@path("createCourse")
async def _create_course(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    body = {"org_unit_id": unit["id"], "title": "党史", "default_hours": "4"}
    course = (await w.write("POST", "/courses", json=body)).json()
    return [("course", "create", course["id"])]


@path("updateCourse")
async def _update_course(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    r = await w.client.post(f"{API}/courses", json={"org_unit_id": unit["id"], "title": "党史"})
    course = r.json()
    await w.write("PATCH", f"/courses/{course['id']}", json={"title": "党史（修订）"})
    return [("course", "update", course["id"])]


@path("replaceSessionCourses")
async def _replace_session_courses(w: World) -> list[Trace]:
    """The session's own row changes (its course list); replaying the same list writes nothing."""
    unit = await create_org_unit(w.client)
    r = await w.client.post(f"{API}/courses", json={"org_unit_id": unit["id"], "title": "党史"})
    ts = await create_session(w.client, unit["id"])
    url = f"/training-sessions/{ts['id']}/courses"
    for _ in range(2):
        await w.write("PUT", url, json={"course_ids": [r.json()["id"]]})
    return [("training_session", "update", ts["id"])]


# theses and reflections (docs/rules.md, "Theses and reflections")
async def _a_thesis(w: World, *, write: bool) -> dict[str, Any]:
    unit = await create_org_unit(w.client)
    ts = await create_session(w.client, unit["id"])
    cadre = await create_cadre(w.client, unit["id"])
    r = await w.client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    assert r.status_code == 201, r.text
    body = {
        "cadre_id": cadre["id"],
        "training_session_id": ts["id"],
        "kind": "thesis",
        "title": "调研",
        "body": "正文",
    }
    if write:
        return (await w.write("POST", "/theses", json=body)).json()  # type: ignore[no-any-return]
    r = await w.client.post(f"{API}/theses", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@path("submitThesis")
async def _submit_thesis(w: World) -> list[Trace]:
    """The thesis alone: the enrollment it is handed in with is read, not written."""
    thesis = await _a_thesis(w, write=True)
    return [("thesis", "create", thesis["id"])]


@path("updateThesis")
async def _update_thesis(w: World) -> list[Trace]:
    thesis = await _a_thesis(w, write=False)
    await w.write("PATCH", f"/theses/{thesis['id']}", json={"body": "改过的正文"})
    return [("thesis", "update", thesis["id"])]


@path("gradeThesis")
async def _grade_thesis(w: World) -> list[Trace]:
    """Graded, then graded again: each is a change of the thesis."""
    thesis = await _a_thesis(w, write=False)
    await w.write("PUT", f"/theses/{thesis['id']}/grade", json={"grade": "pass"})
    await w.write("PUT", f"/theses/{thesis['id']}/grade", json={"grade": "excellent"})
    return [("thesis", "update", thesis["id"])] * 2


# anonymous evaluation (docs/evaluation.md): the answer itself leaves no trace, its marker does
_EVAL_INDICATORS = [
    {"subject": "session", "code": "content", "label": "内容", "weight": 2},
    {"subject": "teacher", "code": "delivery", "label": "授课", "weight": 1},
]


def _form_body(org_unit_id: str) -> dict[str, Any]:
    return {
        "org_unit_id": org_unit_id,
        "name": "评估表",
        "allow_comments": True,
        "indicators": _EVAL_INDICATORS,
    }


async def _indicator_traces(w: World, form_id: str) -> list[Trace]:
    ids = await w.ids(
        "SELECT id FROM evaluation_indicator WHERE form_id = :f", f=uuid.UUID(form_id)
    )
    assert len(ids) == len(_EVAL_INDICATORS)
    return [("evaluation_indicator", "create", i) for i in ids]


@path("createEvaluationForm")
async def _create_evaluation_form(w: World) -> list[Trace]:
    """The form and its indicators; replayed with its Idempotency-Key, nothing more."""
    unit = await create_org_unit(w.client)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = _form_body(unit["id"])
    form = (await w.write("POST", "/evaluation-forms", json=body, headers=key)).json()
    replay = await w.write("POST", "/evaluation-forms", json=body, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    return [("evaluation_form", "create", form["id"]), *await _indicator_traces(w, form["id"])]


@path("createEvaluationFormRevision")
async def _create_evaluation_form_revision(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    form = (await w.client.post(f"{API}/evaluation-forms", json=_form_body(unit["id"]))).json()
    body = {k: v for k, v in _form_body(unit["id"]).items() if k != "org_unit_id"}
    url = f"/evaluation-forms/{form['id']}/revisions"
    revision = (await w.write("POST", url, json=body)).json()
    return [
        ("evaluation_form", "create", revision["id"]),
        *await _indicator_traces(w, revision["id"]),
    ]


@path("updateEvaluationForm")
async def _update_evaluation_form(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    form = (await w.client.post(f"{API}/evaluation-forms", json=_form_body(unit["id"]))).json()
    await w.write("PATCH", f"/evaluation-forms/{form['id']}", json={"active": False})
    return [("evaluation_form", "update", form["id"])]


async def _evaluated_session(w: World) -> tuple[dict[str, Any], dict[str, Any], str]:
    unit = await create_org_unit(w.client)
    form = (await w.client.post(f"{API}/evaluation-forms", json=_form_body(unit["id"]))).json()
    ts = await create_session(w.client, unit["id"])
    return ts, form, unit["id"]


@path("attachSessionEvaluation")
async def _attach_session_evaluation(w: World) -> list[Trace]:
    ts, form, _ = await _evaluated_session(w)
    url = f"/training-sessions/{ts['id']}/evaluation"
    await w.write("PUT", url, json={"form_id": form["id"]})
    ids = await w.ids(
        "SELECT id FROM session_evaluation WHERE training_session_id = :s", s=uuid.UUID(ts["id"])
    )
    return [("session_evaluation", "create", ids[0])]


@path("closeSessionEvaluation")
async def _close_session_evaluation(w: World) -> list[Trace]:
    ts, form, _ = await _evaluated_session(w)
    url = f"{API}/training-sessions/{ts['id']}/evaluation"
    evaluation = await w.client.put(url, json={"form_id": form["id"]})
    assert evaluation.status_code == 200, evaluation.text
    await w.write("POST", f"/training-sessions/{ts['id']}/evaluation/close")
    ids = await w.ids(
        "SELECT id FROM session_evaluation WHERE training_session_id = :s", s=uuid.UUID(ts["id"])
    )
    return [("session_evaluation", "update", ids[0])]


@path("answerSessionEvaluation")
async def _answer_session_evaluation(w: World) -> list[Trace]:
    """Only the marker that the enrollment has answered, as the trainee: the answer's rows
    are neither audited nor in the feed (docs/evaluation.md)."""
    ts, form, unit_id = await _evaluated_session(w)
    url = f"/training-sessions/{ts['id']}"
    assert (await w.client.put(f"{API}{url}/evaluation", json={"form_id": form["id"]})).is_success
    cadre = await create_cadre(w.client, unit_id)
    r = await w.client.post(f"{API}{url}/enrollments", json={"cadre_id": cadre["id"]})
    enrollment = r.json()
    assert (await w.client.post(f"{API}{url}/close")).is_success
    body = {"ratings": [{"subject": "session", "scores": [4]}], "comments": []}
    async with await w.cadre_client(cadre["id"]) as trainee:
        await w.write("POST", f"{url}/evaluation/answers", json=body, client=trainee)
    markers = await w.ids(
        "SELECT id FROM evaluation_answered WHERE enrollment_id = :e",
        e=uuid.UUID(enrollment["id"]),
    )
    return [("evaluation_answered", "create", markers[0])]


# calendars (docs/calendars.md): the cadre's own feed, its token shown only as "<changed>"
async def _feed_owner(w: World) -> tuple[str, httpx.AsyncClient]:
    unit = await create_org_unit(w.client)
    cadre = await create_cadre(w.client, unit["id"])
    return cadre["id"], await w.cadre_client(cadre["id"])


@path("createCalendarFeed")
async def _create_calendar_feed(w: World) -> list[Trace]:
    """Created, then rotated: the rotation is an update of the same row."""
    cadre_id, c = await _feed_owner(w)
    async with c:
        await w.write("POST", "/me/calendar-feed", client=c)
        await w.write("POST", "/me/calendar-feed", client=c)
    (feed,) = await w.ids("SELECT id FROM calendar_feed WHERE cadre_id = :c", c=cadre_id)
    return [("calendar_feed", "create", feed), ("calendar_feed", "update", feed)]


@path("deleteCalendarFeed")
async def _delete_calendar_feed(w: World) -> list[Trace]:
    cadre_id, c = await _feed_owner(w)
    async with c:
        assert (await c.post(f"{API}/me/calendar-feed")).status_code == 201
        (feed,) = await w.ids("SELECT id FROM calendar_feed WHERE cadre_id = :c", c=cadre_id)
        await w.write("DELETE", "/me/calendar-feed", client=c)
    return [("calendar_feed", "delete", feed)]


@path("revokeCadreCalendarFeed")
async def _revoke_cadre_calendar_feed(w: World) -> list[Trace]:
    """An administrator revokes a cadre's feed: the row goes, as the cadre's own DELETE."""
    cadre_id, c = await _feed_owner(w)
    async with c:
        assert (await c.post(f"{API}/me/calendar-feed")).status_code == 201
    (feed,) = await w.ids("SELECT id FROM calendar_feed WHERE cadre_id = :c", c=cadre_id)
    await w.write("DELETE", f"/cadres/{cadre_id}/calendar-feed")
    return [("calendar_feed", "delete", feed)]


# online academies (docs/rules.md, "Online academies")
async def _a_platform(w: World, *, write: bool) -> dict[str, Any]:
    body = {"code": unique("YN"), "name": "云南干部在线学习学院", "conversion": YUNNAN}
    if write:
        return (await w.write("POST", "/online-platforms", json=body)).json()  # type: ignore[no-any-return]
    r = await w.client.post(f"{API}/online-platforms", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@path("createOnlinePlatform")
async def _create_online_platform(w: World) -> list[Trace]:
    platform = await _a_platform(w, write=True)
    return [("online_platform", "create", platform["id"])]


@path("updateOnlinePlatform")
async def _update_online_platform(w: World) -> list[Trace]:
    platform = await _a_platform(w, write=False)
    await w.write("PATCH", f"/online-platforms/{platform['id']}", json={"active": False})
    return [("online_platform", "update", platform["id"])]


@path("putOnlineLearner")
async def _put_online_learner(w: World) -> list[Trace]:
    """Matched, then the same again: the second changes nothing."""
    platform = await _a_platform(w, write=False)
    cadre = await _a_cadre(w)
    url = f"/online-platforms/{platform['id']}/learners/u-1"
    for _ in range(2):
        learner = (await w.write("PUT", url, json={"cadre_id": cadre["id"]})).json()
    return [("online_learner", "create", learner["id"])]


@path("importOnlineRecords")
async def _import_online_records(w: World) -> list[Trace]:
    """Matched by ID number: the account learned, then logs and their records, by COPY and one
    INSERT each; the re-import writes nothing."""
    platform = await _a_platform(w, write=False)
    cadre = await _a_cadre(w)
    items = [
        record("u-1", "R-1", id_number=cadre["id_number"]),
        record("u-1", "R-2", id_number=cadre["id_number"]),
    ]
    for _ in range(2):
        await w.write(
            "POST",
            "/imports/online-records",
            params={"platform": platform["code"]},
            json={"items": items},
        )
    c = uuid.UUID(cadre["id"])
    logs = await w.ids("SELECT id FROM study_log WHERE cadre_id = :c", c=c)
    records = await w.ids("SELECT id FROM online_record WHERE cadre_id = :c", c=c)
    learners = await w.ids("SELECT id FROM online_learner WHERE cadre_id = :c", c=c)
    assert (len(logs), len(records), len(learners)) == (2, 2, 1)
    # A third record makes the day 8.5 hours: the stored two are flagged and their logs put
    # back to pending, each one UPDATE (docs/rules.md "Plausibility flags").
    long_day = record(
        "u-1",
        "R-3",
        minutes=420,
        course_minutes=420,
        started_at="2025-11-02T08:00:00+08:00",
        ended_at="2025-11-02T15:00:00+08:00",
    )
    await w.write(
        "POST",
        "/imports/online-records",
        params={"platform": platform["code"]},
        json={"items": [long_day]},
    )
    new_log = await w.ids(
        "SELECT study_log_id FROM online_record WHERE cadre_id = :c AND external_id = 'R-3'", c=c
    )
    new_record = await w.ids(
        "SELECT id FROM online_record WHERE cadre_id = :c AND external_id = 'R-3'", c=c
    )
    return [
        *[("study_log", "create", i) for i in logs],
        *[("online_record", "create", i) for i in records],
        ("online_learner", "create", learners[0]),
        ("study_log", "create", new_log[0]),
        ("online_record", "create", new_record[0]),
        *[("study_log", "update", i) for i in logs],
        *[("online_record", "update", i) for i in records],
    ]


# --- the tests ---------------------------------------------------------------------------------


def _write_operations(app: FastAPI) -> set[str]:
    return {
        operation["operationId"]
        for methods in app.openapi()["paths"].values()
        for method, operation in methods.items()
        if method in {"post", "put", "patch", "delete"}
    }


def test_every_write_route_is_listed(app: FastAPI) -> None:
    """A write route added to the API must be added to WRITE_PATHS, with what it changes."""
    assert _write_operations(app) == set(WRITE_PATHS)


async def _traces(
    db_conn: AsyncConnection, client_request_id: str
) -> tuple[list[Any], list[Trace]]:
    """What the requests sent with `client_request_id` (X-Request-ID) left: the trail keeps
    the client's id beside the server's own, and the feed carries the server's."""
    audited = (
        await db_conn.execute(
            select(
                AuditEvent.entity_type,
                AuditEvent.action,
                AuditEvent.entity_id,
                AuditEvent.actor_id,
                AuditEvent.actor_role,
            ).where(AuditEvent.client_request_id == client_request_id)
        )
    ).all()
    server_ids = select(AuditEvent.request_id).where(
        AuditEvent.client_request_id == client_request_id
    )
    fed = (
        await db_conn.execute(
            select(ChangeEvent.entity_type, ChangeEvent.action, ChangeEvent.entity_id).where(
                ChangeEvent.request_id.in_(server_ids.scalar_subquery())
            )
        )
    ).all()
    return list(audited), sorted((t, str(a), str(i)) for t, a, i in fed)


@pytest.fixture
async def anonymous_client(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.mark.parametrize("operation_id", sorted(WRITE_PATHS))
async def test_a_write_leaves_the_trace_of_what_it_changed(
    operation_id: str,
    client: httpx.AsyncClient,
    anonymous_client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    db_conn: AsyncConnection,
    settings: Settings,
) -> None:
    me = (await client.get(f"{API}/auth/me")).json()
    world = World(
        client,
        anonymous_client,
        isolated_sessionmaker,
        db_conn,
        f"wp-{uuid.uuid4().hex}",
        settings,
    )
    expected = await WRITE_PATHS[operation_id](world)
    audited, fed = await _traces(db_conn, world.request_id)
    assert sorted((t, str(a), str(i)) for t, a, i, _, _ in audited) == sorted(expected)
    actors = {(me["id"], "admin")} | world.other_actors
    assert {(str(actor), str(role)) for *_, actor, role in audited} <= actors
    assert fed == sorted(t for t in expected if t[0] in FEED_ENTITIES)


async def test_a_subtree_move_records_each_descendants_new_place(
    client: httpx.AsyncClient,
) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    town = await create_org_unit(client, county["id"], kind="township")
    other = await create_org_unit(client)
    r = await client.patch(f"{API}/org-units/{county['id']}", json={"parent_id": other["id"]})
    assert r.status_code == 200, r.text
    events = (await client.get(f"{API}/audit-events", params={"entity_id": town["id"]})).json()
    hexes = [uuid.UUID(u["id"]).hex for u in (city, other, county, town)]
    assert events["items"][-1]["changes"] == {
        "path": {
            "before": "/{0}/{2}/{3}/".format(*hexes),
            "after": "/{1}/{2}/{3}/".format(*hexes),
        }
    }
    feed = (await client.get(f"{API}/changes", params={"limit": 500})).json()["items"]
    # The feed shows committed transactions only: this test's is not, so nothing yet.
    assert all(e["entity_id"] != town["id"] for e in feed)


# --- the CLI -----------------------------------------------------------------------------------

# Every command of `python -m app.cli`, and what it writes.
# --- notifications (docs/notifications.md) ----------------------------------------------------


async def _notified_cadre(w: World) -> tuple[str, list[str]]:
    """A cadre with two notifications (two sessions cancelled), written outside the case."""
    unit = await create_org_unit(w.client)
    cadre = await create_cadre(w.client, unit["id"])
    for _ in range(2):
        ts = await create_session(w.client, unit["id"])
        await _enroll(w, ts["id"], cadre["id"])
        r = await w.client.patch(
            f"{API}/training-sessions/{ts['id']}", json={"status": "cancelled"}
        )
        assert r.status_code == 200, r.text
    ids = await w.ids(
        "SELECT id FROM notification WHERE cadre_id = :c ORDER BY id", c=uuid.UUID(cadre["id"])
    )
    return cadre["id"], ids


@path("markMyNotificationRead")
async def _mark_notification_read(w: World) -> list[Trace]:
    cadre_id, ids = await _notified_cadre(w)
    async with await w.cadre_client(cadre_id) as me:
        await w.write("POST", f"/me/notifications/{ids[0]}/read", client=me)
    return [("notification", "update", ids[0])]


@path("markAllMyNotificationsRead")
async def _mark_all_notifications_read(w: World) -> list[Trace]:
    cadre_id, ids = await _notified_cadre(w)
    async with await w.cadre_client(cadre_id) as me:
        await w.write("POST", "/me/notifications/read-all", client=me)
    return [("notification", "update", i) for i in ids]


CLI_COMMANDS = {
    "remind": "test_remind_is_audited_as_the_cli",
    "migrate": "the schema only",
    "create-admin": "test_create_admin_is_audited_as_the_cli",
    "prune": "test_prune_leaves_no_trace",
    "prune-changes": "the old name of prune",
    "webhook-worker": "test_the_webhook_worker_audits_only_a_change_of_configuration",
    "export-worker": "test_the_export_worker_audits_the_jobs_status_and_file_never_its_bytes",
    "openapi": "nothing",
    "serve": "the API server: its writes are the routes above",
    "freeze-scorecards": "test_freeze_scorecards_is_audited_as_the_cli",
}


def test_every_cli_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    usage = capsys.readouterr().out
    commands = usage[usage.index("{") + 1 : usage.index("}")].split(",")
    assert set(commands) == set(CLI_COMMANDS)


@pytest.fixture
def committed(
    engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncEngine:
    """The CLI opens its own engine on the configured database: these writes commit."""
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return engine


async def _audit_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def _audited(engine: AsyncEngine, *where: Any) -> list[Any]:
    columns = (AuditEvent.entity_type, AuditEvent.action, AuditEvent.entity_id)
    async with engine.connect() as conn:
        stmt = select(*columns, AuditEvent.actor_id, AuditEvent.changes).where(*where)
        return list((await conn.execute(stmt)).all())


async def test_create_admin_is_audited_as_the_cli(committed: AsyncEngine) -> None:
    name = unique("cli-admin")
    assert await cli._create_admin(name, "a-long-password-1")
    rows = await _audited(committed, AuditEvent.request_id == "cli:create-admin")
    async with committed.begin() as conn:
        user_id = await conn.scalar(
            text("SELECT id FROM app_user WHERE username = :n"), {"n": name}
        )
        await conn.execute(text("DELETE FROM app_user WHERE id = :i"), {"i": user_id})
    mine = [r for r in rows if r.entity_id == user_id]
    assert [(r.entity_type, str(r.action), r.actor_id) for r in mine] == [
        ("app_user", "create", None)
    ]
    assert mine[0].changes["password_hash"] == "<changed>"


async def test_prune_leaves_no_trace(committed: AsyncEngine) -> None:
    before = await _audit_count(committed)
    await cli._prune()
    assert await _audit_count(committed) == before


async def test_the_webhook_worker_audits_only_a_change_of_configuration(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Delivering writes only delivery state (no trace); disabling a subscription after its
    last failure is a change of configuration: one audit row, request `webhook-worker`."""
    client = committed_client
    maker = async_sessionmaker(engine, expire_on_commit=False)
    settings = FAST.model_copy(update={"max_attempts": 2, "retry_schedule_seconds": (5,)})
    receiver: Receiver
    with receiving() as receiver:
        hook = (await client.post(f"{API}/webhooks", json={"url": receiver.url})).json()
        await create_org_unit(client)
        before = await _audit_count(engine)
        async with worker.http_client(settings) as http:
            now = datetime.now(UTC)
            receiver.statuses = [200]
            assert await worker.deliver_once(maker, http, now, settings=settings) == 1
            assert await _audit_count(engine) == before  # delivered: bookkeeping only
            await create_org_unit(client)
            before = await _audit_count(engine)
            receiver.statuses = [500, 500]
            await worker.deliver_once(maker, http, now, settings=settings)
            assert await _audit_count(engine) == before  # a failed attempt: bookkeeping only
            await worker.deliver_once(maker, http, now + timedelta(seconds=10), settings=settings)
    rows = await _audited(
        engine,
        AuditEvent.entity_id == uuid.UUID(hook["id"]),
        AuditEvent.request_id == worker.WORKER_REQUEST_ID,
    )
    assert await _audit_count(engine) == before + 1
    assert [(str(r.action), r.actor_id, sorted(r.changes)) for r in rows] == [
        ("update", None, ["active", "disabled_reason"])
    ]


async def test_the_export_worker_audits_the_jobs_status_and_file_never_its_bytes(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """A run leaves the job's status changes and one row a stored chunk, attributed to
    `export-worker`; its progress and lease (heartbeats) leave none, and no trace holds the
    file's bytes."""
    client = committed_client
    maker = async_sessionmaker(engine, expire_on_commit=False)
    unit = await create_org_unit(client)
    for _ in range(3):
        await create_cadre(client, unit["id"])
    r = await client.post(f"{API}/exports", json={"org_unit_id": unit["id"], "year": 2024})
    job_id = uuid.UUID(r.json()["id"])
    settings = ExportSettings(chunk_bytes=1024, progress_rows=1, heartbeat_seconds=0.05)
    assert await export_worker.work_once(maker, settings) == job_id
    rows = await _audited(engine, AuditEvent.request_id == export_worker.WORKER_REQUEST_ID)
    of_job = sorted((str(r.action), sorted(r.changes)) for r in rows if r.entity_id == job_id)
    assert of_job == [
        (
            "update",
            ["chunk_bytes", "expires_at", "finished_at", "sha256", "size_bytes", "status"],
        ),
        ("update", ["status"]),
    ]
    chunks = [
        r
        for r in rows
        if r.entity_type == "export_chunk" and r.changes.get("export_job_id") == str(job_id)
    ]
    assert [(str(r.action), sorted(r.changes)) for r in chunks] == [
        ("create", ["export_job_id", "seq"])
    ] * len(chunks)
    assert len(chunks) >= 1
    assert {r.actor_id for r in rows} == {None}


@path("setUnitTarget")
async def _set_unit_target(w: World) -> list[Trace]:
    unit = await create_org_unit(w.client)
    weights = {
        i: {"weight": 1}
        for i in ("roll_call", "five_year", "annual", "online", "evaluation", "plan")
    }
    r = await w.write("PUT", f"/org-units/{unit['id']}/targets/2025", json=weights)
    return [("unit_target", "create", r.json()["id"])]


async def test_freeze_scorecards_is_audited_as_the_cli(committed: AsyncEngine) -> None:
    """The CLI's freeze stores a snapshot per unit with children: audited, as the CLI."""
    async with committed.begin() as conn:
        ids = [uuid.uuid4() for _ in range(2)]
        paths = [f"/{ids[0].hex}/", f"/{ids[0].hex}/{ids[1].hex}/"]
        for depth, (unit_id, unit_path) in enumerate(zip(ids, paths, strict=True)):
            await conn.execute(
                text(
                    "INSERT INTO org_unit (id, version, code, name, kind, parent_id, path, depth,"
                    " active) VALUES (:i, 1, :c, 'x', 'city', :p, :path, :d, true)"
                ),
                {
                    "i": unit_id,
                    "c": unique("FRZ"),
                    "p": ids[0] if depth else None,
                    "path": unit_path,
                    "d": depth,
                },
            )
    try:
        with pinned_at(datetime(2026, 1, 5, 4, tzinfo=UTC)):
            await cli._freeze_scorecards(2025)
        rows = await _audited(committed, AuditEvent.request_id == "cli:freeze-scorecards")
        mine = [r for r in rows if r.changes.get("org_unit_id") == str(ids[0])]
        assert [(r.entity_type, str(r.action), r.actor_id) for r in mine] == [
            ("unit_scorecard_snapshot", "create", None)
        ]
    finally:
        async with committed.begin() as conn:
            await conn.execute(text("DELETE FROM unit_scorecard_snapshot WHERE year = 2025"))
            await conn.execute(text("DELETE FROM org_unit WHERE id = :i"), {"i": ids[1]})
            await conn.execute(text("DELETE FROM org_unit WHERE id = :i"), {"i": ids[0]})


# --- the tables --------------------------------------------------------------------------------

# Tables without an audit trail: the trail and the feed themselves, and bookkeeping that records
# no one's decision (stored idempotent answers, delivery attempts, the per-cadre sums).
UNAUDITED = {
    "audit_event",
    "change_event",
    "change_feed_state",
    "idempotency_record",
    "webhook_delivery",
    "cadre_year_kind",
    # the last certificate serial of an organiser's year: a counter, each certificate is audited
    "certificate_serial",
    # the anonymous evaluation answers: not audited, not in the feed, by design (docs/evaluation.md)
    "evaluation_answer",
    "evaluation_comment",
}


async def test_every_table_is_audited_and_the_feed_tables_are_the_feeds(
    db_conn: AsyncConnection,
) -> None:
    """A new table gets the audit trigger (or is declared bookkeeping above); the tables whose
    trigger also writes the change feed are exactly the feed's entities."""
    rows = await db_conn.execute(
        text(
            "SELECT c.relname, t.tgname, split_part(encode(t.tgargs, 'escape'), '\\000', 1) "
            "FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'audit_trail_%'"
        )
    )
    triggers: dict[str, set[tuple[str, str]]] = {}
    for table, name, kind in rows:
        triggers.setdefault(table, set()).add((name, kind))
    assert set(triggers) == {t.name for t in Base.metadata.sorted_tables} - UNAUDITED
    feed = {t for t, found in triggers.items() if {k for _, k in found} == {"feed"}}
    assert feed == FEED_ENTITIES
    for found in triggers.values():
        assert {n for n, _ in found} == {f"audit_trail_{e}" for e in ("insert", "update", "delete")}


async def test_the_bootstrap_admin_is_audited_as_the_bootstrap(
    committed: AsyncEngine, settings: Settings
) -> None:
    name = unique("bootstrap-admin")
    configured = settings.model_copy(
        update={
            "bootstrap_admin_username": name,
            "bootstrap_admin_password": SecretStr("a-long-password-1"),
        }
    )
    application = create_app(configured)
    async with application.router.lifespan_context(application):
        pass
    rows = await _audited(committed, AuditEvent.request_id == BOOTSTRAP_REQUEST_ID)
    async with committed.begin() as conn:
        user_id = await conn.scalar(
            text("SELECT id FROM app_user WHERE username = :n"), {"n": name}
        )
        await conn.execute(text("DELETE FROM app_user WHERE id = :i"), {"i": user_id})
    mine = [r for r in rows if r.entity_id == user_id]
    assert [(r.entity_type, str(r.action), r.actor_id) for r in mine] == [
        ("app_user", "create", None)
    ]


async def test_remind_is_audited_as_the_cli(
    committed_client: httpx.AsyncClient, committed: AsyncEngine
) -> None:
    """The reminder job's notifications are written as request `cli:remind`, by no user."""
    unit = await create_org_unit(committed_client)
    leader = await create_cadre(committed_client, unit["id"], rank="county_division")
    await cli._remind(datetime(2026, 11, 20, tzinfo=UTC).date())
    rows = await _audited(committed, AuditEvent.request_id == "cli:remind")
    mine = [r for r in rows if r.changes["cadre_id"] == leader["id"]]
    assert [(r.entity_type, str(r.action), r.actor_id) for r in mine] == [
        ("notification", "create", None)
    ]
