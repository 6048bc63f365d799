"""Stateful contract testing: schemathesis follows the document's OpenAPI links
(app.openapi_links) from the record one operation creates to the operations that take it (read,
change, delete; a session → its enrollments → closing it), with every check of the stateless run
(tests/test_schemathesis.py). Without the links, the operations that take an id in their path
were tested only against ids that do not exist; this run shows each of them reached with a
record the run made, and fails if one no longer is.

The run starts from a few records made through the API (a unit, a cadre, an open session with
an enrollment, a pending study log, an assessment, a user, a webhook, an export job): the list
operations find them and link on. A body that names a record of another kind (an enrollment's,
a study log's or an assessment's cadre) cannot be linked from the same response as its path: the
run fills it with a cadre it knows, as a client would pick one.
"""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import create_sessionmaker
from app.enums import Role
from tests.conftest import add_user, bearer, empty_tables
from tests.factories import (
    API,
    create_cadre,
    create_log,
    create_org_unit,
    create_session,
    unique,
)
from tests.live_server import live_server
from tests.test_schemathesis import CHECKS, fresh_idempotency_key

# The operations with an id in their path. Before the links, every call of every one of them
# answered 404 (or 422 for the path's own format): none was reached with a record that exists.
# How many the run reaches varies a little with what the server answers (ids, times), so the
# test asserts most of them, and prints which.
MIN_REACHED = 22
WITH_AN_ID = {
    "DELETE /api/v1/cadres/{cadre_id}",
    "DELETE /api/v1/webhooks/{webhook_id}",
    "GET /api/v1/assessments/{assessment_id}",
    "GET /api/v1/cadres/by-hr-id/{hr_id}",
    "GET /api/v1/cadres/{cadre_id}",
    "GET /api/v1/cadres/{cadre_id}/archive",
    "GET /api/v1/cadres/{cadre_id}/compliance",
    "GET /api/v1/cadres/{cadre_id}/credits",
    "GET /api/v1/org-units/{org_unit_id}",
    "GET /api/v1/org-units/{org_unit_id}/archive",
    "GET /api/v1/study-logs/{study_log_id}",
    "GET /api/v1/training-sessions/{training_session_id}/enrollments",
    "GET /api/v1/users/{user_id}",
    "GET /api/v1/webhooks/{webhook_id}",
    "GET /api/v1/webhooks/{webhook_id}/deliveries",
    "PATCH /api/v1/assessments/{assessment_id}",
    "PATCH /api/v1/cadres/{cadre_id}",
    "PATCH /api/v1/training-sessions/{training_session_id}",
    "PATCH /api/v1/users/{user_id}",
    "PATCH /api/v1/webhooks/{webhook_id}",
    "POST /api/v1/study-logs/{study_log_id}/approve",
    "POST /api/v1/study-logs/{study_log_id}/reject",
    "POST /api/v1/study-logs/{study_log_id}/void",
    "POST /api/v1/training-sessions/{training_session_id}/close",
    "POST /api/v1/webhooks/{webhook_id}/rotate-secret",
    "PUT /api/v1/cadres/by-hr-id/{hr_id}",
    "GET /api/v1/enrollments/{enrollment_id}",
    "PATCH /api/v1/enrollments/{enrollment_id}",
    "PATCH /api/v1/org-units/{org_unit_id}",
    "GET /api/v1/training-sessions/{training_session_id}",
    "POST /api/v1/training-sessions/{training_session_id}/enrollments",
    "GET /api/v1/exports/{export_id}",
    "GET /api/v1/exports/{export_id}/file",
}
# Reached every time: the export job the run starts from, and each one it creates, link to them
# (no worker runs here, so the file answers 409 while the job is queued: reached, not run).
ALWAYS_REACHED = {"GET /api/v1/exports/{export_id}", "GET /api/v1/exports/{export_id}/file"}
# Body fields naming a record of another kind, by the kind's pool.
_REFERENCES = {
    "cadre_id": "cadre",
    "org_unit_id": "org_unit",
    "organiser_org_unit_id": "org_unit",
    "parent_id": "org_unit",
}


