"""The contract is fully typed: the grants it declares, no free-form objects where the shape is
known, and every property a response always carries marked required."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.enums import Role
from app.security import TOKEN_URL
from tests.conftest import TEST_PASSWORD, add_user
from tests.factories import API, create_cadre, create_org_unit, unique


def test_security_scheme_declares_both_grants(app: FastAPI) -> None:
    """People log in with `password` (and renew with refresh_token); machine clients (the HR
    system) with `client_credentials`, which has no refresh."""
    flows: dict[str, Any] = app.openapi()["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert set(flows) == {"password", "clientCredentials"}
    assert flows["password"] == {"tokenUrl": TOKEN_URL, "refreshUrl": TOKEN_URL, "scopes": {}}
    assert flows["clientCredentials"] == {"tokenUrl": TOKEN_URL, "scopes": {}}


# Response schemas whose properties may be absent, and why.
OPTIONAL_IN_RESPONSES = {
    # RFC 9457: a problem's members beyond type/title/status are sent only when they say
    # something (no `errors` on a 404, no `detail` when the title says it all).
    "Problem": {"detail", "instance", "request_id", "errors"},
}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith(SCHEMAS):
            found.add(ref.removeprefix(SCHEMAS))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


SCHEMAS = "#/components/schemas/"


def response_schemas(doc: dict[str, Any]) -> set[str]:
    """Every named schema an answer's body holds, directly or nested."""
    schemas = doc["components"]["schemas"]
    todo: set[str] = set()
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "responses" in op:
                for response in op["responses"].values():
                    todo |= _refs(response.get("content", {}))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo |= _refs(schemas[name])
    return seen


def test_every_response_property_is_required(app: FastAPI) -> None:
    """An answer always carries every field (null when it has no value): a client reads
    `body.cadre_id`, not `body.cadre_id ?? undefined`."""
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    names = response_schemas(doc)
    assert {"CadreRead", "TokenResponse", "SyncCounts", "Problem"} <= names
    missing = {
        (name, prop)
        for name in names
        for prop in schemas[name].get("properties", {})
        if prop not in schemas[name].get("required", [])
        and prop not in OPTIONAL_IN_RESPONSES.get(name, set())
    }
    assert not missing, sorted(missing)


def _assert_carries_required(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """Every property the contract marks required is in the answer, at every depth."""
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].removeprefix(SCHEMAS)]
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        if value is not None and option.get("type") != "null":
            _assert_carries_required(doc, option, value)
    if isinstance(value, dict) and "properties" in schema:
        absent = set(schema.get("required", [])) - set(value)
        assert not absent, (schema.get("title"), absent, value)
        for name, sub in schema["properties"].items():
            if name in value:
                _assert_carries_required(doc, sub, value[name])
    if isinstance(value, list) and "items" in schema:
        for element in value:
            _assert_carries_required(doc, schema["items"], element)


