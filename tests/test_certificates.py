"""Certificates (结业证书, docs/certificates.md): issued at a session's close to the completed
trainees, numbered per organiser and year, checked in public by their code, revoked when the
study log is voided."""

import re
from typing import Any

import httpx

from app.certificate.service import mask_name
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem


async def _class(
    client: httpx.AsyncClient, unit: dict[str, Any], names: list[str], **fields: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ts = await create_session(client, unit["id"], **fields)
    enrollments = []
    for name in names:
        cadre = await create_cadre(client, unit["id"], name=name)
        r = await client.post(
            f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
        assert r.status_code == 201, r.text
        enrollments.append(r.json())
    return ts, enrollments


async def _close(client: httpx.AsyncClient, ts: dict[str, Any]) -> None:
    r = await client.post(f"{API}/training-sessions/{ts['id']}/close")
    assert r.status_code == 200, r.text


async def _certificates(client: httpx.AsyncClient, ts: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/training-sessions/{ts['id']}/certificates")
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_closing_issues_a_certificate_to_each_completed_trainee(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    ts, enrollments = await _class(client, unit, ["张三丰", "李四", "王五"])
    # 王五 takes more leave than 1/7 of 40 hours: dropped out (退学), no log, no certificate.
    r = await client.patch(f"{API}/enrollments/{enrollments[2]['id']}", json={"leave_hours": "8"})
    assert r.status_code == 200, r.text
    assert await _certificates(client, ts) == []
    await _close(client, ts)

    issued = await _certificates(client, ts)
    assert [c["cadre_name"] for c in issued] == ["张三丰", "李四"]
    assert [c["serial"] for c in issued] == ["2025-0001", "2025-0002"]
    assert {c["enrollment_id"] for c in issued} == {e["id"] for e in enrollments[:2]}
    assert [(c["hours"], c["days"], c["status"]) for c in issued] == [
        ("40.00", "5.00", "valid")
    ] * 2
    assert issued[0]["title"] == ts["title"]
    log = (await client.get(f"{API}/study-logs/{issued[0]['study_log_id']}")).json()
    assert (log["enrollment_id"], log["hours"]) == (enrollments[0]["id"], "40.00")
    codes = {c["verification_code"] for c in issued}
    assert len(codes) == 2
    # 32 random bytes in URL-safe base64: 256 bits.
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", code) for code in codes)

    r = await client.get(f"{API}/cadres/{issued[1]['cadre_id']}/certificates")
    assert [c["serial"] for c in r.json()["items"]] == ["2025-0002"]


async def test_serials_run_on_per_organiser_and_year(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, name="南谯区", kind="county")
    first, _ = await _class(client, city, ["甲一", "甲二"])
    second, _ = await _class(client, city, ["乙一"])
    other, _ = await _class(client, county, ["丙一"])
    next_year, _ = await _class(
        client, city, ["丁一"], start_date="2026-03-02", end_date="2026-03-06"
    )
    for ts in (first, other, second, next_year):
        await _close(client, ts)
    serials = {
        name: [c["serial"] for c in await _certificates(client, ts)]
        for name, ts in (
            ("first", first),
            ("second", second),
            ("other", other),
            ("next", next_year),
        )
    }
    assert serials == {
        "first": ["2025-0001", "2025-0002"],
        "second": ["2025-0003"],
        "other": ["2025-0001"],
        "next": ["2026-0001"],
    }


async def test_anyone_verifies_a_code_and_sees_the_name_masked(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    unit = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰", "李四"])
    await _close(client, ts)
    issued = await _certificates(client, ts)

    answers = []
    for certificate in issued:
        r = await anonymous.get(f"{API}/certificates/verify/{certificate['verification_code']}")
        assert r.status_code == 200, r.text
        answers.append(r.json())
    assert answers[0] == {
        "serial": "2025-0001",
        "name": "张*丰",
        "title": "县处级干部进修班",
        "start_date": "2025-03-03",
        "end_date": "2025-03-07",
        "hours": "40.00",
        "days": "5.00",
        "status": "valid",
    }
    assert answers[1]["name"] == "李*"
    unknown = "A" * 43
    assert_problem(
        await anonymous.get(f"{API}/certificates/verify/{unknown}"), 404, "certificate.not_found"
    )


def test_the_middle_of_a_name_is_masked() -> None:
    assert [mask_name(n) for n in ("张三丰", "李四", "欧阳修文", "王")] == [
        "张*丰",
        "李*",
        "欧**文",
        "王*",
    ]


async def test_voiding_the_study_log_revokes_the_certificate(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    unit = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰", "李四"])
    await _close(client, ts)
    voided, kept = await _certificates(client, ts)
    r = await client.post(f"{API}/study-logs/{voided['study_log_id']}/void")
    assert r.status_code == 200, r.text

    status = {}
    for certificate in (voided, kept):
        r = await anonymous.get(f"{API}/certificates/verify/{certificate['verification_code']}")
        status[certificate["serial"]] = r.json()["status"]
    assert status == {"2025-0001": "revoked", "2025-0002": "valid"}
    listed = await _certificates(client, ts)
    assert [c["status"] for c in listed] == ["revoked", "valid"]
    assert listed[0]["revoked_at"] is not None
    events = (await client.get(f"{API}/audit-events", params={"entity_id": voided["id"]})).json()
    assert [e["action"] for e in events["items"]] == ["create", "update"]
    assert set(events["items"][1]["changes"]) >= {"revoked_at"}
    assert "verification_code" not in events["items"][0]["changes"]


async def test_only_the_organisers_list_a_session_s_certificates(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    unit = await create_org_unit(client)
    elsewhere = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰"])
    await _close(client, ts)
    stranger = await client_for(Role.org_admin, org_unit_id=elsewhere["id"])
    r = await stranger.get(f"{API}/training-sessions/{ts['id']}/certificates")
    assert r.status_code in (403, 404)
    organiser = await client_for(Role.org_admin, org_unit_id=unit["id"])
    r = await organiser.get(f"{API}/training-sessions/{ts['id']}/certificates")
    assert [c["serial"] for c in r.json()["items"]] == ["2025-0001"]
