"""Stateful contract testing: schemathesis follows the document's OpenAPI links
(app.openapi_links) from the record one operation creates to the operations that take it (read,
change, delete; a session → its enrollments → closing it), with every check of the stateless run
(tests/test_schemathesis.py). Without the links, the operations that take an id in their path
were tested only against ids that do not exist. Two tests show the links at work:
- a walk that follows every link to a read from the lists of a few seeded records, with no
  randomness: every read that takes an id is reached with a record that exists;
- the stateful run, which follows links at random, writes included. Which operations a run
  draws varies with the data (ids are random, and hypothesis branches on the answers): it prints
  what it reached and asserts a floor (MIN_REACHED), not a set.

The published links carry expressions in `parameters` only (OpenAPI 3.1: a link's
`requestBody` is the whole body). A link to a create operation also fills a field of the body
with the source's id (a unit's child, a cadre's study log): this test adds that wiring to the
copy of the document it loads (_BODY_FIELDS), where schemathesis merges a `requestBody` map into
the body it generates.

The run starts from a few records made through the API (a unit, a cadre, an open session with
an enrollment, a pending study log, an assessment, a user, a webhook, an export job): the list
operations find them and link on. A body that names a record of another kind (an enrollment's,
a study log's or an assessment's cadre) cannot be linked from the same response as its path: the
run fills it with a cadre it knows, as a client would pick one.
"""

import asyncio
import copy
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
from app.main import create_app
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
from tests.test_schemathesis import (
    CHECKS,
    REQUEST_TIMEOUT,
    fresh_idempotency_key,
    with_lenient_rows,
)

# The operations with an id in their path. Before the links, every call of every one of them
# answered 404 (or 422 for the path's own format): none was reached with a record that exists.
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
# The stateful run reaches 26-31 of WITH_AN_ID with a record it made (the set varies from run
# to run); before the links it reached none. The reads are asserted one by one by the walk.
MIN_REACHED = 20
# A link to a create operation: the body fields it fills from its source's response (a JSON
# pointer into the record; into a page's first item for a list).
_BODY_FIELDS = {
    "CreateChildOrgUnit": {"parent_id": "id"},
    "CreateCadreInOrgUnit": {"org_unit_id": "id"},
    "CreateTrainingSessionOfOrgUnit": {"organiser_org_unit_id": "id"},
    "CreateStudyLogOfCadre": {"cadre_id": "id"},
    "CreateAssessmentOfCadre": {"cadre_id": "id"},
}
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


