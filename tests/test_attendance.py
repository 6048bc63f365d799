"""Sign-in by class part (docs/rules.md rule 12): rotating QR codes, proxy sign-in flags, the
organiser's marks, leave requests, leave computed from attendance, and closing. The clock is
pinned (app.clock): no sleeps, no timing."""

import asyncio
import inspect
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.attendance import codes
from app.clock import LOCAL_TZ, pinned_at
from app.config import Settings
from app.enrollment import closing
from app.enums import Role
from tests.conftest import ClientFor, add_user, bearer
from tests.factories import API, create_cadre, create_org_unit
from tests.test_platform import assert_problem
from tests.test_session_parts import with_parts

MONDAY_8 = datetime(2025, 3, 3, 8, 0, tzinfo=LOCAL_TZ)


class Class:
    """A 14 h, two-day class with four parts and its trainees, each with its own app."""

    def __init__(self, ts: dict[str, Any], parts: list[dict[str, Any]]) -> None:
        self.ts = ts
        self.parts = parts
        self.enrollments: list[str] = []
        self.apps: list[httpx.AsyncClient] = []

    @property
    def url(self) -> str:
        return f"{API}/training-sessions/{self.ts['id']}"


async def a_class(client: httpx.AsyncClient, client_for: ClientFor, trainees: int = 3) -> Class:
    ts, parts = await with_parts(client)
    cls = Class(ts, parts)
    for _ in range(trainees):
        cadre = await create_cadre(client, ts["organiser_org_unit_id"])
        r = await client.post(f"{cls.url}/enrollments", json={"cadre_id": cadre["id"]})
        assert r.status_code == 201, r.text
        cls.enrollments.append(r.json()["id"])
        cls.apps.append(await client_for(Role.cadre, cadre_id=cadre["id"]))
    return cls


async def code_for(client: httpx.AsyncClient, cls: Class, part: int) -> str:
    r = await client.get(f"{cls.url}/parts/{cls.parts[part]['id']}/sign-in-code")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return str(r.json()["sign_in_code"])


async def scan(app: httpx.AsyncClient, code: str, device: str | None = "phone-1") -> httpx.Response:
    headers = {} if device is None else {"X-Device-ID": device}
    return await app.post(f"{API}/attendance/scan", json={"sign_in_code": code}, headers=headers)


