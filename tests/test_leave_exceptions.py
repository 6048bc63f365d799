"""Leave exceptions (docs/rules.md rule 7, N6: art. 15 "原则上"): the organiser may let one trainee
complete a class despite leave above 1/7 of its hours, with a recorded reason."""

from datetime import date
from typing import Any

import httpx
import pytest

from app.clock import pinned
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem

REASON = "住院手术,经组织部批准"


async def _enroll(client: httpx.AsyncClient, ts: dict[str, Any], cadre: dict[str, Any]) -> str:
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_example_4_with_an_exception_trainee(client: httpx.AsyncClient) -> None:
    """worked example 4 (40 h, 5 days, cap 40/7 = 5.71 h): X with 4 h completes with 36 h and 4.5
    days; Y with 6 h is withdrawn. W also took 6 h, but with an exception: 34 h and 4.25 days.
    V was excused for all 40 h: completes with nothing to credit, so no log."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], days="5", credit_hours="40")
    trainees: dict[str, tuple[dict[str, Any], str]] = {}
    for name, leave, reason in (
        ("x", "4", None),
        ("y", "6", None),
        ("w", "6", REASON),
        ("v", "40", "全程公派出国"),
    ):
        cadre = await create_cadre(client, unit["id"])
        enrollment_id = await _enroll(client, ts, cadre)
        r = await client.patch(
            f"{API}/enrollments/{enrollment_id}",
            json={"leave_hours": leave, "leave_exception_reason": reason},
        )
        assert r.status_code == 200, r.text
        assert r.json()["leave_exception_reason"] == reason
        trainees[name] = (cadre, enrollment_id)

    r = await client.post(f"{API}/training-sessions/{ts['id']}/close")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["completed"], body["dropped_out"]) == (3, 1)
    outcome = {o["enrollment_id"]: o for o in body["outcomes"]}
    x, y, w, v = (outcome[trainees[n][1]] for n in "xywv")
    assert (x["status"], x["hours"], x["days"]) == ("completed", "36.00", "4.50")
    assert (y["status"], y["hours"], y["study_log_id"]) == ("dropped_out", "0.00", None)
    assert (w["status"], w["hours"], w["days"]) == ("completed", "34.00", "4.25")
    assert w["leave_exception_reason"] == REASON
    assert "the organiser granted an exception" in w["explanation"]
    assert (v["status"], v["hours"], v["days"], v["study_log_id"]) == (
        "completed",
        "0.00",
        "0.00",
        None,
    )

    log = (await client.get(f"{API}/study-logs/{w['study_log_id']}")).json()
    assert (log["status"], log["kind"], log["hours"], log["days"]) == (
        "approved",
        "centralised_training",
        "34.00",
        "4.25",
    )
    for name, count in (("x", 1), ("y", 0), ("w", 1), ("v", 0)):
        logs = await client.get(f"{API}/study-logs", params={"cadre_id": trainees[name][0]["id"]})
        assert len(logs.json()["items"]) == count, name
    w_enrollment = (await client.get(f"{API}/enrollments/{trainees['w'][1]}")).json()
    assert (w_enrollment["status"], w_enrollment["leave_exception_reason"]) == (
        "completed",
        REASON,
    )


async def test_who_may_grant_an_exception(client: httpx.AsyncClient, client_for: ClientFor) -> None:
    """The organiser's (the county's) administrators and those above it may; the administrator
    of the trainee's own township may not, nor may the other roles."""
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    township = await create_org_unit(client, county["id"], kind="township")
    elsewhere = await create_org_unit(client, city["id"], kind="county")
    ts = await create_session(client, county["id"])
    cadre = await create_cadre(client, township["id"])
    url = f"{API}/enrollments/{await _enroll(client, ts, cadre)}"

    refused = {
        "township org_admin": (
            await client_for(Role.org_admin, org_unit_id=township["id"]),
            403,
            "enrollment.leave_exception_forbidden",
        ),
        "cadre": (await client_for(Role.cadre, cadre_id=cadre["id"]), 403, "forbidden"),
        "hr_system": (await client_for(Role.hr_system), 403, "forbidden"),
        "auditor": (await client_for(Role.auditor), 403, "forbidden"),
        # Sees neither the cadre nor the session: learns nothing.
        "other county's org_admin": (
            await client_for(Role.org_admin, org_unit_id=elsewhere["id"]),
            404,
            "enrollment.not_found",
        ),
    }
    for who, (other, status, code) in refused.items():
        r = await other.patch(url, json={"leave_exception_reason": REASON})
        assert r.status_code == status, (who, r.text)
        assert_problem(r, status, code)
    assert (await client.get(url)).json()["leave_exception_reason"] is None

    granting = {
        "county org_admin (organiser)": await client_for(Role.org_admin, org_unit_id=county["id"]),
        "city org_admin (above it)": await client_for(Role.org_admin, org_unit_id=city["id"]),
        "admin": client,
    }
    for who, granter in granting.items():
        reason = f"{REASON} ({who})"
        r = await granter.patch(url, json={"leave_exception_reason": reason})
        assert r.status_code == 200, (who, r.text)
        assert r.json()["leave_exception_reason"] == reason
        cleared = await granter.patch(url, json={"leave_exception_reason": None})
        assert cleared.json()["leave_exception_reason"] is None, who


