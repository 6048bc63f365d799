"""The README's shell examples work as written (issue 12, "the first ten minutes"): a new user
pastes them after `make run`. Each `curl` names an operation the contract has, with the method it
uses; no request carries a placeholder (`...`) to fill in; every variable an example uses is set
in the same example; and one finds the caller's own org unit through `/auth/me`.

tests/test_make_run.py runs them, as written, against the `make run` launcher and its demo data;
here, without a server, they are checked against the contract, which a test holds equal to the
code (tests/test_contract.py)."""

import json
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
CONTRACT = json.loads((REPO / "openapi" / "openapi.json").read_text(encoding="utf-8"))
BASES = ("$API", "http://127.0.0.1:8000/api/v1")


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, re.DOTALL)


def _commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined and comments dropped."""
    joined = block.replace("\\\n", " ")
    return [line.split(" #")[0].strip() for line in joined.splitlines() if line.strip()]


def _curls() -> list[str]:
    return [
        part
        for block in _blocks()
        for command in _commands(block)
        if not command.startswith("#")
        for part in re.split(r"\$\(|\||\)", command)
        if part.strip().startswith("curl ")
    ]


def _request(curl: str) -> tuple[str, str]:
    """(method, path of the contract's form, /api/v1/...) of one curl command."""
    words = shlex.split(curl.strip(), posix=True)
    method = "GET"
    if "-X" in words:
        method = words[words.index("-X") + 1]
    elif "-d" in words or "--data" in words:
        method = "POST"
    urls = [w for w in words if w.startswith(BASES)]
    assert len(urls) == 1, curl
    url = urls[0]
    for base in BASES:
        if url.startswith(base):
            url = "/api/v1" + url[len(base) :]
    return method, url.split("?")[0]


def _operation(method: str, path: str) -> bool:
    for template, operations in CONTRACT["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in operations:
            return True
    return False


CURLS = _curls()


def test_the_readme_has_curl_examples() -> None:
    assert len(CURLS) >= 6


@pytest.mark.parametrize("curl", CURLS)
def test_each_curl_example_names_an_operation_of_the_contract(curl: str) -> None:
    method, path = _request(curl)
    assert _operation(method, path), f"{method} {path} is not in openapi/openapi.json: {curl}"


@pytest.mark.parametrize("curl", CURLS)
def test_no_curl_example_has_a_placeholder_to_fill_in(curl: str) -> None:
    assert "..." not in curl, curl


@pytest.mark.parametrize("block", [b for b in _blocks() if "curl " in b])
def test_every_variable_an_example_uses_is_set_in_it(block: str) -> None:
    commands = _commands(block)
    defined = {m for c in commands for m in re.findall(r"^(?:export )?([A-Z_][A-Z0-9_]*)=", c)}
    used = {m for c in commands if not c.startswith("#") for m in re.findall(r"\$([A-Z_]+)", c)}
    assert used <= defined, f"used but never set: {sorted(used - defined)}\n{block}"


def test_an_example_finds_the_own_org_unit_through_auth_me() -> None:
    me = [c for c in CURLS if _request(c) == ("GET", "/api/v1/auth/me")]
    assert me
    assert any("org_unit_id=$UNIT" in c for c in CURLS)