def _answer_schema(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    content = doc["paths"][path][method]["responses"][status]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    return schema


async def test_real_answers_carry_every_required_property(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    doc = app.openapi()
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    hr = await add_user(isolated_sessionmaker, Role.hr_system, username=unique("hr-machine"))
    reads: list[tuple[str, str, httpx.Response]] = [
        (
            f"{API}/auth/token",
            "post",
            await anonymous.post(
                f"{API}/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": hr.username,
                    "client_secret": TEST_PASSWORD,
                },
            ),
        ),
        (f"{API}/cadres/{{cadre_id}}", "get", await client.get(f"{API}/cadres/{cadre['id']}")),
        (
            f"{API}/cadres/{{cadre_id}}/credits",
            "get",
            await client.get(f"{API}/cadres/{cadre['id']}/credits"),
        ),
        (
            f"{API}/cadres/{{cadre_id}}/compliance",
            "get",
            await client.get(f"{API}/cadres/{cadre['id']}/compliance"),
        ),
        (
            f"{API}/sync/cadres",
            "post",
            await client.post(f"{API}/sync/cadres", json={"items": [], "dry_run": True}),
        ),
        (
            f"{API}/assessments",
            "post",
            await client.post(
                f"{API}/assessments",
                json={"cadre_id": cadre["id"], "year": 2025, "rating": "competent"},
            ),
        ),
        (f"{API}/audit-events", "get", await client.get(f"{API}/audit-events")),
        (f"{API}/changes", "get", await client.get(f"{API}/changes")),
        (f"{API}/credit-policies", "get", await client.get(f"{API}/credit-policies")),
    ]
    for path, method, r in reads:
        status = "201" if method == "post" and path.endswith("assessments") else "200"
        assert r.status_code == int(status), (path, r.text)
        _assert_carries_required(doc, _answer_schema(doc, path, method, status), r.json())
    token = reads[0][2].json()
    assert token["refresh_token"] is None  # present, and null, for a machine client


# Objects of the contract that are open on purpose, and why (`where` is a JSON pointer).
# None today: `EnumLabels` is a map of maps with typed values, a change's values are the
# recursive `JsonValue`. An entry here needs its reason.
OPEN_OBJECTS: dict[str, str] = {}
_TYPED = {"type", "$ref", "anyOf", "oneOf", "allOf", "const", "enum"}


def untyped_objects(doc: dict[str, Any]) -> set[str]:
    """Every schema in the contract that admits an object of any shape: `type: object` (or
    `additionalProperties` present) with no `properties`, and `additionalProperties` absent,
    `true` or `{}`."""
    found: set[str] = set()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            is_object = node.get("type") == "object" or "additionalProperties" in node
            extra = node.get("additionalProperties")
            if (
                is_object and "properties" not in node and extra in (None, True, {})
            ) or extra is True:
                found.add(where)
            for name, spec in node.get("properties", {}).items():
                if isinstance(spec, dict) and not _TYPED & set(spec):
                    found.add(f"{where}/properties/{name}")  # any value at all
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(doc, "#")
    return found


def test_no_free_form_object_where_the_shape_is_known(app: FastAPI) -> None:
    """`training_snapshot`, audit and feed `changes`, a policy's `definition` and the sync rows
    have schemas; what stays open is on `OPEN_OBJECTS`, with its reason."""
    found = untyped_objects(app.openapi())
    assert found <= set(OPEN_OBJECTS), sorted(found - set(OPEN_OBJECTS))


def test_the_walk_finds_an_open_object() -> None:
    doc = {
        "components": {
            "schemas": {
                "A": {"type": "object", "additionalProperties": True},
                "B": {"type": "object", "properties": {"x": {"title": "X"}}},
            }
        }
    }
    assert untyped_objects(doc) == {"#/components/schemas/A", "#/components/schemas/B/properties/x"}


async def test_a_snapshot_frozen_under_rules_revision_1_is_still_read(
    client: httpx.AsyncClient, db_conn: Any
) -> None:
    """A snapshot is evidence and is never rewritten (migration 0010 leaves them alone): one
    frozen before revision 2 lacks the annual block's centralised and counted hours and counted
    kinds, and the override reason. Its read gives them as null, not a 500."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.post(
        f"{API}/assessments", json={"cadre_id": cadre["id"], "year": 2024, "rating": "competent"}
    )
    assert r.status_code == 201, r.text
    await db_conn.execute(
        text(
            "UPDATE assessment SET training_snapshot = (training_snapshot - 'override_reason') "
            "|| jsonb_build_object('annual', (training_snapshot->'annual') "
            "- 'centralised_hours' - 'counted_hours' - 'counted_kinds') WHERE id = :id"
        ),
        {"id": r.json()["id"]},
    )
    read = await client.get(f"{API}/assessments/{r.json()['id']}")
    assert read.status_code == 200, read.text
    snapshot = read.json()["training_snapshot"]
    assert snapshot["override_reason"] is None
    assert snapshot["annual"]["counted_kinds"] is None
    assert (
        snapshot["annual"]["credited_hours"]
        == r.json()["training_snapshot"]["annual"]["credited_hours"]
    )


_BRITISH_ENROL = re.compile(r"[Ee]nrol(?!l)")


def test_one_spelling_enroll(app: FastAPI) -> None:
    """ "enrollment"/"enroll", as the operation names have it, in the contract (summaries,
    descriptions), the code's docstrings and messages, and the message catalogue."""
    root = Path(__file__).resolve().parent.parent
    texts = {"contract": json.dumps(app.openapi(), ensure_ascii=False)}
    for path in [*root.joinpath("app").rglob("*.py"), *root.joinpath("app").rglob("*.po*")]:
        texts[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
    found = {where for where, text in texts.items() if _BRITISH_ENROL.search(text)}
    assert not found, sorted(found)
