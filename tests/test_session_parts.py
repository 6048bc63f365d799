"""A session's parts (docs/rules.md rule 12): replaced as a whole list under the session's
ETag; their hours add up to the session's, their days lie within its dates."""

from typing import Any

import httpx

from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem

# 14 h over two days: 4 + 4 on Monday, 4 in the morning and 2 in the evening on Tuesday.
PARTS = [
    {"part_date": "2025-03-03", "period": "morning", "credit_hours": "4"},
    {"part_date": "2025-03-03", "period": "afternoon", "credit_hours": "4"},
    {"part_date": "2025-03-04", "period": "morning", "credit_hours": "4"},
    {"part_date": "2025-03-04", "period": "evening", "credit_hours": "2"},
]


async def two_day_session(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    unit = await create_org_unit(client)
    return await create_session(
        client,
        unit["id"],
        start_date="2025-03-03",
        end_date="2025-03-04",
        days="2",
        credit_hours="14",
        **fields,
    )


async def put_parts(
    client: httpx.AsyncClient, ts: dict[str, Any], parts: list[dict[str, Any]], version: int
) -> httpx.Response:
    return await client.put(
        f"{API}/training-sessions/{ts['id']}/parts",
        json={"parts": parts},
        headers={"If-Match": f'"{version}"'},
    )


async def with_parts(client: httpx.AsyncClient, **fields: Any) -> tuple[dict[str, Any], list[Any]]:
    ts = await two_day_session(client, **fields)
    r = await put_parts(client, ts, PARTS, ts["version"])
    assert r.status_code == 200, r.text
    return ts, r.json()["parts"]


async def test_parts_take_the_periods_windows_and_move_the_sessions_version(
    client: httpx.AsyncClient,
) -> None:
    ts = await two_day_session(client)
    r = await put_parts(client, ts, PARTS, ts["version"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == ts["version"] + 1
    assert r.headers["etag"] == f'"{ts["version"] + 1}"'
    windows = [(p["period"], p["start_time"], p["end_time"]) for p in body["parts"]]
    assert windows == [
        ("morning", "08:00", "12:00"),
        ("afternoon", "14:00", "18:00"),
        ("morning", "08:00", "12:00"),
        ("evening", "19:00", "21:30"),
    ]
    # The same list again changes nothing: same ids, same version.
    again = await put_parts(client, ts, PARTS, body["version"])
    assert again.status_code == 200
    assert again.json() == body
    # A window given is kept; a part kept by day and period keeps its id.
    changed = [{**PARTS[0], "start_time": "08:30", "end_time": "11:30"}, *PARTS[1:]]
    r = await put_parts(client, ts, changed, body["version"])
    assert r.status_code == 200, r.text
    first = r.json()["parts"][0]
    assert (first["id"], first["start_time"], first["end_time"]) == (
        body["parts"][0]["id"],
        "08:30",
        "11:30",
    )
    listed = await client.get(f"{API}/training-sessions/{ts['id']}/parts")
    assert listed.json() == r.json()


async def test_bad_parts_are_refused_and_nothing_changes(client: httpx.AsyncClient) -> None:
    ts, parts = await with_parts(client)
    version = ts["version"] + 1
    short = PARTS[:3]  # 12 h of 14
    assert_problem(
        await put_parts(client, ts, short, version), 422, "training_session.parts_hours_mismatch"
    )
    outside = [*PARTS[:3], {**PARTS[3], "part_date": "2025-03-05"}]
    body = assert_problem(
        await put_parts(client, ts, outside, version), 422, "training_session.part_outside_dates"
    )
    assert body["errors"][0]["pointer"] == "/body/parts/3/part_date"
    twice = [*PARTS[:3], {**PARTS[2], "credit_hours": "2"}]
    assert_problem(await put_parts(client, ts, twice, version), 422, "validation_failed")
    backwards = [{**PARTS[0], "start_time": "12:00", "end_time": "08:00"}, *PARTS[1:]]
    assert_problem(await put_parts(client, ts, backwards, version), 422, "validation_failed")
    bad_time = [{**PARTS[0], "start_time": "8:00", "end_time": "12:00"}, *PARTS[1:]]
    assert_problem(await put_parts(client, ts, bad_time, version), 422, "validation_failed")
    assert_problem(await put_parts(client, ts, PARTS[:2], version - 1), 412, "precondition_failed")
    listed = (await client.get(f"{API}/training-sessions/{ts['id']}/parts")).json()
    assert (listed["version"], listed["parts"]) == (version, parts)


async def test_a_session_with_parts_keeps_them_valid(client: httpx.AsyncClient) -> None:
    ts, _ = await with_parts(client)
    url = f"{API}/training-sessions/{ts['id']}"
    assert_problem(
        await client.patch(url, json={"credit_hours": "16"}),
        422,
        "training_session.parts_hours_mismatch",
    )
    assert_problem(
        await client.patch(url, json={"start_date": "2025-03-04", "days": "1"}),
        422,
        "training_session.part_outside_dates",
    )
    # An empty list removes the parts; then the hours may change.
    current = (await client.get(url)).json()
    assert (await put_parts(client, ts, [], current["version"])).json()["parts"] == []
    assert (await client.patch(url, json={"credit_hours": "16"})).status_code == 200


async def test_only_the_organiser_replaces_parts(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    ts = await two_day_session(client)
    other = await create_org_unit(client)
    outsider = await client_for(Role.org_admin, org_unit_id=other["id"])
    r = await put_parts(outsider, ts, PARTS, ts["version"])
    assert_problem(r, 404, "training_session.not_found")
    unit_cadre = await create_cadre(client, ts["organiser_org_unit_id"])
    cadre = await client_for(Role.cadre, cadre_id=unit_cadre["id"])
    assert_problem(await put_parts(cadre, ts, PARTS, ts["version"]), 403, "forbidden")
