import uuid

import httpx

from tests.factories import API, create_cadre, create_org_unit
from tests.test_platform import assert_problem


async def test_tree_and_subtree_listing(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client, name="滁州市")
    county = await create_org_unit(client, city["id"], name="来安县", kind="county")
    dept = await create_org_unit(client, county["id"], name="来安县组织部", kind="department")
    other = await create_org_unit(client, city["id"], name="全椒县", kind="county")
    assert (county["depth"], dept["depth"]) == (1, 2)

    r = await client.get(f"{API}/org-units", params={"within": county["id"]})
    assert [u["id"] for u in r.json()["items"]] == [county["id"], dept["id"]]
    r = await client.get(f"{API}/org-units", params={"parent_id": city["id"]})
    assert {u["id"] for u in r.json()["items"]} == {county["id"], other["id"]}


async def test_duplicate_code_is_409(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.post(
        f"{API}/org-units", json={"code": unit["code"], "name": "x", "kind": "city"}
    )
    assert_problem(r, 409, "org_unit.code_taken")


async def test_unknown_parent_is_422_with_pointer(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/org-units",
        json={"code": "NOPARENT", "name": "x", "kind": "county", "parent_id": str(uuid.uuid4())},
    )
    body = assert_problem(r, 422, "org_unit.parent_not_found")
    assert body["errors"][0]["pointer"] == "/body/parent_id"


async def test_moving_a_unit_carries_its_subtree(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county")
    b = await create_org_unit(client, city["id"], kind="county")
    a_child = await create_org_unit(client, a["id"], kind="township")
    cadre = await create_cadre(client, a_child["id"])

    r = await client.patch(f"{API}/org-units/{a['id']}", json={"parent_id": b["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["depth"] == 2
    moved_child = (await client.get(f"{API}/org-units/{a_child['id']}")).json()
    assert moved_child["depth"] == 3
    in_b = await client.get(f"{API}/cadres", params={"org_unit_id": b["id"]})
    assert [c["id"] for c in in_b.json()["items"]] == [cadre["id"]]


async def test_moving_under_own_descendant_is_refused(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    r = await client.patch(f"{API}/org-units/{city['id']}", json={"parent_id": county["id"]})
    assert_problem(r, 409, "org_unit.cycle")
    r = await client.patch(f"{API}/org-units/{city['id']}", json={"parent_id": city["id"]})
    assert_problem(r, 409, "org_unit.cycle")


async def test_etag_and_if_match(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.get(f"{API}/org-units/{unit['id']}")
    etag = r.headers["etag"]
    assert etag == '"1"'
    r = await client.patch(
        f"{API}/org-units/{unit['id']}", json={"name": "新名"}, headers={"If-Match": etag}
    )
    assert r.status_code == 200
    assert r.headers["etag"] == '"2"'
    stale = await client.patch(
        f"{API}/org-units/{unit['id']}", json={"name": "再改"}, headers={"If-Match": etag}
    )
    assert_problem(stale, 412, "precondition_failed")
    assert (await client.get(f"{API}/org-units/{unit['id']}")).json()["name"] == "新名"


async def test_cursor_pagination_walks_everything_once(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    ids = [city["id"]] + [
        (await create_org_unit(client, city["id"], kind="county"))["id"] for _ in range(6)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"within": city["id"], "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/org-units", params=params)).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


async def test_garbage_cursor_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/org-units", params={"cursor": "abc"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["pointer"] == "/query/cursor"
