"""Issue 15's done-when for online academies: the import converts and flags a generated month of
a county's online records (bench/generate_online.py). Every planted cheat (one device serving
twelve cadres, nights, a day of 14 hours, study during a residential class, courses finished
faster than their length) is flagged with its rule, and no honest record is — not even those at
a threshold (docs/rules.md "Plausibility flags")."""

from typing import Any

import httpx

from app.enums import Role
from bench.generate_online import Learner, OnlineMonth, ResidentialClass, generate_month, to_csv
from tests.conftest import ClientFor
from tests.factories import API, cadre_body, create_org_unit, session_body, unique

YUNNAN: dict[str, Any] = {
    "bands": [
        {"min_minutes": 1, "hours": "0.25"},
        {"min_minutes": 15, "hours": "0.5"},
        {"min_minutes": 30, "hours": "1"},
    ],
    "test_bonus_hours": "0.5",
}
IMPORT = f"{API}/imports/online-records"
REPORT = f"{API}/reports/online-anomalies"


CADRES: dict[str, str] = {}
"""learner_id → cadre id of the cadres created here."""


async def _county(client: httpx.AsyncClient, n: int) -> tuple[dict[str, Any], list[Learner]]:
    county = await create_org_unit(client, name="某县", kind="county")
    learners = []
    for i in range(n):
        body = cadre_body(county["id"], name=f"干部{i:02d}")
        r = await client.post(f"{API}/cadres", json=body)
        assert r.status_code == 201, r.text
        learners.append(Learner(unique("yn"), id_number=body["id_number"]))
        CADRES[learners[-1].learner_id] = r.json()["id"]
    return county, learners


async def _platform(client: httpx.AsyncClient) -> str:
    code = unique("YN-GBWX")
    r = await client.post(
        f"{API}/online-platforms",
        json={"code": code, "name": "云南干部在线学习学院", "conversion": YUNNAN},
    )
    assert r.status_code == 201, r.text
    return code


async def _residential_class(
    client: httpx.AsyncClient, county: dict[str, Any], residential: ResidentialClass
) -> None:
    """The class as the generator describes it, with its parts, and the cheater enrolled."""
    days = (residential.end_date - residential.start_date).days + 1
    r = await client.post(
        f"{API}/training-sessions",
        json=session_body(
            county["id"],
            start_date=residential.start_date.isoformat(),
            end_date=residential.end_date.isoformat(),
            days=str(days),
            credit_hours=str(4 * len(residential.parts)),
        ),
    )
    assert r.status_code == 201, r.text
    ts = r.json()
    parts = [
        {
            "part_date": part.part_date.isoformat(),
            "period": "morning" if part.start_time.hour < 12 else "afternoon",
            "credit_hours": "4",
            "start_time": part.start_time.strftime("%H:%M"),
            "end_time": part.end_time.strftime("%H:%M"),
        }
        for part in residential.parts
    ]
    r = await client.put(
        f"{API}/training-sessions/{ts['id']}/parts",
        json={"parts": parts},
        headers={"If-Match": f'"{ts["version"]}"'},
    )
    assert r.status_code == 200, r.text
    cadre_id = CADRES[residential.learner.learner_id]
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre_id}
    )
    assert r.status_code == 201, r.text


def _flagged(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        record["external_id"]: [f["rule"] for f in record["flags"]] for record in report["records"]
    }


async def _month(client: httpx.AsyncClient) -> tuple[dict[str, Any], str, OnlineMonth]:
    county, learners = await _county(client, 40)
    month = generate_month(learners, year=2026, month=3)
    assert month.residential_class is not None
    await _residential_class(client, county, month.residential_class)
    return county, await _platform(client), month


