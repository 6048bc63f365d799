"""A city class end to end, through the HTTP API (issue 13, "Done when"): the year's plan
approved (docs/rules.md, "Training plans"), a class of 市委组织部 for three counties with seat
quotas 3/3/4, nominations under review with a rejection and its replacement, and a waitlist
promotion (docs/rules.md rule 11); QR sign-in by class part with a proxy sign-in flagged,
approved leave and the organiser's remaining marks (docs/rules.md rule 12); the close under the
1/7 rule (docs/rules.md rule 7); then every trainee's credits and the sign-in sheet, each figure
worked out by hand below.

The clock is pinned for the sign-ins (app.clock); no sleeps, no timing."""

import io
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clock import LOCAL_TZ, pinned_at
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, session_body
from tests.test_platform import assert_problem

# The class: Monday 3 to Friday 7 March 2025, 5 days, 40 学时, centralised, 10 seats.
# Ten parts (课次): each day's morning (08:00–12:00) and afternoon (14:00–18:00), 4 h each:
# 10 × 4 = 40 h, the session's credit hours. Both windows are 240 minutes long.
DAYS = ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]
PARTS = [
    {"part_date": day, "period": period, "credit_hours": "4"}
    for day in DAYS
    for period in ("morning", "afternoon")
]
MON_AM, MON_PM, TUE_AM, TUE_PM, WED_AM, WED_PM, THU_AM, THU_PM, FRI_AM, FRI_PM = range(10)
MONDAY_8 = datetime(2025, 3, 3, 8, 0, tzinfo=LOCAL_TZ)
MONDAY_14 = datetime(2025, 3, 3, 14, 0, tzinfo=LOCAL_TZ)


def etag(r: httpx.Response) -> dict[str, str]:
    return {"If-Match": r.headers["ETag"]}


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


