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
