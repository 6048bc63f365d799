"""The AppError tree and the RFC 9457 problem+json handlers.

Domain errors subclass `NotFound`, `Conflict`, `RuleViolation`, `PreconditionFailed` or `Forbidden`
and carry a stable `code`; the handlers below render every error, including FastAPI's validation
errors, Starlette's 404/405 and unexpected exceptions, as `application/problem+json`.
"""

import re
import socket
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.i18n import N_, current_language, gettext, negotiate

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = structlog.get_logger(__name__)


class ProblemFieldError(BaseModel):
    model_config = ConfigDict(title="ProblemFieldError")

    pointer: str = Field(
        description="JSON pointer (RFC 6901) into the request: /body/..., /query/name"
    )
    detail: str
    code: str = Field(description="Stable machine-readable reason, e.g. `string_too_long`")


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable `code` for machines."""

    type: str = Field(description="URI reference naming the problem type")
    title: str
    status: int = Field(ge=100, le=599)
    detail: str | None = None
    code: str = Field(description="Stable machine-readable code, e.g. `enrollment.session_full`")
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = N_("Internal server error")

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[ProblemFieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers


class BadRequest(AppError):
    status = 400
    code = "bad_request"
    title = N_("Bad request")


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = N_("Authentication required")


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = N_("Not allowed")


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = N_("Not found")


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = N_("Conflict with the current state")


class RuleViolation(Conflict):
    code = "rule_violation"
    title = N_("The request breaks a business rule")


class PreconditionFailed(AppError):
    status = 412
    code = "precondition_failed"
    title = N_("The resource has changed since it was read")


class PreconditionRequired(AppError):
    status = 428
    code = "precondition_required"
    title = N_("If-Match is required for this update")


class UnprocessableEntity(AppError):
    status = 422
    code = "validation_failed"
    title = N_("The request is not valid")


class FieldNotAllowed(UnprocessableEntity):
    code = "field_not_allowed"
    title = N_("Your role may not set this field")

    def __init__(self, detail: str, *, pointer: str) -> None:
        super().__init__(
            detail,
            errors=[ProblemFieldError(pointer=pointer, detail=detail, code="field_not_allowed")],
        )


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    title = N_("Method Not Allowed")


class NotAcceptable(AppError):
    status = 406
    code = "not_acceptable"
    title = N_("Not Acceptable")


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = N_("Content Too Large")


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = N_("Unsupported Media Type")


class HttpError(AppError):
    """An HTTP error the framework raised with a status no class above stands for."""

    status = 400
    code = "http_error"
    title = N_("Error")


class StaleWrite(Conflict):
    code = "concurrent_update"
    title = N_("Another request changed this resource at the same time; read it again and retry")


def problem_codes() -> dict[str, type[AppError]]:
    """Every stable code a problem answer carries: the code of each AppError class imported,
    by the first class that declares it (a subclass keeping its parent's code adds none). The
    contract publishes them as the `ProblemCode` enum (app.openapi); the handlers below answer
    only with codes of these classes, so the enum is the code itself, not a list beside it."""
    found: dict[str, type[AppError]] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop(0)
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def problem_type(code: str) -> str:
    return f"urn:cadre-training:problem:{code}"


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[ProblemFieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    # The title and detail in the language the client asked for (app.i18n); the code stays.
    language = negotiate(request.headers.get("accept-language"))
    problem = Problem(
        type=problem_type(code),
        title=gettext(title, language),
        status=status,
        detail=gettext(detail, language) if detail else detail,
        code=code,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=[e.model_copy(update={"detail": gettext(e.detail, language)}) for e in errors]
        if errors
        else None,
    )
    answer_headers = dict(headers or {})
    answer_headers["Content-Language"] = language
    answer_headers["Vary"] = ", ".join(
        v for v in (answer_headers.get("Vary"), "Accept-Language") if v
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=answer_headers,
    )


def json_pointer(loc: Sequence[int | str]) -> str:
    """An RFC 6901 pointer to `loc`, e.g. ("body", "items", 3, "a/b") → /body/items/3/a~1b."""

    def escape(part: int | str) -> str:
        return str(part).replace("~", "~0").replace("/", "~1")

    return "/" + "/".join(escape(p) for p in loc)


# Pydantic's message of each error type, as a template of its context (`ctx`): the msgid whose
# translation renders a validation error in another language than English. English answers keep
# pydantic's own message. Our own types (app.schema_types) are listed with their templates.
_VALIDATION_TEMPLATES = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "string_type": N_("Input should be a valid string"),
    "string_too_short": N_("String should have at least {min_length} characters"),
    "string_too_long": N_("String should have at most {max_length} characters"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "enum": N_("Input should be {expected}"),
    "literal_error": N_("Input should be {expected}"),
    "date_type": N_("Input should be a valid date"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD, {error}"),
    "date_from_datetime_parsing": N_("Input should be a valid date or datetime, {error}"),
    "datetime_parsing": N_("Input should be a valid datetime, {error}"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "too_short": N_(
        "{field_type} should have at least {min_length} item after validation, not {actual_length}"
    ),
    "too_long": N_(
        "{field_type} should have at most {max_length} items after validation, not {actual_length}"
    ),
    "uuid_parsing": N_("Input should be a valid UUID, {error}"),
    "uuid_type": N_("UUID input should be a string, bytes or UUID object"),
    "json_invalid": N_("JSON decode error"),
    "model_attributes_type": N_(
        "Input should be a valid dictionary or object to extract fields from"
    ),
    "dict_type": N_("Input should be a valid dictionary"),
    "list_type": N_("Input should be a valid list"),
    "decimal_parsing": N_("Input should be a valid decimal"),
    "decimal_max_places": N_(
        "Decimal input should have no more than {decimal_places} decimal places"
    ),
    "url_parsing": N_("Input should be a valid URL, {error}"),
    "value_error": N_("Value error, {error}"),
    "assertion_error": N_("Assertion failed, {error}"),
    # app.schema_types
    "date_format": N_("expected a date as YYYY-MM-DD"),
    "datetime_format": N_(
        "expected an RFC 3339 date-time with a time zone, e.g. 2025-01-31T08:00:00Z"
    ),
    "datetime_range": N_("expected a date-time between {low} and {high}"),
    "decimal_format": N_(
        "expected a {kind} decimal below {limit} with at most two decimal places, "
        'as an integer or a string such as "12.50"'
    ),
}


# The `field_type` of `too_short` and `too_long` (pydantic's words), translated as any context
# value is.
_FIELD_TYPES = (N_("List"), N_("Tuple"), N_("Set"), N_("Dictionary"), N_("Value"))

# Joins the last two allowed values in the context of `enum` and `literal_error`, with a space
# either side in every language (the values are quoted codes, not words of the sentence).
_OR = N_("or")


def _validation_message(err: Any, language: str) -> str:
    """The message of one pydantic error in `language`: pydantic's own in English, else the
    translated template of its type formatted with its context (the message of a `ValueError`
    translated too), or pydantic's when the type has no template."""
    message = str(err.get("msg", "invalid value"))
    if language == "en":
        return message
    kind = str(err.get("type", ""))
    template = _VALIDATION_TEMPLATES.get(kind)
    if template is None:
        return gettext(message, language)
    ctx = {k: gettext(str(v), language) for k, v in (err.get("ctx") or {}).items()}
    if kind == "value_error":
        ctx["error"] = gettext(message.removeprefix("Value error, "), language)
    if "expected" in ctx:
        # pydantic lists the allowed values as "'a', 'b' or 'c'".
        ctx["expected"] = ctx["expected"].replace(f" {_OR} ", f" {gettext(_OR, language)} ")
    try:
        return gettext(template, language).format(**ctx)
    except (KeyError, IndexError, ValueError):
        return message


def validation_message(err: Any) -> str:
    """The message of one pydantic error in the request's language (a row result of a bulk
    path, where no problem answer renders it)."""
    return _validation_message(err, current_language.get())


def translated(errors: Sequence[ProblemFieldError]) -> list[ProblemFieldError]:
    """Field errors whose details are message ids, in the request's language (row results)."""
    return [e.model_copy(update={"detail": gettext(e.detail)}) for e in errors]


def _field_errors(errors: Sequence[Any], language: str = "en") -> list[ProblemFieldError]:
    out = []
    for err in errors:
        loc = err.get("loc", ())
        # Pydantic reports a JSON body that is not an object at ("body",): keep the pointer short.
        out.append(
            ProblemFieldError(
                pointer=json_pointer(loc),
                detail=_validation_message(err, language),
                code=str(err.get("type", "invalid")),
            )
        )
    return out


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        request,
        status=422,
        code=UnprocessableEntity.code,
        title=UnprocessableEntity.title,
        detail=N_("One or more fields are invalid; see `errors`."),
        errors=_field_errors(exc.errors(), negotiate(request.headers.get("accept-language"))),
    )


