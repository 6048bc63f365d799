"""Preconditions after validation (issue 11, RFC 9110 §13.2.1): a body that breaks the schema
answers 422 whatever its `If-Match`; only a valid body meets the precondition (412). Booleans
and integers of request bodies are strict: `0` is not `false`, `"5"` is not `5`."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.enums import Role
from app.schema_types import InputModel
from tests.conftest import add_user
from tests.factories import API, create_org_unit, create_session
from tests.test_platform import assert_problem

STALE = '"999999"'


async def _resource(
    kind: str,
    client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> str:
    """The URL of a new resource of `kind`."""
    if kind == "org-units":
        return f"{API}/org-units/{(await create_org_unit(client))['id']}"
    if kind == "users":
        user = await add_user(isolated_sessionmaker, Role.auditor)
        return f"{API}/users/{user.id}"
    if kind == "webhooks":
        r = await client.post(f"{API}/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        assert r.status_code == 201, r.text
        return f"{API}/webhooks/{r.json()['id']}"
    unit = await create_org_unit(client)
    return f"{API}/training-sessions/{(await create_session(client, unit['id']))['id']}"


@pytest.mark.parametrize(
    ("kind", "bad", "good"),
    [
        ("org-units", {"active": 0}, {"active": False}),
        ("users", {"active": 0}, {"active": False}),
        ("webhooks", {"active": 0}, {"active": False}),
        ("webhooks", {"active": "false"}, {"active": False}),
        ("training-sessions", {"centralised": 0}, {"centralised": False}),
        ("training-sessions", {"capacity": "40"}, {"capacity": 40}),
        ("training-sessions", {"capacity": True}, {"capacity": 40.0}),
    ],
)
async def test_a_body_that_breaks_the_schema_is_422_before_the_precondition(
    client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    kind: str,
    bad: dict[str, Any],
    good: dict[str, Any],
) -> None:
    """`active: 0` was read as false by lax parsing, and the stale If-Match then answered 412:
    the client learnt its ETag was old, not that its body was wrong."""
    url = await _resource(kind, client, isolated_sessionmaker)
    current = (await client.get(url)).headers["etag"]
    field = next(iter(bad))
    for if_match in (STALE, current):
        r = await client.patch(url, json=bad, headers={"If-Match": if_match})
        body = assert_problem(r, 422, "validation_failed")
        assert [e["pointer"] for e in body["errors"]] == [f"/body/{field}"]
    # A valid body: the precondition decides, and what generated clients send still works.
    assert_problem(
        await client.patch(url, json=good, headers={"If-Match": STALE}), 412, "precondition_failed"
    )
    r = await client.patch(url, json=good, headers={"If-Match": current})
    assert r.status_code == 200, r.text


def _if_match_operations(app: FastAPI) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, JSON schema of the body) of every operation taking If-Match and a body."""
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            names = {p.get("name", "").lower() for p in op.get("parameters", [])}
            content = op.get("requestBody", {}).get("content", {})
            if "if-match" in names and "application/json" in content:
                ref = content["application/json"]["schema"]
                ref = next((s for s in ref.get("anyOf", [ref]) if "$ref" in s), ref)
                yield method, path, schemas[ref["$ref"].rsplit("/", 1)[-1]]


def _types(prop: dict[str, Any]) -> set[str]:
    return {t["type"] for t in prop.get("anyOf", [prop]) if "type" in t} - {"null"}


def _breaking(schema: dict[str, Any]) -> dict[str, Any]:
    """A body lax parsing would accept but the schema does not: a boolean or an integer field
    given another JSON type, or else a field the schema does not have."""
    for name, prop in schema.get("properties", {}).items():
        if _types(prop) == {"boolean"}:
            return {name: 0}
        if _types(prop) == {"integer"}:
            return {name: "1"}
    return {"not_a_field": True}


async def test_every_conditional_update_validates_its_body_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Every PATCH/PUT/POST taking If-Match: a body that breaks its schema is a 422, before the
    object is even looked up (an unknown id) and whatever the If-Match."""
    operations = list(_if_match_operations(app))
    assert {path for _, path, _ in operations} >= {
        "/api/v1/org-units/{org_unit_id}",
        "/api/v1/users/{user_id}",
        "/api/v1/webhooks/{webhook_id}",
    }
    for method, path, schema in operations:
        url = path.replace("{", "").replace("}", "")  # placeholders: fill below
        url = "/".join(
            str(uuid.uuid4()) if part.endswith("_id") else part for part in url.split("/")
        )
        if "hr_id" in path:
            url = path.replace("{hr_id}", "HR-PRECONDITION")
        r = await client.request(
            method.upper(), url, json=_breaking(schema), headers={"If-Match": STALE}
        )
        assert_problem(r, 422, "validation_failed")


def _input_models() -> list[type[BaseModel]]:
    """Every request body model, by name."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = list(InputModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        found[f"{model.__module__}.{model.__qualname__}"] = model
    return [found[name] for name in sorted(found)]


def _in_range(prop: dict[str, Any]) -> int:
    """An integer the field's bounds accept."""
    bounds: dict[str, Any] = {}
    for part in prop.get("anyOf", [prop]):
        bounds |= {k: v for k, v in part.items() if k in {"minimum", "maximum"}}
    return int(bounds.get("minimum", min(bounds.get("maximum", 1), 1)))


def _name(model: type[BaseModel]) -> str:
    return model.__name__


@pytest.mark.parametrize("model", _input_models(), ids=_name)
def test_booleans_and_integers_of_request_bodies_are_strict(model: type[BaseModel]) -> None:
    """Every boolean of a request body takes JSON true or false only, every integer a JSON
    number only (integral: 131.0 is 131, as JSON Schema has it)."""
    props = model.model_json_schema()["properties"]
    for name, prop in props.items():
        types = _types(prop)
        wrong: list[object] = []
        if types == {"boolean"}:
            wrong = [0, 1, "true", "false", "yes", "on"]
        elif types == {"integer"}:
            # In range, so that only the type can refuse them (a bound refuses "1" anyway).
            low = _in_range(prop)
            wrong = [True, str(low), f"{low}.0", low + 0.5]
        for value in wrong:
            with pytest.raises(ValidationError) as refused:
                model.model_validate({name: value})
            assert (name,) in [e["loc"][:1] for e in refused.value.errors()], (name, value)
