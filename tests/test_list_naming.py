"""Issue 12: one subtree filter name (`org_unit_id`) on every collection, old names kept as
deprecated aliases; the roll-call's `top` (not a page size); what a list item's `version` means."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem

CONTRACT: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "openapi" / "openapi.json").read_text(encoding="utf-8")
)


def _params(path: str) -> dict[str, dict[str, Any]]:
    # A shared parameter (Accept-Language) is a $ref without a name of its own.
    return {p["name"]: p for p in CONTRACT["paths"][path]["get"]["parameters"] if "name" in p}


@pytest.mark.parametrize(
    ("path", "old"),
    [
        ("/api/v1/org-units", "within"),
        ("/api/v1/training-sessions", "organiser_org_unit_id"),
        ("/api/v1/reports/roll-call", "limit"),
    ],
)
def test_contract_marks_old_names_deprecated(path: str, old: str) -> None:
    params = _params(path)
    assert params[old].get("deprecated") is True
    new = "top" if old == "limit" else "org_unit_id"
    assert not params[new].get("deprecated", False)


def test_every_collection_filters_its_subtree_by_org_unit_id() -> None:
    for path in (
        "/api/v1/org-units",
        "/api/v1/cadres",
        "/api/v1/study-logs",
        "/api/v1/assessments",
        "/api/v1/training-sessions",
    ):
        assert "org_unit_id" in _params(path), path


def test_list_item_version_says_how_to_use_it_as_if_match() -> None:
    schemas = CONTRACT["components"]["schemas"]
    for name in ("OrgUnitRead", "CadreRead", "StudyLogRead", "TrainingSessionRead"):
        description = schemas[name]["properties"]["version"]["description"]
        assert "If-Match" in description, name
        assert "ETag" in description, name


async def test_org_units_org_unit_id_and_deprecated_within(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client, name="滁州市")
    county = await create_org_unit(client, city["id"], name="来安县", kind="county")
    dept = await create_org_unit(client, county["id"], name="来安县组织部", kind="department")
    await create_org_unit(client, city["id"], name="全椒县", kind="county")
    expected = [county["id"], dept["id"]]
    for params in (
        {"org_unit_id": county["id"]},
        {"within": county["id"]},
        {"org_unit_id": county["id"], "within": county["id"]},
    ):
        r = await client.get(f"{API}/org-units", params=params)
        assert r.status_code == 200, r.text
        assert [u["id"] for u in r.json()["items"]] == expected, params
    r = await client.get(
        f"{API}/org-units", params={"org_unit_id": county["id"], "within": city["id"]}
    )
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["pointer"] == "/query/within"
    assert body["errors"][0]["code"] == "alias_conflict"


async def test_training_sessions_org_unit_id_and_deprecated_alias(
    client: httpx.AsyncClient,
) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    other = await create_org_unit(client, city["id"], kind="county")
    mine = await create_session(client, county["id"])
    await create_session(client, other["id"])
    for params in ({"org_unit_id": county["id"]}, {"organiser_org_unit_id": county["id"]}):
        r = await client.get(f"{API}/training-sessions", params=params)
        assert r.status_code == 200, r.text
        assert [s["id"] for s in r.json()["items"]] == [mine["id"]], params
    r = await client.get(
        f"{API}/training-sessions",
        params={"org_unit_id": county["id"], "organiser_org_unit_id": other["id"]},
    )
    assert_problem(r, 422, "validation_failed")


async def test_roll_call_top_and_deprecated_limit(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    for _ in range(3):
        await create_cadre(client, unit["id"], rank="section_member")
    url = f"{API}/reports/roll-call"
    base = {"org_unit_id": unit["id"], "year": 2024}
    r = await client.get(url, params=base)
    assert r.status_code == 200, r.text
    assert len(r.json()["candidates"]) == 3
    for extra in ({"top": 2}, {"limit": 2}, {"top": 2, "limit": 2}):
        r = await client.get(url, params={**base, **extra})
        assert r.status_code == 200, r.text
        assert len(r.json()["candidates"]) == 2, extra
    r = await client.get(url, params={**base, "top": 1, "limit": 2})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["pointer"] == "/query/limit"
