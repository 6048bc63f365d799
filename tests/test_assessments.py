import httpx

from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.test_platform import assert_problem


async def test_one_assessment_per_cadre_and_year_with_snapshot(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    await create_log(
        client,
        cadre["id"],
        hours="12",
        status="approved",
        start_date="2024-05-01",
        end_date="2024-05-03",
    )
    await create_log(client, cadre["id"], hours="5", start_date="2024-06-01", end_date="2024-06-01")

    r = await client.post(
        f"{API}/assessments", json={"cadre_id": cadre["id"], "year": 2024, "rating": "competent"}
    )
    assert r.status_code == 201, r.text
    snapshot = r.json()["training_snapshot"]
    assert snapshot["year"] == 2024
    assert snapshot["recorded_hours"] == "12.00"  # the pending log does not count

    dup = await client.post(
        f"{API}/assessments", json={"cadre_id": cadre["id"], "year": 2024, "rating": "excellent"}
    )
    assert_problem(dup, 409, "assessment.exists")

    # Later logs do not change a decision already taken...
    await create_log(
        client,
        cadre["id"],
        hours="3",
        status="approved",
        start_date="2024-07-01",
        end_date="2024-07-01",
    )
    fetched = await client.get(f"{API}/assessments/{r.json()['id']}")
    assert fetched.json()["training_snapshot"]["recorded_hours"] == "12.00"
    # ...but a new rating is a new decision, on the figures of the day.
    changed = await client.patch(
        f"{API}/assessments/{r.json()['id']}", json={"rating": "basically_competent"}
    )
    assert changed.json()["training_snapshot"]["recorded_hours"] == "15.00"
