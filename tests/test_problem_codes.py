"""Problem codes in the contract: `ProblemCode` is every code of the AppError classes, each error
response lists the codes its operation answers with at its status, and the suite's answers are
held to those lists (tests/problem_ledger.py)."""

import ast
import importlib
import pkgutil
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

import app as app_package
from app.errors import PROBLEM_MEDIA_TYPE, AppError, problem_codes
from tests.problem_ledger import METHODS, ProblemLedger

APP_DIR = Path(app_package.__file__).resolve().parent


def _every_app_error() -> set[type[AppError]]:
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        importlib.import_module(module.name)
    found: set[type[AppError]] = set()
    pending = [AppError]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def _error_responses(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (op["operationId"], status, response)
        for path, item in doc["paths"].items()
        if not path.startswith("/health")
        for method, op in item.items()
        if method in METHODS
        for status, response in op["responses"].items()
        if status.startswith(("4", "5"))
    ]


def test_problem_code_is_every_code_of_every_error_class(app: FastAPI) -> None:
    # Every module of app/ imported: an error class the application never imports still counts.
    enum = app.openapi()["components"]["schemas"]["ProblemCode"]["enum"]
    assert set(enum) == {cls.code for cls in _every_app_error()}
    assert set(enum) == set(problem_codes())
    assert enum == sorted(enum)


def test_problem_code_is_what_problem_code_refers_to(app: FastAPI) -> None:
    problem = app.openapi()["components"]["schemas"]["Problem"]
    assert problem["properties"]["code"] == {"$ref": "#/components/schemas/ProblemCode"}
    assert "code" in problem["required"]


def test_every_error_response_lists_its_codes_and_narrows_code_to_them(app: FastAPI) -> None:
    doc = app.openapi()
    known = set(doc["components"]["schemas"]["ProblemCode"]["enum"])
    responses = _error_responses(doc)
    assert len(responses) > 500
    for op_id, status, response in responses:
        codes = response["x-problem-codes"]
        assert codes, (op_id, status)
        assert set(codes) <= known, (op_id, status, codes)
        assert codes == sorted(set(codes)), (op_id, status)
        for code in codes:
            assert f"`{code}`" in response["description"], (op_id, status, code)
        schema = response["content"][PROBLEM_MEDIA_TYPE]["schema"]
        assert schema["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
        narrowed = schema["allOf"][1]
        assert narrowed["required"] == ["code"]
        assert narrowed["properties"]["code"] == {"type": "string", "enum": codes}


def test_each_status_answers_with_codes_of_that_status(app: FastAPI) -> None:
    # A code declared at a status its error class never answers with would mislead a client.
    by_code = problem_codes()
    by_status: dict[str, set[int]] = {}
    for cls in _every_app_error():
        by_status.setdefault(cls.code, set()).add(cls.status)
    for op_id, status, response in _error_responses(app.openapi()):
        for code in response["x-problem-codes"]:
            assert int(status) in by_status[code], (op_id, status, code, by_code[code])


def test_handlers_name_codes_by_their_class_never_by_a_string() -> None:
    # `problem_response(..., code="...")` would answer with a code ProblemCode may not list.
    offenders = []
    for source in APP_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name != "problem_response":
                continue
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    offenders.append(f"{source.relative_to(APP_DIR)}:{node.lineno}")
    assert offenders == []


async def test_the_ledger_flags_a_code_its_operation_does_not_declare(app: FastAPI) -> None:
    ledger = ProblemLedger()

    def body(code: str) -> bytes:
        return httpx.Response(200, json={"code": code}).content

    ledger.observe(app, "getCadreByHrId", 404, body("cadre.not_found"))
    assert ledger.undeclared == {}
    ledger.observe(app, "getCadreByHrId", 404, body("study_log.not_found"))
    ledger.observe(app, "getCadreByHrId", 410, body("cadre.not_found"))
    assert set(ledger.undeclared) == {
        ("getCadreByHrId", 404, "study_log.not_found"),
        ("getCadreByHrId", 410, "cadre.not_found"),
    }
    assert ledger.seen == 3
