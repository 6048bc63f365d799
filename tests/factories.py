"""Builders of valid request bodies and records through the API."""

import itertools
from datetime import date
from typing import Any

import httpx
from stdnum.cn import ric

_seq = itertools.count(1)

API = "/api/v1"


def id_number(birth: date = date(1980, 5, 17), *, male: bool = True, region: str = "341102") -> str:
    """A valid GB 11643 number; a fresh sequence code each call keeps them unique."""
    n = next(_seq) % 500
    seq = 2 * n + (1 if male else 0)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq):05d}"


async def create_org_unit(
    client: httpx.AsyncClient, parent_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    body = {
        "code": unique("OU"),
        "name": "滁州市",
        "kind": "city",
        "parent_id": parent_id,
        **fields,
    }
    r = await client.post(f"{API}/org-units", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def cadre_body(org_unit_id: str, **fields: Any) -> dict[str, Any]:
    birth = date(1980, 5, 17)
    return {
        "hr_id": unique("HR"),
        "name": "张三",
        "id_number": id_number(birth),
        "gender": "male",
        "birth_date": birth.isoformat(),
        "org_unit_id": org_unit_id,
        "rank": "township_section",
        "position": "科长",
        **fields,
    }


async def create_cadre(
    client: httpx.AsyncClient, org_unit_id: str, **fields: Any
) -> dict[str, Any]:
    r = await client.post(f"{API}/cadres", json=cadre_body(org_unit_id, **fields))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def session_body(org_unit_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "title": "县处级干部进修班",
        "form": "refresher",
        "centralised": True,
        "provider": "滁州市委党校",
        "organiser_org_unit_id": org_unit_id,
        "start_date": "2025-03-03",
        "end_date": "2025-03-07",
        "days": "5",
        "credit_hours": "40",
        "capacity": 30,
        "status": "open",
        **fields,
    }


async def create_session(
    client: httpx.AsyncClient, org_unit_id: str, **fields: Any
) -> dict[str, Any]:
    r = await client.post(f"{API}/training-sessions", json=session_body(org_unit_id, **fields))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def log_body(cadre_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "cadre_id": cadre_id,
        "kind": "online_course",
        "title": "学习贯彻党的二十大精神网络专题班",
        "start_date": "2025-04-01",
        "end_date": "2025-04-01",
        "hours": "4",
        **fields,
    }


async def create_log(client: httpx.AsyncClient, cadre_id: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/study-logs", json=log_body(cadre_id, **fields))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]