async def marks(client: httpx.AsyncClient, cls: Class, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"{cls.url}/attendance", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_a_code_signs_in_present_then_late_once_per_enrollment(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for)
    with pinned_at(MONDAY_8 + timedelta(minutes=5)):
        code = await code_for(client, cls, 0)
        r = await scan(cls.apps[0], code, "phone-a")
        assert r.status_code == 201, r.text
        first = r.json()
        assert (first["mark"], first["method"], first["minutes_missed"]) == ("present", "qr", 0)
        assert (first["device_id"], first["flag_reason"]) == ("phone-a", None)
        assert first["enrollment_id"] == cls.enrollments[0]
        # once per enrollment, even with a fresh code
        assert_problem(
            await scan(cls.apps[0], code, "phone-a"), 409, "attendance.already_signed_in"
        )
    # 25 minutes after the start: past the 10-minute grace, late by 25 minutes
    with pinned_at(MONDAY_8 + timedelta(minutes=25)):
        late = await scan(cls.apps[1], await code_for(client, cls, 0), "phone-b")
        assert late.status_code == 201, late.text
        assert (late.json()["mark"], late.json()["minutes_missed"]) == ("late", 25)
    assert len(await marks(client, cls, session_part_id=cls.parts[0]["id"])) == 2


async def test_a_code_expires_after_thirty_seconds_and_works_only_in_its_window(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for)
    with pinned_at(MONDAY_8 + timedelta(minutes=1)):
        code = await code_for(client, cls, 0)
    with pinned_at(MONDAY_8 + timedelta(minutes=1, seconds=29)):
        assert (await scan(cls.apps[0], code)).status_code == 201
    with pinned_at(MONDAY_8 + timedelta(minutes=1, seconds=30)):
        assert_problem(await scan(cls.apps[1], code), 422, "attendance.code_expired")
        r = await cls.apps[1].post(
            f"{API}/attendance/scan",
            json={"sign_in_code": code},
            headers={"X-Device-ID": "phone-1", "Accept-Language": "zh-CN"},
        )
        assert assert_problem(r, 422, "attendance.code_expired")["title"] == (
            "签到码已过期；请重新扫描屏幕上的二维码"
        )
    # Before the window opens (30 minutes before the class) and after the class ends, a fresh
    # code does not sign in.
    for at in (MONDAY_8 - timedelta(minutes=31), MONDAY_8 + timedelta(hours=4, seconds=1)):
        with pinned_at(at):
            fresh = await code_for(client, cls, 0)
            assert_problem(await scan(cls.apps[2], fresh), 409, "attendance.outside_window")
    # The afternoon's code does not open in the morning.
    with pinned_at(MONDAY_8 + timedelta(minutes=2)):
        afternoon = await code_for(client, cls, 1)
        assert_problem(await scan(cls.apps[2], afternoon), 409, "attendance.outside_window")
    assert len(await marks(client, cls)) == 1


async def test_sign_in_opens_before_the_class_and_lateness_counts_from_its_start(
    client: httpx.AsyncClient, client_for: ClientFor, settings: Settings
) -> None:
    """The 08:00–12:00 morning: sign-in opens at 07:30 (APP_ATTENDANCE__SIGN_IN_OPENS_MINUTES_
    BEFORE, 30); 07:30 and 07:59 are present; 08:20 is late by 20 minutes, which at closing is
    4 × 20 / 240 = 0.33 h (the class's 240 minutes)."""
    assert settings.attendance.sign_in_opens_minutes_before == 30
    cls = await a_class(client, client_for)
    with pinned_at(MONDAY_8 - timedelta(minutes=30, seconds=1)):
        early = await code_for(client, cls, 0)
        assert_problem(await scan(cls.apps[0], early, "a"), 409, "attendance.outside_window")
    for trainee, at in ((0, -30), (1, -1)):
        with pinned_at(MONDAY_8 + timedelta(minutes=at)):
            r = await scan(cls.apps[trainee], await code_for(client, cls, 0), f"p{trainee}")
            assert r.status_code == 201, r.text
            assert (r.json()["mark"], r.json()["minutes_missed"]) == ("present", 0)
    with pinned_at(MONDAY_8 + timedelta(minutes=20)):
        r = await scan(cls.apps[2], await code_for(client, cls, 0), "p2")
        assert (r.json()["mark"], r.json()["minutes_missed"]) == ("late", 20)
    await bulk(client, cls, [row(cls, t, p, "present") for t in range(3) for p in range(1, 4)])
    r = await close(client, cls)
    assert r.status_code == 200, r.text
    leave = {o["enrollment_id"]: o["leave_hours"] for o in r.json()["outcomes"]}
    assert [leave[e] for e in cls.enrollments] == ["0.00", "0.00", "0.33"]


async def test_a_forged_or_malformed_code_is_refused_and_nothing_is_marked(
    client: httpx.AsyncClient, client_for: ClientFor, settings: Settings
) -> None:
    cls = await a_class(client, client_for)
    part_id = cls.parts[0]["id"]
    with pinned_at(MONDAY_8 + timedelta(minutes=1)):
        genuine = await code_for(client, cls, 0)
        version, part, issued, signature = genuine.split(".")
        # another second, the same signature; another key altogether
        tampered = f"{version}.{part}.{int(issued) + 1}.{signature}"
        other_key = codes.issue("x" * 40, uuid.UUID(part_id), MONDAY_8, 30).code
        for forged in (tampered, other_key):
            assert_problem(await scan(cls.apps[0], forged), 403, "attendance.code_forged")
        for malformed in ("v1.nothing", f"v2.{part}.{issued}.{signature}", "v1.zz.1.x"):
            assert_problem(await scan(cls.apps[0], malformed), 422, "attendance.code_malformed")
        r = await cls.apps[0].post(f"{API}/attendance/scan", json={"sign_in_code": "a b"})
        assert_problem(r, 422, "validation_failed")
        # no device id: refused
        assert_problem(await scan(cls.apps[0], genuine, None), 422, "attendance.device_id_required")
        # an organiser cannot scan; a cadre not enrolled is refused
        assert_problem(await scan(client, genuine), 403, "forbidden")
        stranger = await create_cadre(client, cls.ts["organiser_org_unit_id"])
        app = await client_for(Role.cadre, cadre_id=stranger["id"])
        assert_problem(await scan(app, genuine), 409, "attendance.not_enrolled")
    assert await marks(client, cls) == []
    assert settings.attendance.code_seconds == 30


async def test_two_cadres_from_one_device_are_both_flagged(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for)
    with pinned_at(MONDAY_8 + timedelta(minutes=3)):
        code = await code_for(client, cls, 0)
        for app, device in zip(cls.apps, ("shared", "shared", "own"), strict=True):
            r = await scan(app, code, device)
            assert r.status_code == 201
            assert r.json()["flag_reason"] is None  # the trainee's answer: never the flag
    flagged = await marks(client, cls, flagged="true")
    assert sorted(m["enrollment_id"] for m in flagged) == sorted(cls.enrollments[:2])
    # the reason code and the device: no other trainee's id in a mark
    assert {(m["flag_reason"], m["device_id"]) for m in flagged} == {("shared_device", "shared")}
    clean = await marks(client, cls, flagged="false")
    assert [m["enrollment_id"] for m in clean] == [cls.enrollments[2]]


async def test_the_proxy_flags_are_the_organisers_alone(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """A trainee, and the admin of the unit its cadre belongs to, see the marks they may see,
    with no flag, and may not filter by it (docs/rules.md rule 12)."""
    cls = await a_class(client, client_for, trainees=1)
    county = await create_org_unit(client, cls.ts["organiser_org_unit_id"], kind="county")
    cadre = await create_cadre(client, county["id"])
    r = await client.post(f"{cls.url}/enrollments", json={"cadre_id": cadre["id"]})
    assert r.status_code == 201, r.text
    trainee = await client_for(Role.cadre, cadre_id=cadre["id"])
    county_admin = await client_for(Role.org_admin, org_unit_id=county["id"])
    with pinned_at(MONDAY_8 + timedelta(minutes=3)):
        code = await code_for(client, cls, 0)
        assert (await scan(cls.apps[0], code, "shared")).status_code == 201
        assert (await scan(trainee, code, "shared")).status_code == 201
    assert len(await marks(client, cls, flagged="true")) == 2
    for reader in (trainee, county_admin):
        (mine,) = await marks(reader, cls)
        assert mine["enrollment_id"] == r.json()["id"]
        assert mine["flag_reason"] is None
        for flagged in ("true", "false"):
            got = await reader.get(f"{cls.url}/attendance", params={"flagged": flagged})
            assert_problem(got, 403, "training_session.not_organiser")


async def bulk(client: httpx.AsyncClient, cls: Class, rows: list[dict[str, Any]]) -> Any:
    r = await client.post(f"{cls.url}/attendance", json={"marks": rows})
    assert r.status_code == 200, r.text
    return r.json()


def row(cls: Class, trainee: int, part: int, mark: str, **extra: Any) -> dict[str, Any]:
    return {
        "enrollment_id": cls.enrollments[trainee],
        "session_part_id": cls.parts[part]["id"],
        "mark": mark,
        **extra,
    }


async def test_bulk_marks_answer_row_by_row(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for)
    other, other_parts = await with_parts(client)
    result = await bulk(
        client,
        cls,
        [
            row(cls, 0, 0, "present", method="card"),
            row(cls, 1, 0, "late", minutes_missed=30),
            {
                **row(cls, 2, 0, "absent"),
                "session_part_id": other_parts[0]["id"],
            },  # another class's part
            {**row(cls, 2, 0, "absent"), "enrollment_id": other["id"]},  # not an enrollment
        ],
    )
    assert (result["marked"], result["unchanged"], result["rejected"]) == (2, 0, 2)
    outcomes = [(r["index"], r["outcome"], r["code"]) for r in result["rows"]]
    assert outcomes == [
        (0, "marked", None),
        (1, "marked", None),
        (2, "rejected", "attendance.part_not_of_session"),
        (3, "rejected", "attendance.not_enrolled"),
    ]
    assert result["rows"][0]["attendance"]["method"] == "card"
    again = await bulk(client, cls, [row(cls, 0, 0, "present"), row(cls, 1, 0, "left_early")])
    assert (again["marked"], again["unchanged"]) == (1, 1)
    # minutes missed only for late or left_early; qr only from the scan: the whole request
    for bad in (row(cls, 0, 1, "absent", minutes_missed=5), row(cls, 0, 1, "present", method="qr")):
        r = await client.post(f"{cls.url}/attendance", json={"marks": [bad]})
        assert_problem(r, 422, "validation_failed")
    assert len(await marks(client, cls)) == 2


async def test_leave_is_requested_then_approved_or_refused(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for, trainees=2)
    evening = cls.parts[3]["id"]
    url = f"{API}/enrollments/{cls.enrollments[0]}/leave-requests"
    r = await cls.apps[0].post(url, json={"session_part_ids": [evening], "reason": "家中有事"})
    assert r.status_code == 201, r.text
    request = r.json()
    assert (request["status"], request["session_part_ids"]) == ("pending", [evening])
    # The trainee cannot approve its own leave.
    assert_problem(
        await cls.apps[0].post(f"{API}/leave-requests/{request['id']}/approve"), 403, "forbidden"
    )
    r = await client.post(
        f"{API}/leave-requests/{request['id']}/approve",
        headers={"If-Match": f'"{request["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    (mark,) = await marks(client, cls, enrollment_id=cls.enrollments[0])
    assert (mark["mark"], mark["leave_request_id"]) == ("on_leave", request["id"])
    assert_problem(
        await client.post(f"{API}/leave-requests/{request['id']}/approve"),
        409,
        "attendance.leave_request_decided",
    )
    # The second trainee's request is refused with a reason; its parts stay unmarked.
    url = f"{API}/enrollments/{cls.enrollments[1]}/leave-requests"
    refused = (
        await cls.apps[1].post(url, json={"session_part_ids": [evening], "reason": "私事"})
    ).json()
    r = await client.post(
        f"{API}/leave-requests/{refused['id']}/refuse", json={"reason": "结业考试,不能请假"}
    )
    assert (r.json()["status"], r.json()["decision_reason"]) == ("refused", "结业考试,不能请假")
    assert await marks(client, cls, enrollment_id=cls.enrollments[1]) == []
    listed = await client.get(f"{cls.url}/leave-requests", params={"status": "pending"})
    assert listed.json()["items"] == []
    # Bad requests: a part of another class, a part twice, another trainee's enrollment.
    _, other_parts = await with_parts(client)
    assert_problem(
        await cls.apps[1].post(
            url, json={"session_part_ids": [other_parts[0]["id"]], "reason": "x"}
        ),
        422,
        "attendance.part_not_of_session",
    )
    assert_problem(
        await cls.apps[1].post(url, json={"session_part_ids": [evening, evening], "reason": "x"}),
        422,
        "validation_failed",
    )
    mine = f"{API}/enrollments/{cls.enrollments[0]}/leave-requests"
    r = await cls.apps[1].post(mine, json={"session_part_ids": [evening], "reason": "x"})
    assert_problem(r, 404, "enrollment.not_found")
    every = (await client.get(f"{cls.url}/leave-requests")).json()["items"]
    assert [(r["id"], r["status"]) for r in every] == sorted(
        [(request["id"], "approved"), (refused["id"], "refused")]
    )


async def close(client: httpx.AsyncClient, cls: Class, **body: Any) -> httpx.Response:
    return await client.post(f"{cls.url}/close", json=body or None)


async def test_closing_waits_for_every_mark_unless_forced(
    client: httpx.AsyncClient, client_for: ClientFor, db_conn: AsyncConnection
) -> None:
    cls = await a_class(client, client_for, trainees=2)
    rows = [row(cls, t, p, "present") for t in range(2) for p in range(4)][:-1]
    await bulk(client, cls, rows)  # trainee 1's evening is unmarked
    body = assert_problem(await close(client, cls), 409, "training_session.attendance_incomplete")
    assert "1 attendance marks are missing" in body["detail"]
    assert (await client.get(cls.url)).json()["status"] == "open"
    assert_problem(await close(client, cls, force_reason=""), 422, "validation_failed")
    r = await close(client, cls, force_reason="签到机故障,晚间课由班主任点名")
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["training_session"]["close_force_reason"] == "签到机故障,晚间课由班主任点名"
    assert (closed["completed"], closed["dropped_out"]) == (2, 0)
    assert {o["hours"] for o in closed["outcomes"]} == {"14.00"}
    trail = await db_conn.scalar(
        text(
            "SELECT changes->'close_force_reason'->>'after' FROM audit_event "
            "WHERE entity_id = :id AND action = 'update' ORDER BY id DESC LIMIT 1"
        ),
        {"id": cls.ts["id"]},
    )
    assert trail == "签到机故障,晚间课由班主任点名"


async def test_closing_decides_on_the_leave_attendance_computes(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """14 h, cap 2 h. A: absent from the 2 h evening, exactly 1/7: completes with 12 h.
    B: late 30 min at a 4 h morning (0.5 h) and approved leave at the evening (2 h): 2.5 h,
    withdrawn. C: left the Monday afternoon 24 min early, 4 × 24 / 240 = 0.4 h: completes with
    13.6 h. D: absent from the evening, but the organiser typed 1 h with an override reason:
    13 h."""
    cls = await a_class(client, client_for, trainees=4)
    rows = [row(cls, t, p, "present") for t in range(4) for p in range(4)]
    rows[3] = row(cls, 0, 3, "absent")
    rows[4] = row(cls, 1, 0, "late", minutes_missed=30)
    rows[9] = row(cls, 2, 1, "left_early", minutes_missed=24)
    rows[15] = row(cls, 3, 3, "absent")  # overridden below
    await bulk(client, cls, [r for i, r in enumerate(rows) if i != 7])
    url = f"{API}/enrollments/{cls.enrollments[1]}/leave-requests"
    request = (
        await cls.apps[1].post(
            url, json={"session_part_ids": [cls.parts[3]["id"]], "reason": "病假"}
        )
    ).json()
    assert (await client.post(f"{API}/leave-requests/{request['id']}/approve")).status_code == 200
    typed = f"{API}/enrollments/{cls.enrollments[3]}"
    assert_problem(
        await client.patch(typed, json={"leave_hours": "1"}),
        422,
        "enrollment.leave_override_reason_required",
    )
    r = await client.patch(typed, json={"leave_hours": "1", "leave_override_reason": "补课 1 学时"})
    assert r.status_code == 200, r.text
    r = await close(client, cls)
    assert r.status_code == 200, r.text
    outcome = {o["enrollment_id"]: o for o in r.json()["outcomes"]}
    got = [
        (outcome[e]["status"], outcome[e]["leave_hours"], outcome[e]["hours"])
        for e in cls.enrollments
    ]
    assert got == [
        ("completed", "2.00", "12.00"),
        ("dropped_out", "2.50", "0.00"),
        ("completed", "0.40", "13.60"),
        ("completed", "1.00", "13.00"),
    ]
    assert r.json()["training_session"]["close_force_reason"] is None
    recorded = (await client.get(f"{API}/enrollments/{cls.enrollments[0]}")).json()
    assert recorded["leave_hours"] == "2.00"


async def test_parallel_scans_from_one_device_are_all_flagged(
    committed_client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    """Six trainees scan at once, four of them from one phone: whatever the order their
    transactions commit in, the four are flagged and the two others are not."""
    client = committed_client
    cls = await a_class(client, _committed_clients(app, settings, client), trainees=6)
    with pinned_at(MONDAY_8 + timedelta(minutes=2)):
        code = await code_for(client, cls, 0)
        devices = ["shared"] * 4 + ["own-1", "own-2"]
        answers = await asyncio.gather(
            *(scan(a, code, d) for a, d in zip(cls.apps, devices, strict=True))
        )
    assert [r.status_code for r in answers] == [201] * 6
    flagged = {m["enrollment_id"] for m in await marks(client, cls, flagged="true")}
    assert flagged == set(cls.enrollments[:4])
    for app_client in cls.apps:
        await app_client.aclose()


def _committed_clients(app: FastAPI, settings: Settings, client: httpx.AsyncClient) -> ClientFor:
    """Cadre clients whose users commit, beside `committed_client`."""

    async def make(
        role: Role,
        *,
        org_unit_id: str | uuid.UUID | None = None,
        cadre_id: str | uuid.UUID | None = None,
    ) -> httpx.AsyncClient:
        user = await add_user(
            app.state.sessionmaker, role, org_unit_id=org_unit_id, cadre_id=cadre_id
        )
        return httpx.AsyncClient(
            transport=client._transport, base_url="http://test", headers=bearer(settings, user)
        )

    return make


async def test_a_marked_part_stays_and_a_closed_class_takes_no_more_marks(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for, trainees=1)
    await bulk(client, cls, [row(cls, 0, 3, "absent")])
    current = (await client.get(cls.url)).json()
    # Dropping the evening (and moving its 2 h to the morning) would lose a mark: refused.
    fewer = [
        {"part_date": p["part_date"], "period": p["period"], "credit_hours": h}
        for p, h in zip(cls.parts[:3], ("4", "4", "6"), strict=True)
    ]
    r = await client.put(
        f"{cls.url}/parts", json={"parts": fewer}, headers={"If-Match": f'"{current["version"]}"'}
    )
    assert_problem(r, 409, "training_session.part_has_attendance")
    listed = (await client.get(f"{cls.url}/parts")).json()
    assert [p["id"] for p in listed["parts"]] == [p["id"] for p in cls.parts]
    assert listed["version"] == current["version"]
    # After the close, neither codes nor marks.
    rows = [row(cls, 0, p, "present") for p in range(3)]
    await bulk(client, cls, rows)
    assert (await close(client, cls)).status_code == 200
    r = await client.get(f"{cls.url}/parts/{cls.parts[0]['id']}/sign-in-code")
    assert_problem(r, 409, "attendance.session_final")
    r = await client.post(f"{cls.url}/attendance", json={"marks": rows})
    assert_problem(r, 409, "attendance.session_final")


async def test_an_override_of_the_computed_leave_is_audited(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for, trainees=1)
    url = f"{API}/enrollments/{cls.enrollments[0]}"
    # A reason alone would make the stored 0 h the leave: the hours come in the same request.
    r = await client.patch(url, json={"leave_override_reason": "补课"})
    problem = assert_problem(r, 422, "enrollment.leave_override_hours_required")
    assert [e["pointer"] for e in problem["errors"]] == ["/body/leave_hours"]
    assert (await client.get(url)).json()["leave_override_reason"] is None
    body = {"leave_hours": "1", "leave_override_reason": "补课 1 学时"}
    assert (await client.patch(url, json=body)).status_code == 200
    events = (
        await client.get(f"{API}/audit-events", params={"entity_id": cls.enrollments[0]})
    ).json()["items"]
    assert events[-1]["changes"]["leave_override_reason"] == {
        "before": None,
        "after": "补课 1 学时",
    }
    # Back to the computed leave: the reason goes, the typed figure waits for the close.
    r = await client.patch(url, json={"leave_override_reason": None})
    assert (r.json()["leave_override_reason"], r.json()["leave_hours"]) == (None, "1.00")


async def test_a_scan_waits_for_a_close_in_flight_and_then_is_refused(
    committed_client: httpx.AsyncClient, app: FastAPI, settings: Settings, engine: AsyncEngine
) -> None:
    """A close holds the session row FOR UPDATE while it counts the marks; a scan takes the
    row FOR SHARE before it reads the session, so it waits, then finds the session closed and
    writes nothing (no mark lands after the close has counted)."""
    client = committed_client
    cls = await a_class(client, _committed_clients(app, settings, client), trainees=1)
    with pinned_at(MONDAY_8 + timedelta(minutes=2)):
        code = await code_for(client, cls, 0)
        async with engine.connect() as closing:
            await closing.execute(
                text("SELECT 1 FROM training_session WHERE id = :id FOR UPDATE"),
                {"id": cls.ts["id"]},
            )
            scanning = asyncio.create_task(scan(cls.apps[0], code))
            await _until_waiting_or_done(engine, scanning, closing)
            assert not scanning.done(), "the scan did not wait for the close in flight"
            await closing.execute(
                text("UPDATE training_session SET status = 'closed' WHERE id = :id"),
                {"id": cls.ts["id"]},
            )
            await closing.commit()
        assert_problem(await scanning, 409, "attendance.session_final")
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM attendance")) == 0
    await cls.apps[0].aclose()


async def _until_waiting_or_done(
    engine: AsyncEngine, task: "asyncio.Task[Any]", holder: AsyncConnection
) -> None:
    """Return once a backend waits on a lock that `holder` (a connection in a transaction)
    holds, or the task has finished (it did not wait). Found by `pg_blocking_pids`, not by the
    statement's text: pg_stat_activity cuts a long query short (track_activity_query_size), so
    a text pattern can miss the waiter and spin for ever."""
    holder_pid = await holder.scalar(text("SELECT pg_backend_pid()"))
    async with engine.connect() as conn:
        # Bounded (a minute of polling) so that a waiter on anything else fails, never hangs.
        for _ in range(6_000):
            if task.done():
                return
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE :holder = ANY(pg_blocking_pids(pid))"
                ),
                {"holder": holder_pid},
            )
            await conn.rollback()
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("nothing waited on the holder's lock, and the task did not finish")


async def test_the_organisers_mark_clears_a_proxy_flag(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Confirming the flagged mark (the same `present`) or giving another settles the flag."""
    cls = await a_class(client, client_for)
    with pinned_at(MONDAY_8 + timedelta(minutes=3)):
        code = await code_for(client, cls, 0)
        for app in cls.apps:
            assert (await scan(app, code, "shared")).status_code == 201
    assert len(await marks(client, cls, flagged="true")) == 3
    result = await bulk(client, cls, [row(cls, 0, 0, "present"), row(cls, 1, 0, "absent")])
    assert [(r["outcome"], r["attendance"]["flag_reason"]) for r in result["rows"]] == [
        ("marked", None),
        ("marked", None),
    ]
    still = await marks(client, cls, flagged="true")
    assert [m["enrollment_id"] for m in still] == [cls.enrollments[2]]
    # once settled, the same mark again is unchanged
    again = await bulk(client, cls, [row(cls, 0, 0, "present")])
    assert again["unchanged"] == 1


async def test_leave_of_a_withdrawn_enrollment_is_not_approved(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cls = await a_class(client, client_for, trainees=1)
    url = f"{API}/enrollments/{cls.enrollments[0]}"
    r = await cls.apps[0].post(
        f"{url}/leave-requests", json={"session_part_ids": [cls.parts[3]["id"]], "reason": "病假"}
    )
    request = r.json()
    assert (await client.patch(url, json={"status": "withdrawn"})).status_code == 200
    r = await client.post(f"{API}/leave-requests/{request['id']}/approve")
    assert_problem(r, 409, "attendance.not_enrolled")
    assert await marks(client, cls) == []
    got = (await client.get(f"{API}/leave-requests/{request['id']}")).json()
    assert got["status"] == "pending"


def test_closing_is_always_told_what_attendance_says() -> None:
    """`attendance` is a required keyword of close_session: a caller cannot leave it out and
    close a session with parts on the typed leave."""
    parameter = inspect.signature(closing.close_session).parameters["attendance"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


async def test_a_bulk_mark_waits_for_a_mark_in_flight_and_answers_row_by_row(
    committed_client: httpx.AsyncClient, app: FastAPI, settings: Settings, engine: AsyncEngine
) -> None:
    """A mark being inserted (a scan in flight) holds its enrollment row KEY SHARE (the foreign
    key); the bulk locks the active enrollments FOR UPDATE before it reads the marks, so it waits,
    then reads the new mark and replaces it: a row answer, no unique violation, no 500."""
    client = committed_client
    cls = await a_class(client, _committed_clients(app, settings, client), trainees=1)
    async with engine.connect() as other:
        await other.execute(
            text(
                "INSERT INTO attendance (id, enrollment_id, session_part_id, mark, method, "
                "marked_at, minutes_missed, version, created_at, updated_at) VALUES "
                "(gen_random_uuid(), :e, :p, 'present', 'qr', now(), 0, 1, now(), now())"
            ),
            {"e": cls.enrollments[0], "p": cls.parts[0]["id"]},
        )
        marking = asyncio.create_task(
            client.post(f"{cls.url}/attendance", json={"marks": [row(cls, 0, 0, "absent")]})
        )
        await _until_waiting_or_done(engine, marking, other)
        assert not marking.done(), "the bulk did not wait for the mark in flight"
        await other.commit()
    r = await marking
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["rows"]] == ["marked"]
    (mark,) = await marks(client, cls)
    assert (mark["mark"], mark["method"]) == ("absent", "manual")
    for app_client in cls.apps:
        await app_client.aclose()
