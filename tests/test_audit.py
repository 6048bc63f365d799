from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.enums import Role
from tests.factories import API, create_cadre, create_org_unit, create_session


async def _events(client: httpx.AsyncClient, entity_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/audit-events", params={"entity_id": entity_id})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_a_write_is_attributed(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.patch(
        f"{API}/org-units/{unit['id']}", json={"name": "新名字"}, headers={"X-Request-ID": "req-42"}
    )
    assert r.status_code == 200
    me = (await client.get(f"{API}/auth/me")).json()
    created, updated = await _events(client, unit["id"])
    assert (created["action"], created["entity_type"]) == ("create", "org_unit")
    assert created["changes"]["code"] == unit["code"]
    assert updated["action"] == "update"
    assert updated["changes"] == {"name": {"before": "滁州市", "after": "新名字"}}
    assert updated["request_id"] == "req-42"
    assert (updated["actor_id"], updated["actor_role"]) == (me["id"], "admin")


async def test_id_numbers_never_enter_the_trail(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    (created,) = await _events(client, cadre["id"])
    assert created["changes"]["id_number"] == "<changed>"
    assert cadre["id_number"] not in str(created)


async def test_a_refused_write_leaves_no_event(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.patch(f"{API}/org-units/{unit['id']}", json={"parent_id": unit["id"]})
    assert r.status_code == 409
    assert [e["action"] for e in await _events(client, unit["id"])] == ["create"]


async def test_the_trail_is_append_only(client: httpx.AsyncClient, db_conn: Any) -> None:
    await create_org_unit(client)
    for statement in (
        "UPDATE audit_event SET action = 'delete'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ):
        savepoint = await db_conn.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            await db_conn.execute(text(statement))
        await savepoint.rollback()


@pytest.mark.parametrize("role", [Role.org_admin, Role.cadre, Role.hr_system])
async def test_only_admin_and_auditor_read_it(
    client: httpx.AsyncClient, client_for: Any, role: Role
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    c = await client_for(
        role,
        org_unit_id=unit["id"] if role == Role.org_admin else None,
        cadre_id=cadre["id"] if role == Role.cadre else None,
    )
    assert (await c.get(f"{API}/audit-events")).status_code == 403
    auditor = await client_for(Role.auditor)
    assert (await auditor.get(f"{API}/audit-events")).status_code == 200


async def test_values_keep_the_formats_of_the_api(client: httpx.AsyncClient) -> None:
    """Hours and days as strings with two places, dates ISO, ids as strings, integers as
    numbers; an update shows only what changed, before and after."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], credit_hours="40", capacity=30)
    r = await client.patch(
        f"{API}/training-sessions/{ts['id']}", json={"credit_hours": "41.5", "capacity": 31}
    )
    assert r.status_code == 200, r.text
    created, updated = await _events(client, ts["id"])
    assert {k: created["changes"][k] for k in ("credit_hours", "days", "start_date")} == {
        "credit_hours": "40.00",
        "days": "5.00",
        "start_date": "2025-03-03",
    }
    assert created["changes"]["organiser_org_unit_id"] == unit["id"]
    assert created["changes"]["capacity"] == 30
    assert "version" not in created["changes"]
    assert "id" not in created["changes"]
    assert updated["changes"] == {
        "credit_hours": {"before": "40.00", "after": "41.50"},
        "capacity": {"before": 30, "after": 31},
    }
