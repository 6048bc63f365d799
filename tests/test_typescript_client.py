"""The contract as a TypeScript front end meets it (docs/frontend.zh-CN.md, README "The contract").

- `npx openapi-typescript openapi/openapi.json`, default options, then `tsc --strict` over a
  consumer that calls every operation (tests/ts_consumer.py): typed parameters, every request body
  both minimal and full (each accepted by the server's own request model first), the success
  answer read;
- `redocly lint` with the repository's redocly.yaml: no error, no warning.

The tools are the exact versions in clients/typescript/package-lock.json, installed by `make
ts-tools` (`make test` runs it where npm exists). Without them the tests that need them are
skipped, and say so; under CI (`CI` set) they fail.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import API, create_cadre, create_org_unit
from tests.ts_consumer import Contract, consumer, request_bodies, request_models

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "openapi" / "openapi.json"
BIN = ROOT / "clients" / "typescript" / "node_modules" / ".bin"


def _tool(name: str) -> Path:
    tool = BIN / name
    if tool.exists() and shutil.which("node"):
        return tool
    reason = (
        f"no {tool.relative_to(ROOT)}: `make ts-tools` installs the TypeScript tools (needs node "
        "and npm)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the TypeScript consumer test)")
    pytest.skip(reason)


def _doc() -> dict[str, Any]:
    return json.loads(CONTRACT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # A guard against a hang only, never a measure of speed.
    return subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_request_fields_with_a_default_are_optional_in_the_contract() -> None:
    """openapi-typescript (defaultNonNullable, on by default) makes a property with `default`
    required: in a request body, a field the server fills in must carry its default in words."""
    doc = _doc()
    from app.openapi_defaults import request_only_schemas

    with_default = {
        f"{name}.{field}"
        for name in request_only_schemas(doc)
        for field, prop in doc["components"]["schemas"][name].get("properties", {}).items()
        if "default" in prop
    }
    assert with_default == set()
    status = doc["components"]["schemas"]["CadreUpsert"]["properties"]["status"]
    assert 'Default: `"active"`.' in status["description"]


def test_a_default_is_said_once_and_never_as_null() -> None:
    """`default: null` gets no words (an optional field's absence says it), and a description
    that already says its default is not told it twice."""
    from app.openapi_defaults import describe_request_defaults

    body = {"$ref": "#/components/schemas/Row"}
    doc: dict[str, Any] = {
        "paths": {
            "/rows": {
                "post": {"requestBody": {"content": {"j": {"schema": body}}}, "responses": {}}
            }
        },
        "components": {
            "schemas": {
                "Row": {
                    "properties": {
                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                        "status": {
                            "type": "string",
                            "default": "approved",
                            "description": "approved (default) or pending",
                        },
                        "lang": {"type": "string", "default": "zh-CN", "description": "zh-CN 默认"},
                        "format": {"type": "string", "default": "csv", "description": "The format"},
                    }
                }
            }
        },
    }
    describe_request_defaults(doc)
    props = doc["components"]["schemas"]["Row"]["properties"]
    assert not any("default" in p for p in props.values())
    assert "description" not in props["note"]
    assert props["status"]["description"] == "approved (default) or pending"
    assert props["lang"]["description"] == "zh-CN 默认"
    assert props["format"]["description"] == 'The format. Default: `"csv"`.'
    contract = _doc()["components"]["schemas"]
    for name in ("StudyLogImportRow", "ExportCreate"):
        for field, prop in contract[name]["properties"].items():
            text = prop.get("description", "")
            assert "`null`" not in text, (name, field)
            assert len(re.findall(r"(?i)\bdefault\b", text)) <= 1, (name, field, text)


def test_every_request_body_minimal_and_full_is_accepted_by_the_server_model() -> None:
    contract = Contract(_doc())
    bodies = list(request_bodies(contract, request_models()))
    with_body = {op["operationId"] for _, _, op in contract.operations() if "requestBody" in op}
    assert {op_id for op_id, _, _, _ in bodies} == with_body
    for op_id, media, suffix, body in bodies:
        if suffix == "Min" and media == "application/json" and isinstance(body, dict):
            schema = contract.resolve(
                next(op for _, _, op in contract.operations() if op["operationId"] == op_id)[
                    "requestBody"
                ]["content"][media]["schema"]
            )
            assert set(body) == set(schema.get("required", [])), op_id


def _tsc(*files: Path) -> subprocess.CompletedProcess[str]:
    return _run(
        _tool("tsc"),
        "--strict",
        "--noEmit",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        *files,
    )


def _compile(
    folder: Path, doc: dict[str, Any], replace: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Generate the types of `doc` with default options (once a folder), write the consumer
    (less the text `edit`), and type-check both under --strict."""
    generate = _tool("openapi-typescript")
    if not (folder / "node_modules").exists():
        # The consumer imports openapi-fetch (its types) from the pinned tools.
        (folder / "node_modules").symlink_to(BIN.parent, target_is_directory=True)
    if not (folder / "schema.d.ts").exists():
        contract = folder / "openapi.json"
        contract.write_text(json.dumps(doc), encoding="utf-8")
        made = _run(generate, contract, "--output", folder / "schema.d.ts")
        assert made.returncode == 0, made.stdout + made.stderr
    source = consumer(doc, request_models())
    if replace is not None:
        assert replace[0] in source
        source = source.replace(*replace)
    (folder / "consumer.ts").write_text(source, encoding="utf-8")
    return _tsc(folder / "consumer.ts", folder / "schema.d.ts")


def test_default_generation_compiles_a_consumer_of_every_operation(tmp_path: Path) -> None:
    doc = _doc()
    source = consumer(doc, request_models())
    for _, _, op in Contract(doc).operations():
        assert f"export function {op['operationId']}Answered(" in source
        assert f"export const {op['operationId']}Params:" in source
        assert f"export async function {op['operationId']}Calls(client: Client<paths>)" in source
    calls = sum(
        f'await client.{method.upper()}("{path}"' in source
        for path, method, _ in Contract(doc).operations()
    )
    assert calls == len(list(Contract(doc).operations()))
    checked = _compile(tmp_path, doc)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_call_on_a_path_the_contract_does_not_have_does_not_compile(tmp_path: Path) -> None:
    """The calls go through `paths[path][method]`: a wrong path or method is a compile error."""
    doc = _doc()
    whole = _compile(tmp_path, doc)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    wrong = _compile(
        tmp_path,
        doc,
        replace=(
            'client.PATCH("/api/v1/cadres/{cadre_id}"',
            'client.PUT("/api/v1/cadres/{cadre_id}"',
        ),
    )
    assert wrong.returncode != 0
    assert "consumer.ts" in wrong.stdout, wrong.stdout


def test_a_typod_import_row_does_not_compile(tmp_path: Path) -> None:
    """`StudyLogImport.items` are `StudyLogImportRow`s in the contract (the server still takes
    any row and reports a bad one): a row with a misspelt field is a compile error, where
    `(StudyLogImportRow | unknown)[]` took anything."""
    doc = _doc()
    items = doc["components"]["schemas"]["StudyLogImport"]["properties"]["items"]
    assert items["items"] == {"$ref": "#/components/schemas/StudyLogImportRow"}
    source = consumer(doc, request_models())
    line = next(
        line
        for line in source.splitlines()
        if line.startswith("export const importStudyLogsBodyFull")
    )
    assert '"title": ' in line
    typo = _compile(tmp_path, doc, replace=(line, line.replace('"title": ', '"titel": ')))
    assert typo.returncode != 0
    assert "titel" in typo.stdout, typo.stdout


def _guide_fetch_example() -> str:
    """The guide's openapi-fetch example: the ```ts block after the sentence that names it."""
    guide = (ROOT / "docs" / "frontend.zh-CN.md").read_text(encoding="utf-8")
    after = guide.split("生成的类型可配合 `openapi-fetch` 使用", 1)[1]
    return after.split("```ts\n", 1)[1].split("```", 1)[0]


def test_the_guide_openapi_fetch_example_compiles(tmp_path: Path) -> None:
    """docs/frontend.zh-CN.md's openapi-fetch example, as printed, under tsc --strict against
    the default generation and the pinned openapi-fetch; the application's own names (id,
    etag, token, handle) declared ahead of it."""
    doc = _doc()
    _compile(tmp_path, doc)
    (tmp_path / "api.d.ts").write_text(
        (tmp_path / "schema.d.ts").read_text(encoding="utf-8"), encoding="utf-8"
    )
    example = _guide_fetch_example()
    assert 'import createClient from "openapi-fetch";' in example
    prelude = (
        "declare const id: string;\ndeclare const etag: string;\ndeclare const token: string;\n"
        "declare function handle(code: string): void;\n"
    )
    imports = [line for line in example.splitlines() if line.startswith("import ")]
    rest = [line for line in example.splitlines() if not line.startswith("import ")]
    source = "\n".join(imports) + "\n" + prelude + "\n".join(rest) + "\nexport {};\n"
    (tmp_path / "guide.ts").write_text(source, encoding="utf-8")
    checked = _tsc(tmp_path / "guide.ts", tmp_path / "api.d.ts")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # A wrong type in the body does not compile. (A misspelt extra field would: openapi-fetch's
    # body is not checked for excess properties, as the guide says.)
    broken = source.replace('body: { position: "县长" }', "body: { position: 7 }")
    assert broken != source
    (tmp_path / "guide.ts").write_text(broken, encoding="utf-8")
    assert _tsc(tmp_path / "guide.ts", tmp_path / "api.d.ts").returncode != 0


def test_the_problem_switch_is_checked_for_completeness_when_code_is_an_enum(
    tmp_path: Path,
) -> None:
    """`code` is an enum (`ProblemCode`, every code of app.errors.problem_codes()): the
    consumer's switch over it compiles, and one that misses a code does not."""
    doc = _doc()
    code = doc["components"]["schemas"]["Problem"]["properties"]["code"]
    assert code == {"$ref": "#/components/schemas/ProblemCode"}
    assert doc["components"]["schemas"]["ProblemCode"]["enum"]
    source = consumer(doc, request_models())
    assert "const unhandled: never = code;" in source
    whole = _compile(tmp_path, doc)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    case = next(line for line in source.splitlines() if line.lstrip().startswith("case "))
    missing = _compile(tmp_path, doc, replace=(case + "\n", ""))
    assert missing.returncode != 0
    assert "error TS2322" in missing.stdout, missing.stdout


def test_the_installed_tools_are_the_pinned_ones() -> None:
    """A stale node_modules would prove the contract against other versions: `make ts-tools`
    installs again when the lock is newer."""
    _tool("tsc")
    folder = ROOT / "clients" / "typescript"
    pinned = json.loads((folder / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    for name, version in pinned.items():
        installed = folder / "node_modules" / name / "package.json"
        assert json.loads(installed.read_text(encoding="utf-8"))["version"] == version, name


def test_no_rule_is_switched_off_for_the_whole_document() -> None:
    """Exceptions are made per path in .redocly.lint-ignore.yaml, with their reason; a rule
    switched off in redocly.yaml would hide every new case too."""
    config = (ROOT / "redocly.yaml").read_text(encoding="utf-8")
    assert ": off" not in config
    ignored = (ROOT / ".redocly.lint-ignore.yaml").read_text(encoding="utf-8")
    assert (
        ignored.count("'#/paths/~1api~1v1~1cadres~1{cadre_id}~1") == 7
    )  # credits, compliance, archive, certificates, qualifications, promotion-check, calendar-feed
    assert ignored.count("'#/paths/~1api~1v1~1certificates~1") == 1


def test_redocly_lint_finds_nothing() -> None:
    lint = _run(
        _tool("redocly"), "lint", CONTRACT, "--config", ROOT / "redocly.yaml", "--format", "json"
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    totals = json.loads(lint.stdout)["totals"]
    assert (totals["errors"], totals["warnings"]) == (0, 0), lint.stdout


async def test_an_hr_id_named_like_a_cadre_subpath_finds_its_cadre(
    client: httpx.AsyncClient,
) -> None:
    """Why .redocly.lint-ignore.yaml lets four paths past no-ambiguous-paths:
    `/cadres/by-hr-id/compliance` is the cadre whose hr_id is `compliance`, never the compliance
    of a cadre called `by-hr-id`."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], hr_id="compliance")
    r = await client.get(f"{API}/cadres/by-hr-id/compliance")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == cadre["id"]
    r = await client.get(f"{API}/cadres/by-hr-id/archive")
    assert (r.status_code, r.json()["code"]) == (404, "cadre.not_found"), r.text
    r = await client.get(f"{API}/cadres/by-hr-id/certificates")
    assert (r.status_code, r.json()["code"]) == (404, "cadre.not_found"), r.text
    r = await client.get(f"{API}/cadres/by-hr-id/qualifications")
    assert (r.status_code, r.json()["code"]) == (404, "cadre.not_found"), r.text
    r = await client.get(f"{API}/cadres/by-hr-id/promotion-check")
    assert (r.status_code, r.json()["code"]) == (404, "cadre.not_found"), r.text
