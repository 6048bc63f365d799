"""docs/frontend.zh-CN.md cannot silently rot: every `METHOD /api/v1/...` it names is an operation
of the published contract, and every problem code it names is one the service defines in app/."""

import json
import re
import typing
from pathlib import Path

import pytest
from pydantic_core.core_schema import ErrorType

from tests.test_docs import github_slug

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "frontend.zh-CN.md"
CONTRACT = ROOT / "openapi" / "openapi.json"
APP = ROOT / "app"

# `PATCH /api/v1/cadres/{cadre_id}`, `GET /api/v1/cadres?limit=2` (query dropped), in prose and in
# the worked requests alike; a path ends at white space, a quote, a backtick or Chinese punctuation.
# openapi-fetch's `api.PATCH("/api/v1/cadres/{cadre_id}", ...)` in the TypeScript examples too.
_OPERATION = re.compile(
    r"\b(GET|POST|PUT|PATCH|DELETE|OPTIONS)(?:\s+|\(\")(/api/v1/[^\s`'\"?#)，。、；：（）]*)"
)
# How app/ defines a code: `code = "auth.invalid_grant"`, `code: ClassVar[str] = "internal_error"`,
# `ProblemFieldError(..., code="invalid_cursor")`, `code="validation_failed"` in a handler.
_APP_CODE = re.compile(r"\bcode\s*(?::\s*ClassVar\[str\]\s*)?=\s*\"([a-z][a-z0-9_.]*)\"")
# Where the guide names a code: in an answer's JSON, in its `type` URN, in a TypeScript `case`,
# as a backticked dotted code of a namespace the service uses (`export.not_ready`, not
# `response.headers`), and in the codes table's second column.
_JSON_CODE = re.compile(r"\"code\"\s*:\s*\"([^\"]+)\"")
_FIELD_ERRORS = re.compile(r"\"errors\"\s*:\s*\[(.*?)\]", re.DOTALL)
_TYPE_URN = re.compile(r"urn:cadre-training:problem:([a-z0-9_.]+)")
_CASE = re.compile(r"\bcase\s+\"([^\"]+)\"\s*:")
_DOTTED = re.compile(r"`([a-z][a-z_]*\.[a-z][a-z_]*)`")
_TABLE_ROW = re.compile(r"^\|\s*\d{3}\s*\|([^|]*)\|", re.MULTILINE)
_BACKTICKED = re.compile(r"`([^`]+)`")
# Backticked dotted names that are files, not codes.
_FILE_SUFFIXES = (".json", ".md", ".py", ".ts", ".js", ".csv", ".xlsx", ".yaml")


def contract_operations() -> dict[str, set[str]]:
    """Every path of the contract → its methods, upper case."""
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    methods = {"get", "post", "put", "patch", "delete", "head"}
    return {
        path: {method.upper() for method in item if method in methods}
        for path, item in contract["paths"].items()
    }


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile(
        "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts) + "$"
    )


def unknown_operations(text: str, operations: dict[str, set[str]]) -> list[str]:
    """The `METHOD /api/v1/...` of the text that no operation of the contract matches. A path
    may be a template (`{cadre_id}`) or a concrete one (an id in its place); OPTIONS (the CORS
    preflight) needs only the path, which every route answers."""
    templates = [(_template(path), methods) for path, methods in operations.items()]
    missing = []
    for method, path in _OPERATION.findall(text):
        path = path.rstrip(".,;:")
        matched = [methods for pattern, methods in templates if pattern.match(path)]
        if path in operations:  # a template named as it is: match it exactly, not by pattern
            matched = [operations[path]]
        if not matched or (method != "OPTIONS" and not any(method in m for m in matched)):
            missing.append(f"{method} {path}")
    return missing


def app_codes() -> set[str]:
    codes: set[str] = set()
    for source in APP.rglob("*.py"):
        codes.update(_APP_CODE.findall(source.read_text(encoding="utf-8")))
    return codes


