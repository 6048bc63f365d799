"""Review findings on the anonymous evaluation (docs/evaluation.md): what an open report
shows, the answer racing a close or another form, a cancelled answer, and attaching a form to
a session already closed."""

from datetime import date
from typing import Any

import httpx
import pytest

from app.clock import pinned
from tests.conftest import ClientFor
from tests.evaluation_factories import Klass, close_session, evaluated_class
from tests.factories import create_org_unit
from tests.test_platform import assert_problem


@pytest.fixture
async def unit(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_org_unit(client)


@pytest.fixture
async def klass(client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]) -> Klass:
    return await evaluated_class(client, client_for, unit["id"], 2)


# --- finding 1: an open report counts the session's answers only ----------------------------------


async def test_an_open_report_does_not_count_answers_per_course_or_teacher(
    client: httpx.AsyncClient, klass: Klass
) -> None:
    """A count per course or teacher, read just after one trainee's audited marker, would tell
    which subjects that trainee rated."""
    r = await client.put(klass.url, json={"form_id": klass.form["id"], "opens_on": "2025-03-03"})
    assert r.status_code == 200, r.text
    with pinned(date(2025, 3, 4)):
        # The first trainee rates the session and the first course only.
        only_first = {
            "ratings": [
                {"subject": "session", "scores": [4, 4, 4]},
                {"subject": "course", "subject_id": klass.courses[0]["id"], "scores": [4, 4]},
            ]
        }
        r = await klass.trainees[0].post(f"{klass.url}/answers", json=only_first)
        assert r.status_code == 204, r.text
        report = (await client.get(f"{klass.url}/report")).json()
    assert report["status"] == "open"
    assert [(g["subject"], g["answers"], g["withheld"]) for g in report["groups"]] == [
        ("session", 1, "not_closed"),
        ("course", None, "not_closed"),
        ("course", None, "not_closed"),
        ("teacher", None, "not_closed"),
        ("teacher", None, "not_closed"),
    ]


# --- finding 8: a form attached to a session already closed -----------------------------------


async def test_a_closed_session_takes_no_opening_day(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    """A day of a closed session is past: the window would be over at once, and every later
    attach a 409. Refused; without it, the evaluation opens the day it is attached."""
    klass = await evaluated_class(client, client_for, unit["id"], 1, attach=False)
    with pinned(date(2025, 3, 10)):
        await close_session(client, klass)
    with pinned(date(2025, 6, 1)):
        r = await client.put(
            klass.url, json={"form_id": klass.form["id"], "opens_on": "2025-03-03"}
        )
        assert_problem(r, 422, "evaluation.opens_on_after_close")
        assert r.json()["errors"][0]["pointer"] == "/body/opens_on"
        assert_problem(await client.get(klass.url), 404, "evaluation.not_found")
        r = await client.put(klass.url, json={"form_id": klass.form["id"]})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["opens_on"]) == ("open", "2025-06-01")
        r = await client.put(
            klass.url, json={"form_id": klass.form["id"], "opens_on": "2025-03-04"}
        )
        assert_problem(r, 422, "evaluation.opens_on_after_close")
        assert (await client.get(klass.url)).json()["status"] == "open"


async def test_attached_the_day_the_session_closed_it_was_not_opened_early(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    """Closed on its last day and given a form the same day: it opens at the close, not
    early (the opening day falls on a day of the session, yet after the close)."""
    klass = await evaluated_class(client, client_for, unit["id"], 1, attach=False)
    assert klass.ts["end_date"] == "2025-03-07"
    with pinned(date(2025, 3, 7)):
        await close_session(client, klass)
        r = await client.put(klass.url, json={"form_id": klass.form["id"]})
        assert r.status_code == 200, r.text
        got = (await client.get(klass.url)).json()
    assert (got["status"], got["closes_on"], got["opened_early"]) == ("open", "2025-03-20", False)
