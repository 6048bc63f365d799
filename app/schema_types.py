"""Shared pydantic building blocks for request and response bodies.

Inputs refuse unknown fields, control characters (NUL bytes never reach PostgreSQL), over-long
strings and out-of-range numbers; decimals are exact and shown with two places. The rows of bulk
bodies, checked one by one, are first searched for text no column can hold (`unstorable_text`).
"""

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from app.errors import ProblemFieldError, UnprocessableEntity, json_pointer
from app.i18n import N_, _

# No control characters (C0, DEL, C1), no leading or trailing space. Written without `\s`, whose
# meaning differs between Python and the ECMAScript regexes of JSON Schema clients.
LINE_PATTERN = r"^[^\x00-\x20\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f])?$"
# Free text: anything printable plus line breaks and tabs, but never NUL.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=LINE_PATTERN)]
ShortName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=LINE_PATTERN)]
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=CODE_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=2000, pattern=TEXT_PATTERN)]
# Search terms in query strings: printable, no control characters.
SearchText = Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]

# Text PostgreSQL cannot store: a NUL, or a UTF-16 surrogate alone (JSON can write one as an
# escape, `"\udfff"`, and Python's JSON reader decodes a body's encoded surrogates as such).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Pydantic's own answer to a lone surrogate in any `str` field of a request body.
_NOT_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"


def unstorable_text(value: object, *at: str | int) -> list[ProblemFieldError]:
    """Every string in a JSON value, object keys included, that holds a NUL or a lone surrogate,
    pointed at from `at` (e.g. "body", "items").

    A single body refuses these through its string types: a lone surrogate is not a `str`
    pydantic accepts (`string_unicode`), a NUL matches none of their patterns. The rows of a
    bulk body are checked one by one, each reported on its own; these two are refused for the
    whole request instead, as they would be in a single body: they are not text any field
    takes, and a report cannot even echo them back."""
    found: list[ProblemFieldError] = []

    def walk(node: object, path: tuple[str | int, ...]) -> None:
        if isinstance(node, str):
            if _UNSTORABLE.search(node):
                found.append(_unstorable(node, path))
        elif isinstance(node, dict):
            for key, item in node.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    found.append(_unstorable(key, path))  # the key cannot name a pointer
                else:  # a CSV line's cells past the header's are under None: the line's own
                    walk(item, (*path, key) if isinstance(key, str) else path)
        elif isinstance(node, list):
            for n, item in enumerate(node):
                walk(item, (*path, n))

    walk(value, at)
    return found


class UnstorableText(UnprocessableEntity):
    """`unstorable_text` found some: the whole request is refused and nothing is written."""

    def __init__(self, errors: list[ProblemFieldError]) -> None:
        super().__init__(
            "Some text holds a NUL character or a lone surrogate, which no field takes; nothing "
            "was written. See `errors`.",
            errors=errors,
        )


def _unstorable(text: str, path: tuple[str | int, ...]) -> ProblemFieldError:
    if "\x00" in text:
        return ProblemFieldError(
            pointer=json_pointer(path),
            detail=N_("Text may not hold a NUL character"),
            code="string_nul",
        )
    return ProblemFieldError(pointer=json_pointer(path), detail=_NOT_UNICODE, code="string_unicode")


MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2199, 12, 31)


def _date_in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(
            _("date must be between {low} and {high}").format(low=MIN_DATE, high=MAX_DATE)
        )
    return value


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date_only(value: object) -> object:
    # Pydantic's lax mode would read 0 or "0" as 1970-01-01; the contract says `format: date`.
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    raise PydanticCustomError("date_format", "expected a date as YYYY-MM-DD")


LocalDate = Annotated[date, BeforeValidator(_iso_date_only), AfterValidator(_date_in_range)]

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _rfc3339_only(value: object) -> object:
    # As for dates: no Unix timestamps, and a time zone is required (times are UTC instants).
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        return value
    raise PydanticCustomError(
        "datetime_format",
        "expected an RFC 3339 date-time with a time zone, e.g. 2025-01-31T08:00:00Z",
    )


def _instant_in_range(value: datetime) -> datetime:
    # A date at the end of the calendar with a negative offset is past year 9999 in UTC.
    if not MIN_DATE <= value.date() <= MAX_DATE:
        raise PydanticCustomError(
            "datetime_range",
            "expected a date-time between {low} and {high}",
            {"low": MIN_DATE.isoformat(), "high": MAX_DATE.isoformat()},
        )
    return value


Instant = Annotated[datetime, BeforeValidator(_rfc3339_only), AfterValidator(_instant_in_range)]

CENT = Decimal("0.01")


