"""docs/rules.md rule 10: no study log ends after today, in the local date of Asia/Shanghai.
One rule (app.study_log.rules) for POST, PUT and the import, JSON and CSV alike."""

import uuid
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from app.clock import pinned
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, log_body
from tests.test_platform import assert_problem

TODAY, TOMORROW = "2025-12-31", "2026-01-01"


@pytest.fixture(autouse=True)
def new_years_eve() -> Iterator[None]:
    with pinned(date(2025, 12, 31)):
        yield


async def _cadre(client: httpx.AsyncClient) -> dict[str, str]:
    unit = await create_org_unit(client)
    return await create_cadre(client, unit["id"])


async def _logs(client: httpx.AsyncClient, cadre_id: str) -> list[tuple[str, str]]:
    r = await client.get(f"{API}/study-logs", params={"cadre_id": cadre_id})
    return sorted((x["title"], x["end_date"]) for x in r.json()["items"])


def _assert_ends_in_future(r: httpx.Response) -> None:
    body = assert_problem(r, 422, "study_log.ends_in_future")
    assert body["errors"] == [
        {
            "pointer": "/body/end_date",
            "detail": "ends on 2026-01-01, after today (2025-12-31, Asia/Shanghai)",
            "code": "study_log.ends_in_future",
        }
    ]


async def test_post_takes_today_and_refuses_tomorrow(client: httpx.AsyncClient) -> None:
    cadre = await _cadre(client)
    today = log_body(cadre["id"], title="今天", start_date=TODAY, end_date=TODAY)
    assert (await client.post(f"{API}/study-logs", json=today)).status_code == 201
    # A class that started today but ends tomorrow is refused as well.
    for start in (TODAY, TOMORROW):
        tomorrow = log_body(cadre["id"], title="明天", start_date=start, end_date=TOMORROW)
        _assert_ends_in_future(await client.post(f"{API}/study-logs", json=tomorrow))
    assert await _logs(client, cadre["id"]) == [("今天", TODAY)]


async def test_a_cadres_own_submission_follows_the_rule(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    cadre = await _cadre(client)
    own = await client_for(Role.cadre, cadre_id=cadre["id"])
    body = log_body(cadre["id"], start_date=TOMORROW, end_date=TOMORROW)
    _assert_ends_in_future(await own.post(f"{API}/study-logs", json=body))


async def test_put_takes_today_and_refuses_tomorrow(client: httpx.AsyncClient) -> None:
    cadre = await _cadre(client)
    today = log_body(cadre["id"], title="今天", start_date=TODAY, end_date=TODAY)
    url = f"{API}/study-logs/{uuid.uuid4()}"
    assert (await client.put(url, json=today)).status_code == 201
    assert (await client.put(url, json=today)).status_code == 200  # a retry still answers
    tomorrow = log_body(cadre["id"], title="明天", start_date=TOMORROW, end_date=TOMORROW)
    _assert_ends_in_future(await client.put(f"{API}/study-logs/{uuid.uuid4()}", json=tomorrow))
    assert await _logs(client, cadre["id"]) == [("今天", TODAY)]


async def test_the_day_turns_at_midnight_in_shanghai(client: httpx.AsyncClient) -> None:
    """The same request, refused on New Year's Eve, passes on New Year's Day."""
    cadre = await _cadre(client)
    body = log_body(cadre["id"], start_date=TOMORROW, end_date=TOMORROW)
    _assert_ends_in_future(await client.post(f"{API}/study-logs", json=body))
    with pinned(date(2026, 1, 1)):
        assert (await client.post(f"{API}/study-logs", json=body)).status_code == 201


def _row(hr_id: str, title: str, end: str) -> dict[str, str]:
    return {
        "hr_id": hr_id,
        "kind": "self_study",
        "title": title,
        "start_date": "2025-12-30",
        "end_date": end,
        "hours": "3",
    }


async def test_json_import_rejects_the_row_that_ends_tomorrow(client: httpx.AsyncClient) -> None:
    cadre = await _cadre(client)
    items = [_row(cadre["hr_id"], "今天", TODAY), _row(cadre["hr_id"], "明天", TOMORROW)]
    r = await client.post(f"{API}/imports/study-logs", json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["rejected"]) == (1, 1)
    assert report["problems"] == [
        {
            "row": 1,
            "pointer": "/body/items/1/end_date",
            "detail": "ends on 2026-01-01, after today (2025-12-31, Asia/Shanghai)",
            "code": "study_log.ends_in_future",
        }
    ]
    assert await _logs(client, cadre["id"]) == [("今天", TODAY)]


async def test_csv_import_rejects_the_row_that_ends_tomorrow(client: httpx.AsyncClient) -> None:
    cadre = await _cadre(client)
    csv_body = (
        "hr_id,kind,title,start_date,end_date,hours\r\n"
        f"{cadre['hr_id']},self_study,明天,2025-12-30,{TOMORROW},3\r\n"
        f"{cadre['hr_id']},self_study,今天,2025-12-30,{TODAY},3\r\n"
        f"{cadre['hr_id']},self_study,坏行,2025-12-30,{TODAY},abc\r\n"
    ).encode()
    r = await client.post(
        f"{API}/imports/study-logs", content=csv_body, headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["rejected"]) == (1, 2)
    assert [(p["pointer"], p["code"]) for p in report["problems"]] == [
        ("/rows/2/end_date", "study_log.ends_in_future"),
        ("/rows/4/hours", "invalid_row"),
    ]
    assert await _logs(client, cadre["id"]) == [("今天", TODAY)]