async def test_a_city_class_from_plan_to_credits(
    client: httpx.AsyncClient, client_for: ClientFor, db_conn: AsyncConnection
) -> None:
    admin = client

    # --- the units and their people ------------------------------------------------------------
    # 滁州市 with its organisation department (the organiser) and three counties (siblings of
    # the department: the class reaches them through its audience, not through the tree).
    city = await create_org_unit(admin, name="滁州市", kind="city")
    dept = await create_org_unit(admin, city["id"], kind="department", name="市委组织部")
    counties = {
        key: await create_org_unit(admin, city["id"], kind="county", name=name)
        for key, name in (("A", "来安县"), ("B", "全椒县"), ("C", "定远县"))
    }
    city_admin = await client_for(Role.org_admin, org_unit_id=city["id"])
    organiser = await client_for(Role.org_admin, org_unit_id=dept["id"])
    county_admin = {
        key: await client_for(Role.org_admin, org_unit_id=unit["id"])
        for key, unit in counties.items()
    }
    # Cadres: a1–a4 of 来安县, b1–b3 of 全椒县, c1–c4 of 定远县, and k, a department's own
    # cadre (outside the class's audience).
    people = {"A": ("a1", "a2", "a3", "a4"), "B": ("b1", "b2", "b3"), "C": ("c1", "c2", "c3", "c4")}
    cadre: dict[str, dict[str, Any]] = {}
    for key, names in people.items():
        for n in names:
            cadre[n] = await create_cadre(admin, counties[key]["id"], name=f"学员{n}")
    cadre["k"] = await create_cadre(admin, dept["id"], name="学员k")

    # --- the plan: drafted and submitted by the department, approved by the city above it --------
    plan = ok(
        await organiser.post(
            f"{API}/training-plans",
            json={
                "org_unit_id": dept["id"],
                "year": 2025,
                "title": "2025年度干部教育培训计划",
                "items": [
                    {
                        "title": "全市年轻干部培训班",
                        "form": "refresher",
                        "centralised": True,
                        "month": 3,
                        "days": "5",
                        "credit_hours": "40",
                        "target_ranks": ["township_section"],
                        "topic_tags": ["党性教育"],
                        "planned_seats": 10,
                    }
                ],
            },
        ),
        201,
    )
    assert plan["status"] == "draft"
    r = await organiser.post(f"{API}/training-plans/{plan['id']}/submit")
    assert ok(r)["status"] == "submitted"
    # The department cannot approve its own plan: an org_admin strictly above it, or an admin.
    r = await organiser.post(f"{API}/training-plans/{plan['id']}/approve", headers=etag(r))
    assert_problem(r, 403, "training_plan.not_approver")
    r = await city_admin.post(f"{API}/training-plans/{plan['id']}/approve")
    assert ok(r)["status"] == "approved"
    item_id = plan["items"][0]["id"]

    # --- the class, naming its planned class; audience three counties, quotas 3/3/4 -----------
    r = await organiser.post(
        f"{API}/training-sessions",
        json=session_body(
            dept["id"], title="全市年轻干部培训班", plan_item_id=item_id, capacity=10
        ),
    )
    ts = ok(r, 201)
    assert ts["plan_item_id"] == item_id
    url = f"{API}/training-sessions/{ts['id']}"
    quotas = {"A": 3, "B": 3, "C": 4}  # 3 + 3 + 4 = 10, the capacity
    r = await organiser.put(
        f"{url}/audience",
        json={
            "units": [
                {"org_unit_id": counties[key]["id"], "seat_quota": q} for key, q in quotas.items()
            ]
        },
        headers=etag(r),
    )
    audience = ok(r)
    assert {u["org_unit_id"]: u["seat_quota"] for u in audience["units"]} == {
        counties[key]["id"]: q for key, q in quotas.items()
    }
    r = await organiser.put(f"{url}/parts", json={"parts": PARTS}, headers=etag(r))
    parts = [p["id"] for p in ok(r)["parts"]]
    assert len(parts) == 10
    # Each county's administrator sees the city's class (its audience reaches the county).
    for c in county_admin.values():
        assert (await c.get(url)).status_code == 200

    # --- nominations ---------------------------------------------------------------------------
    enrollment: dict[str, dict[str, Any]] = {}

    async def nominate(key: str, n: str) -> dict[str, Any]:
        r = await county_admin[key].post(
            f"{url}/enrollments", json={"cadre_id": cadre[n]["id"], "origin": "nomination"}
        )
        enrollment[n] = ok(r, 201)
        return enrollment[n]

    # The organiser calls its own k to the class (roll call: enrolled at once). k's unit is
    # outside the audience, so k counts against no county's quota: 1 seat of 10.
    r = await organiser.post(f"{url}/enrollments", json={"cadre_id": cadre["k"]["id"]})
    enrollment["k"] = ok(r, 201)
    assert (enrollment["k"]["status"], enrollment["k"]["audience_org_unit_id"]) == (
        "enrolled",
        None,
    )
    # 来安县 nominates a1–a3 in one request (bulk: answered row by row). Seats: 4.
    r = await county_admin["A"].post(
        f"{url}/nominations", json={"cadre_ids": [cadre[n]["id"] for n in ("a1", "a2", "a3")]}
    )
    report = ok(r)
    assert (report["created"], report["waitlisted"], report["refused"]) == (3, 0, 0)
    for n, row in zip(("a1", "a2", "a3"), report["rows"], strict=True):
        enrollment[n] = ok(await county_admin["A"].get(f"{API}/enrollments/{row['enrollment_id']}"))
    # 全椒县 b1–b3 (seats 7), 定远县 c1–c3 (seats 10: full).
    for key, names in (("B", ("b1", "b2", "b3")), ("C", ("c1", "c2", "c3"))):
        for n in names:
            assert (await nominate(key, n))["status"] == "nominated"
    assert ok(await admin.get(url))["enrolled"] == 10
    # 来安县 is at its quota: a4 is refused (not waitlisted), whatever the free seats.
    r = await county_admin["A"].post(
        f"{url}/enrollments", json={"cadre_id": cadre["a4"]["id"], "origin": "nomination"}
    )
    assert_problem(r, 409, "enrollment.quota_reached")

    # --- review: a3 rejected with a reason, the seat freed; a4 replaces a3 --------------------
    for n in ("a1", "a2", "b1", "b2", "b3", "c1", "c2", "c3"):
        r = await organiser.post(
            f"{API}/enrollments/{enrollment[n]['id']}/review", json={"action": "approve"}
        )
        assert ok(r)["status"] == "enrolled"
    r = await organiser.post(
        f"{API}/enrollments/{enrollment['a3']['id']}/review",
        json={"action": "reject", "reason": "不符合本期调训对象条件"},
    )
    assert (ok(r)["status"], r.json()["review_reason"]) == ("rejected", "不符合本期调训对象条件")
    assert ok(await admin.get(url))["enrolled"] == 9
    assert (await nominate("A", "a4"))["status"] == "nominated"  # seats 10 again

    # --- the waitlist: c4 waits (the class is full though 定远县 holds 3 of its 4), k withdraws,
    # c4 takes k's seat ----------------------------------------------------------------------------
    c4 = await nominate("C", "c4")
    assert (c4["status"], c4["waitlist_position"]) == ("waitlisted", 1)
    r = await organiser.patch(
        f"{API}/enrollments/{enrollment['k']['id']}", json={"status": "withdrawn"}
    )
    assert ok(r)["status"] == "withdrawn"
    c4 = ok(await organiser.get(f"{API}/enrollments/{c4['id']}"))
    assert (c4["status"], c4["waitlist_position"]) == ("nominated", None)
    assert ok(await admin.get(url))["enrolled"] == 10
    # The promotion is an update of c4's enrollment, in the audit trail and the change feed
    # (the feed is read from its table: the test's transaction is never committed).
    trail = ok(await admin.get(f"{API}/audit-events", params={"entity_id": c4["id"]}))["items"]
    assert trail[-1]["action"] == "update"
    assert trail[-1]["changes"]["status"] == {"before": "waitlisted", "after": "nominated"}
    feed = await db_conn.execute(
        text("SELECT action, changes FROM change_event WHERE entity_id = :id ORDER BY id"),
        {"id": uuid.UUID(c4["id"])},
    )
    assert [(a, c["status"]) for a, c in feed.all()][-1] == (
        "update",
        {"before": "waitlisted", "after": "nominated"},
    )
    for n in ("a4", "c4"):
        r = await organiser.post(
            f"{API}/enrollments/{enrollment[n]['id']}/review", json={"action": "approve"}
        )
        assert ok(r)["status"] == "enrolled"
    trainees = ["a1", "a2", "a4", "b1", "b2", "b3", "c1", "c2", "c3", "c4"]
    audience = ok(await admin.get(f"{url}/audience"))
    assert (audience["capacity"], audience["seats_taken"]) == (10, 10)
    assert {u["org_unit_id"]: u["seats_taken"] for u in audience["units"]} == {
        counties[key]["id"]: q for key, q in quotas.items()
    }
    listed = ok(await admin.get(f"{url}/enrollments", params={"limit": 100}))["items"]
    by_status: dict[str, set[str]] = {}
    name_of = {cadre[n]["id"]: n for n in cadre}
    for e in listed:
        by_status.setdefault(e["status"], set()).add(name_of[e["cadre_id"]])
    assert by_status == {"enrolled": set(trainees), "rejected": {"a3"}, "withdrawn": {"k"}}
    eid = {n: enrollment[n]["id"] for n in trainees}

    # --- QR sign-in, Monday --------------------------------------------------------------------
    app = {n: await client_for(Role.cadre, cadre_id=cadre[n]["id"]) for n in trainees}

    async def code(part: int) -> str:
        r = await organiser.get(f"{url}/parts/{parts[part]}/sign-in-code")
        return str(ok(r)["sign_in_code"])

    async def scan(n: str, sign_in_code: str, device: str) -> dict[str, Any]:
        r = await app[n].post(
            f"{API}/attendance/scan",
            json={"sign_in_code": sign_in_code},
            headers={"X-Device-ID": device},
        )
        return ok(r, 201)  # type: ignore[no-any-return]

    # Monday morning at 08:03 (within the 10-minute grace): present. b3 is not there: b2 signs
    # in for b3 on b2's own phone (代签). c1 arrives at 08:25: late, 25 minutes missed.
    with pinned_at(MONDAY_8 + timedelta(minutes=3)):
        morning = await code(MON_AM)
        for n in trainees:
            if n in ("b3", "c1"):
                continue
            assert (await scan(n, morning, f"phone-{n}"))["mark"] == "present"
        proxy = await scan("b3", morning, "phone-b2")
        assert proxy["mark"] == "present"
    with pinned_at(MONDAY_8 + timedelta(minutes=25)):
        late = await scan("c1", await code(MON_AM), "phone-c1")
        assert (late["mark"], late["minutes_missed"]) == ("late", 25)
    # Monday afternoon at 14:05: everyone on its own phone, present.
    with pinned_at(MONDAY_14 + timedelta(minutes=5)):
        afternoon = await code(MON_PM)
        for n in trainees:
            assert (await scan(n, afternoon, f"phone-{n}"))["mark"] == "present"
    # The proxy sign-in: b2's and b3's Monday-morning marks are both flagged, nobody else's.
    r = await organiser.get(f"{url}/attendance", params={"flagged": "true", "limit": 100})
    flagged = ok(r)["items"]
    assert sorted((m["enrollment_id"], m["session_part_id"]) for m in flagged) == sorted(
        (eid[n], parts[MON_AM]) for n in ("b2", "b3")
    )
    # The reason code alone; the organiser groups them by part and device.
    assert {(m["flag_reason"], m["device_id"]) for m in flagged} == {("shared_device", "phone-b2")}
    # The flags are the organiser's: the trainee neither filters by them nor sees its own.
    r = await app["b3"].get(f"{url}/attendance", params={"flagged": "true"})
    assert_problem(r, 403, "training_session.not_organiser")
    own = ok(await app["b3"].get(f"{url}/attendance", params={"session_part_id": parts[MON_AM]}))
    assert [(m["device_id"], m["flag_reason"]) for m in own["items"]] == [("phone-b2", None)]

    # --- leave (请假) -----------------------------------------------------------------------------
    # a2 asks leave for Wednesday morning; the organiser approves: on_leave, approved.
    r = await app["a2"].post(
        f"{API}/enrollments/{eid['a2']}/leave-requests",
        json={"session_part_ids": [parts[WED_AM]], "reason": "参加县委常委会"},
    )
    leave = ok(r, 201)
    r = await organiser.post(
        f"{API}/leave-requests/{leave['id']}/approve", headers={"If-Match": r.headers["ETag"]}
    )
    assert ok(r)["status"] == "approved"
    # c2 asks leave for Thursday afternoon; refused. c2 stays away all the same: absent.
    r = await app["c2"].post(
        f"{API}/enrollments/{eid['c2']}/leave-requests",
        json={"session_part_ids": [parts[THU_PM]], "reason": "单位有事"},
    )
    refused = ok(r, 201)
    r = await organiser.post(
        f"{API}/leave-requests/{refused['id']}/refuse", json={"reason": "专题研讨,不能请假"}
    )
    assert ok(r)["status"] == "refused"

    # Closing now is refused: 8 parts of 10 are unmarked for most trainees.
    assert_problem(
        await organiser.post(f"{url}/close"), 409, "training_session.attendance_incomplete"
    )

    # --- the organiser's remaining marks, in one request ---------------------------------------
    # By hand (the class teacher's roll) and by card; everything not listed is present.
    special: dict[tuple[str, int], dict[str, Any]] = {
        # The proxy sign-in corrected: b3 was absent on Monday morning.
        ("b3", MON_AM): {"mark": "absent"},
        ("b3", TUE_AM): {"mark": "late", "minutes_missed": 30, "method": "card"},
        ("b1", THU_AM): {"mark": "late", "minutes_missed": 103},
        ("b1", FRI_AM): {"mark": "absent"},
        ("c2", THU_PM): {"mark": "absent"},
        ("c2", FRI_PM): {"mark": "left_early", "minutes_missed": 110},
    }
    already = {(n, p) for n in trainees for p in (MON_AM, MON_PM)} | {("a2", WED_AM)}
    rows = []
    for n in trainees:
        for p in range(10):
            if (n, p) in special:
                rows.append(
                    {"enrollment_id": eid[n], "session_part_id": parts[p], **special[(n, p)]}
                )
            elif (n, p) not in already:
                rows.append(
                    {"enrollment_id": eid[n], "session_part_id": parts[p], "mark": "present"}
                )
    # 10 trainees × 10 parts = 100 marks: 20 by QR, 1 by the approved leave, 79 new here and
    # the 1 correction (b3's Monday morning).
    assert len(rows) == 80
    result = ok(await organiser.post(f"{url}/attendance", json={"marks": rows}))
    assert (result["marked"], result["unchanged"], result["rejected"]) == (80, 0, 0)

    # --- closing under the 1/7 rule ------------------------------------------------------------
    # Cap: 40 × 1/7 = 5.714… h; leave above it when leave × 7 > 40. A late arrival or an early
    # leave counts part hours × minutes missed / 240, rounded down to the hundredth.
    #   a2: Wednesday morning, approved leave                4                  → 4
    #   b1: Thursday morning late 103 min: 4 × 103/240 = 1.7166… → 1.71; Friday morning
    #       absent 4                                                           → 5.71
    #       5.71 × 7 = 39.97 ≤ 40: within the cap (by 0.0042 h)
    #   b3: Monday morning absent (the proxy sign-in) 4; Tuesday morning late 30 min:
    #       4 × 30/240 = 0.5                                                   → 4.5
    #   c1: Monday morning late 25 min: 4 × 25/240 = 0.4166… → 0.41            → 0.41
    #   c2: Thursday afternoon absent (leave refused) 4; Friday afternoon left 110 min early:
    #       4 × 110/240 = 1.8333… → 1.83                                       → 5.83
    #       5.83 × 7 = 40.81 > 40: dropped out (退学), no credit
    #   a1, a4, b2, c3, c4: present throughout                                 → 0
    # Those who complete earn 40 − leave hours and 5 × hours / 40 days (two places):
    #   a2: 36 h, 4.5 d; b1: 34.29 h, 5 × 34.29/40 = 4.28625 → 4.29 d;
    #   b3: 35.5 h, 4.4375 → 4.44 d; c1: 39.59 h, 4.94875 → 4.95 d; the others 40 h, 5 d.
    expected = {
        # name: (status, leave, hours, days)
        "a1": ("completed", "0.00", "40.00", "5.00"),
        "a2": ("completed", "4.00", "36.00", "4.50"),
        "a4": ("completed", "0.00", "40.00", "5.00"),
        "b1": ("completed", "5.71", "34.29", "4.29"),
        "b2": ("completed", "0.00", "40.00", "5.00"),
        "b3": ("completed", "4.50", "35.50", "4.44"),
        "c1": ("completed", "0.41", "39.59", "4.95"),
        "c2": ("dropped_out", "5.83", "0.00", "0.00"),
        "c3": ("completed", "0.00", "40.00", "5.00"),
        "c4": ("completed", "0.00", "40.00", "5.00"),
    }
    session_now = await admin.get(url)
    closing = ok(await organiser.post(f"{url}/close", headers=etag(session_now)))
    assert closing["training_session"]["status"] == "closed"
    assert closing["training_session"]["close_force_reason"] is None
    assert (closing["completed"], closing["dropped_out"]) == (9, 1)
    outcomes = {
        name_of[o["cadre_id"]]: (o["status"], o["leave_hours"], o["hours"], o["days"])
        for o in closing["outcomes"]
    }
    assert outcomes == expected
    assert {o["leave_cap"] for o in closing["outcomes"]} == {"5.71"}

    # --- each trainee's credits for 2025 -------------------------------------------------------
    # One centralised_training log each (per hour × 1, no cap: docs/rules.md rule 3), inside
    # 2025, so the year counts it whole: total = centralised = counted hours = the log's hours,
    # centralised days = the log's days. The dropped-out c2, the rejected a3 and the withdrawn
    # k have nothing.
    credited = Decimal(0)
    for n in [*trainees, "a3", "k"]:
        _status, _leave, hours, days = expected.get(n, ("-", "0.00", "0.00", "0.00"))
        credits = ok(
            await admin.get(f"{API}/cadres/{cadre[n]['id']}/credits", params={"year": 2025})
        )
        got = (
            credits["total_hours"],
            credits["centralised_hours"],
            credits["counted_hours"],
            credits["centralised_days"],
        )
        assert got == (hours, hours, hours, days), n
        credited += Decimal(credits["total_hours"])
    # Sum of the hours credited: 5 × 40 + 36 + 34.29 + 35.5 + 39.59 = 345.38.
    assert credited == Decimal("345.38")

    # --- the plan's fulfilment: the planned class held, 9 of its 10 planned seats filled ------
    r = await city_admin.get(
        f"{API}/reports/plan-fulfilment", params={"org_unit_id": dept["id"], "year": 2025}
    )
    totals = ok(r)["totals"]
    assert (totals["planned_classes"], totals["held_classes"], totals["fulfilled_classes"]) == (
        1,
        1,
        1,
    )
    assert (totals["planned_seats"], totals["filled_seats"]) == (10, 9)

    # --- the sign-in sheet (签到表): one row per trainee, one column per part, each mark's label --
    label = {
        "present": "出勤",
        "late": "迟到",
        "left_early": "早退",
        "absent": "缺勤",
        "on_leave": "请假",
    }
    mark_of = {(n, p): "present" for n in trainees for p in range(10)}
    mark_of.update({key: row["mark"] for key, row in special.items()})
    mark_of.update({("c1", MON_AM): "late", ("a2", WED_AM): "on_leave"})
    r = await organiser.get(f"{url}/sign-in-sheet", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    table = load_workbook(io.BytesIO(r.content))["签到表"]
    cells = [[c.value for c in row] for row in table.iter_rows()]
    header, lines = cells[0], cells[1:]
    assert [str(h).split() for h in header[3:]] == [
        [f"3月{day}日", period] for day in range(3, 8) for period in ("上午", "下午")
    ]
    unit_of = {n: counties[key]["name"] for key, names in people.items() for n in names}
    assert sorted((line[1], line[2], tuple(line[3:])) for line in lines) == sorted(
        (f"学员{n}", unit_of[n], tuple(label[mark_of[(n, p)]] for p in range(10))) for n in trainees
    )
    r = await organiser.get(f"{url}/sign-in-sheet", params={"format": "pdf"})
    assert (r.status_code, r.headers["content-type"]) == (200, "application/pdf")
    assert r.content.startswith(b"%PDF")
