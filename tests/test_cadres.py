from datetime import date

import httpx
import pytest

from tests.factories import API, cadre_body, create_cadre, create_org_unit, id_number
from tests.test_platform import assert_problem


async def test_id_number_masked_in_lists_whole_in_reads(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    number = cadre["id_number"]
    assert len(number) == 18
    assert "*" not in number
    listing = (await client.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})).json()
    shown = listing["items"][0]["id_number"]
    assert shown == "*" * 18  # no character shown (app/cadre/rules.py)
    # An admin can still search the list by the exact number.
    found = await client.get(f"{API}/cadres", params={"id_number": number})
    assert [c["id"] for c in found.json()["items"]] == [cadre["id"]]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id_number": "34110219800517001X"}, "value_error"),  # wrong check digit
        ({"id_number": "99999919800517001X"}, "value_error"),  # unknown region
        ({"birth_date": "1981-05-17"}, "value_error"),  # does not match the number
        ({"gender": "female"}, "value_error"),  # odd sequence code: male
        ({"id_number": "3411021980051700"}, "string_too_short"),
    ],
)
async def test_invalid_id_numbers_are_refused(
    client: httpx.AsyncClient, change: dict[str, str], code: str
) -> None:
    unit = await create_org_unit(client)
    r = await client.post(f"{API}/cadres", json=cadre_body(unit["id"], **change))
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["code"] == code


async def test_lower_case_check_character_is_normalised(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    birth = date(1949, 12, 31)
    number = next(
        n
        for n in (id_number(birth, male=False, region="110105") for _ in range(500))
        if n.endswith("X")
    )
    cadre = await create_cadre(
        client, unit["id"], id_number=number.lower(), birth_date=birth.isoformat(), gender="female"
    )
    assert cadre["id_number"] == number


async def test_duplicates_are_409(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.post(f"{API}/cadres", json=cadre_body(unit["id"], hr_id=cadre["hr_id"]))
    assert_problem(r, 409, "cadre.hr_id_taken")
    r = await client.post(
        f"{API}/cadres", json=cadre_body(unit["id"], id_number=cadre["id_number"])
    )
    assert_problem(r, 409, "cadre.id_number_taken")


async def test_upsert_by_hr_id_is_idempotent(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    hr_id = body.pop("hr_id")
    first = await client.put(f"{API}/cadres/by-hr-id/{hr_id}", json=body)
    assert first.status_code == 201, first.text
    again = await client.put(f"{API}/cadres/by-hr-id/{hr_id}", json=body)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]

    promoted = await client.put(
        f"{API}/cadres/by-hr-id/{hr_id}",
        json={
            **body,
            "rank": "county_division",
            "post_type": "leading",
            "promoted_on": "2025-03-15",
        },
    )
    assert promoted.status_code == 200
    assert promoted.json()["rank"] == "county_division"
    assert promoted.json()["version"] == first.json()["version"] + 1
    by_hr = await client.get(f"{API}/cadres/by-hr-id/{hr_id}")
    assert by_hr.json()["promoted_on"] == "2025-03-15"


async def test_deactivate_never_erases(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.delete(f"{API}/cadres/{cadre['id']}")
    assert r.status_code == 204
    after = await client.get(f"{API}/cadres/{cadre['id']}")
    assert after.status_code == 200
    assert after.json()["status"] == "inactive"
    again = await client.delete(f"{API}/cadres/{cadre['id']}")
    assert again.status_code == 204
    active = await client.get(
        f"{API}/cadres", params={"org_unit_id": unit["id"], "status": "active"}
    )
    assert active.json()["items"] == []


async def test_patch_checks_the_merged_record(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.patch(f"{API}/cadres/{cadre['id']}", json={"birth_date": "1990-01-01"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["pointer"] == "/body/id_number"
    r = await client.patch(
        f"{API}/cadres/{cadre['id']}",
        json={"rank": "county_division", "post_type": "non_leading", "position": None},
    )
    assert r.status_code == 200
    assert (r.json()["rank"], r.json()["position"]) == ("county_division", None)


async def test_cadre_in_unknown_unit_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{API}/cadres", json=cadre_body("00000000-0000-7000-8000-000000000000"))
    assert_problem(r, 422, "cadre.org_unit_not_found")


async def test_concurrent_first_upserts_create_one_cadre(
    committed_client: httpx.AsyncClient,
) -> None:
    import asyncio

    client = committed_client
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    hr_id = body.pop("hr_id")
    responses = await asyncio.gather(
        *(client.put(f"{API}/cadres/by-hr-id/{hr_id}", json=body) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