async def test_the_exception_is_audited_and_shown(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    cadre = await create_cadre(client, unit["id"])
    enrollment_id = await _enroll(client, ts, cadre)
    organiser = await client_for(Role.org_admin, org_unit_id=unit["id"])
    url = f"{API}/enrollments/{enrollment_id}"
    r = await organiser.patch(url, json={"leave_exception_reason": REASON})
    assert r.status_code == 200, r.text
    await organiser.patch(url, json={"leave_exception_reason": None})

    listed = (await client.get(f"{API}/training-sessions/{ts['id']}/enrollments")).json()
    assert [e["leave_exception_reason"] for e in listed["items"]] == [None]
    events = (await client.get(f"{API}/audit-events", params={"entity_id": enrollment_id})).json()
    updates = [e for e in events["items"] if e["action"] == "update"]
    assert [e["changes"]["leave_exception_reason"] for e in updates] == [
        {"before": None, "after": REASON},
        {"before": REASON, "after": None},
    ]
    assert {e["actor_role"] for e in updates} == {"org_admin"}


async def test_no_exception_after_the_close(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    cadre = await create_cadre(client, unit["id"])
    url = f"{API}/enrollments/{await _enroll(client, ts, cadre)}"
    await client.patch(url, json={"leave_hours": "6", "leave_exception_reason": REASON})
    assert (await client.post(f"{API}/training-sessions/{ts['id']}/close")).status_code == 200
    for change in ({"leave_exception_reason": "补批"}, {"leave_exception_reason": None}):
        assert_problem(await client.patch(url, json=change), 409, "enrollment.final")
    assert (await client.get(url)).json()["leave_exception_reason"] == REASON


@pytest.mark.parametrize(
    "reason",
    ["", " 前导空格", "换行\n原因", "nul\x00byte", "长" * 501],
    ids=["empty", "leading-space", "two-lines", "nul", "too-long"],
)
async def test_a_reason_is_one_bounded_line(client: httpx.AsyncClient, reason: str) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    cadre = await create_cadre(client, unit["id"])
    url = f"{API}/enrollments/{await _enroll(client, ts, cadre)}"
    r = await client.patch(url, json={"leave_exception_reason": reason})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["pointer"] == "/body/leave_exception_reason"
    assert (await client.patch(url, json={"leave_exception_reason": "长" * 500})).status_code == 200


async def test_a_session_closes_on_its_last_day_at_the_earliest(
    client: httpx.AsyncClient,
) -> None:
    """docs/rules.md rule 10: closing issues logs that end on the session's last day, so it
    waits for that day (local date)."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], start_date="2025-03-03", end_date="2025-03-07")
    cadre = await create_cadre(client, unit["id"])
    await _enroll(client, ts, cadre)
    close = f"{API}/training-sessions/{ts['id']}/close"
    with pinned(date(2025, 3, 6)):
        body = assert_problem(await client.post(close), 409, "training_session.not_ended")
    assert "2025-03-07" in body["detail"]
    assert (await client.get(f"{API}/training-sessions/{ts['id']}")).json()["status"] == "open"
    with pinned(date(2025, 3, 7)):
        r = await client.post(close)
    assert r.status_code == 200, r.text
    (outcome,) = r.json()["outcomes"]
    log = (await client.get(f"{API}/study-logs/{outcome['study_log_id']}")).json()
    assert log["end_date"] == "2025-03-07"


async def test_a_lecture_has_no_leave_cap(client: httpx.AsyncClient) -> None:
    """The 1/7 cap is the rule of centralised classes (N6): a lecture series of 40 h closes with
    a trainee who missed 6 h completing with 34 h, no exception needed, as a `lecture` log."""
    unit = await create_org_unit(client)
    ts = await create_session(
        client, unit["id"], form="lecture", centralised=False, days="5", credit_hours="40"
    )
    cadre = await create_cadre(client, unit["id"])
    enrollment_id = await _enroll(client, ts, cadre)
    r = await client.patch(f"{API}/enrollments/{enrollment_id}", json={"leave_hours": "6"})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/training-sessions/{ts['id']}/close")
    assert r.status_code == 200, r.text
    (outcome,) = r.json()["outcomes"]
    assert (outcome["status"], outcome["hours"], outcome["days"]) == ("completed", "34.00", "4.25")
    assert "applies to centralised classes only" in outcome["explanation"]
    assert outcome["leave_cap"] is None
    log = (await client.get(f"{API}/study-logs/{outcome['study_log_id']}")).json()
    assert (log["kind"], log["hours"]) == ("lecture", "34.00")
