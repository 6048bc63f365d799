"""The rules (docs/rules.md) through the HTTP API, on the worked examples' numbers."""

from datetime import date
from typing import Any

import httpx
import pytest

from app.clock import pinned
from app.enums import Role, StudyLogKind
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_log, create_org_unit, create_session
from tests.test_platform import assert_problem

CENTRALISED = {"kind": "centralised_training", "status": "approved"}


@pytest.fixture
async def example_1(client: httpx.AsyncClient) -> dict[str, Any]:
    """worked example 1: a county_division cadre and three centralised classes."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="county_division")
    for start, end, days, hours in (
        ("2020-10-26", "2020-11-04", "10", "70"),
        ("2022-04-11", "2022-06-09", "60", "360"),
        ("2024-09-23", "2024-10-12", "20", "130"),
    ):
        await create_log(
            client,
            cadre["id"],
            **CENTRALISED,
            start_date=start,
            end_date=end,
            days=days,
            hours=hours,
        )
    return cadre


@pytest.mark.parametrize(
    ("as_of", "days", "hours", "short_days", "short_hours"),
    [
        ("2025-10-31", "84.00", "518.00", "6.00", "32.00"),
        ("2025-11-01", "83.00", "511.00", "7.00", "39.00"),
    ],
)
async def test_five_year_window_edge(
    client: httpx.AsyncClient,
    example_1: dict[str, Any],
    as_of: str,
    days: str,
    hours: str,
    short_days: str,
    short_hours: str,
) -> None:
    r = await client.get(f"{API}/cadres/{example_1['id']}/compliance", params={"as_of": as_of})
    assert r.status_code == 200, r.text
    five = r.json()["five_year"]
    assert (five["centralised_days"], five["centralised_hours"]) == (days, hours)
    assert (five["shortfall_days"], five["shortfall_hours"]) == (short_days, short_hours)
    assert five["status"] == "not_met"
    assert five["required_days"] == "90.00"
    assert r.json()["annual"]["status"] == "not_applicable"


@pytest.mark.parametrize(
    ("as_of", "status"),
    [("2025-10-31", "in_grace"), ("2026-03-15", "in_grace"), ("2026-03-16", "not_met")],
)
async def test_grace_after_promotion(
    client: httpx.AsyncClient, example_1: dict[str, Any], as_of: str, status: str
) -> None:
    await client.patch(f"{API}/cadres/{example_1['id']}", json={"promoted_on": "2025-03-15"})
    five = (
        await client.get(f"{API}/cadres/{example_1['id']}/compliance", params={"as_of": as_of})
    ).json()["five_year"]
    assert five["status"] == status
    assert five["grace_deadline"] == "2026-03-15"


async def test_caps_and_per_item_credits(client: httpx.AsyncClient) -> None:
    """worked example 2: 20 + 3 + 24 + 52 = 99 credited hours in 2024."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    approved = {"status": "approved"}
    for kind, day, hours in (
        ("self_study", "2024-03-01", "12"),
        ("self_study", "2024-05-01", "12"),
        ("central_group_study", "2024-02-20", "4"),
        ("teaching", "2024-06-06", "8"),
        ("teaching", "2024-07-06", "8"),
    ):
        await create_log(
            client, cadre["id"], kind=kind, start_date=day, end_date=day, hours=hours, **approved
        )
    await create_log(
        client,
        cadre["id"],
        kind="online_course",
        start_date="2024-08-01",
        end_date="2024-08-31",
        hours="52",
        **approved,
    )
    credits = (
        await client.get(f"{API}/cadres/{cadre['id']}/credits", params={"year": 2024})
    ).json()
    assert credits["total_hours"] == "99.00"
    by_kind = {k["kind"]: k for k in credits["by_kind"]}
    assert (by_kind["self_study"]["credited_hours"], by_kind["self_study"]["capped_hours"]) == (
        "24.00",
        "20.00",
    )
    assert by_kind["central_group_study"]["capped_hours"] == "3.00"
    assert (by_kind["teaching"]["credited_hours"], by_kind["teaching"]["capped_hours"]) == (
        "32.00",
        "24.00",
    )
    second = by_kind["self_study"]["logs"][1]
    assert (second["counted_hours"], second["removed_by_cap"]) == ("8.00", "4.00")
    assert (credits["centralised_hours"], credits["counted_hours"]) == ("0.00", "0.00")
    assert [k["kind"] for k in credits["by_kind"] if k["annual_counted"]] == [
        "centralised_training"
    ]
    state = (
        await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2024-12-31"})
    ).json()
    annual = state["annual"]
    # cn-2023 counts centralised training only (docs/rules.md rule 5): 99 credited, 0 counted.
    assert (annual["credited_hours"], annual["counted_hours"], annual["status"]) == (
        "99.00",
        "0.00",
        "not_met",
    )
    assert (annual["shortfall_days"], annual["shortfall_hours"]) == ("12.00", "90.00")
    assert annual["counted_kinds"] == ["centralised_training"]
    assert (state["online"]["status"], state["online"]["hours"]) == ("met", "52.00")
    assert state["five_year"]["status"] == "not_applicable"

    # A local 学时学分制 in force from 2024 counts every kind: the same year is met.
    from app.credit_policy.policy import CN_2023
    from app.credit_policy.schemas import definition_of

    local = {
        **definition_of(CN_2023),
        "annual_hours_kinds": sorted(k.value for k in StudyLogKind),
        "code": "local-2024",
        "name": "学时学分制",
        "effective_from": "2024-01-01",
    }
    r = await client.post(f"{API}/credit-policies", json=local)
    assert r.status_code == 201, r.text
    annual = (
        await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2024-12-31"})
    ).json()["annual"]
    assert (annual["policy_code"], annual["counted_hours"], annual["status"]) == (
        "local-2024",
        "99.00",
        "met",
    )
    assert annual["shortfall_hours"] == "0.00"


