"""The problem answers of the contract: every 4xx/5xx is `application/problem+json` with the
`Problem` schema, its `code` narrowed per response to the codes declared there
(`x-problem-codes`); the generic problems every operation of its kind can give are declared
beside the route's own (`declare_generic_problems`); `ProblemCode` lists every code."""

import re
from typing import Any

from app.auth.rate_limit import RateLimited
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
from app.limits import BodyTimeout, BodyTooLarge, NestedTooDeep

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def takes_idempotency_key(method: str, op: dict[str, Any]) -> bool:
    """A protected POST takes `Idempotency-Key` (app.idempotency), unless it refuses one
    (`x-no-idempotency-key`: an evaluation answer, docs/evaluation.md)."""
    return method == "post" and bool(op.get("security")) and not op.get("x-no-idempotency-key")


def declare_generic_problems(path: str, method: str, op: dict[str, Any]) -> None:
    """Declare the problems every operation of its kind can give, then make each problem
    answer a `Problem` with its codes. Public operations say so explicitly (`security: []`:
    the token endpoint, the health probes)."""
    responses: dict[str, Any] = op.setdefault("responses", {})
    if "422" in responses and responses["422"].get("description") == "Validation Error":
        del responses["422"]
    if op.get("parameters") or op.get("requestBody"):
        also(
            responses,
            "422",
            "The request is not valid (code: `validation_failed`)",
            UnprocessableEntity,
        )
    op.setdefault("security", [])
    health = path.startswith("/health")
    if op.get("security"):
        _auth_problems(responses, method)
    if takes_idempotency_key(method, op):
        _idempotency_problems(responses)
    if method != "get" and not health:
        also(
            responses,
            "409",
            "Another transaction changed the same rows at the same time; retry (code: "
            "`concurrent_update`), or the change conflicts with existing records "
            "(code: `conflict`)",
            StaleWrite,
            Conflict,
        )
    if "requestBody" in op:
        _body_problems(responses)
    if not health:
        _server_problems(responses)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                response["content"] = problem_content(op["operationId"], status, response)


def _auth_problems(responses: dict[str, Any], method: str) -> None:
    also(
        responses,
        "401",
        "Missing, invalid or expired bearer token (code: `unauthorized`)",
        Unauthorized,
    )
    also(
        responses,
        "403",
        "Your role may not use this operation (code: `forbidden`)",
        Forbidden,
    )
    if method != "get":
        also(
            responses,
            "429",
            "Too many writes; see Retry-After (code: `rate_limited`)",
            RateLimited,
        )


def _idempotency_problems(responses: dict[str, Any]) -> None:
    also(
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
    also(
        responses,
        "422",
        "The Idempotency-Key is malformed (code: `idempotency.bad_key`) or was used "
        "with another request (code: `idempotency.key_reused`)",
        BadKey,
        KeyReused,
    )


def _body_problems(responses: dict[str, Any]) -> None:
    also(
        responses,
        "400",
        "The body's JSON nests deeper than `APP_BODY__JSON_MAX_DEPTH` (code: `bad_request`)",
        NestedTooDeep,
    )
    also(
        responses,
        "408",
        "The body did not arrive within `APP_BODY__READ_TIMEOUT_SECONDS` (code: `body_timeout`)",
        BodyTimeout,
    )
    also(
        responses,
        "413",
        "The body is larger than this operation accepts (code: `body_too_large`)",
        BodyTooLarge,
    )


def _server_problems(responses: dict[str, Any]) -> None:
    also(responses, "500", "Unexpected error (code: `internal_error`)", AppError)
    also(
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


def problem_content(op_id: str, status: str, response: dict[str, Any]) -> dict[str, Any]:
    """A `Problem` whose `code` is narrowed to the codes the operation declares at `status`
    (`x-problem-codes`: app.http.problems and `also`), so that a generated client's `switch`
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


def problem_code_schema(schemas: dict[str, Any]) -> None:
    """`ProblemCode`: every code of app.errors.problem_codes(), referenced by `Problem.code`."""
    schemas["ProblemCode"] = {
        "type": "string",
        "title": "ProblemCode",
        "description": "Every stable code a problem answer can carry; it never changes with the "
        "language. Each response lists the codes it answers with (`x-problem-codes`).",
        "enum": sorted(problem_codes()),
    }
    schemas["Problem"]["properties"]["code"] = {"$ref": "#/components/schemas/ProblemCode"}


def also(responses: dict[str, Any], status: str, description: str, *errors: type[AppError]) -> None:
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
