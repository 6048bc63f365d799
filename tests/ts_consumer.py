"""A TypeScript consumer of the contract, written from it: tests/test_typescript_client.py
compiles it under `tsc --strict` against the types that `openapi-typescript` generates with its
default options.

For every operation it types the path, query and header parameters (the required ones alone,
then all of them), each request body twice — the minimal one (required fields only) and a full
one (every field, at every depth) — and reads the success answer; then it calls the operation
through an openapi-fetch client (`client.GET/POST/…(path, { params, body })`, i.e.
`paths[path][method]`) with the minimal and with the full parameters and body, reading `data`
and `error` (a Problem). The bodies are not made up for the compiler: each is checked first by
the server's own request model (`model_validate`; for the token endpoints, the model FastAPI
builds of their form fields), so "it compiles" means "a minimal and a full valid body per
operation compile". Where the Problem `code` is an enum, a `switch` over
it ends in an exhaustiveness check (`const unhandled: never = code`).
"""

import json
import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from tests.factories import id_number

_REF = "#/components/schemas/"
_METHODS = ("get", "post", "put", "patch", "delete")
_UUID = str(uuid.UUID(int=1))

# The values a generic value cannot be: a resident ID number has a checksum and must agree with
# the birth date and gender beside it; a user's password has rules of its own; a webhook's URL
# must be https. Keyed by property name; the rest comes from the schema.
_FIELD_VALUES: dict[str, Any] = {
    "id_number": id_number(date(1980, 5, 17)),
    "birth_date": "1980-05-17",
    "gender": "male",
    "password": "Correct-Horse-7-Battery",
    "url": "https://hooks.example.org/cadre-training",
    "grant_type": "password",
}
# A full body has every field that can stand together: where two exclude each other (a user is
# bound to a unit or to a cadre, by its role), the one left out is dropped here (None), and the
# values that must agree are set.
_DROP = None
_FULL_BODY: dict[str, dict[str, Any]] = {
    # A thesis is handed in with a session or alone with a study log, never both.
    "ThesisCreate": {"study_log_id": _DROP},
    "UserCreate": {"role": "org_admin", "cadre_id": _DROP},
    "UserUpdate": {"role": "org_admin", "cadre_id": _DROP},
    "CadreSync": {"mode": "snapshot"},
    "OrgUnitSync": {"mode": "snapshot"},
    # A part's window ends after it starts; minutes missed go with a late mark, not a QR one.
    "SessionPartsReplace": {
        "parts": [
            {
                "part_date": "2026-01-05",
                "period": "morning",
                "credit_hours": "4",
                "start_time": "08:30",
                "end_time": "11:30",
            }
        ]
    },
    "AttendanceBulk": {
        "marks": [
            {
                "enrollment_id": _UUID,
                "session_part_id": _UUID,
                "mark": "late",
                "method": "card",
                "minutes_missed": 5,
            }
        ]
    },
}
_STRING_CANDIDATES = ("a", "A1", "x.example", "2026-01-01", "1", "08:00")
_FORMATS = {
    "uuid": _UUID,
    "date": "2026-01-05",
    "date-time": "2026-01-05T08:00:00+08:00",
    "email": "someone@example.org",
    "uri": "https://hooks.example.org/cadre-training",
}


