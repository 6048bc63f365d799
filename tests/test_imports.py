"""Bulk import of historical study logs."""

from typing import Any

import httpx

from tests.factories import API, create_cadre, create_org_unit
from tests.test_platform import assert_problem


def row(hr_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "hr_id": hr_id,
        "kind": "centralised_training",
        "title": "2019年春季进修班",
        "start_date": "2019-03-04",
        "end_date": "2019-03-15",
        "hours": "70",
        "days": "10",
        **fields,
    }


async def test_json_import_is_idempotent_and_reports_bad_rows(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="county_division")
    items = [
        row(cadre["hr_id"]),
        row(cadre["hr_id"], title="网络学习", kind="online_course", days=None, hours="12"),
        row("NOBODY"),
        row(cadre["hr_id"], end_date="2019-03-01"),
        row(cadre["hr_id"], hours="1.005"),
    ]
    r = await client.post(f"{API}/imports/study-logs", json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["already_imported"], report["rejected"]) == (2, 0, 3)
    assert [p["pointer"] for p in report["problems"]] == [
        "/body/items/2/hr_id",
        "/body/items/3/end_date",
        "/body/items/4/hours",
    ]
    again = (await client.post(f"{API}/imports/study-logs", json={"items": items[:2]})).json()
    assert (again["created"], again["already_imported"]) == (0, 2)
    logs = (await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})).json()
    assert {(x["source"], x["status"]) for x in logs["items"]} == {("import", "approved")}
    # The imported class counts at once (the year sums follow the COPY).
    credits = (
        await client.get(f"{API}/cadres/{cadre['id']}/credits", params={"year": 2019})
    ).json()
    assert (credits["centralised_days"], credits["total_hours"]) == ("10.00", "82.00")


async def test_csv_import_and_dry_run(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    csv_body = (
        "\ufeffhr_id,kind,title,start_date,end_date,hours,days,status\r\n"
        f"{cadre['hr_id']},self_study,读书,2020-05-01,2020-05-01,3,,\r\n"
        f"{cadre['hr_id']},lecture,讲座,2020-06-01,2020-06-01,abc,,\r\n"
    ).encode()
    headers = {"Content-Type": "text/csv"}
    dry = await client.post(
        f"{API}/imports/study-logs", content=csv_body, headers=headers, params={"dry_run": True}
    )
    assert (dry.json()["created"], dry.json()["rejected"]) == (1, 1)
    assert dry.json()["problems"][0]["pointer"] == "/rows/3/hours"
    assert (await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})).json()[
        "items"
    ] == []
    real = await client.post(f"{API}/imports/study-logs", content=csv_body, headers=headers)
    assert real.json()["created"] == 1


async def test_other_media_types_are_415(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/imports/study-logs", content=b"x", headers={"Content-Type": "text/plain"}
    )
    assert_problem(r, 415, "import.unsupported_media_type")
    r = await client.post(
        f"{API}/imports/study-logs", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422


async def test_out_of_scope_cadres_are_unknown(client: httpx.AsyncClient, client_for: Any) -> None:
    from app.enums import Role

    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county")
    b = await create_org_unit(client, city["id"], kind="county")
    cadre = await create_cadre(client, a["id"])
    other = await client_for(Role.org_admin, org_unit_id=b["id"])
    r = await other.post(f"{API}/imports/study-logs", json={"items": [row(cadre["hr_id"])]})
    assert r.json()["problems"][0]["pointer"] == "/body/items/0/hr_id"


async def test_rows_of_the_wrong_shape_are_rejected_not_crashing(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    items: list[Any] = [
        row(cadre["hr_id"], kind=["list"]),
        row(cadre["hr_id"], status={"x": 1}),
        row(cadre["hr_id"], id="not-a-uuid"),
        row(cadre["hr_id"], start_date=20190304),
        "not an object",
        row(cadre["hr_id"], colour="red"),
    ]
    r = await client.post(f"{API}/imports/study-logs", json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["rejected"]) == (0, 6)
    assert [p["pointer"] for p in report["problems"]] == [
        "/body/items/0/kind",
        "/body/items/1/status",
        "/body/items/2/id",
        "/body/items/3/start_date",
        "/body/items/4",
        "/body/items/5/colour",
    ]
