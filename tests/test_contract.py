"""The published OpenAPI document is the contract front ends generate their clients from."""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from app.pagination import MAX_PAGE_SIZE

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


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


def test_every_enum_is_a_named_schema(app: FastAPI) -> None:
    doc = app.openapi()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
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
        for param in op.get("parameters", []):
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
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in codes, (method, path)
        if path in {"/api/v1/auth/token", "/api/v1/auth/revoke"}:
            assert op["security"] == [], (method, path)
        else:
            assert op["security"] == [{"OAuth2": []}], (method, path)
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path and method != "put":  # PUT creates what it does not find
            assert "404" in codes, (method, path)
        if method == "patch":
            assert "412" in codes, (method, path)