class Contract:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.schemas: dict[str, Any] = doc["components"]["schemas"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].removeprefix(_REF)]
        return schema

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.doc["paths"].items():
            for method in _METHODS:
                if method in item:
                    yield path, method, item[method]

    def parameters(self, op: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for p in op.get("parameters", []):
            if "$ref" in p:
                name = p["$ref"].rsplit("/", 1)[-1]
                p = self.doc["components"]["parameters"][name]
            out.append(p)
        return out

    def value(self, schema: dict[str, Any], *, full: bool, name: str = "") -> Any:
        """A valid value of `schema`: with `full`, every property of every object."""
        if name in _FIELD_VALUES:
            return _FIELD_VALUES[name]
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if self.resolve(s).get("type") != "null"]
                return self.value(options[0], full=full, name=name)
        if "allOf" in schema:
            return self.value(schema["allOf"][0], full=full, name=name)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            required = set(schema.get("required", []))
            return {
                key: self.value(sub, full=full, name=key)
                for key, sub in schema.get("properties", {}).items()
                if full or key in required
            }
        if kind == "array":
            count = max(schema.get("minItems", 0), 1 if full else 0)
            item = schema.get("items", {})
            if "anyOf" in item and not full:
                return []
            return [self.value(item, full=full) for _ in range(count)]
        if kind == "boolean":
            return True
        if kind in ("integer", "number"):
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
            low = low + 1 if "exclusiveMinimum" in schema else low
            return max(int(low), 1)
        if kind == "string":
            return self._string(schema)
        return "a"

    def _string(self, schema: dict[str, Any]) -> str:
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        pattern = schema.get("pattern")
        low = int(schema.get("minLength", 0))
        for text in _STRING_CANDIDATES:
            text = text * max(1, -(-low // len(text)))
            if pattern is None or re.search(pattern, text):
                return text
        raise AssertionError(f"no value for the string schema {schema}")


def _ts(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=None)


def _ident(op_id: str, suffix: str) -> str:
    return f"{op_id}{suffix}"


def _success(op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    status = min(s for s in op["responses"] if s.startswith("2"))
    return status, op["responses"][status]


def _read_answer(contract: Contract, op_id: str, op: dict[str, Any]) -> list[str]:
    status, response = _success(op)
    answer = f'operations["{op_id}"]["responses"][{status}]'
    content = response.get("content", {})
    if not content:
        return [f"export function {op_id}Answered(answer: {answer}): unknown {{ return answer; }}"]
    media = "application/json" if "application/json" in content else next(iter(content))
    typed = f'{answer}["content"]["{media}"]'
    schema = contract.resolve(content[media].get("schema", {}))
    required = schema.get("required", []) if schema.get("type") == "object" else []
    read = f"answer.{required[0]}" if required and required[0].isidentifier() else "answer"
    return [f"export function {op_id}Answered(answer: {typed}): unknown {{ return {read}; }}"]


def _param_groups(contract: Contract, op: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """The parameters of `op` by place (path, query, header): the required ones alone, or
    (`full`) all of them but the deprecated aliases, which a new client does not send."""
    groups: dict[str, dict[str, Any]] = {}
    for p in contract.parameters(op):
        if p["in"] not in ("path", "query", "header"):
            continue
        if p.get("required") or (full and not p.get("deprecated")):
            groups.setdefault(p["in"], {})[p["name"]] = contract.value(
                p.get("schema", {}), full=True, name=p["name"]
            )
    return groups


def _parameters(contract: Contract, op_id: str, op: dict[str, Any]) -> list[str]:
    lines = []
    for suffix, full in (("Params", False), ("ParamsFull", True)):
        groups = _param_groups(contract, op, full=full)
        lines.append(
            f"export const {_ident(op_id, suffix)}: "
            f'operations["{op_id}"]["parameters"] = {_ts(groups)};'
        )
    return lines


def _calls(
    contract: Contract,
    path: str,
    method: str,
    op: dict[str, Any],
    bodies: list[tuple[str, str, Any]],
) -> list[str]:
    """Calls of the operation through an openapi-fetch client (`paths[path][method]`): the
    minimal parameters with the minimal body, all the parameters with the full body (and with
    every other media type's body), reading `data` of the success answer and `error` as a
    Problem."""
    op_id = op["operationId"]
    _, response = _success(op)
    content = response.get("content", {})
    read = "data"
    if list(content) == ["application/json"]:
        schema = contract.resolve(content["application/json"].get("schema", {}))
        required = schema.get("required", []) if schema.get("type") == "object" else []
        if required and required[0].isidentifier():
            read = f"data.{required[0]}"
    # Every error answer is a Problem, but the readiness probe's 503 (its checks, as JSON).
    problems = all(
        set(answer.get("content", {})) <= {"application/problem+json"}
        for code, answer in op["responses"].items()
        if not code.startswith("2")
    )
    read_error = "problemCode(error)" if problems else "error"
    plans: list[tuple[bool, Any]] = []
    if bodies:
        plans += [(suffix == "Full", body) for _, suffix, body in bodies]
    else:
        plans += [(False, _NO_BODY), (True, _NO_BODY)]
    lines = [f"export async function {op_id}Calls(client: Client<paths>): Promise<unknown[]> {{"]
    lines.append("    const seen: unknown[] = [];")
    for full, body in plans:
        init: list[str] = []
        groups = _param_groups(contract, op, full=full)
        if groups:
            init.append(f"params: {_ts(groups)}")
        if body is not _NO_BODY:
            init.append(f"body: {_ts(body)}")
        options = f", {{ {', '.join(init)} }}" if init else ""
        lines += [
            "    {",
            f'        const {{ data, error }} = await client.{method.upper()}("{path}"{options});',
            f"        if (error) seen.push({read_error});",
            f"        else seen.push({read});",
            "    }",
        ]
    lines += ["    return seen;", "}"]
    return lines


_NO_BODY = object()


def _body_model_name(schema: dict[str, Any]) -> str:
    """The component a body's schema names: itself, or the one of `X | null` (an optional
    body)."""
    refs = [o["$ref"] for o in schema.get("anyOf", [schema]) if "$ref" in o]
    assert len(refs) == 1, f"a request body without a named schema: {schema}"
    return str(refs[0]).removeprefix(_REF)


def request_bodies(
    contract: Contract, models: dict[str, type[BaseModel]]
) -> Iterator[tuple[str, str, str, Any]]:
    """(operationId, media type, "Min" or "Full", body) for every request body, each accepted
    by the server's own request model."""
    for _, _, op in contract.operations():
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            if media == "text/csv":
                # The CSV twin of the JSON rows (the component the JSON body's items name): a
                # header and one full row.
                rows = contract.resolve(op["requestBody"]["content"]["application/json"]["schema"])
                row_name = rows["properties"]["items"]["items"]["$ref"].removeprefix(_REF)
                row = contract.value({"$ref": _REF + row_name}, full=True)
                check(models, row_name, row)
                csv = ",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n"
                yield op["operationId"], media, "Full", csv
                continue
            schema = content.get("schema", {})
            name = _body_model_name(schema)
            for suffix, full in (("Min", False), ("Full", True)):
                body = contract.value(schema, full=full)
                if full:
                    for key, value in _FULL_BODY.get(name, {}).items():
                        if value is _DROP:
                            body.pop(key)
                        else:
                            body[key] = value
                check(models, name, body)
                yield op["operationId"], media, suffix, body


def check(models: dict[str, type[BaseModel]], name: str, body: Any) -> None:
    model = models.get(name)
    if model is None:
        raise AssertionError(f"no request model named {name}")
    try:
        model.model_validate(body)
    except ValidationError as e:
        raise AssertionError(f"{name} refuses {body}: {e}") from e


def _problem_switch(contract: Contract) -> list[str]:
    problem = contract.schemas.get("Problem", {})
    code = problem.get("properties", {}).get("code")
    if code is None:
        return []
    options = code.get("anyOf", [code])
    enums = [contract.resolve(o) for o in options if "enum" in contract.resolve(o)]
    if not enums:
        return []
    values = sorted({v for e in enums for v in e["enum"]})
    lines = [
        'export function problemKind(problem: components["schemas"]["Problem"]): string {',
        "    const code = problem.code;",
        '    if (code === undefined || code === null) return "";',
        "    switch (code) {",
    ]
    lines += [f"        case {_ts(v)}: return {_ts(v)};" for v in values]
    lines += [
        "        default: {",
        "            const unhandled: never = code;",
        "            return unhandled;",
        "        }",
        "    }",
        "}",
    ]
    return lines


def consumer(doc: dict[str, Any], models: dict[str, type[BaseModel]]) -> str:
    contract = Contract(doc)
    lines = [
        "// Written by tests/ts_consumer.py from openapi/openapi.json: do not edit.",
        'import type { Client } from "openapi-fetch";',
        'import type { components, operations, paths } from "./schema";',
        "",
        "// Every error answer is a Problem (application/problem+json).",
        'export function problemCode(problem: components["schemas"]["Problem"]): unknown {',
        "    return problem.code;",
        "}",
        "",
    ]
    bodies: dict[str, list[tuple[str, str, Any]]] = {}
    for op_id, media, suffix, body in request_bodies(contract, models):
        bodies.setdefault(op_id, []).append((media, suffix, body))
    for path, method, op in contract.operations():
        op_id = op["operationId"]
        lines.append(f"// {method.upper()} {path}")
        lines += _parameters(contract, op_id, op)
        for media, suffix, body in bodies.get(op_id, []):
            kind = "Csv" if media == "text/csv" else ""
            lines.append(
                f"export const {_ident(op_id, kind + 'Body' + suffix)}: "
                f'NonNullable<operations["{op_id}"]["requestBody"]>["content"]["{media}"] = '
                f"{_ts(body)};"
            )
        lines += _read_answer(contract, op_id, op)
        lines += _calls(contract, path, method, op, bodies.get(op_id, []))
        lines.append("")
    lines += _problem_switch(contract)
    return "\n".join(lines) + "\n"


def request_models() -> dict[str, type[BaseModel]]:
    """The server's request models by their schema names: every subclass of InputModel, and
    the models FastAPI makes of the token endpoints' form fields (named as the contract names
    them, app.openapi)."""
    from fastapi.routing import APIRoute

    from app.main import create_app  # noqa: F401  (imports every domain's schemas)
    from app.openapi import FORM_SCHEMAS
    from app.schema_types import InputModel
    from app.user.router import token_router

    found: dict[str, type[BaseModel]] = {}
    todo: list[type[BaseModel]] = [InputModel]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo += cls.__subclasses__()
    for route in token_router.routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            form = route.body_field.field_info.annotation
            assert isinstance(form, type)
            assert issubclass(form, BaseModel)
            found[FORM_SCHEMAS[form.__name__]] = form
    return found
