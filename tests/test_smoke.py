import httpx

from tests.factories import API, create_cadre, create_org_unit


async def test_create_and_read_cadre(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    cadre = await create_cadre(client, city["id"])
    r = await client.get(f"{API}/cadres/{cadre['id']}")
    assert r.status_code == 200
    assert r.json()["name"] == "张三"