async def test_a_class_across_new_year(client: httpx.AsyncClient) -> None:
    """worked example 3: 9/14 of the class in 2024, 5/14 in 2025."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="township_section")
    await create_log(
        client,
        cadre["id"],
        **CENTRALISED,
        start_date="2024-12-23",
        end_date="2025-01-05",
        days="10",
        hours="70",
    )
    y2024 = (await client.get(f"{API}/cadres/{cadre['id']}/credits", params={"year": 2024})).json()
    y2025 = (await client.get(f"{API}/cadres/{cadre['id']}/credits", params={"year": 2025})).json()
    assert (y2024["centralised_days"], y2024["total_hours"]) == ("6.43", "45.00")
    assert (y2025["centralised_days"], y2025["total_hours"]) == ("3.57", "25.00")
    assert (y2024["centralised_hours"], y2024["counted_hours"]) == ("45.00", "45.00")
    assert (y2025["centralised_hours"], y2025["counted_hours"]) == ("25.00", "25.00")
    for as_of, days, hours, short_days, short_hours in (
        ("2024-12-31", "6.43", "45.00", "5.57", "45.00"),
        ("2025-12-31", "3.57", "25.00", "8.43", "65.00"),
    ):
        annual = (
            await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": as_of})
        ).json()["annual"]
        assert (
            annual["centralised_days"],
            annual["centralised_hours"],
            annual["counted_hours"],
            annual["credited_hours"],
        ) == (days, hours, hours, hours)
        assert (annual["status"], annual["shortfall_days"], annual["shortfall_hours"]) == (
            "not_met",
            short_days,
            short_hours,
        )


EXAMPLE_5_LOGS = (
    # kind, start, end, days, hours
    ("centralised_training", "2025-05-12", "2025-05-19", "8", "60"),
    ("centralised_training", "2025-10-13", "2025-10-15", "3", "24"),
    ("online_course", "2025-03-01", "2025-03-31", "0", "40"),
    ("self_study", "2025-06-01", "2025-06-01", "0", "20"),
)


async def example_5_cadre(client: httpx.AsyncClient, org_unit_id: str) -> dict[str, Any]:
    """worked example 5: a township_section cadre's 2025 (logs entered on 2026-01-10)."""
    cadre = await create_cadre(client, org_unit_id, rank="township_section")
    with pinned(date(2026, 1, 10)):
        for kind, start, end, days, hours in EXAMPLE_5_LOGS:
            await create_log(
                client,
                cadre["id"],
                kind=kind,
                status="approved",
                start_date=start,
                end_date=end,
                days=days,
                hours=hours,
            )
    return cadre


