"""The published contract: FastAPI's document, made strict for generated clients.

- every 4xx/5xx response is `application/problem+json` with the `Problem` schema;
- operations with inputs document 422, every operation documents 500, and 503 with
  `Retry-After` (a database fault);
- FastAPI's own validation-error schemas are replaced by `Problem`;
- responses link to the operations that take the record they answer (app.openapi_links);
- every enum schema carries its values' words, `x-enum-labels: {"zh-CN": {value: label},
  "en": {...}}` (app.labels);
- every operation says who may call it: `x-roles` (the roles of app.security.PERMISSIONS, `[]` for
  a public operation) and a sentence in its description;
- the tags are declared with what each holds (`TAGS`), and the form bodies FastAPI names
  `Body_<operationId>` get names of their own (`_FORM_SCHEMAS`);
- the response headers a client reads are declared, by rule, on every response that sends them
  (`_declare_headers`), as references to `components/headers`;
- every operation takes an optional `Accept-Language` (`components/parameters`), and every answer
  with a body says its `Content-Language` (app.i18n);
- a request body's field with a default says it in words, not as `default`, so that generated
  clients keep it optional (app.openapi_defaults).
"""

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.auth.rate_limit import RateLimited
from app.enums import Role
from app.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    Conflict,
    DatabaseBusy,
    DatabaseUnavailable,
    Forbidden,
    QueryTimeout,
    StaleWrite,
    Unauthorized,
    UnprocessableEntity,
    problem_codes,
)
from app.idempotency.errors import AnswerUnreadable, BadKey, KeyReused, RightsChanged, StillRunning
from app.labels import schema_labels
from app.limits import BodyTimeout, BodyTooLarge, NestedTooDeep
from app.openapi_defaults import describe_request_defaults
from app.openapi_links import add_links
from app.schema_types import COMPONENT_REF
from app.security import PERMISSIONS

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


_RETRY_AFTER = {
    "description": "Seconds to wait before retrying (`APP_DATABASE__RETRY_AFTER_SECONDS` for a "
    "database fault; until the rate limit's window has room again for a 429)",
    "schema": {"type": "integer", "minimum": 0},
}


_STRING = {"type": "string"}

# The headers a client reads (the ones app.cors exposes), declared once and referenced.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The server's id of this request, on every answer: quote it when "
        "reporting a problem (the audit trail records it as `request_id`)",
        "schema": _STRING,
    },
    "ETag": {
        "description": "The version of the record answered (send it back as `If-Match` to "
        "change the record), or of the file downloaded (as `If-Range` to resume)",
        "schema": _STRING,
    },
    "Location": {
        "description": "The URL of the record created (of the job, for an accepted job)",
        "schema": _STRING,
    },
    "Retry-After": _RETRY_AFTER,
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key` (nothing was done again); absent otherwise",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Content-Disposition": {
        "description": "`attachment` with the file's name (RFC 6266, `filename*` in UTF-8)",
        "schema": _STRING,
    },
    "Content-Language": {
        "description": "The language of the answer's words: on a JSON answer the one "
        "negotiated from `Accept-Language` (`zh-CN` or `en`; the answer also says `Vary: "
        "Accept-Language`), on a file and on the labels the one of their `lang` parameter "
        "(the labels without `lang` say `zh-CN, en`; an export's file says its job's `lang`)",
        "schema": _STRING,
    },
}

# The language of the answer's words (app.i18n), declared once and taken by every operation.
PARAMETERS: dict[str, dict[str, Any]] = {
    "Accept-Language": {
        "name": "Accept-Language",
        "in": "header",
        "required": False,
        "description": "The language of the answer's words (problem titles and details, "
        "validation messages): `zh-CN` (the default, also for `zh` and any tag the service "
        "does not serve) or `en`, with q-values as RFC 9110 §12.5.4 says, e.g. `en, "
        "zh-CN;q=0.5`. The answer's `Content-Language` says which was chosen.",
        # Any value is taken (one that names no served language is zh-CN): no bound to refuse
        # on; the server's header limit bounds it, and only its first 32 ranges are read.
        "schema": {"type": "string"},
    },
}

# 201/202 answers that have no URL of their own to point to: a credit policy is read in the
# list of policies only.
_NO_LOCATION = frozenset({"createCreditPolicy"})