# The titles of those answers (HTTP's reason phrases), marked for the catalogues.
_HTTP_TITLES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Not Acceptable"),
    N_("Request Entity Too Large"),
    N_("Content Too Large"),
    N_("Unsupported Media Type"),
    N_("Not authenticated"),
)

# The code of each status Starlette and FastAPI raise (routing, security schemes, forms).
_HTTP_ERRORS: dict[int, type[AppError]] = {
    e.status: e
    for e in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        PayloadTooLarge,
        UnsupportedMediaType,
    )
}


def _allowed_methods(request: Request) -> str | None:
    """Every method the requested path supports, from the published document (a path's
    operations may live in several routers, so the matched route alone cannot tell)."""
    app = request.app
    table: list[tuple[re.Pattern[str], str]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = []
        for template, item in app.openapi().get("paths", {}).items():
            regex, _, _ = compile_path(template)
            methods = [m.upper() for m in item if m in {"get", "post", "put", "patch", "delete"}]
            table.append((regex, ", ".join(sorted(methods))))
        app.state.allow_table = table
    for regex, allowed in table:
        if regex.match(request.url.path):
            return allowed
    return None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers) if exc.headers else {}
    if status == 405:
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = allowed
    code = _HTTP_ERRORS.get(status, HttpError).code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else N_("Error")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(
        request,
        status=status,
        code=code,
        title=title,
        detail=detail,
        headers=headers or None,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The last resort, for whatever escaped the handlers above (a fault raised while a
    # response was being prepared, or wrapped in an exception group): still a 503 if it is one.
    fault = database_fault(exc)
    if fault is not None:
        return fault_answer(request, exc, fault)
    log.exception("unhandled_error", exc_type=type(exc).__name__)
    return problem_response(
        request,
        status=500,
        code=AppError.code,
        title=AppError.title,
        detail=N_("An unexpected error occurred; quote the request id when reporting it."),
    )


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A constraint no service mapped to a domain error: still the client's conflict, not a crash.
    log.warning("unmapped_integrity_error", exc_type=type(exc).__name__)
    return problem_response(
        request,
        status=409,
        code=Conflict.code,
        title=Conflict.title,
        detail=N_("The change conflicts with existing records."),
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # A value PostgreSQL refuses that validation let through: the client's input, not a crash.
    log.warning("database_rejected_value", exc_type=type(exc).__name__)
    return problem_response(
        request,
        status=422,
        code=UnprocessableEntity.code,
        title=UnprocessableEntity.title,
        detail=N_("A value was refused by the database."),
    )


async def _stale_data(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        request,
        status=StaleWrite.status,
        code=StaleWrite.code,
        title=StaleWrite.title,
    )


class DatabaseUnavailable(AppError):
    status = 503
    code = "database_unavailable"
    title = N_("The database is not reachable; retry later")


class QueryTimeout(AppError):
    status = 503
    code = "query_timeout"
    title = N_("The database took too long and the query was cancelled; retry later")


class DatabaseBusy(AppError):
    status = 503
    code = "database_busy"
    title = N_("The database is busy; retry later")


# The faults of the database that are nobody's input: the answer is 503 with Retry-After
# (README, "Using the API"). SQLSTATE classes 08 (connection exception), 53 (insufficient
# resources: too many connections, disk or memory full) and 58 (system error), and the server
# shutting down, restarting or ending an idle session.
_UNAVAILABLE_CLASSES = ("08", "53", "58")
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "57P04", "57P05", "25P03"}
_QUERY_TIMEOUT = "57014"  # statement timeout (or a cancel)
_LOCK_TIMEOUT = "55P03"
# Raised by the driver itself, with no SQLSTATE: a connection that broke in the middle of a
# message (InternalClientError at COMMIT). Its InterfaceError counts only when it says the
# connection is closed: the same class is raised for a client's value the driver cannot encode
# (DataError, a 422) and for a session used by two tasks at once (a bug, a 500).
_CONNECTION_ERRORS = (asyncpg.InterfaceError, asyncpg.InternalClientError)
_CONNECTION_CLOSED = "connection is closed"
# A value of the request the driver refused before sending it ("invalid input for query
# argument $1 ... out of int32 range"). Not asyncpg.DataError, which is SQLSTATE class 22.
_CLIENT_DATA_ERROR = asyncpg.exceptions._base.DataError


class DatabaseConnectError(Exception):
    """Opening a connection to PostgreSQL failed at the socket: refused, reset, an unknown
    host, a timeout. app.db's engine raises it in place of the bare OSError, so that an
    OSError of anything else (a missing temporary directory, a full disk) is never taken for
    the database being down."""


# Transient conflicts between transactions: retrying the request is the answer, not a 500.
_RETRY_CONFLICT = {"40P01", "40001"}  # deadlock detected, serialization failure


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (SQLAlchemy's `orig`, `__cause__`) and, for an exception
    group, its members."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            pending.append(orig)
        if current.__cause__ is not None:
            pending.append(current.__cause__)


def _sqlstate(exc: BaseException) -> str | None:
    for current in _causes(exc):
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def database_fault(exc: BaseException) -> AppError | None:
    """The 503 a fault of the database deserves (it is down, restarting, out of connections,
    or a query ran past the statement timeout), or None when `exc` is no such fault."""
    state = _sqlstate(exc)
    if state == _QUERY_TIMEOUT:
        return QueryTimeout(
            N_(
                "The query ran longer than the statement timeout allows; retry later, or ask "
                "for less (a smaller unit, a shorter period)."
            )
        )
    if state == _LOCK_TIMEOUT:
        return DatabaseBusy()
    if state is not None and (state in _UNAVAILABLE_STATES or state[:2] in _UNAVAILABLE_CLASSES):
        return DatabaseUnavailable()
    causes = list(_causes(exc))
    from_driver = any(isinstance(c, (DBAPIError, *_CONNECTION_ERRORS)) for c in causes)
    for current in causes:
        if isinstance(current, SQLAlchemyTimeoutError):
            return DatabaseUnavailable(N_("Every database connection is in use; retry later."))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return DatabaseUnavailable()
        if isinstance(current, (DatabaseConnectError, asyncpg.InternalClientError)):
            return DatabaseUnavailable()
        if isinstance(current, asyncpg.InterfaceError | InterfaceError) and (
            _CONNECTION_CLOSED in str(current)
        ):
            return DatabaseUnavailable()
        if isinstance(current, OperationalError):
            return DatabaseUnavailable()
        # A socket error the driver met on a connection it had (its own exception wraps it).
        if from_driver and isinstance(current, ConnectionError | socket.gaierror):
            return DatabaseUnavailable()
    return None


def client_data_error(exc: BaseException) -> bool:
    """Whether the driver refused a value of the request before sending it."""
    return any(isinstance(c, _CLIENT_DATA_ERROR) for c in _causes(exc))


DEFAULT_RETRY_AFTER_SECONDS = 5


def retry_after_seconds(request: Request) -> int:
    """`APP_DATABASE__RETRY_AFTER_SECONDS` of the application's settings."""
    app = request.scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    database = getattr(settings, "database", None)
    return int(getattr(database, "retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS))


def fault_answer(request: Request, exc: BaseException, fault: AppError) -> JSONResponse:
    """The 503 of `fault`, with Retry-After, logged with what caused it."""
    log.error(
        "database_fault",
        code=fault.code,
        exc_type=type(exc).__name__,
        sqlstate=_sqlstate(exc),
        causes=[type(c).__name__ for c in _causes(exc)],
    )
    return problem_response(
        request,
        status=fault.status,
        code=fault.code,
        title=fault.title,
        detail=fault.detail,
        headers={"Retry-After": str(retry_after_seconds(request))},
    )


async def database_error_answer(request: Request, exc: Exception) -> JSONResponse:
    """Errors of the database and its driver that no service mapped to a domain error: a
    deadlock or a serialization failure is a 409 to retry; a data exception the input caused
    a 422; a database that is unreachable, restarting or out of connections, or a statement
    timeout, a 503 with Retry-After; anything else is unexpected."""
    state = _sqlstate(exc)
    if state in _RETRY_CONFLICT:
        log.warning("transaction_conflict", sqlstate=state)
        return problem_response(
            request,
            status=StaleWrite.status,
            code=StaleWrite.code,
            title=StaleWrite.title,
            headers={"Retry-After": "1"},
        )
    if (state is not None and state.startswith("22")) or client_data_error(exc):
        # A data exception the input caused (an invalid byte, a value out of range) that no
        # earlier check caught: the input is refused, nothing changed.
        log.warning("data_exception", sqlstate=state)
        return problem_response(
            request,
            status=UnprocessableEntity.status,
            code=UnprocessableEntity.code,
            title=UnprocessableEntity.title,
        )
    fault = database_fault(exc)
    if fault is not None:
        return fault_answer(request, exc, fault)
    return await _unexpected_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(StaleDataError, _stale_data)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, database_error_answer)
    # The pool gave no connection within its timeout.
    app.add_exception_handler(SQLAlchemyTimeoutError, database_error_answer)
    # Raised by asyncpg itself where SQLAlchemy does not wrap it (connecting, COPY).
    for raw in (asyncpg.PostgresError, *_CONNECTION_ERRORS, DatabaseConnectError):
        app.add_exception_handler(raw, database_error_answer)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
