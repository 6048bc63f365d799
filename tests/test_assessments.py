"""docs/rules.md rule 9 through the API: one assessment per cadre and year, a frozen snapshot,
and an `excellent` rating only when the year's requirement is met at year end, unless an admin
overrides it with a reason."""

from typing import Any

import httpx
import pytest

from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.test_compliance_api import example_5_cadre
from tests.test_platform import assert_problem


async def _assess(
    client: httpx.AsyncClient,
    cadre_id: str,
    rating: str,
    year: int = 2024,
    override_reason: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"cadre_id": cadre_id, "year": year, "rating": rating}
    if override_reason is not None:
        body["override_reason"] = override_reason
    return await client.post(f"{API}/assessments", json=body)


async def test_excellent_needs_the_annual_requirement_for_other_ranks(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    # 89 centralised hours and 11 days in 2024: one short of 90 hours and of 12 days; 100
    # online hours do not count toward it (docs/rules.md rule 5).
    centralised = {"kind": "centralised_training", "status": "approved"}
    await create_log(
        client,
        cadre["id"],
        **centralised,
        hours="89",
        days="11",
        start_date="2024-05-06",
        end_date="2024-05-16",
    )
    await create_log(
        client,
        cadre["id"],
        hours="100",
        status="approved",
        start_date="2024-06-01",
        end_date="2024-06-30",
    )
    r = await _assess(client, cadre["id"], "excellent")
    body = assert_problem(r, 409, "assessment.training_requirement_unmet")
    assert "annual" in body["detail"]
    # One more centralised hour, on New Year's Eve, and it is allowed.
    await create_log(
        client,
        cadre["id"],
        **centralised,
        hours="1",
        days="0.5",
        start_date="2024-12-31",
        end_date="2024-12-31",
    )
    r = await _assess(client, cadre["id"], "excellent")
    assert r.status_code == 201, r.text
    snapshot = r.json()["training_snapshot"]
    assert snapshot["as_of"] == "2024-12-31"
    assert snapshot["excellent_allowed"] is True
    assert (snapshot["annual"]["counted_hours"], snapshot["annual"]["credited_hours"]) == (
        "90.00",
        "190.00",
    )
    assert snapshot["annual"]["status"] == "met"
    assert (r.json()["override_reason"], snapshot["override_reason"]) == (None, None)


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


REASON = "省级表彰的抗洪抢险先进个人，年内集中培训因救灾中断"


async def test_example_5_excellent_despite_unmet_training_needs_an_admin_and_a_reason(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """worked example 5: 11 centralised days and 84 h in 2025, not met; `excellent` is refused
    unless an admin gives an override_reason (docs/rules.md rule 9)."""
    unit = await create_org_unit(client)
    cadre = await example_5_cadre(client, unit["id"])
    org_admin = await client_for(Role.org_admin, org_unit_id=unit["id"])

    # An org_admin may not override, with or without a reason.
    for reason in (None, REASON):
        assert_problem(
            await _assess(org_admin, cadre["id"], "excellent", 2025, reason),
            403,
            "assessment.override_forbidden",
        )
    # An admin without a reason: the rule's 409.
    body = assert_problem(
        await _assess(client, cadre["id"], "excellent", 2025),
        409,
        "assessment.training_requirement_unmet",
    )
    assert "override_reason" in body["detail"]
    # An admin with a reason: recorded, the reason in the row and in the frozen snapshot.
    r = await _assess(client, cadre["id"], "excellent", 2025, REASON)
    assert r.status_code == 201, r.text
    created = r.json()
    snapshot = created["training_snapshot"]
    assert (created["rating"], created["override_reason"]) == ("excellent", REASON)
    assert (snapshot["override_reason"], snapshot["excellent_allowed"]) == (REASON, False)
    assert (snapshot["annual"]["counted_hours"], snapshot["annual"]["status"]) == (
        "84.00",
        "not_met",
    )
    fetched = (await client.get(f"{API}/assessments/{created['id']}")).json()
    assert fetched["override_reason"] == REASON
    listed = (await org_admin.get(f"{API}/assessments", params={"cadre_id": cadre["id"]})).json()
    assert [a["override_reason"] for a in listed["items"]] == [REASON]

    # The org_admin may still edit the comment: that decides nothing anew.
    r = await org_admin.patch(f"{API}/assessments/{created['id']}", json={"comment": "已核实"})
    assert r.status_code == 200, r.text
    assert r.json()["override_reason"] == REASON

    # The audit trail records who overrode, and why.
    events = (await client.get(f"{API}/audit-events", params={"entity_id": created["id"]})).json()
    create_event = events["items"][0]
    assert (create_event["action"], create_event["actor_role"]) == ("create", "admin")
    assert create_event["changes"]["override_reason"] == REASON

    # A new rating is a new decision: the reason goes with the old one.
    r = await client.patch(f"{API}/assessments/{created['id']}", json={"rating": "competent"})
    assert r.status_code == 200, r.text
    assert (r.json()["override_reason"], r.json()["training_snapshot"]["override_reason"]) == (
        None,
        None,
    )
    events = (await client.get(f"{API}/audit-events", params={"entity_id": created["id"]})).json()
    assert events["items"][-1]["changes"]["override_reason"] == {"before": REASON, "after": None}
    # Back to excellent: the same conditions as on create.
    url = f"{API}/assessments/{created['id']}"
    assert_problem(
        await org_admin.patch(url, json={"rating": "excellent", "override_reason": REASON}),
        403,
        "assessment.override_forbidden",
    )
    assert_problem(
        await client.patch(url, json={"rating": "excellent"}),
        409,
        "assessment.training_requirement_unmet",
    )
    r = await client.patch(url, json={"rating": "excellent", "override_reason": REASON})
    assert (r.status_code, r.json()["override_reason"]) == (200, REASON)


async def test_a_reason_where_nothing_is_overridden_is_refused(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    short = await example_5_cadre(client, unit["id"])
    leader = await create_cadre(
        client, unit["id"], rank="county_division", promoted_on="2025-03-01"
    )
    # Another rating overrides nothing; nor does excellent when the requirement is met (in
    # grace after a promotion).
    for cadre, rating in ((short, "competent"), (leader, "excellent")):
        body = assert_problem(
            await _assess(client, cadre["id"], rating, 2025, REASON),
            422,
            "assessment.override_not_needed",
        )
        assert body["errors"][0]["pointer"] == "/body/override_reason"
    r = await _assess(client, leader["id"], "excellent", 2025)
    assert (r.status_code, r.json()["override_reason"]) == (201, None)


@pytest.mark.parametrize("reason", ["", " leading space", "two\nlines", "x" * 2001])
async def test_a_malformed_reason_is_refused(client: httpx.AsyncClient, reason: str) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    assert_problem(
        await _assess(client, cadre["id"], "excellent", 2024, reason), 422, "validation_failed"
    )
