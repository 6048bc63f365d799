import asyncio
import uuid

import httpx
import pytest

from tests.factories import API, create_cadre, create_log, create_org_unit, log_body
from tests.test_platform import assert_problem


async def test_review_workflow(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    log = await create_log(client, cadre["id"])
    assert log["status"] == "pending"
    url = f"{API}/study-logs/{log['id']}"

    r = await client.post(f"{url}/approve", json={"comment": "材料齐全"})
    assert (r.json()["status"], r.json()["review_comment"]) == ("approved", "材料齐全")
    assert r.json()["reviewed_at"] is not None
    again = await client.post(f"{url}/approve")
    assert again.status_code == 200
    assert again.json()["version"] == r.json()["version"]
    assert_problem(await client.post(f"{url}/reject"), 409, "study_log.invalid_transition")
    voided = await client.post(f"{url}/void")
    assert voided.json()["status"] == "voided"
    assert_problem(await client.post(f"{url}/approve"), 409, "study_log.invalid_transition")


async def test_rejected_log_cannot_be_approved(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    log = await create_log(client, cadre["id"])
    url = f"{API}/study-logs/{log['id']}"
    assert (await client.post(f"{url}/reject", json={"comment": "无证明"})).json()[
        "status"
    ] == "rejected"
    assert_problem(await client.post(f"{url}/approve"), 409, "study_log.invalid_transition")


async def test_put_is_idempotent(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    log_id = str(uuid.uuid4())
    body = log_body(cadre["id"], hours="8")
    first = await client.put(f"{API}/study-logs/{log_id}", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["id"] == log_id
    # The same meaning written differently ("8.00" for "8") is the same request.
    same = await client.put(f"{API}/study-logs/{log_id}", json={**body, "hours": "8.00"})
    assert same.status_code == 200
    assert same.json() == first.json()
    different = await client.put(f"{API}/study-logs/{log_id}", json={**body, "hours": "9"})
    assert_problem(different, 409, "study_log.idempotency_conflict")
    listing = await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})
    assert len(listing.json()["items"]) == 1


async def test_concurrent_identical_puts_create_one_log(
    committed_client: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    log_id = str(uuid.uuid4())
    body = log_body(cadre["id"])
    responses = await asyncio.gather(
        *(client.put(f"{API}/study-logs/{log_id}", json=body) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["version"] for r in responses}) == 1
    listing = await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})
    assert len(listing.json()["items"]) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"end_date": "2025-03-31"},
        {"days": "2"},  # one calendar day
        {"hours": "25"},  # more than 24 h in one day
        {"status": "voided"},
        {"hours": "-1"},
        {"hours": "1.005"},
        {"kind": "napping"},
        {"start_date": "2025-4-1"},
    ],
)
async def test_invalid_logs_are_422(client: httpx.AsyncClient, change: dict[str, str]) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.post(f"{API}/study-logs", json=log_body(cadre["id"], **change))
    assert_problem(r, 422, "validation_failed")


async def test_filters(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    across = await create_log(
        client,
        cadre["id"],
        kind="centralised_training",
        start_date="2024-12-23",
        end_date="2025-01-05",
        hours="70",
        days="10",
        status="approved",
    )
    only_2024 = await create_log(
        client, cadre["id"], start_date="2024-06-01", end_date="2024-06-01"
    )

    def ids(r: httpx.Response) -> set[str]:
        return {x["id"] for x in r.json()["items"]}

    base = {"org_unit_id": unit["id"]}
    assert ids(await client.get(f"{API}/study-logs", params={**base, "year": 2025})) == {
        across["id"]
    }
    assert ids(await client.get(f"{API}/study-logs", params={**base, "year": 2024})) == {
        across["id"],
        only_2024["id"],
    }
    assert ids(await client.get(f"{API}/study-logs", params={**base, "status": "pending"})) == {
        only_2024["id"]
    }
