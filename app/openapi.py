"""The published contract: FastAPI's document, made strict for generated clients.

- every 4xx/5xx response is `application/problem+json` with the `Problem` schema;
- operations with inputs document 422, every operation documents 500;
- FastAPI's own validation-error schemas are replaced by `Problem`.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.errors import PROBLEM_MEDIA_TYPE

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = {"get", "post", "put", "patch", "delete"}

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key and body answer the first answer again "
    "(with `Idempotent-Replayed: true`); the same key with another body answers 422 "
    "(`idempotency.key_reused`); a retry while the first is still running answers 409. Keys "
    "are remembered for `APP_IDEMPOTENCY_RETENTION_HOURS` (24).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": dict(_PROBLEM_REF)}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        contact=app.contact,
        license_info=app.license_info,
    )
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            has_input = bool(op.get("parameters") or op.get("requestBody"))
            if has_input and "422" not in responses:
                responses["422"] = {
                    "description": "The request is not valid (code: `validation_failed`)"
                }
            elif "422" in responses and responses["422"].get("description") == "Validation Error":
                responses["422"]["description"] = (
                    "The request is not valid (code: `validation_failed`)"
                )
            # Public operations say so explicitly (the token endpoint, health probes).
            op.setdefault("security", [])
            if op.get("security"):
                responses.setdefault(
                    "401",
                    {
                        "description": "Missing, invalid or expired bearer token "
                        "(code: `unauthorized`)"
                    },
                )
                responses.setdefault(
                    "403",
                    {"description": "Your role may not use this operation (code: `forbidden`)"},
                )
                if method != "get":
                    responses.setdefault(
                        "429",
                        {"description": "Too many writes; see Retry-After (code: `rate_limited`)"},
                    )
            if method == "post" and op.get("security"):
                op.setdefault("parameters", []).append(dict(_IDEMPOTENCY_KEY))
                responses.setdefault(
                    "409",
                    {
                        "description": "A request with this Idempotency-Key is still running "
                        "(code: `idempotency.in_progress`), or its stored answer can no longer be "
                        "read (code: `idempotency.answer_unreadable`)"
                    },
                )
            if "requestBody" in op:
                responses.setdefault(
                    "400", {"description": "The body is not parseable JSON (code: `bad_request`)"}
                )
            if not path.startswith("/health"):
                responses.setdefault(
                    "500", {"description": "Unexpected error (code: `internal_error`)"}
                )
                responses.setdefault(
                    "503",
                    {"description": "The database is not reachable (code: `database_unavailable`)"},
                )
            for status, response in responses.items():
                if status.startswith(("4", "5")) and not path.startswith("/health"):
                    response["content"] = _problem_content()
    schemas = doc.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    # Bodies an operation reads by hand (several media types) still get their named schemas.
    extra: list[type[BaseModel]] = getattr(app.state, "extra_openapi_models", [])
    if extra:
        _, defs = models_json_schema(
            [(model, "validation") for model in extra],
            ref_template="#/components/schemas/{model}",
        )
        for name, schema in defs.get("$defs", {}).items():
            schemas.setdefault(name, schema)
    return doc


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