# The groups of operations, in the order a reader meets them.
TAGS: list[dict[str, str]] = [
    {
        "name": "auth",
        "description": "Tokens (password, client_credentials, refresh_token), "
        "revocation, and who the token speaks for",
    },
    {"name": "org units", "description": "The organisation tree; a role's scope is a subtree"},
    {"name": "cadres", "description": "Cadres, by id or by the HR system's id"},
    {"name": "training sessions", "description": "Training sessions and closing them"},
    {"name": "enrollments", "description": "Cadres enrolled in a session, attendance and leave"},
    {
        "name": "attendance",
        "description": "Sign-in by class part: rotating QR codes, marks, leave requests",
    },
    {"name": "study logs", "description": "Study logs: submitted, reviewed, voided"},
    {"name": "assessments", "description": "Annual assessments and their training condition"},
    {"name": "credit policies", "description": "The credit rules in force, by period"},
    {
        "name": "credits and compliance",
        "description": "A cadre's credits and compliance, with how they were derived",
    },
    {"name": "reports", "description": "Compliance and roll-call reports of a subtree"},
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
]

# FastAPI names a form body `Body_<operationId>`: a generated client shows that name.
_FORM_SCHEMAS = {"Body_issueToken": "TokenRequest", "Body_revokeToken": "TokenRevocation"}


