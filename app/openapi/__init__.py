"""The published contract: FastAPI's document, made strict for generated clients.

- every 4xx/5xx response is `application/problem+json` with the `Problem` schema
  (app.openapi.problems);
- operations with inputs document 422, every operation documents 500, and 503 with
  `Retry-After` (a database fault);
- FastAPI's own validation-error schemas are replaced by `Problem`;
- responses link to the operations that take the record they answer (app.openapi_links);
- every enum schema carries its values' words, `x-enum-labels: {"zh-CN": {value: label},
  "en": {...}}` (app.labels);
- every operation says who may call it: `x-roles` (the roles of app.security.PERMISSIONS, `[]` for
  a public operation) and a sentence in its description;
- the tags are declared with what each holds (`TAGS`), and the form bodies FastAPI names
  `Body_<operationId>` get names of their own (`FORM_SCHEMAS`, app.openapi.components);
- the response headers a client reads are declared, by rule, on every response that sends them
  (app.openapi.headers), as references to `components/headers`;
- every operation takes an optional `Accept-Language` (`components/parameters`), and every answer
  with a body says its `Content-Language` (app.i18n);
- a request body's field with a default says it in words, not as `default`, so that generated
  clients keep it optional (app.openapi_defaults).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.enums import Role
from app.labels import schema_labels
from app.openapi.components import FORM_SCHEMAS, rename_schemas, resolve_component_refs
from app.openapi.headers import HEADERS, IDEMPOTENCY_KEY, PARAMETERS, declare_headers
from app.openapi.problems import (
    declare_generic_problems,
    problem_code_schema,
    takes_idempotency_key,
)
from app.openapi_defaults import describe_request_defaults
from app.openapi_links import add_links
from app.security import PERMISSIONS

__all__ = ["FORM_SCHEMAS", "HEADERS", "PARAMETERS", "TAGS", "build_openapi", "install_openapi"]

_METHODS = {"get", "post", "put", "patch", "delete"}


# The groups of operations, in the order a reader meets them.
TAGS: list[dict[str, str]] = [
    {
        "name": "auth",
        "description": "Tokens (password, client_credentials, refresh_token), "
        "revocation, and who the token speaks for",
    },
    {"name": "org units", "description": "The organisation tree; a role's scope is a subtree"},
    {"name": "cadres", "description": "Cadres, by id or by the HR system's id"},
    {
        "name": "training plans",
        "description": "Annual training plans (年度培训计划): drafted, submitted, approved",
    },
    {"name": "training sessions", "description": "Training sessions and closing them"},
    {"name": "enrollments", "description": "Cadres enrolled in a session, attendance and leave"},
    {
        "name": "attendance",
        "description": "Sign-in by class part: rotating QR codes, marks, leave requests",
    },
    {"name": "study logs", "description": "Study logs: submitted, reviewed, voided"},
    {
        "name": "qualifications",
        "description": "Qualifications with validity (持证上岗): types, held, granted, revoked",
    },
    {"name": "assessments", "description": "Annual assessments and their training condition"},
    {"name": "credit policies", "description": "The credit rules in force, by period"},
    {
        "name": "credits and compliance",
        "description": "A cadre's credits and compliance, with how they were derived",
    },
    {
        "name": "reports",
        "description": "Compliance, roll-call and plan-fulfilment reports of a subtree",
    },
    {
        "name": "archives",
        "description": "A cadre's or a unit's training archive, as JSON, CSV or XLSX",
    },
    {
        "name": "exports",
        "description": "Unit archives written in the background, downloaded when done",
    },
    {"name": "sync", "description": "Bulk synchronisation from the HR system"},
    {"name": "imports", "description": "Study logs imported from a CSV or XLSX file"},
    {"name": "change feed", "description": "Every change, in order, for systems that follow"},
    {"name": "webhooks", "description": "The change feed pushed to a receiver"},
    {"name": "audit", "description": "Who changed what, and when"},
    {"name": "users", "description": "Accounts and their roles"},
    {"name": "meta", "description": "The words for enum values (zh-CN, en)"},
    {"name": "health", "description": "Liveness and readiness probes"},
    {"name": "certificates", "description": "Certificates (结业证书) and their public check"},
    {
        "name": "catalogue",
        "description": "The course and teacher catalogue (课程库, 师资库) of each unit",
    },
    {
        "name": "theses",
        "description": "Theses and reflections (调研文章, 学习心得), their grades, and the "
        "collection of the excellent ones (论文汇编)",
    },
    {
        "name": "evaluation",
        "description": "Anonymous evaluation of sessions, courses and teachers (评课): forms, "
        "a session's evaluation, answers, figures and comments",
    },
    {
        "name": "calendars",
        "description": "Calendar files (iCalendar) of sessions, and a cadre's private feed",
    },
    {
        "name": "online academies",
        "description": "Online academies (干部网络学院): their conversion to 学时, learner "
        "accounts, and the import of their records",
    },
    {
        "name": "notifications",
        "description": "A cadre's own notifications (nominations, the waitlist, session changes, "
        "reminders), also delivered as webhook events",
    },
]


def _declare_roles(op: dict[str, Any]) -> None:
    """`x-roles` and a sentence saying the same, from app.security.PERMISSIONS. What a role
    sees inside an operation (its org subtree, its own records) is the repositories' scope,
    described where it differs from the role's usual one."""
    op_id = op["operationId"]
    if op.get("security"):
        roles = [role.value for role in Role if role in PERMISSIONS.get(op_id, frozenset())]
        sentence = f"Roles: {', '.join(roles)}." if roles else "Roles: none (refused to all)."
    else:
        roles = []
        sentence = "Public: no token needed."
    op["x-roles"] = roles
    text = op.get("description", "").rstrip()
    op["description"] = f"{text}\n\n{sentence}" if text else sentence


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, then: each operation's problems, parameters, headers and roles; the
    shared components; the schemas named, labelled and told their defaults in words; links."""
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
    schemas = doc.get("components", {}).get("schemas", {})
    versioned = {name for name, s in schemas.items() if "version" in s.get("properties", {})}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method in _METHODS:
                _complete_operation(path, method, op, versioned)
    doc["tags"] = app.openapi_tags or TAGS
    rename_schemas(doc, FORM_SCHEMAS)
    _shared_components(doc, schemas)
    _extra_schemas(app, schemas)
    _label_enums(schemas)
    resolve_component_refs(doc)
    describe_request_defaults(doc)
    add_links(doc)
    return doc


def _complete_operation(path: str, method: str, op: dict[str, Any], versioned: set[str]) -> None:
    """The problems it can answer, the headers it takes and sends, who may call it."""
    declare_generic_problems(path, method, op)
    if takes_idempotency_key(method, op):
        op.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
    idempotent = any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", []))
    op.setdefault("parameters", []).append({"$ref": "#/components/parameters/Accept-Language"})
    declare_headers(op, versioned, health=path.startswith("/health"), idempotent=idempotent)
    _declare_roles(op)


def _shared_components(doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The headers and parameters declared once; `ProblemCode` in place of FastAPI's
    validation-error schemas."""
    doc.setdefault("components", {})["headers"] = {name: dict(h) for name, h in HEADERS.items()}
    doc["components"]["parameters"] = {name: dict(p) for name, p in PARAMETERS.items()}
    problem_code_schema(schemas)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _extra_schemas(app: FastAPI, schemas: dict[str, Any]) -> None:
    """Bodies an operation reads by hand (several media types) still get their named schemas."""
    extra: list[type[BaseModel]] = getattr(app.state, "extra_openapi_models", [])
    if extra:
        _, defs = models_json_schema(
            [(model, "validation") for model in extra],
            ref_template="#/components/schemas/{model}",
        )
        for name, schema in defs.get("$defs", {}).items():
            schemas.setdefault(name, schema)


def _label_enums(schemas: dict[str, Any]) -> None:
    """Every enum schema carries its values' words (`x-enum-labels`, app.labels)."""
    for name, schema in schemas.items():
        labels = schema_labels(name) if "enum" in schema else None
        if labels is not None:
            schema["x-enum-labels"] = labels


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
