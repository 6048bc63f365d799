"""Online academies: platforms, learner accounts and the online-records import (docs/rules.md,
"Online academies")."""

import threading
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.enums import Role
from app.online import plausibility
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, unique
from tests.test_platform import assert_problem

YUNNAN: dict[str, Any] = {
    "bands": [
        {"min_minutes": 1, "hours": "0.25"},
        {"min_minutes": 15, "hours": "0.5"},
        {"min_minutes": 30, "hours": "1"},
    ],
    "test_bonus_hours": "0.5",
}
IMPORT = f"{API}/imports/online-records"


async def create_platform(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"code": unique("YN-GBWX"), "name": "云南干部在线学习学院", "conversion": YUNNAN}
    r = await client.post(f"{API}/online-platforms", json={**body, **fields})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def record(learner_id: str, external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "learner_id": learner_id,
        "external_id": external_id,
        "course_code": "DS-01",
        "course_title": "党史学习教育专题",
        "course_minutes": 45,
        "minutes": 45,
        "completed": True,
        "test_passed": False,
        "started_at": "2025-11-02T20:00:00+08:00",
        "ended_at": "2025-11-02T20:45:00+08:00",
        "ip": "10.1.2.3",
        "device": "dev-1",
        **fields,
    }


async def _learner(
    client: httpx.AsyncClient, platform: dict[str, Any], learner_id: str, cadre_id: str
) -> None:
    r = await client.put(
        f"{API}/online-platforms/{platform['id']}/learners/{learner_id}",
        json={"cadre_id": cadre_id},
    )
    assert r.status_code == 200, r.text


async def _logs(client: httpx.AsyncClient, cadre_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/study-logs", params={"cadre_id": cadre_id})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_a_platform_is_created_read_and_changed_with_if_match(
    client: httpx.AsyncClient,
) -> None:
    platform = await create_platform(client)
    assert platform["conversion"] == {
        "bands": [
            {"min_minutes": 1, "hours": "0.25"},
            {"min_minutes": 15, "hours": "0.50"},
            {"min_minutes": 30, "hours": "1.00"},
        ],
        "test_bonus_hours": "0.50",
    }
    url = f"{API}/online-platforms/{platform['id']}"
    stale = await client.patch(url, json={"name": "新名"}, headers={"If-Match": '"9"'})
    assert_problem(stale, 412, "precondition_failed")
    r = await client.patch(url, json={"active": False}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.headers["ETag"]) == (False, '"2"')
    taken = await client.post(
        f"{API}/online-platforms",
        json={"code": platform["code"], "name": "另一个", "conversion": YUNNAN},
    )
    assert_problem(taken, 409, "online.platform_code_taken")
    listed = (await client.get(f"{API}/online-platforms", params={"active": False})).json()
    assert platform["id"] in [p["id"] for p in listed["items"]]