def quantize(value: Decimal) -> Decimal:
    """Round for display only (docs/rules.md: sums are taken on unrounded values)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _show(value: Decimal) -> str:
    return str(quantize(value))


# Output: a decimal string with exactly two places, e.g. "28.00".
Decimal2 = Annotated[
    Decimal,
    PlainSerializer(_show, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "decimal"}),
]


def _decimal_input(
    *, positive: bool, max_integer_digits: int, pattern: str | None = None, high: int | None = None
) -> Any:
    """An exact decimal input: a JSON integer, or a string such as "12.50" (never a float,
    whose binary value is not the decimal the user typed). At most two decimal places."""
    d = max_integer_digits
    if pattern is not None:
        pass
    elif positive:
        pattern = rf"^(?:[1-9][0-9]{{0,{d - 1}}}(?:\.[0-9]{{1,2}})?|0?\.(?:[1-9][0-9]?|0[1-9]))$"
    else:
        pattern = rf"^(?:0|[1-9][0-9]{{0,{d - 1}}})(?:\.[0-9]{{1,2}})?$"
    compiled = re.compile(pattern)
    low = 1 if positive else 0
    high = 10**d - 1 if high is None else high
    kind = N_("positive") if positive else N_("non-negative")

    def parse(value: object) -> Decimal:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema counts 284.0 as an integer
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return Decimal(value)
        if isinstance(value, str) and compiled.fullmatch(value):
            return Decimal(value)
        if isinstance(value, Decimal) and compiled.fullmatch(format(value, "f")):
            return value  # from Python code (built-in policies, the CLI), not from JSON
        raise PydanticCustomError(
            "decimal_format",
            "expected a {kind} decimal below {limit} with at most two decimal places, "
            'as an integer or a string such as "12.50"',
            {"kind": kind, "limit": high + 1},
        )

    schema = {
        "anyOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"type": "string", "pattern": pattern, "examples": ["12.50"]},
        ]
    }
    return Annotated[
        Decimal,
        PlainValidator(parse),
        PlainSerializer(str, return_type=str, when_used="json"),
        WithJsonSchema(schema, mode="validation"),
    ]


# Hours and days as written by clients: exact, two places at most.
Hours = _decimal_input(positive=False, max_integer_digits=5)
PositiveHours = _decimal_input(positive=True, max_integer_digits=5)
Days = _decimal_input(positive=False, max_integer_digits=4)
PositiveDays = _decimal_input(positive=True, max_integer_digits=4)
Score = _decimal_input(
    positive=False,
    max_integer_digits=3,
    pattern=r"^(?:100(?:\.0{1,2})?|(?:0|[1-9][0-9]?)(?:\.[0-9]{1,2})?)$",
    high=100,
)


def _integer(value: object) -> object:
    # JSON Schema's integers include 131.0 but not true or "131": pydantic's lax mode has it the
    # other way, and strict mode refuses 131.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Strict: a body that breaks the schema is a 422 before anything else is looked at (an
# `If-Match` precondition included, RFC 9110 §13.2.1), never a value read into it.
Int = Annotated[int, BeforeValidator(_integer), Strict()]
# Bounds inside the Annotated (not on the field) stay bounds in the JSON Schema of `X | None`.
Capacity = Annotated[int, Field(ge=1, le=100_000), BeforeValidator(_integer), Strict()]
SeatQuota = Annotated[int, Field(ge=0, le=100_000), BeforeValidator(_integer), Strict()]
Year = Annotated[int, Field(ge=1900, le=2199), BeforeValidator(_integer), Strict()]
Month = Annotated[int, Field(ge=1, le=12), BeforeValidator(_integer), Strict()]
# A qualification's validity in whole years (docs/rules.md rule 13).
ValidityYears = Annotated[int, Field(ge=1, le=50), BeforeValidator(_integer), Strict()]
# JSON true or false only: pydantic's lax mode reads 0, 1, "no", "on" and "true" as booleans.
Bool = Annotated[bool, Strict()]


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutputModel(BaseModel):
    """An answer's body. Every field is always serialised (a default too, a null as null), so
    the contract lists every one in `required` (pydantic leaves defaults out of it otherwise)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )


Version = Annotated[
    int,
    Field(
        description="Optimistic-lock version. The ETag of a single read is this version in "
        'quotes (`"3"`); send it as If-Match to update or delete the item.'
    ),
]


# A schema that names a component in `json_schema_extra` writes `{COMPONENT_REF: "Name"}`: the
# contract makes it a `$ref` (app/openapi/components.py). A literal `$ref` there would break
# `model_json_schema()`, which resolves every `$ref` it meets against its own definitions.
COMPONENT_REF = "x-component-ref"


# Anonymous evaluation (docs/evaluation.md): an indicator's weight, 0 < w ≤ 100 with two places,
# and a score on the 1–5 scale.
IndicatorWeight = _decimal_input(
    positive=True,
    max_integer_digits=3,
    pattern=r"^(?:100(?:\.0{1,2})?|[1-9][0-9]?(?:\.[0-9]{1,2})?|0?\.(?:[1-9][0-9]?|0[1-9]))$",
    high=100,
)
EvaluationScore = Annotated[int, Field(ge=1, le=5), BeforeValidator(_integer), Strict()]