async def _seed(settings: Settings, base_url: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """From empty tables, one record of each kind made through the API; answers them. Each
    scenario starts from the same state, so that the same choices take the same path (Hypothesis
    requires it; the records an earlier scenario made would change the answers)."""
    engine = create_async_engine(settings.async_database_url)
    try:
        await empty_tables(engine)
        sessionmaker = create_sessionmaker(engine)
        headers = bearer(settings, await add_user(sessionmaker, Role.admin))
        # Made directly: through the API, its password would be hashed (slow on purpose).
        user = {"id": str((await add_user(sessionmaker, Role.auditor)).id)}
    finally:
        await engine.dispose()
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        unit = await create_org_unit(client)
        cadre = await create_cadre(client, unit["id"])
        session = await create_session(client, unit["id"])
        r = await client.post(
            f"{API}/training-sessions/{session['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
        assert r.status_code == 201, r.text
        enrollment = r.json()
        log = await create_log(client, cadre["id"], status="pending")
        r = await client.post(
            f"{API}/assessments",
            json={"cadre_id": cadre["id"], "year": 2024, "rating": "competent"},
        )
        assert r.status_code == 201, r.text
        assessment = r.json()
        r = await client.post(
            f"{API}/users",
            json={
                "username": unique("st-user"),
                "password": "a long enough pass phrase 1",
                "role": "auditor",
            },
        )
        assert r.status_code == 201, r.text
        user = r.json()
        r = await client.post(f"{API}/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        assert r.status_code == 201, r.text
        webhook = r.json()
        r = await client.post(f"{API}/exports", json={"org_unit_id": unit["id"], "year": 2024})
        assert r.status_code == 202, r.text
        export = r.json()
    return headers, [unit, cadre, session, enrollment, log, assessment, user, webhook, export]


# Links written in the document only: schemathesis would also infer some, which spreads the run
# thin over guesses. `DELETE /cadres/{id}` deactivates the cadre, whose record and reports stay
# readable (docs/rules.md): "a deleted resource answers 404" does not hold for it.
@pytest.fixture(scope="module")
def api_schema(settings: Settings) -> Iterator[Any]:
    config = SchemathesisConfig.from_dict(
        {
            "checks": {**CHECKS, "use_after_free": {"enabled": False}},
            "phases": {"stateful": {"inference": {"algorithms": []}}},
        }
    )
    with live_server(settings) as base_url:
        yield schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)

    async def cleanup() -> None:
        engine = create_async_engine(settings.async_database_url)
        try:
            await empty_tables(engine)
        finally:
            await engine.dispose()

    asyncio.run(cleanup())


@pytest.mark.slow
def test_api_workflows(api_schema: Any, settings: Settings) -> None:
    headers: dict[str, str] = {}
    made: set[str] = set()  # every id and HR id the scenario knows
    pools: dict[str, list[str]] = {"cadre": [], "org_unit": []}
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)

    class Workflows(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            admin, seeded = asyncio.run(_seed(settings, api_schema.get_base_url()))
            headers.update(admin)
            made.clear()
            made.update(record["id"] for record in seeded)
            made.add(seeded[1]["hr_id"])
            pools["org_unit"][:] = [seeded[0]["id"]]
            pools["cadre"][:] = [seeded[1]["id"]]

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def before_call(self, case: Any) -> None:
            fresh_idempotency_key(case)
            body = case.body
            if isinstance(body, dict) and case.meta.generation.mode.is_positive:
                for field, kind in _REFERENCES.items():
                    value = body.get(field)
                    if isinstance(value, str) and value not in made:
                        body[field] = pools[kind][-1]

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            label = case.operation.label
            path = case.path_parameters or {}
            if path:
                existing = all(str(v) in made for v in path.values())
                outcomes[label][f"{'made' if existing else 'other'} {response.status_code}"] += 1
            if not 200 <= response.status_code < 300 or not response.content:
                return
            try:
                data = response.json()
            except ValueError:
                return
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                made.add(data["id"])
                if isinstance(data.get("hr_id"), str):
                    made.add(data["hr_id"])
                    pools["cadre"].append(data["id"])
                elif case.operation.path.startswith("/api/v1/org-units"):
                    pools["org_unit"].append(data["id"])

    Workflows.run(
        settings=hypothesis_settings(
            max_examples=15,
            stateful_step_count=30,
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    report = "\n".join(
        f"{label}: {dict(sorted(counts.items()))}" for label, counts in sorted(outcomes.items())
    )
    print(f"\nOperations with an id in the path, by id (made / other) and status:\n{report}")
    reached = {
        label
        for label in WITH_AN_ID
        if any(k.startswith("made ") and k != "made 404" for k in outcomes[label])
    }
    print(f"Reached with a record the run made: {len(reached)} of {len(WITH_AN_ID)}")
    print(f"Not reached: {sorted(WITH_AN_ID - reached)}")
    assert len(reached) >= MIN_REACHED, f"{sorted(WITH_AN_ID - reached)} not reached\n{report}"
    assert reached >= ALWAYS_REACHED, f"{sorted(ALWAYS_REACHED - reached)} not reached\n{report}"
