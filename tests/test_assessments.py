"""SPEC §3 rule 9 through the API: one assessment per cadre and year, a frozen snapshot, and an
`excellent` rating only when the year's requirement is met at year end."""

import httpx
import pytest

from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.test_platform import assert_problem


async def _assess(
    client: httpx.AsyncClient, cadre_id: str, rating: str, year: int = 2024
) -> httpx.Response:
    return await client.post(
        f"{API}/assessments", json={"cadre_id": cadre_id, "year": year, "rating": rating}
    )


async def test_excellent_needs_the_annual_requirement_for_other_ranks(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    # 89 credited hours in 2024: one short of 90, and no centralised days.
    await create_log(
        client,
        cadre["id"],
        hours="89",
        status="approved",
        start_date="2024-05-01",
        end_date="2024-05-31",
    )
    r = await _assess(client, cadre["id"], "excellent")
    body = assert_problem(r, 409, "assessment.training_requirement_unmet")
    assert "annual" in body["detail"]
    # One more hour, on New Year's Eve, and it is allowed.
    await create_log(
        client,
        cadre["id"],
        hours="1",
        status="approved",
        start_date="2024-12-31",
        end_date="2024-12-31",
    )
    r = await _assess(client, cadre["id"], "excellent")
    assert r.status_code == 201, r.text
    snapshot = r.json()["training_snapshot"]
    assert snapshot["as_of"] == "2024-12-31"
    assert snapshot["excellent_allowed"] is True
    assert snapshot["annual"]["credited_hours"] == "90.00"
    assert snapshot["annual"]["status"] == "met"


async def test_excellent_for_a_leading_cadre_in_grace(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    never_trained = await create_cadre(client, unit["id"], rank="county_division")
    promoted = await create_cadre(
        client, unit["id"], rank="county_division", promoted_on="2024-03-15"
    )
    assert_problem(
        await _assess(client, never_trained["id"], "excellent"),
        409,
        "assessment.training_requirement_unmet",
    )
    r = await _assess(client, promoted["id"], "excellent")
    assert r.status_code == 201, r.text
    assert r.json()["training_snapshot"]["five_year"]["status"] == "in_grace"


async def test_other_ratings_are_recorded_with_their_snapshot(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    await create_log(
        client,
        cadre["id"],
        hours="12",
        status="approved",
        start_date="2024-05-01",
        end_date="2024-05-03",
    )
    await create_log(client, cadre["id"], hours="5", start_date="2024-06-01", end_date="2024-06-01")
    r = await _assess(client, cadre["id"], "competent")
    assert r.status_code == 201, r.text
    snapshot = r.json()["training_snapshot"]
    assert snapshot["annual"]["credited_hours"] == "12.00"  # the pending log does not count
    assert snapshot["excellent_allowed"] is False

    assert_problem(await _assess(client, cadre["id"], "excellent"), 409, "assessment.exists")
    # A later log does not change a decision already taken...
    await create_log(
        client,
        cadre["id"],
        hours="3",
        status="approved",
        start_date="2024-07-01",
        end_date="2024-07-01",
    )
    fetched = await client.get(f"{API}/assessments/{r.json()['id']}")
    assert fetched.json()["training_snapshot"]["annual"]["credited_hours"] == "12.00"
    # ...but a new rating is a new decision, on the figures of the day; excellent is refused.
    changed = await client.patch(
        f"{API}/assessments/{r.json()['id']}", json={"rating": "basically_competent"}
    )
    assert changed.json()["training_snapshot"]["annual"]["credited_hours"] == "15.00"
    refused = await client.patch(
        f"{API}/assessments/{r.json()['id']}", json={"rating": "excellent"}
    )
    assert_problem(refused, 409, "assessment.training_requirement_unmet")
    assert (await client.get(f"{API}/assessments/{r.json()['id']}")).json()[
        "rating"
    ] == "basically_competent"


@pytest.mark.parametrize("year", [1899, 2200])
async def test_year_out_of_range(client: httpx.AsyncClient, year: int) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    assert_problem(await _assess(client, cadre["id"], "competent", year), 422, "validation_failed")
