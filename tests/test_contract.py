"""The published OpenAPI document is the contract front ends generate their clients from."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.enums import Role
from app.pagination import MAX_PAGE_SIZE
from app.security import PERMISSIONS
from tests.factories import API, create_cadre, create_org_unit, unique

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}
# The response headers a client reads (app.cors exposes them): declared wherever they are sent.
HEADERS = {
    "ETag",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "X-Request-ID",
    "Content-Disposition",
    "Content-Language",
}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_committed_document_matches_the_code(app: FastAPI) -> None:
    generated = json.loads(json.dumps(app.openapi()))
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert generated == committed, "openapi/openapi.json is stale: run `make openapi`"


def test_operation_ids_are_readable_and_unique(app: FastAPI) -> None:
    ids = [op["operationId"] for _, _, op in _operations(app.openapi())]
    assert len(ids) == len(set(ids))
    for op_id in ids:
        assert op_id[0].islower(), op_id
        assert "_" not in op_id, op_id


# A problem answer's `code`, narrowed to the codes its operation declares at its status: a
# subset of the named ProblemCode (tests/test_problem_codes.py), not an enum of its own.
_NARROWED_CODE = re.compile(
    r"#/paths/.+/responses/[45]\d\d/content/application/problem\+json/schema/allOf/1/properties/code"
)


def test_every_enum_is_a_named_schema(app: FastAPI) -> None:
    doc = app.openapi()
    problem_codes = set(doc["components"]["schemas"]["ProblemCode"]["enum"])

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if _NARROWED_CODE.fullmatch(where):
                assert set(node["enum"]) <= problem_codes, where
                return
            if "enum" in node and not where.startswith("#/components/schemas/"):
                raise AssertionError(f"inline enum at {where}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(doc["paths"], "#/paths")
    for name, schema in doc["components"]["schemas"].items():
        for prop, spec in schema.get("properties", {}).items():
            assert "enum" not in spec, f"{name}.{prop} has an inline enum"


def test_every_string_and_list_input_is_bounded(app: FastAPI) -> None:
    doc = app.openapi()
    schemas = doc["components"]["schemas"]

    def check(spec: dict[str, Any], where: str) -> None:
        if "$ref" in spec:
            return
        for branch in spec.get("anyOf", []):
            check(branch, where)
        if spec.get("type") == "string" and "enum" not in spec:
            bounded = "maxLength" in spec or spec.get("format") in {"uuid", "date", "date-time"}
            bounded = bounded or ("pattern" in spec and spec["pattern"].endswith("$"))
            assert bounded, f"unbounded string at {where}"
        if spec.get("type") == "array":
            assert "maxItems" in spec, f"unbounded list at {where}"

    for path, method, op in _operations(doc):
        # Accept-Language (a reference) takes any value, refuses none: it has no bound to check.
        for param in op.get("parameters", []):
            if "$ref" not in param:
                check(param["schema"], f"{method} {path} {param['name']}")
    for name, schema in schemas.items():
        if name.endswith(("Create", "Update", "Upsert", "Action")):
            for prop, spec in schema.get("properties", {}).items():
                check(spec, f"{name}.{prop}")


def test_every_collection_has_a_hard_page_limit(app: FastAPI) -> None:
    for path, _method, op in _operations(app.openapi()):
        response = op["responses"].get("200", {})
        ref = (
            response.get("content", {})
            .get("application/json", {})
            .get("schema", {})
            .get("$ref", "")
        )
        if ref.endswith("Page"):
            limit = next(p for p in op["parameters"] if p["name"] == "limit")
            assert limit["schema"]["maximum"] == MAX_PAGE_SIZE, path


def test_errors_are_documented_per_operation(app: FastAPI) -> None:
    for path, method, op in _operations(app.openapi()):
        if path.startswith("/health"):
            continue
        codes = set(op["responses"])
        assert "500" in codes, (method, path)
        # Accept-Language (shared, a reference) never refuses a request: it is no input.
        inputs = [p for p in op.get("parameters", []) if "$ref" not in p]
        if inputs or op.get("requestBody"):
            assert "422" in codes, (method, path)
        if path in {
            "/api/v1/auth/token",
            "/api/v1/auth/revoke",
            "/api/v1/certificates/verify/{code}",
            "/api/v1/calendar-feeds/{token}.ics",
        }:
            assert op["security"] == [], (method, path)
        else:
            assert op["security"] == [{"OAuth2": []}], (method, path)
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path and method != "put":  # PUT creates what it does not find
            assert "404" in codes, (method, path)
        if method == "patch":
            assert "412" in codes, (method, path)


def test_every_operation_says_which_roles_may_call_it(app: FastAPI) -> None:
    """`x-roles` is the permission table, operation by operation, and the description says it."""
    operations = {op["operationId"]: op for _, _, op in _operations(app.openapi())}
    assert set(PERMISSIONS) <= set(operations), set(PERMISSIONS) - set(operations)
    for op_id, op in operations.items():
        if op["security"]:
            assert op_id in PERMISSIONS, f"{op_id} needs a token but no role may call it"
            roles = [role.value for role in Role if role in PERMISSIONS[op_id]]
            assert op["x-roles"] == roles, op_id
            assert op["description"].endswith(f"Roles: {', '.join(roles)}."), op_id
        else:
            assert op["x-roles"] == [], op_id
            assert op["description"].endswith("Public: no token needed."), op_id


def test_response_headers_are_declared_once_and_referenced(app: FastAPI) -> None:
    doc = app.openapi()
    assert set(doc["components"]["headers"]) == set(HEADERS)
    for path, method, op in _operations(doc):
        for status, response in op["responses"].items():
            assert "X-Request-ID" in response.get("headers", {}), (method, path, status)
            if status in {"429", "503"} and not path.startswith("/health"):
                assert "Retry-After" in response["headers"], (method, path, status)


def _declared(doc: dict[str, Any], op_id: str, status: int) -> set[str]:
    op = next(op for _, _, op in _operations(doc) if op["operationId"] == op_id)
    return set(op["responses"][str(status)].get("headers", {})) & set(HEADERS)


def _assert_declared_as_sent(
    doc: dict[str, Any], op_id: str, response: httpx.Response, *, replayed: bool = False
) -> None:
    """Each of the client-read headers the answer sends is declared for its operation and
    status, and each one declared is sent (Idempotent-Replayed only on a replay)."""
    declared = _declared(doc, op_id, response.status_code)
    sent = {name for name in HEADERS if name in response.headers}
    assert sent <= declared, (op_id, response.status_code, sent - declared)
    expected = declared if replayed else declared - {"Idempotent-Replayed"}
    assert expected <= sent, (op_id, response.status_code, expected - sent)


async def test_declared_response_headers_are_the_ones_sent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    doc = app.openapi()
    unit = await create_org_unit(client)
    body = {"code": unique("OU"), "name": "南谯区", "kind": "county", "parent_id": unit["id"]}
    key = {"Idempotency-Key": unique("contract")}
    created = await client.post(f"{API}/org-units", json=body, headers=key)
    assert created.status_code == 201, created.text
    _assert_declared_as_sent(doc, "createOrgUnit", created)
    replayed = await client.post(f"{API}/org-units", json=body, headers=key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    _assert_declared_as_sent(doc, "createOrgUnit", replayed, replayed=True)

    url = created.headers["Location"]
    read = await client.get(url)
    _assert_declared_as_sent(doc, "getOrgUnit", read)
    updated = await client.patch(
        url, json={"name": "南谯区委"}, headers={"If-Match": read.headers["ETag"]}
    )
    assert updated.status_code == 200, updated.text
    _assert_declared_as_sent(doc, "updateOrgUnit", updated)
    stale = await client.patch(url, json={"name": "旧"}, headers={"If-Match": read.headers["ETag"]})
    assert stale.status_code == 412
    _assert_declared_as_sent(doc, "updateOrgUnit", stale)
    missing = await client.get(f"{API}/org-units/{uuid.uuid4()}")
    assert missing.status_code == 404
    _assert_declared_as_sent(doc, "getOrgUnit", missing)
    _assert_declared_as_sent(doc, "getCurrentUser", await client.get(f"{API}/auth/me"))
    _assert_declared_as_sent(doc, "listOrgUnits", await client.get(f"{API}/org-units"))

    cadre = await create_cadre(client, unit["id"])
    download = await client.get(f"{API}/cadres/{cadre['id']}/archive", params={"format": "csv"})
    assert download.status_code == 200, download.text
    _assert_declared_as_sent(doc, "getCadreArchive", download)


def test_every_operation_has_its_own_summary(app: FastAPI) -> None:
    summaries = [op["summary"] for _, _, op in _operations(app.openapi())]
    assert len(summaries) == len(set(summaries)), sorted(summaries)


def test_tags_are_declared_with_descriptions(app: FastAPI) -> None:
    doc = app.openapi()
    declared = {tag["name"]: tag.get("description", "") for tag in doc["tags"]}
    used = {tag for _, _, op in _operations(doc) for tag in op["tags"]}
    assert used == set(declared), used ^ set(declared)
    assert all(declared.values()), [name for name, text in declared.items() if not text]


def test_no_schema_keeps_a_generated_form_name(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    assert not [name for name in schemas if name.startswith("Body_")]
    token = app.openapi()["paths"]["/api/v1/auth/token"]["post"]["requestBody"]
    form = token["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form == {"$ref": "#/components/schemas/TokenRequest"}
    assert "grant_type" in schemas["TokenRequest"]["properties"]


def test_every_operation_is_described_beyond_its_roles(app: FastAPI) -> None:
    for path, method, op in _operations(app.openapi()):
        text = op["description"].rsplit("\n\n", 1)[0] if "\n\n" in op["description"] else ""
        assert text.strip(), f"{method} {path} has no description of its own"


def test_every_operation_takes_accept_language(app: FastAPI) -> None:
    """One shared, optional header parameter, referenced by every operation."""
    doc = app.openapi()
    param = doc["components"]["parameters"]["Accept-Language"]
    assert param["in"] == "header"
    assert param["required"] is False
    assert param["schema"] == {"type": "string"}
    assert "zh-CN" in param["description"]
    ref = {"$ref": "#/components/parameters/Accept-Language"}
    for path, method, op in _operations(doc):
        assert op.get("parameters", []).count(ref) == 1, (method, path)
        for status, response in op["responses"].items():
            if response.get("content"):
                assert "Content-Language" in response["headers"], (method, path, status)


def test_content_language_says_replays_and_snapshots_keep_their_language() -> None:
    """A replayed idempotent answer repeats the first answer's language; an assessment's
    snapshot texts are in the snapshot's own `lang`: the header's description says both."""
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    text = doc["components"]["headers"]["Content-Language"]["description"]
    assert "Idempotent-Replayed" in text
    assert "first answer" in text
    assert "training_snapshot.lang" in text