async def test_every_planted_cheat_is_flagged_and_no_honest_record_is(
    client: httpx.AsyncClient,
) -> None:
    county, platform, month = await _month(client)
    r = await client.post(
        IMPORT,
        params={"platform": platform},
        content=to_csv(month.rows),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["rows"], result["created"], result["rejected"]) == (len(month.rows),) * 2 + (0,)
    assert result["flagged"] == len(month.planted)

    r = await client.get(REPORT, params={"org_unit_id": county["id"], "year": 2026, "top": 1000})
    assert r.status_code == 200, r.text
    report = r.json()
    assert _flagged(report) == {external_id: [rule] for external_id, rule in month.planted.items()}
    assert not set(_flagged(report)) & set(month.near)  # the edges stay honest
    assert report["flagged_records"] == len(month.planted) == 24
    assert report["flags"] == {
        "daily_hours": 7,
        "centralised_overlap": 1,
        "night": 2,
        "shared_source": 12,
        "too_fast": 2,
    }
    assert [u["org_unit_id"] for u in report["units"]] == [county["id"]]
    assert {rec["study_log_status"] for rec in report["records"]} == {"pending"}
    assert report["truncated"] is False

    # The evidence: the device, the day and how many cadres it served.
    farm = next(rec for rec in report["records"] if rec["flags"][0]["rule"] == "shared_source")
    assert farm["flags"][0]["evidence"] | {} == {
        **farm["flags"][0]["evidence"],
        "day": "2026-03-03",
        "source_kind": "device",
        "source": "DEV-FARM-01",
        "cadres": 12,
        "threshold": "2.00",
    }
    overlap = next(
        rec for rec in report["records"] if rec["flags"][0]["rule"] == "centralised_overlap"
    )
    evidence = overlap["flags"][0]["evidence"]
    assert (evidence["overlap_from"], evidence["overlap_to"], evidence["minutes"]) == (
        "2026-03-11T09:00:00+08:00",
        "2026-03-11T09:45:00+08:00",
        45,
    )
    assert "id_number" not in str(report)
    # The flagged logs wait for a reviewer with the reasons; the honest ones are approved.
    r = await client.get(f"{API}/study-logs/{overlap['study_log_id']}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    assert "centralised class" in r.json()["review_comment"]


async def _farm_logs_statuses(client: httpx.AsyncClient, report: dict[str, Any]) -> set[str]:
    statuses = set()
    for rec in report["records"]:
        r = await client.get(f"{API}/study-logs/{rec['study_log_id']}")
        assert r.status_code == 200, r.text
        statuses.add(r.json()["status"])
        assert "device" in r.json()["review_comment"], r.json()
    return statuses


async def test_the_stored_records_count_toward_a_later_batch(client: httpx.AsyncClient) -> None:
    """The device farm imported in two batches: the first two cadres are within the threshold;
    the next ten make twelve on that device that day: the second batch is flagged, and so are
    the first two, whose logs go back to `pending` (docs/rules.md "Plausibility flags")."""
    county, platform, month = await _month(client)
    farm = [
        row for row in month.rows if month.planted.get(str(row["external_id"])) == "shared_source"
    ]
    r = await client.post(IMPORT, params={"platform": platform}, json={"items": farm[:2]})
    assert (r.status_code, r.json()["flagged"]) == (200, 0), r.text
    r = await client.post(IMPORT, params={"platform": platform}, json={"items": farm[2:]})
    assert (r.status_code, r.json()["flagged"]) == (200, 10), r.text
    r = await client.get(REPORT, params={"org_unit_id": county["id"], "year": 2026})
    flagged = _flagged(r.json())
    assert set(flagged) == {str(row["external_id"]) for row in farm}
    assert all(rules == ["shared_source"] for rules in flagged.values()), flagged
    cadres = {rec["flags"][0]["evidence"]["cadres"] for rec in r.json()["records"]}
    assert cadres == {12}
    assert await _farm_logs_statuses(client, r.json()) == {"pending"}


async def test_one_record_per_request_hides_no_cheat(client: httpx.AsyncClient) -> None:
    """The device farm and the 14-hour day sent one record a request: every record of both ends
    flagged, once per finding, and every log `pending`."""
    county, platform, month = await _month(client)
    rows = [
        row
        for row in month.rows
        if month.planted.get(str(row["external_id"])) in {"shared_source", "daily_hours"}
    ]
    for row in rows:
        r = await client.post(IMPORT, params={"platform": platform}, json={"items": [row]})
        assert (r.status_code, r.json()["created"]) == (200, 1), r.text
    r = await client.get(REPORT, params={"org_unit_id": county["id"], "year": 2026})
    flagged = _flagged(r.json())
    assert flagged == {
        str(row["external_id"]): [month.planted[str(row["external_id"])]] for row in rows
    }
    for rec in r.json()["records"]:
        r = await client.get(f"{API}/study-logs/{rec['study_log_id']}")
        assert r.json()["status"] == "pending", r.json()


async def test_the_report_is_scoped_to_the_org_admins_subtree(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    county, platform, month = await _month(client)
    r = await client.post(IMPORT, params={"platform": platform}, json={"items": month.rows})
    assert r.status_code == 200, r.text
    other = await create_org_unit(client)
    outsider = await client_for(Role.org_admin, org_unit_id=other["id"])
    r = await outsider.get(REPORT, params={"org_unit_id": county["id"], "year": 2026})
    assert r.status_code == 404, r.text
    insider = await client_for(Role.org_admin, org_unit_id=county["id"])
    r = await insider.get(REPORT, params={"org_unit_id": county["id"], "year": 2026, "top": 5})
    assert r.status_code == 200, r.text
    assert (r.json()["flagged_records"], len(r.json()["records"]), r.json()["truncated"]) == (
        24,
        5,
        True,
    )
    auditor = await client_for(Role.auditor)
    r = await auditor.get(REPORT, params={"org_unit_id": county["id"], "year": 2025})
    assert (r.status_code, r.json()["flagged_records"]) == (200, 0)
    cadre_user = await client_for(Role.hr_system)
    r = await cadre_user.get(REPORT, params={"org_unit_id": county["id"]})
    assert r.status_code == 403, r.text


async def test_the_thresholds_are_the_policy_in_force_on_the_records_day(
    client: httpx.AsyncClient,
) -> None:
    """A policy from 2026-03-03 lets a device serve twelve cadres and a day hold 14 hours: the
    farm (on the 3rd) and the long day (the 5th) pass; the other cheats are still flagged. A
    posted policy that omits the thresholds gets cn-2023's."""
    from app.credit_policy.policy import CN_2023
    from app.credit_policy.schemas import definition_of

    policies = f"{API}/credit-policies"
    (cn,) = [p for p in (await client.get(policies)).json()["items"] if p["code"] == "cn-2023"]
    assert cn["definition"]["online_plausibility"] == {
        "daily_hours": "8.00",
        "night_minutes": 30,
        "device_cadres": 2,
        "ip_cadres": 30,
        "watched_share": {"numerator": 1, "denominator": 1},
    }
    body = {**definition_of(CN_2023), "name": "x", "effective_from": "2026-03-03"}
    lenient = {**body["online_plausibility"], "device_cadres": 12, "daily_hours": "14"}
    r = await client.post(
        policies, json={**body, "code": "lenient", "online_plausibility": lenient}
    )
    assert r.status_code == 201, r.text
    assert r.json()["definition"]["online_plausibility"]["device_cadres"] == 12
    bad = {**lenient, "night_minutes": -1}
    r = await client.post(
        policies,
        json={**body, "code": "bad", "effective_from": "2027-01-01", "online_plausibility": bad},
    )
    assert r.status_code == 422, r.text

    county, platform, month = await _month(client)
    r = await client.post(IMPORT, params={"platform": platform}, json={"items": month.rows})
    assert r.status_code == 200, r.text
    r = await client.get(REPORT, params={"org_unit_id": county["id"], "year": 2026, "top": 1000})
    expected = {
        external_id: [rule]
        for external_id, rule in month.planted.items()
        if rule not in {"shared_source", "daily_hours"}
    }
    assert _flagged(r.json()) == expected


async def test_a_class_without_parts_covers_its_whole_days(client: httpx.AsyncClient) -> None:
    """docs/rules.md "Plausibility flags", `centralised_overlap`: a centralised session without
    parts covers its whole days, as does a centralised log no session issued; a session that is
    not centralised covers nothing."""
    county = await create_org_unit(client, name="某县", kind="county")
    cadres = []
    for i in range(3):
        r = await client.post(f"{API}/cadres", json=cadre_body(county["id"], name=f"学员{i}"))
        assert r.status_code == 201, r.text
        cadres.append(r.json()["id"])
    dates = {"start_date": "2026-04-07", "end_date": "2026-04-08", "days": "2"}
    for cadre_id, centralised in ((cadres[0], True), (cadres[2], False)):
        form = "refresher" if centralised else "lecture"
        body = session_body(county["id"], centralised=centralised, form=form, **dates)
        r = await client.post(f"{API}/training-sessions", json=body)
        assert r.status_code == 201, r.text
        r = await client.post(
            f"{API}/training-sessions/{r.json()['id']}/enrollments", json={"cadre_id": cadre_id}
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/study-logs",
        json={
            "cadre_id": cadres[1],
            "kind": "centralised_training",
            "title": "省委党校专题班",
            "start_date": "2026-04-09",
            "end_date": "2026-04-09",
            "hours": "8",
            "days": "1",
        },
    )
    assert r.status_code == 201, r.text
    platform = await _platform(client)
    for n, cadre_id in enumerate(cadres):
        r = await client.put(
            f"{API}/online-platforms/{(await _platform_id(client, platform))}/learners/u{n}",
            json={"cadre_id": cadre_id},
        )
        assert r.status_code == 200, r.text

    def row(learner: str, external_id: str, start: str) -> dict[str, Any]:
        return {
            "learner_id": learner,
            "external_id": external_id,
            "course_code": "C1",
            "course_title": "网络课程",
            "course_minutes": 45,
            "minutes": 45,
            "completed": True,
            "started_at": start,
        }

    items = [
        row("u0", "in-class-evening", "2026-04-07T20:00:00+08:00"),
        row("u0", "after-class", "2026-04-09T20:00:00+08:00"),
        row("u1", "log-day", "2026-04-09T21:00:00+08:00"),
        row("u2", "lecture-day", "2026-04-07T10:00:00+08:00"),
    ]
    r = await client.post(IMPORT, params={"platform": platform}, json={"items": items})
    assert (r.status_code, r.json()["created"]) == (200, 4), r.text
    r = await client.get(REPORT, params={"org_unit_id": county["id"], "year": 2026})
    records = {rec["external_id"]: rec["flags"] for rec in r.json()["records"]}
    assert {k: [f["rule"] for f in v] for k, v in records.items()} == {
        "in-class-evening": ["centralised_overlap"],
        "log-day": ["centralised_overlap"],
    }
    assert records["in-class-evening"][0]["evidence"]["training_session_id"] is not None
    assert records["log-day"][0]["evidence"]["study_log_id"] is not None
    assert records["log-day"][0]["evidence"]["class_title"] == "省委党校专题班"


async def _platform_id(client: httpx.AsyncClient, code: str) -> str:
    r = await client.get(f"{API}/online-platforms", params={"limit": 500})
    return next(p["id"] for p in r.json()["items"] if p["code"] == code)  # type: ignore[no-any-return]


async def test_a_watched_share_above_one_is_refused_on_write(client: httpx.AsyncClient) -> None:
    """`watched_share` is a share of the course (docs/rules.md "Plausibility flags"): 3/2 would
    flag every honest record; it is a problem on write, and 1/1 (all of it) passes."""
    from app.credit_policy.policy import CN_2023
    from app.credit_policy.schemas import definition_of

    policies = f"{API}/credit-policies"
    body = {**definition_of(CN_2023), "name": "x", "effective_from": "2031-01-01"}
    share = {**body["online_plausibility"], "watched_share": {"numerator": 3, "denominator": 2}}
    r = await client.post(policies, json={**body, "code": "too-much", "online_plausibility": share})
    assert r.status_code == 422, r.text
    assert "watched_share" in r.text
    whole = {**share, "watched_share": {"numerator": 2, "denominator": 2}}
    r = await client.post(policies, json={**body, "code": "whole", "online_plausibility": whole})
    assert r.status_code == 201, r.text


async def test_an_org_admins_import_holds_no_other_units_records(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Two cadres of another unit used the farm's device first (imported by the admin, within
    the threshold of 2); a county administrator's import of a third cadre on that device is
    flagged, but the other unit's stored records and logs are left alone: no unit can put
    another's credits on hold by importing records that name its devices."""
    county, platform, month = await _month(client)
    farm = [
        row for row in month.rows if month.planted.get(str(row["external_id"])) == "shared_source"
    ]
    other = await create_org_unit(client, name="邻县", kind="county")
    for row in farm[:2]:
        url = f"{API}/cadres/{CADRES[str(row['learner_id'])]}"
        current = await client.get(url)
        r = await client.patch(
            url, json={"org_unit_id": other["id"]}, headers={"If-Match": current.headers["ETag"]}
        )
        assert r.status_code == 200, r.text
    r = await client.post(IMPORT, params={"platform": platform}, json={"items": farm[:2]})
    assert (r.status_code, r.json()["flagged"]) == (200, 0), r.text
    admin = await client_for(Role.org_admin, org_unit_id=county["id"])
    third = farm[2]
    r = await admin.put(
        f"{API}/online-platforms/{await _platform_id(client, platform)}/learners/"
        f"{third['learner_id']}",
        json={"cadre_id": CADRES[str(third["learner_id"])]},
    )
    assert r.status_code in (200, 201), r.text
    row = {k: v for k, v in third.items() if k != "id_number"}
    r = await admin.post(IMPORT, params={"platform": platform}, json={"items": [row]})
    assert (r.status_code, r.json()["flagged"]) == (200, 1), r.text
    r = await client.get(REPORT, params={"org_unit_id": other["id"], "year": 2026})
    assert r.status_code == 200, r.text
    assert r.json()["records"] == []
    for row in farm[:2]:
        logs = await client.get(
            f"{API}/study-logs", params={"cadre_id": CADRES[str(row["learner_id"])]}
        )
        assert {log["status"] for log in logs.json()["items"]} == {"approved"}