def mentioned_codes(text: str) -> tuple[set[str], set[str]]:
    """(problem codes, field-error codes) the text names. A field error's code (in `errors[]`)
    may be pydantic's own (`greater_than_equal`) as well as one of app/."""
    field_errors: set[str] = set()
    for block in _FIELD_ERRORS.findall(text):
        field_errors.update(_JSON_CODE.findall(block))
    problems = set(_JSON_CODE.findall(_FIELD_ERRORS.sub("", text)))
    problems.update(_TYPE_URN.findall(text))
    problems.update(_CASE.findall(text))
    namespaces = {code.split(".")[0] for code in app_codes() if "." in code}
    problems.update(
        name
        for name in _DOTTED.findall(text)
        if not name.endswith(_FILE_SUFFIXES) and name.split(".")[0] in namespaces
    )
    for cell in _TABLE_ROW.findall(text):
        problems.update(_BACKTICKED.findall(cell))
    return problems, field_errors


def test_the_guide_exists_and_is_linked() -> None:
    assert GUIDE.is_file()
    assert "frontend.zh-CN.md" in (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    assert "docs/frontend.zh-CN.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_operation_the_guide_names_is_in_the_contract() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    named = _OPERATION.findall(text)
    assert len(named) >= 20, "the guide's worked requests were not found"
    assert unknown_operations(text, contract_operations()) == []


def test_every_code_the_guide_names_exists_in_the_code() -> None:
    problems, field_errors = mentioned_codes(GUIDE.read_text(encoding="utf-8"))
    defined = app_codes()
    pydantic_codes = set(typing.get_args(ErrorType))
    assert len(problems) >= 15, "the guide's problem codes were not found"
    assert sorted(problems - defined) == []
    assert sorted(field_errors - defined - pydantic_codes) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`GET /api/v1/cadres`", []),
        ("`GET /api/v1/cadres?limit=2`", []),
        ("PATCH /api/v1/cadres/01a22ac3-0f36-7032-8b44-045378734f04\n", []),
        ("`PATCH /api/v1/cadres/{cadre_id}`", []),
        ('api.PATCH("/api/v1/cadres/{cadre_id}", {', []),
        ('api.PUT("/api/v1/cadres/{cadre_id}", {', ["PUT /api/v1/cadres/{cadre_id}"]),
        ("OPTIONS /api/v1/cadres/01a2\n", []),
        ("`DELETE /api/v1/exports/{export_id}`", ["DELETE /api/v1/exports/{export_id}"]),
        ("`POST /api/v1/auth/logout`。", ["POST /api/v1/auth/logout"]),
        ("GET /api/v1/cadre/01a2\n", ["GET /api/v1/cadre/01a2"]),
    ],
)
def test_a_renamed_or_invented_operation_is_caught(text: str, expected: list[str]) -> None:
    assert unknown_operations(text, contract_operations()) == expected


def test_an_invented_code_is_caught() -> None:
    text = (
        '{"type":"urn:cadre-training:problem:auth.token_reused","code":"auth.token_reused",'
        '"errors":[{"pointer":"/body/year","code":"too_old"}]}\n'
        'case "session_gone":\n'
        "| 409 | `export.gone`、`conflict` | … |\n"
        "见 `exports.md` 与 `export.missing`。\n"
    )
    problems, field_errors = mentioned_codes(text)
    assert problems == {
        "auth.token_reused",
        "session_gone",
        "export.gone",
        "conflict",
        "export.missing",
    }
    assert field_errors == {"too_old"}
    assert problems - app_codes() == {
        "auth.token_reused",
        "session_gone",
        "export.gone",
        "export.missing",
    }


def test_every_link_inside_the_guide_names_a_heading() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    headings = {
        github_slug(heading)
        for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.MULTILINE)
    }
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert len(links) >= 9
    assert sorted(links - headings) == []
    assert (ROOT / "docs" / "exports.md").is_file()
    assert "](exports.md)" in text