async def test_example_5_the_annual_rule_counts_centralised_training(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    cadre = await example_5_cadre(client, unit["id"])
    with pinned(date(2026, 1, 10)):
        state = (
            await client.get(
                f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2025-12-31"}
            )
        ).json()
        credits = (
            await client.get(f"{API}/cadres/{cadre['id']}/credits", params={"year": 2025})
        ).json()
    annual = state["annual"]
    # Centralised: 8 + 3 = 11 days, 60 + 24 = 84 h; credited 60 + 24 + 40 + 20 = 144.
    assert (
        annual["centralised_days"],
        annual["centralised_hours"],
        annual["counted_hours"],
        annual["credited_hours"],
    ) == ("11.00", "84.00", "84.00", "144.00")
    assert (annual["status"], annual["shortfall_days"], annual["shortfall_hours"]) == (
        "not_met",
        "1.00",
        "6.00",
    )
    assert (annual["required_days"], annual["required_hours"]) == ("12.00", "90.00")
    assert "144 credited h of all kinds shown, not compared" in annual["explanation"]
    assert (state["online"]["hours"], state["online"]["status"]) == ("40.00", "not_met")
    assert (credits["total_hours"], credits["centralised_hours"], credits["counted_hours"]) == (
        "144.00",
        "84.00",
        "84.00",
    )


async def test_a_posted_policy_without_annual_kinds_counts_its_centralised_kinds(
    client: httpx.AsyncClient,
) -> None:
    from app.credit_policy.policy import CN_2023
    from app.credit_policy.schemas import definition_of

    body = {
        **definition_of(CN_2023),
        "centralised_kinds": ["centralised_training", "seminar"],
        "code": "no-annual-kinds",
        "name": "x",
        "effective_from": "2030-01-01",
    }
    del body["annual_hours_kinds"]
    r = await client.post(f"{API}/credit-policies", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["definition"]["annual_hours_kinds"] == ["centralised_training", "seminar"]


@pytest.mark.parametrize(
    ("annual_hours_kinds", "detail"),
    [
        (["centralised_training", "no_such_kind"], "Input should be"),
        ([], "annual_hours_kinds is empty"),
    ],
)
async def test_bad_annual_kinds_are_refused(
    client: httpx.AsyncClient, annual_hours_kinds: list[str], detail: str
) -> None:
    from app.credit_policy.policy import CN_2023
    from app.credit_policy.schemas import definition_of

    body = {
        **definition_of(CN_2023),
        "annual_hours_kinds": annual_hours_kinds,
        "code": "bad",
        "name": "x",
        "effective_from": "2030-01-01",
    }
    problem = assert_problem(
        await client.post(f"{API}/credit-policies", json=body), 422, "validation_failed"
    )
    assert detail in str(problem)


async def test_voided_log_leaves_the_totals(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    log = await create_log(
        client,
        cadre["id"],
        hours="30",
        status="approved",
        start_date="2024-03-01",
        end_date="2024-03-05",
    )

    async def total() -> str:
        body = (
            await client.get(f"{API}/cadres/{cadre['id']}/credits", params={"year": 2024})
        ).json()
        return str(body["total_hours"])

    assert await total() == "30.00"
    await client.post(f"{API}/study-logs/{log['id']}/void")
    assert await total() == "0.00"


async def test_closing_a_session_applies_the_leave_cap(client: httpx.AsyncClient) -> None:
    """worked example 4: 40 h, 5 days; 4 h of leave completes with 36 h and 4.5 days, 6 h is above
    40/7 and withdraws; 40/7 h exactly is impossible to enter (two places), so 5.71 completes."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], days="5", credit_hours="40", status="open")
    enrolled = {}
    for name, leave in (("x", "4"), ("y", "6"), ("z", "5.71")):
        cadre = await create_cadre(client, unit["id"])
        e = (
            await client.post(
                f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
            )
        ).json()
        await client.patch(f"{API}/enrollments/{e['id']}", json={"leave_hours": leave})
        enrolled[name] = (cadre, e)

    r = await client.post(f"{API}/training-sessions/{ts['id']}/close")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["completed"], body["dropped_out"]) == (2, 1)
    outcome = {o["enrollment_id"]: o for o in body["outcomes"]}
    x = outcome[enrolled["x"][1]["id"]]
    assert (x["status"], x["hours"], x["days"]) == ("completed", "36.00", "4.50")
    assert outcome[enrolled["y"][1]["id"]]["status"] == "dropped_out"
    assert outcome[enrolled["z"][1]["id"]]["status"] == "completed"
    log = (await client.get(f"{API}/study-logs/{x['study_log_id']}")).json()
    assert (log["status"], log["source"], log["kind"], log["hours"], log["days"]) == (
        "approved",
        "session",
        "centralised_training",
        "36.00",
        "4.50",
    )
    y_logs = await client.get(f"{API}/study-logs", params={"cadre_id": enrolled["y"][0]["id"]})
    assert y_logs.json()["items"] == []
    assert body["training_session"]["enrolled"] == 0
    assert_problem(
        await client.post(f"{API}/training-sessions/{ts['id']}/close"),
        409,
        "training_session.already_closed",
    )


async def test_county_admin_cannot_close_a_city_session(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    ts = await create_session(client, city["id"])
    county_admin = await client_for(Role.org_admin, org_unit_id=county["id"])
    assert (await county_admin.get(f"{API}/training-sessions/{ts['id']}")).status_code == 200
    r = await county_admin.post(f"{API}/training-sessions/{ts['id']}/close")
    assert_problem(r, 403, "training_session.not_organiser")
    # It enrolls its own cadre in the city's class: without an origin, a nomination (the roll
    # call, which seats without review, is the organiser's: docs/rules.md rule 11). It may
    # withdraw it, but the attendance record (leave, score, confirmation) is the organiser's.
    cadre = await create_cadre(client, county["id"])
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    r = await county_admin.post(url, json={"cadre_id": cadre["id"], "origin": "roll_call"})
    assert_problem(r, 403, "training_session.not_organiser")
    e = await county_admin.post(url, json={"cadre_id": cadre["id"]})
    assert (e.status_code, e.json()["origin"]) == (201, "nomination"), e.text
    url = f"{API}/enrollments/{e.json()['id']}"
    for change in ({"leave_hours": "1"}, {"score": "90"}, {"status": "confirmed"}):
        assert_problem(
            await county_admin.patch(url, json=change), 403, "training_session.not_organiser"
        )
    assert (await county_admin.patch(url, json={"status": "withdrawn"})).status_code == 200


async def test_switching_policy(client: httpx.AsyncClient) -> None:
    """chuzhou-2007 from 2026-01-01: 90 days for every rank, no hours alternative."""
    from app.credit_policy.policy import CHUZHOU_2007
    from app.credit_policy.schemas import definition_of

    body = {
        **definition_of(CHUZHOU_2007),
        "code": "chuzhou-2007",
        "name": CHUZHOU_2007.name,
        "effective_from": "2026-01-01",
    }
    r = await client.post(f"{API}/credit-policies", json=body)
    assert r.status_code == 201, r.text
    policies = {p["code"]: p for p in (await client.get(f"{API}/credit-policies")).json()["items"]}
    assert policies["cn-2023"]["effective_to"] == "2025-12-31"
    again = await client.post(
        f"{API}/credit-policies", json={**body, "code": "other", "effective_to": "2027-01-01"}
    )
    assert_problem(again, 409, "credit_policy.overlap")

    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    await create_log(
        client,
        cadre["id"],
        hours="100",
        status="approved",
        start_date="2025-03-01",
        end_date="2025-03-10",
    )
    under_2023 = (
        await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2025-12-31"})
    ).json()
    # 100 online hours: credited, but cn-2023's annual rule counts centralised training only.
    assert (under_2023["annual"]["status"], under_2023["five_year"]["status"]) == (
        "not_met",
        "not_applicable",
    )
    assert (under_2023["annual"]["credited_hours"], under_2023["annual"]["counted_hours"]) == (
        "100.00",
        "0.00",
    )
    under_2007 = (
        await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2026-06-30"})
    ).json()
    assert under_2007["five_year"]["status"] == "not_met"
    assert under_2007["five_year"]["required_hours"] is None
    assert under_2007["annual"]["status"] == "not_applicable"