def _rename_schemas(doc: dict[str, Any], names: dict[str, str]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    refs = {
        f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in names.items()
    }

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("$ref") in refs:
                node["$ref"] = refs[node["$ref"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for old, new in names.items():
        if old in schemas:
            schema = schemas.pop(old)
            schema["title"] = new
            schemas[new] = schema
    walk(doc.get("paths", {}))


def _ref(header: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{header}"}


def _declare_headers(
    op: dict[str, Any], versioned: set[str], *, health: bool, idempotent: bool
) -> None:
    """Declare, on each response, the headers it sends. A route may declare more itself (a
    record carried inside its answer, a file's ETag); these are the rules every route follows:
    X-Request-ID always; Retry-After on 429 and 503 (not the health probes'); ETag on a 2xx
    answering a versioned record (app.http.set_etag); Location on 201 and 202 (but
    `_NO_LOCATION`); Idempotent-Replayed on the 2xx of an operation taking Idempotency-Key;
    Content-Disposition on a 2xx that can answer a file (any media type but JSON);
    Content-Language on every answer with a body (JSON, a problem or a file)."""
    for status, response in op["responses"].items():
        headers: dict[str, Any] = response.setdefault("headers", {})
        wanted = ["X-Request-ID"]
        if status in {"429", "503"} and not health:
            wanted.append("Retry-After")
        if status.startswith("2"):
            content = response.get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.rsplit("/", 1)[-1] in versioned:
                wanted.append("ETag")
            if status in {"201", "202"} and op["operationId"] not in _NO_LOCATION:
                wanted.append("Location")
            if idempotent:
                wanted.append("Idempotent-Replayed")
            if any(media != "application/json" for media in content):
                wanted.append("Content-Disposition")
        if response.get("content"):
            wanted.append("Content-Language")
        for name in wanted:
            headers.setdefault(name, _ref(name))


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


def _problem_content(op_id: str, status: str, response: dict[str, Any]) -> dict[str, Any]:
    """A `Problem` whose `code` is narrowed to the codes the operation declares at `status`
    (`x-problem-codes`: app.http.problems and `_also`), so that a generated client's `switch`
    over them can be checked for completeness."""
    codes = response.get("x-problem-codes")
    if not codes:
        raise RuntimeError(f"{op_id} declares a {status} answer without its problem codes")
    response["x-problem-codes"] = codes = sorted(set(codes))
    narrowed = {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string", "enum": codes}},
    }
    return {PROBLEM_MEDIA_TYPE: {"schema": {"allOf": [dict(_PROBLEM_REF), narrowed]}}}


def _problem_code_schema(schemas: dict[str, Any]) -> None:
    """`ProblemCode`: every code of app.errors.problem_codes(), referenced by `Problem.code`."""
    schemas["ProblemCode"] = {
        "type": "string",
        "title": "ProblemCode",
        "description": "Every stable code a problem answer can carry; it never changes with the "
        "language. Each response lists the codes it answers with (`x-problem-codes`).",
        "enum": sorted(problem_codes()),
    }
    schemas["Problem"]["properties"]["code"] = {"$ref": "#/components/schemas/ProblemCode"}


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
    schemas = doc.get("components", {}).get("schemas", {})
    versioned = {name for name, s in schemas.items() if "version" in s.get("properties", {})}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            if "422" in responses and responses["422"].get("description") == "Validation Error":
                del responses["422"]
            if op.get("parameters") or op.get("requestBody"):
                _also(
                    responses,
                    "422",
                    "The request is not valid (code: `validation_failed`)",
                    UnprocessableEntity,
                )
            # Public operations say so explicitly (the token endpoint, health probes).
            op.setdefault("security", [])
            if op.get("security"):
                _also(
                    responses,
                    "401",
                    "Missing, invalid or expired bearer token (code: `unauthorized`)",
                    Unauthorized,
                )
                _also(
                    responses,
                    "403",
                    "Your role may not use this operation (code: `forbidden`)",
                    Forbidden,
                )
                if method != "get":
                    _also(
                        responses,
                        "429",
                        "Too many writes; see Retry-After (code: `rate_limited`)",
                        RateLimited,
                    )
            if method == "post" and op.get("security"):
                op.setdefault("parameters", []).append(dict(_IDEMPOTENCY_KEY))
                _also(
                    responses,
                    "409",
                    "A request with this Idempotency-Key is still running "
                    "(code: `idempotency.in_progress`), or its stored answer can no longer be "
                    "read (code: `idempotency.answer_unreadable`) or was made with other rights "
                    "(code: `idempotency.rights_changed`)",
                    StillRunning,
                    AnswerUnreadable,
                    RightsChanged,
                )
                _also(
                    responses,
                    "422",
                    "The Idempotency-Key is malformed (code: `idempotency.bad_key`) or was used "
                    "with another request (code: `idempotency.key_reused`)",
                    BadKey,
                    KeyReused,
                )
            if method != "get" and not path.startswith("/health"):
                _also(
                    responses,
                    "409",
                    "Another transaction changed the same rows at the same time; retry (code: "
                    "`concurrent_update`), or the change conflicts with existing records "
                    "(code: `conflict`)",
                    StaleWrite,
                    Conflict,
                )
            if "requestBody" in op:
                _also(
                    responses,
                    "400",
                    "The body's JSON nests deeper than `APP_BODY__JSON_MAX_DEPTH` "
                    "(code: `bad_request`)",
                    NestedTooDeep,
                )
                _also(
                    responses,
                    "408",
                    "The body did not arrive within `APP_BODY__READ_TIMEOUT_SECONDS` "
                    "(code: `body_timeout`)",
                    BodyTimeout,
                )
                _also(
                    responses,
                    "413",
                    "The body is larger than this operation accepts (code: `body_too_large`)",
                    BodyTooLarge,
                )
            if not path.startswith("/health"):
                _also(responses, "500", "Unexpected error (code: `internal_error`)", AppError)
                _also(
                    responses,
                    "503",
                    "The database is unreachable, restarting or out of connections (code: "
                    "`database_unavailable`), a query ran past the statement timeout (code: "
                    "`query_timeout`) or waited too long for a lock (code: `database_busy`); "
                    "retry after `Retry-After` seconds",
                    DatabaseUnavailable,
                    QueryTimeout,
                    DatabaseBusy,
                )
            for status, response in responses.items():
                if status.startswith(("4", "5")) and not path.startswith("/health"):
                    response["content"] = _problem_content(op["operationId"], status, response)
            health = path.startswith("/health")
            idempotent = any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", []))
            op.setdefault("parameters", []).append(
                {"$ref": "#/components/parameters/Accept-Language"}
            )
            _declare_headers(op, versioned, health=health, idempotent=idempotent)
            _declare_roles(op)
    doc["tags"] = app.openapi_tags or TAGS
    _rename_schemas(doc, _FORM_SCHEMAS)
    doc.setdefault("components", {})["headers"] = {name: dict(h) for name, h in HEADERS.items()}
    doc["components"]["parameters"] = {name: dict(p) for name, p in PARAMETERS.items()}
    _problem_code_schema(schemas)
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
    for name, schema in schemas.items():
        labels = schema_labels(name) if "enum" in schema else None
        if labels is not None:
            schema["x-enum-labels"] = labels
    _resolve_component_refs(doc)
    describe_request_defaults(doc)
    add_links(doc)
    return doc


def _resolve_component_refs(node: Any) -> None:
    """`{COMPONENT_REF: "Name"}` (app.schema_types) becomes `{"$ref": ".../Name"}`."""
    if isinstance(node, dict):
        name = node.pop(COMPONENT_REF, None)
        if isinstance(name, str):
            node["$ref"] = f"#/components/schemas/{name}"
        for value in node.values():
            _resolve_component_refs(value)
    elif isinstance(node, list):
        for value in node:
            _resolve_component_refs(value)


def _also(
    responses: dict[str, Any], status: str, description: str, *errors: type[AppError]
) -> None:
    """Declare the generic errors every operation of its kind can give, beside the ones the
    route declares for the same status: the codes are listed together, none is dropped."""
    codes = [e.code for e in errors]
    declared = responses.get(status)
    if declared is None:
        responses[status] = {"description": description, "x-problem-codes": codes}
        return
    listed_codes = declared.get("x-problem-codes", [])
    declared["x-problem-codes"] = list(dict.fromkeys([*listed_codes, *codes]))
    text = declared.get("description", "")
    listed = set(re.findall(r"`([\w.]+)`", text))
    if set(re.findall(r"`([\w.]+)`", description)) <= listed:
        return
    declared["description"] = f"{text}; {description}".lstrip("; ")


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