async def test_records_become_converted_online_logs_and_their_source_is_kept(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1001", cadre["id"])
    items = [
        record("u-1001", "R-1"),  # 45 min: 1
        record("u-1001", "R-2", minutes=20, course_minutes=20, test_passed=True),  # 0.5 + 0.5
        record("u-1001", "R-3", minutes=14, course_minutes=None),  # 0.25
        # watched twice: a 20-minute course is 0.5 however long it was watched
        record("u-1001", "R-4", minutes=60, course_minutes=20),
    ]
    r = await client.post(IMPORT, params={"platform": platform["code"]}, json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["rejected"], report["flagged"]) == (4, 0, 0)
    logs = await _logs(client, cadre["id"])
    assert sorted(
        (x["kind"], x["hours"], x["status"], x["start_date"], x["title"]) for x in logs
    ) == sorted(
        ("online_course", h, "approved", "2025-11-02", "党史学习教育专题")
        for h in ("1.00", "1.00", "0.25", "0.50")
    )
    kept = (
        await db_conn.execute(
            text(
                "SELECT r.external_id, r.minutes, r.hours, host(r.ip), r.device, r.flags, "
                "l.hours = r.hours AND l.cadre_id = r.cadre_id "
                "FROM online_record r JOIN study_log l ON l.id = r.study_log_id "
                "WHERE r.platform_id = :p ORDER BY r.external_id"
            ),
            {"p": platform["id"]},
        )
    ).all()
    assert [(e, m, str(h), ip, d, f, same) for e, m, h, ip, d, f, same in kept] == [
        ("R-1", 45, "1.00", "10.1.2.3", "dev-1", [], True),
        ("R-2", 20, "1.00", "10.1.2.3", "dev-1", [], True),
        ("R-3", 14, "0.25", "10.1.2.3", "dev-1", [], True),
        ("R-4", 60, "0.50", "10.1.2.3", "dev-1", [], True),
    ]


async def test_the_same_records_again_create_nothing(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1", cadre["id"])
    items = [record("u-1", f"R-{n}") for n in range(3)]
    params = {"platform": platform["code"]}
    first = (await client.post(IMPORT, params=params, json={"items": items})).json()
    again = (await client.post(IMPORT, params=params, json={"items": items})).json()
    assert (first["created"], first["already_imported"]) == (3, 0)
    assert (again["created"], again["already_imported"]) == (0, 3)
    assert len(await _logs(client, cadre["id"])) == 3
    # As CSV too: the same records, the same answer.
    header = ",".join(items[0])
    lines = [
        ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in i.values())
        for i in items
    ]
    csv_body = ("\ufeff" + header + "\r\n" + "\r\n".join(lines) + "\r\n").encode()
    r = await client.post(
        IMPORT, params=params, content=csv_body, headers={"Content-Type": "text/csv"}
    )
    assert (r.json()["created"], r.json()["already_imported"]) == (0, 3), r.text


async def test_row_errors_are_reported_each_with_a_code_and_the_rest_imported(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1", cadre["id"])
    items = [
        record("u-1", "R-ok"),
        record("u-nobody", "R-2"),
        record("u-1", "R-3", minutes=0),
        record("u-1", "R-4", minutes="abc"),
        record("u-1", "R-5", completed=False),
        record("u-1", "R-ok"),
        record("u-1", "R-7", started_at="2199-01-01T08:00:00+08:00", ended_at=None),
        "not an object",
    ]
    r = await client.post(IMPORT, params={"platform": platform["code"]}, json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["rejected"]) == (1, 7)
    assert [(p["pointer"], p["code"]) for p in report["problems"]] == [
        ("/body/items/1/learner_id", "unknown_learner"),
        ("/body/items/2/minutes", "invalid_row"),
        ("/body/items/3/minutes", "invalid_row"),
        ("/body/items/4/completed", "not_completed"),
        ("/body/items/5/external_id", "duplicate_record"),
        ("/body/items/6/started_at", "study_log.ends_in_future"),
        ("/body/items/7", "invalid_row"),
    ]
    assert report["problems"][0]["detail"] == "no cadre of yours is matched to this account"


async def test_the_messages_of_row_errors_are_in_chinese_too(client: httpx.AsyncClient) -> None:
    platform = await create_platform(client)
    r = await client.post(
        IMPORT,
        params={"platform": platform["code"]},
        json={"items": [record("u-nobody", "R-1")]},
        headers={"Accept-Language": "zh-CN"},
    )
    detail = r.json()["problems"][0]["detail"]
    assert detail != "no cadre of yours is matched to this account"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in detail), detail


async def test_id_numbers_match_and_teach_accounts_for_admin_only(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    params = {"platform": platform["code"]}
    org_admin = await client_for(Role.org_admin, org_unit_id=unit["id"])
    by_number = record("u-77", "R-1", id_number=cadre["id_number"])
    refused = (await org_admin.post(IMPORT, params=params, json={"items": [by_number]})).json()
    assert [(p["pointer"], p["code"]) for p in refused["problems"]] == [
        ("/body/items/0/id_number", "id_number_forbidden")
    ]
    matched = (await client.post(IMPORT, params=params, json={"items": [by_number]})).json()
    assert (matched["created"], matched["rejected"]) == (1, 0)
    # The account is known now: the org_admin's rows match it by learner id alone.
    later = (
        await org_admin.post(IMPORT, params=params, json={"items": [record("u-77", "R-2")]})
    ).json()
    assert (later["created"], later["rejected"]) == (1, 0)
    assert len(await _logs(client, cadre["id"])) == 2
    unknown = record("u-78", "R-3", id_number="11010519491231002X")
    nobody = (await client.post(IMPORT, params=params, json={"items": [unknown]})).json()
    assert [p["code"] for p in nobody["problems"]] == ["unknown_cadre"]


async def test_an_org_admin_imports_and_matches_only_its_subtrees_cadres(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    mine, other = await create_org_unit(client), await create_org_unit(client)
    own = await create_cadre(client, mine["id"])
    foreign = await create_cadre(client, other["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-own", own["id"])
    await _learner(client, platform, "u-foreign", foreign["id"])
    org_admin = await client_for(Role.org_admin, org_unit_id=mine["id"])
    items = [record("u-own", "R-1"), record("u-foreign", "R-2")]
    report = (
        await org_admin.post(IMPORT, params={"platform": platform["code"]}, json={"items": items})
    ).json()
    assert (report["created"], [p["code"] for p in report["problems"]]) == (
        1,
        ["unknown_learner"],
    )
    assert await _logs(client, foreign["id"]) == []
    url = f"{API}/online-platforms/{platform['id']}/learners"
    # its own cadre: yes; another unit's cadre: as if it did not exist; another unit's
    # account: refused
    assert (await org_admin.put(f"{url}/u-new", json={"cadre_id": own["id"]})).status_code == 200
    assert_problem(
        await org_admin.put(f"{url}/u-new", json={"cadre_id": foreign["id"]}),
        422,
        "online.cadre_reference_not_found",
    )
    assert_problem(
        await org_admin.put(f"{url}/u-foreign", json={"cadre_id": own["id"]}),
        403,
        "online.not_learner_manager",
    )
    # only an admin manages platforms
    created = await org_admin.post(
        f"{API}/online-platforms", json={"code": "X1", "name": "x", "conversion": YUNNAN}
    )
    assert created.status_code == 403


async def test_an_unknown_or_deactivated_platform_is_refused(client: httpx.AsyncClient) -> None:
    body = {"items": [record("u-1", "R-1")]}
    assert_problem(
        await client.post(IMPORT, params={"platform": "NOPE"}, json=body),
        404,
        "online.platform_not_found",
    )
    platform = await create_platform(client)
    await client.patch(f"{API}/online-platforms/{platform['id']}", json={"active": False})
    assert_problem(
        await client.post(IMPORT, params={"platform": platform["code"]}, json=body),
        409,
        "online.platform_inactive",
    )


async def test_a_dry_run_keeps_nothing(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    params = {"platform": platform["code"], "dry_run": True}
    by_number = record("u-9", "R-1", id_number=cadre["id_number"])
    dry = (await client.post(IMPORT, params=params, json={"items": [by_number]})).json()
    assert (dry["dry_run"], dry["created"]) == (True, 1)
    assert await _logs(client, cadre["id"]) == []
    # nor the account it would have learned
    again = await client.post(
        IMPORT, params={"platform": platform["code"]}, json={"items": [record("u-9", "R-2")]}
    )
    assert [p["code"] for p in again.json()["problems"]] == ["unknown_learner"]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b"{", 422, "validation_failed"),
        ("application/json", b'{"items": 5}', 422, "validation_failed"),
        ("application/json", b"\xff\xfe", 422, "validation_failed"),
        ("application/json", b'{"items": ["\\u0000"]}', 422, "validation_failed"),
        ("text/csv", b"a,b\r\n1,2\r\n", 422, "validation_failed"),
        ("text/csv", b'learner_id,"unterminated\r\n', 422, "validation_failed"),
        ("text/plain", b"learner_id\r\n", 415, "import.unsupported_media_type"),
        ("application/json", b"[" * 5000 + b"]" * 5000, 400, "bad_request"),
    ],
)
async def test_junk_is_a_problem_never_a_500(
    client: httpx.AsyncClient, content_type: str, body: bytes, status: int, code: str
) -> None:
    platform = await create_platform(client)
    r = await client.post(
        IMPORT,
        params={"platform": platform["code"]},
        content=body,
        headers={"Content-Type": content_type},
    )
    assert_problem(r, status, code)


async def test_junk_cells_in_a_good_header_are_row_errors(client: httpx.AsyncClient) -> None:
    platform = await create_platform(client)
    csv_body = (
        "learner_id,external_id,course_code,course_title,minutes,completed,started_at,ip\r\n"
        "u-1,R-1,DS-01,党史,30,true,yesterday,\r\n"
        "u-1,R-2,DS 01,党史,30,true,2025-11-02T20:00:00+08:00,::g\r\n"
        ",,,,,,,,,\r\n"
    ).encode()
    r = await client.post(
        IMPORT,
        params={"platform": platform["code"]},
        content=csv_body,
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert [p["pointer"] for p in r.json()["problems"]] == [
        "/rows/2/started_at",
        "/rows/3/course_code",
        "/rows/4",
    ]


async def test_an_unknown_cadre_reference_is_not_found(client: httpx.AsyncClient) -> None:
    platform = await create_platform(client)
    r = await client.put(
        f"{API}/online-platforms/{platform['id']}/learners/u-1",
        json={"cadre_id": str(uuid.uuid4())},
    )
    assert_problem(r, 422, "online.cadre_reference_not_found")
    missing = await client.put(
        f"{API}/online-platforms/{uuid.uuid4()}/learners/u-1", json={"cadre_id": str(uuid.uuid4())}
    )
    assert_problem(missing, 404, "online.platform_not_found")


async def test_a_flagged_record_is_pending_with_its_reasons_and_evidence(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    """A row the plausibility checks flag (docs/rules.md "Plausibility flags": here 45 minutes
    after midnight) puts its log on hold with the reasons, and its record keeps the flags with
    their evidence."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1", cadre["id"])
    night = {"started_at": "2025-11-03T00:10:00+08:00", "ended_at": "2025-11-03T00:55:00+08:00"}
    items = [record("u-1", "R-day"), record("u-1", "R-night", **night)]
    r = await client.post(IMPORT, params={"platform": platform["code"]}, json={"items": items})
    assert (r.json()["created"], r.json()["flagged"]) == (2, 1), r.text
    logs = await _logs(client, cadre["id"])
    assert sorted((x["status"], x["review_comment"]) for x in logs) == [
        ("approved", None),
        (
            "pending",
            "Plausibility check (刷课): 45 min of study between 00:00 and 05:00 on 2025-11-03, "
            "more than 30",
        ),
    ]
    flags = await db_conn.scalar(
        text("SELECT flags FROM online_record WHERE platform_id = :p AND external_id = 'R-night'"),
        {"p": platform["id"]},
    )
    (found,) = flags
    assert found["rule"] == "night"
    assert {k: v for k, v in found["evidence"].items() if v is not None} == {
        "day": "2025-11-03",
        "minutes": 45,
        "threshold": "30",
    }


async def test_the_trail_shows_a_records_ip_and_device_only_as_changed(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1", cadre["id"])
    r = await client.post(
        IMPORT, params={"platform": platform["code"]}, json={"items": [record("u-1", "R-1")]}
    )
    assert r.json()["created"] == 1, r.text
    changes = await db_conn.scalar(
        text(
            "SELECT a.changes FROM audit_event a JOIN online_record r ON r.id = a.entity_id "
            "WHERE r.platform_id = :p AND a.entity_type = 'online_record'"
        ),
        {"p": platform["id"]},
    )
    assert changes["ip"] == changes["device"] == "<changed>"
    assert (changes["minutes"], changes["external_id"]) == (45, "R-1")


async def test_a_record_spanning_126_years_is_a_row_error_and_nothing_is_written(
    client: httpx.AsyncClient,
) -> None:
    """A row from 1900-01-02 to 2026-11-28 used to walk every day of 126 years in the checks
    and create a log spanning them: it is the row error `implausible_span` (docs/rules.md
    "Online academies")."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1", cadre["id"])
    items = [
        record(
            "u-1",
            "R-old",
            started_at="1900-01-02T08:00:00+08:00",
            ended_at="2026-11-28T08:00:00+08:00",
        ),
        record("u-1", "R-ok"),
    ]
    r = await client.post(IMPORT, params={"platform": platform["code"]}, json={"items": items})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["rejected"]) == (1, 1)
    assert [(p["pointer"], p["code"]) for p in r.json()["problems"]] == [
        ("/body/items/0/ended_at", "implausible_span")
    ]
    assert [x["start_date"] for x in await _logs(client, cadre["id"])] == ["2025-11-02"]


async def test_the_checks_run_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plausibility checks are CPU-bound pure Python: they run in a worker thread, so an
    import does not stall the other requests the worker's event loop serves."""
    loop_thread = threading.get_ident()
    ran_in: list[int] = []
    original = plausibility.flag_all

    def recording(*args: Any) -> Any:
        ran_in.append(threading.get_ident())
        return original(*args)

    monkeypatch.setattr(plausibility, "flag_all", recording)
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1", cadre["id"])
    r = await client.post(
        IMPORT, params={"platform": platform["code"]}, json={"items": [record("u-1", "R-1")]}
    )
    assert r.json()["created"] == 1, r.text
    assert len(ran_in) == 1
    assert ran_in[0] != loop_thread


async def test_an_id_number_match_overrides_an_org_admins_claim_of_an_account(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """An org_admin claims an account that is not matched yet for its own cadre; the real
    owner's row with an ID number (admin or hr_system) re-points it and says so, the owner's
    later rows without one are credited to the owner, and the org_admin may not claim it back
    (docs/rules.md "Online academies")."""
    mine, other = await create_org_unit(client), await create_org_unit(client)
    claimer = await create_cadre(client, mine["id"])
    owner = await create_cadre(client, other["id"])
    platform = await create_platform(client)
    params = {"platform": platform["code"]}
    org_admin = await client_for(Role.org_admin, org_unit_id=mine["id"])
    url = f"{API}/online-platforms/{platform['id']}/learners/u-owner"
    assert (await org_admin.put(url, json={"cadre_id": claimer["id"]})).status_code == 200
    hr_system = await client_for(Role.hr_system)
    by_number = record("u-owner", "R-1", id_number=owner["id_number"])
    report = (await hr_system.post(IMPORT, params=params, json={"items": [by_number]})).json()
    assert (report["created"], report["rejected"]) == (1, 0), report
    assert [(p["pointer"], p["code"]) for p in report["notices"]] == [
        ("/body/items/0/id_number", "learner_rematched")
    ]
    later = await client.post(IMPORT, params=params, json={"items": [record("u-owner", "R-2")]})
    assert later.json()["created"] == 1, later.text
    assert len(await _logs(client, owner["id"])) == 2
    assert await _logs(client, claimer["id"]) == []
    # The org_admin cannot see the owner: as another unit's account, 403; an org_admin of the
    # owner's unit may not re-point an ID-number match either (409); an admin may.
    assert_problem(
        await org_admin.put(url, json={"cadre_id": claimer["id"]}),
        403,
        "online.not_learner_manager",
    )
    other_admin = await client_for(Role.org_admin, org_unit_id=other["id"])
    sibling = await create_cadre(client, other["id"])
    assert_problem(
        await other_admin.put(url, json={"cadre_id": sibling["id"]}),
        409,
        "online.learner_matched_by_id_number",
    )
    assert (await other_admin.put(url, json={"cadre_id": owner["id"]})).status_code == 200
    assert (await client.put(url, json={"cadre_id": sibling["id"]})).status_code == 200


async def test_an_id_number_match_does_not_override_another_id_number_match(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    first, second = await create_cadre(client, unit["id"]), await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    params = {"platform": platform["code"]}
    items = [record("u-1", "R-1", id_number=first["id_number"])]
    assert (await client.post(IMPORT, params=params, json={"items": items})).json()["created"] == 1
    items = [record("u-1", "R-2", id_number=second["id_number"])]
    report = (await client.post(IMPORT, params=params, json={"items": items})).json()
    assert [p["code"] for p in report["problems"]] == ["learner_mismatch"]
    assert report["notices"] == []


async def test_a_record_below_the_lowest_band_earns_nothing_even_with_a_passed_test(
    client: httpx.AsyncClient,
) -> None:
    """docs/rules.md "Online academies": a table starting at 10 minutes, a 5-minute record is
    the row error `earns_nothing`, its passed test's bonus included; 10 minutes earns the band
    and the bonus."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    table = {"bands": [{"min_minutes": 10, "hours": "1"}], "test_bonus_hours": "0.5"}
    platform = await create_platform(client, conversion=table)
    await _learner(client, platform, "u-1", cadre["id"])
    short = {"minutes": 5, "course_minutes": 5, "test_passed": True}
    long = {"minutes": 10, "course_minutes": 10, "test_passed": True}
    items = [record("u-1", "R-short", **short), record("u-1", "R-long", **long)]
    r = await client.post(IMPORT, params={"platform": platform["code"]}, json={"items": items})
    assert [(p["pointer"], p["code"]) for p in r.json()["problems"]] == [
        ("/body/items/0/minutes", "earns_nothing")
    ], r.text
    assert [x["hours"] for x in await _logs(client, cadre["id"])] == ["1.50"]


async def test_an_ipv4_mapped_address_is_kept_as_ipv4_and_a_zone_is_a_row_error(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    """`::ffff:10.1.2.3` is the address `10.1.2.3` (one source for `shared_source`); an address
    with a zone (`fe80::1%eth0`) names the sender's interface: a row error."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    platform = await create_platform(client)
    await _learner(client, platform, "u-1", cadre["id"])
    items = [
        record("u-1", "R-mapped", ip="::ffff:10.1.2.3"),
        record("u-1", "R-zone", ip="fe80::1%eth0"),
    ]
    r = await client.post(IMPORT, params={"platform": platform["code"]}, json={"items": items})
    assert [(p["pointer"], p["code"]) for p in r.json()["problems"]] == [
        ("/body/items/1/ip", "invalid_row")
    ], r.text
    ips = await db_conn.scalars(
        text("SELECT host(ip) FROM online_record WHERE platform_id = :p"), {"p": platform["id"]}
    )
    assert list(ips) == ["10.1.2.3"]