def _links(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every link of the document: its source's operationId, its name, the link."""
    for item in doc["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for name, link in response.get("links", {}).items():
                    yield operation["operationId"], name, link


def with_body_fields(published: dict[str, Any]) -> dict[str, Any]:
    """The document with _BODY_FIELDS wired into its links' `requestBody`, for schemathesis
    only (it merges such a map into the body it generates); the published one is untouched."""
    doc = copy.deepcopy(published)
    wired = set()
    for source, name, link in _links(doc):
        if name in _BODY_FIELDS:
            root = "$response.body#/items/0/" if source.startswith("list") else "$response.body#/"
            link["requestBody"] = {f: root + p for f, p in _BODY_FIELDS[name].items()}
            wired.add(name)
    assert wired == set(_BODY_FIELDS), "a link of _BODY_FIELDS is no longer in the document"
    return doc


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(
        ("$url", "$method", "$status", "$request.", "$response.")
    )


def _holds_expression(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_expression(v) for v in value)
    return isinstance(value, str) and ("$response." in value or "$request." in value)


def test_the_published_links_are_openapi_3_1_links(settings: Settings) -> None:
    """Review #10: a Link Object's `requestBody` is a literal or one runtime expression for the
    whole body (OAS 3.1 §4.8.20); a map of fields to expressions would be sent as that literal
    object. Expressions belong in `parameters`, each one whole."""
    doc = create_app(settings).openapi()
    assert doc["openapi"].startswith("3.1.")
    fields = {"operationRef", "operationId", "parameters", "requestBody", "description", "server"}
    links = list(_links(doc))
    assert links
    for source, name, link in links:
        where = f"{source} → {name}"
        assert {k for k in link if not k.startswith("x-")} <= fields, where
        assert ("operationId" in link) != ("operationRef" in link), where
        for parameter, value in link.get("parameters", {}).items():
            assert _is_expression(value) or not _holds_expression(value), (where, parameter)
        if "requestBody" in link:
            body = link["requestBody"]
            assert _is_expression(body) or not _holds_expression(body), (where, body)


# Links written in the document only: schemathesis would also infer some, which spreads the run
# thin over guesses. `DELETE /cadres/{id}` deactivates the cadre, whose record and reports stay
# readable (docs/rules.md): "a deleted resource answers 404" does not hold for it.
def _pointer(document: Any, pointer: str) -> Any:
    for token in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        elif isinstance(document, dict) and token in document:
            document = document[token]
        else:
            return None
    return document


def test_following_the_links_reaches_every_read_with_a_record(settings: Settings) -> None:
    """No randomness: from the lists (which find the seeded records), follow every link whose
    target is a read, evaluating its `$response.body#/...` parameters, breadth first, each
    operation once. Every read that takes an id must be reached with a record that exists:
    answered, and not 404 (an export's file is 409 here: no worker runs)."""
    with live_server(settings) as base_url:
        doc = httpx.get(f"{base_url}/openapi.json").raise_for_status().json()
        operations = {
            op["operationId"]: (method.upper(), path, op)
            for path, item in doc["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }
        headers, _ = asyncio.run(_seed(settings, base_url))
        queue: list[tuple[str, dict[str, str], dict[str, str]]] = [
            (operation_id, {}, {})
            for operation_id, (method, path, op) in operations.items()
            if method == "GET"
            and "{" not in path
            and operation_id.startswith("list")
            and not any(p.get("required") for p in op.get("parameters", []))
        ]
        answered: dict[str, int] = {}
        with httpx.Client(base_url=base_url, headers=headers) as client:
            while queue:
                operation_id, path_params, query = queue.pop(0)
                if operation_id in answered:
                    continue
                _method, path, op = operations[operation_id]
                r = client.get(path.format(**path_params), params=query)
                answered[operation_id] = r.status_code
                if not r.is_success:
                    continue
                body = r.json() if "json" in r.headers.get("content-type", "") else None
                for link in op["responses"].get(str(r.status_code), {}).get("links", {}).values():
                    target = link["operationId"]
                    if operations[target][0] != "GET" or target in answered:
                        continue
                    values: dict[str, dict[str, str]] = {"path": {}, "query": {}}
                    for name, expression in link.get("parameters", {}).items():
                        where, _, key = name.partition(".")
                        if where in values and expression.startswith("$response.body#"):
                            value = _pointer(body, expression.removeprefix("$response.body#"))
                            if value is not None:
                                values[where][key] = str(value)
                    if "{" in operations[target][1].format_map(_Missing(values["path"])):
                        continue  # the answer had no record to link from (an empty list)
                    queue.append((target, values["path"], values["query"]))
    reads = {
        f"{operations[o][0]} {operations[o][1]}": status
        for o, status in answered.items()
        if "{" in operations[o][1]
    }
    expected = {label for label in WITH_AN_ID if label.startswith("GET ")}
    missing = sorted(expected - set(reads))
    assert missing == [], f"no link leads to {missing}; answered: {reads}"
    assert {label: s for label, s in reads.items() if s == 404 or s >= 500} == {}


class _Missing(dict[str, str]):
    """str.format_map that leaves `{name}` in place for a parameter the link did not give."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@pytest.fixture(scope="module")
def api_schema(settings: Settings) -> Iterator[Any]:
    config = SchemathesisConfig.from_dict(
        {
            "checks": {**CHECKS, "use_after_free": {"enabled": False}},
            "phases": {"stateful": {"inference": {"algorithms": []}}},
            "request-timeout": REQUEST_TIMEOUT,
        }
    )
    with live_server(settings) as base_url:
        published = httpx.get(f"{base_url}/openapi.json").raise_for_status().json()
        schema = schemathesis.openapi.from_dict(
            with_lenient_rows(with_body_fields(published)), config=config
        )
        schema.location = f"{base_url}/openapi.json"  # where the calls go, as from_url sets it
        yield schema

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
            # The same sequence of draws in every run, a developer's too.
            derandomize=True,
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
    assert len(reached) >= MIN_REACHED, report
