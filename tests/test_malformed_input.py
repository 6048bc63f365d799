"""Malformed input to the bulk endpoints (the study-log import, JSON and CSV, and the cadre and
org-unit syncs): six inputs that answered 500 (issue 11), and a fuzz test over the same classes
of value. A refused request is a 4xx problem+json and changes nothing; a request that is read
answers a row-by-row report."""

import json
import re
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import API, create_cadre, create_org_unit
from tests.test_imports import DEEP, row
from tests.test_platform import assert_problem
from tests.test_sync import item

IMPORT = f"{API}/imports/study-logs"
SYNC_CADRES = f"{API}/sync/cadres"
SYNC_ORG_UNITS = f"{API}/sync/org-units"
JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
UNICODE = "string_unicode"


def ascii_json(value: Any) -> bytes:
    """JSON as a client that escapes everything writes it: a lone surrogate as `\\udfff`."""
    return json.dumps(value).encode()


async def footprint(db_conn: AsyncConnection) -> tuple[int, ...]:
    """What a write would change: the records, their versions, and the change feed the database
    writes for every write."""
    result = await db_conn.execute(
        text(
            "SELECT (SELECT count(*) FROM study_log), "
            "(SELECT count(*) FROM cadre), (SELECT coalesce(sum(version), 0) FROM cadre), "
            "(SELECT count(*) FROM org_unit), (SELECT coalesce(sum(version), 0) FROM org_unit), "
            "(SELECT count(*) FROM change_event)"
        )
    )
    return tuple(result.one())


def assert_refused(r: httpx.Response, *pointers: str, code: str = UNICODE) -> None:
    body = assert_problem(r, 422, "validation_failed")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [(p, code) for p in pointers]


# 1. --------------------------------------------------------------------------------------------


async def test_an_import_nested_100000_deep_is_400(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    # Closed by the JSON depth bound (app.limits) before this issue; it stands here too.
    before = await footprint(db_conn)
    r = await client.post(IMPORT, content=DEEP, headers=JSON)
    assert_problem(r, 400, "bad_request")
    assert await footprint(db_conn) == before


# 2. --------------------------------------------------------------------------------------------


async def test_an_import_row_with_a_nul_is_422_and_imports_nothing(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    before = await footprint(db_conn)
    items = [row(cadre["hr_id"]), row(cadre["hr_id"], title="课程", note="nul\u0000")]
    r = await client.post(IMPORT, content=ascii_json({"items": items}), headers=JSON)
    assert_refused(r, "/body/items/1/note", code="string_nul")
    # The same in a CSV cell, pointed at by its file line.
    csv = (
        b"hr_id,kind,title,start_date,end_date,hours\r\n"
        + cadre["hr_id"].encode()
        + b",lecture,ok,2019-03-04,2019-03-04,1\r\n"
        + cadre["hr_id"].encode()
        + b",lecture,a\x00b,2019-03-04,2019-03-04,1\r\n"
    )
    r = await client.post(IMPORT, content=csv, headers=CSV)
    assert_refused(r, "/rows/3/title", code="string_nul")
    assert await footprint(db_conn) == before


# 3. --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "provider", "note", "hr_id", "kind", "status", "id"])
async def test_an_import_row_with_a_lone_surrogate_is_422_and_imports_nothing(
    client: httpx.AsyncClient, db_conn: AsyncConnection, field: str
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    before = await footprint(db_conn)
    items = [row(cadre["hr_id"]), {**row(cadre["hr_id"], title="课程"), field: "a\udfffb"}]
    r = await client.post(IMPORT, content=ascii_json({"items": items}), headers=JSON)
    assert_refused(r, f"/body/items/1/{field}")
    assert await footprint(db_conn) == before


async def test_a_lone_surrogate_in_a_field_name_points_at_its_row(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    items = [{**row(cadre["hr_id"]), "\udfff": 1}]
    r = await client.post(IMPORT, content=ascii_json({"items": items}), headers=JSON)
    assert_refused(r, "/body/items/0")


# 4. --------------------------------------------------------------------------------------------


async def test_an_encoded_surrogate_in_the_raw_bytes_is_422(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    before = await footprint(db_conn)
    good = json.dumps(row(cadre["hr_id"], title="PLACE")).encode()
    # The import reads strict UTF-8, JSON or CSV: the body is unreadable as a whole.
    r = await client.post(
        IMPORT,
        content=b'{"items": [' + good.replace(b"PLACE", b"a\xed\xbf\xbfb") + b"]}",
        headers=JSON,
    )
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["pointer"] == "/body"
    # The syncs read JSON as every other endpoint does (an encoded surrogate is decoded as a lone
    # one), and point at the field.
    raw = ascii_json({"items": [item("HRX1", unit["code"], name="PLACE")]})
    r = await client.post(
        SYNC_CADRES, content=raw.replace(b"PLACE", b"a\xed\xbf\xbfb"), headers=JSON
    )
    assert_refused(r, "/body/items/0/name")
    assert await footprint(db_conn) == before


# 5. --------------------------------------------------------------------------------------------


async def test_a_cadre_sync_with_a_lone_surrogate_in_an_hr_id_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    before = await footprint(db_conn)
    items = [item("HRGOOD1", unit["code"]), item("HR\udfff", unit["code"])]
    for dry_run in (False, True):
        r = await client.post(
            SYNC_CADRES, content=ascii_json({"items": items, "dry_run": dry_run}), headers=JSON
        )
        assert_refused(r, "/body/items/1/hr_id")
    assert await footprint(db_conn) == before


# 6. --------------------------------------------------------------------------------------------


async def test_an_org_unit_sync_with_a_lone_surrogate_in_a_code_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    before = await footprint(db_conn)
    items = [
        {"code": "OKSYNC1", "name": "滁州市", "kind": "city"},
        {"code": "OU\udfff", "name": "x", "kind": "city"},
        {"code": "OKSYNC2", "name": "x", "kind": "county", "parent_code": "a\u0000"},
    ]
    r = await client.post(SYNC_ORG_UNITS, content=ascii_json({"items": items}), headers=JSON)
    body = assert_problem(r, 422, "validation_failed")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        ("/body/items/1/code", UNICODE),
        ("/body/items/2/parent_code", "string_nul"),
    ]
    assert await footprint(db_conn) == before


async def test_the_other_endpoints_answer_the_same_input_as_before(
    client: httpx.AsyncClient,
) -> None:
    """A single body refuses the same text through its string types, as it did (422, pointing at
    the field): the bulk endpoints now agree with it."""
    r = await client.post(
        f"{API}/org-units",
        content=ascii_json({"code": "OU\udfff", "name": "x", "kind": "city"}),
        headers=JSON,
    )
    assert_refused(r, "/body/code")
    r = await client.post(
        f"{API}/org-units",
        content=ascii_json({"code": "OU1", "name": "a\u0000", "kind": "city"}),
        headers=JSON,
    )
    body = assert_problem(r, 422, "validation_failed")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        ("/body/name", "string_pattern_mismatch")
    ]


async def test_a_field_name_is_escaped_in_its_pointer(client: httpx.AsyncClient) -> None:
    # RFC 6901: "~" and "/" in a name are written ~0 and ~1.
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.post(IMPORT, json={"items": [{**row(cadre["hr_id"]), "a/b~": 1}]})
    assert r.json()["problems"][0]["pointer"] == "/body/items/0/a~1b~0"
    r = await client.post(SYNC_ORG_UNITS, json={"items": [{"code": "X", "a/b": 1}]})
    pointers = {e["pointer"] for e in r.json()["results"][0]["errors"]}
    assert "/body/items/0/a~1b" in pointers


# The fuzz test ---------------------------------------------------------------------------------

# Values a client should never send, by class. JSON cannot write some of them (a huge number's
# digits, NaN, raw bytes that are not UTF-8): those are spliced into the encoded body.
_RAW = "\x01raw:{}\x01"
RAW_JSON = [
    "1" + "0" * 5000,  # more digits than Python reads as an int by default
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-0",
    "1.0e-400",
    "123456789012345678901234567890.5",
    "[" * 60 + "]" * 60,  # deep, yet under the body's depth bound
    "[" * 2000 + "]" * 2000,  # over it
]
RAW_STRING_BYTES = [b"\xff", b"\xed\xbf\xbf", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80"]
ODD_TEXT = ["", " ", "\n", "/~", "a/b~c", "\U0001f600", "\u202e", "\ufeff", "\x07", "null"]
_around = st.text(alphabet="ab0/~é科", max_size=3)


def _with(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(_around, inner, _around).map("".join)


# One strategy a class, each as likely as the others.
CLASSES: dict[str, st.SearchStrategy[Any]] = {
    "nul": _with(st.just("\x00")),
    "lone surrogate": _with(st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])),
    "raw bytes, not UTF-8": st.sampled_from(
        [_RAW.format(f"b{n}") for n in range(len(RAW_STRING_BYTES))]
    ),
    "raw JSON: huge, NaN, deep": st.sampled_from([_RAW.format(n) for n in range(len(RAW_JSON))]),
    "wrong type": st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(2**70), max_value=2**70),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=4,
    ),
    "very long": st.sampled_from([("x", 70_000), ("科", 5_000), ("0", 300)]).map(
        lambda kv: kv[0] * kv[1]
    ),
    "odd text": st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=12)),
}
hostile_value = st.one_of(*CLASSES.values())
hostile_text = st.one_of(
    CLASSES["nul"], CLASSES["lone surrogate"], CLASSES["odd text"], CLASSES["very long"]
)


def _splice(body: bytes) -> bytes:
    """The body with each placeholder string replaced by its raw JSON or raw bytes."""

    def raw(match: re.Match[bytes]) -> bytes:
        key = match.group(1).decode()
        if key.startswith("b"):
            return b'"' + RAW_STRING_BYTES[int(key[1:])] + b'"'
        return RAW_JSON[int(key)].encode()

    return re.sub(rb'"\\u0001raw:(b?[0-9]+)\\u0001"', raw, body)


@st.composite
def rows(draw: st.DrawFn, base: dict[str, Any]) -> list[Any]:
    """A few rows, each a good row with some fields replaced, some names added, or none of it."""
    out: list[Any] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(hostile_value))  # not an object at all
            continue
        r = dict(base)
        for name in draw(st.lists(st.sampled_from(sorted(base)), max_size=2)):
            r[name] = draw(hostile_value)
        for name in draw(st.lists(hostile_text, max_size=1)):
            r[name] = draw(hostile_value)
        out.append(r)
    return out


@st.composite
def json_bodies(draw: st.DrawFn, base: dict[str, Any], options: dict[str, Any]) -> bytes:
    body: Any
    if draw(st.integers(0, 14)) == 0:
        body = draw(hostile_value)  # not {"items": [...]}
    else:
        body = {"items": draw(rows(base))}
        for name in draw(st.lists(st.sampled_from(sorted(options)), max_size=2)):
            body[name] = draw(st.one_of(st.sampled_from(options[name]), hostile_value))
    return _splice(json.dumps(body, allow_nan=True).encode())


@st.composite
def csv_bodies(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    header = list(base)
    if draw(st.booleans()):
        header.append(draw(hostile_text))
    cell_text = st.one_of(
        hostile_text, st.sampled_from(['"', '""', "a,b", "\r\n", '"x\ny"', "\\"]), st.just("")
    )
    lines = [header]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        cells = [str(base[name]) if name in base else "" for name in header]
        for n in draw(st.lists(st.integers(0, len(header) - 1), max_size=3)):
            cells[n] = draw(cell_text)
        lines.append(cells + draw(st.lists(cell_text, max_size=1)))
    out = b""
    for cells in lines:
        quoted = ['"' + c.replace('"', '""') + '"' if draw(st.booleans()) else c for c in cells]
        out += ",".join(quoted).encode("utf-8", "surrogatepass") + b"\r\n"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(out)))
        out = out[:at] + draw(st.sampled_from(RAW_STRING_BYTES)) + out[at:]
    return out


IMPORT_ROW = row("HRFUZZ1")
CADRE_ROW = item("HRFUZZ1", "OUFUZZ1")
ORG_UNIT_ROW = {"code": "OUFUZZ2", "name": "滁州市", "kind": "county", "parent_code": "OUFUZZ1"}
SYNC_OPTIONS = {
    "dry_run": [True, False],
    "mode": ["upsert", "snapshot"],
    "snapshot_of": ["OUFUZZ1", "NOPE"],
    "force": [True, False],
}


async def _fuzz_setup(client: httpx.AsyncClient) -> None:
    # The rows name a unit and a cadre that exist, so that a good row gets as far as a write.
    r = await client.get(f"{API}/cadres/by-hr-id/HRFUZZ1")
    if r.status_code == 200:
        return
    unit = await create_org_unit(client, code="OUFUZZ1")
    await create_cadre(client, unit["id"], hr_id="HRFUZZ1")


async def _post_and_check(
    client: httpx.AsyncClient, db_conn: AsyncConnection, path: str, body: bytes, media: str
) -> None:
    before = await footprint(db_conn)
    r = await client.post(path, content=body, headers={"Content-Type": media})
    assert r.status_code < 500, r.text
    problem_code = r.json().get("code", "") if r.status_code >= 400 else ""
    event(f"{r.status_code} {problem_code}")  # --hypothesis-show-statistics shows the spread
    kind = r.headers["content-type"].split(";")[0]
    if r.is_success:
        assert kind == "application/json", r.text
        report = r.json()  # the report serialised, whatever the rows held
        assert ("problems" in report) if path == IMPORT else ("results" in report), report
    else:
        assert kind == "application/problem+json", r.text
        problem = r.json()
        assert problem["status"] == r.status_code, problem
        assert problem["code"], problem
        assert all(e["pointer"].startswith("/") for e in problem.get("errors") or []), problem
        assert await footprint(db_conn) == before, "a refused request changed something"


FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@FUZZ
@given(body=json_bodies(IMPORT_ROW, {"dry_run": [True]}))
async def test_fuzz_import_json(
    client: httpx.AsyncClient, db_conn: AsyncConnection, body: bytes
) -> None:
    await _fuzz_setup(client)
    await _post_and_check(client, db_conn, IMPORT, body, "application/json")


@FUZZ
@given(body=csv_bodies(IMPORT_ROW))
async def test_fuzz_import_csv(
    client: httpx.AsyncClient, db_conn: AsyncConnection, body: bytes
) -> None:
    await _fuzz_setup(client)
    await _post_and_check(client, db_conn, IMPORT, body, "text/csv")


@FUZZ
@given(body=json_bodies(CADRE_ROW, SYNC_OPTIONS))
async def test_fuzz_sync_cadres(
    client: httpx.AsyncClient, db_conn: AsyncConnection, body: bytes
) -> None:
    await _fuzz_setup(client)
    await _post_and_check(client, db_conn, SYNC_CADRES, body, "application/json")


@FUZZ
@given(body=json_bodies(ORG_UNIT_ROW, SYNC_OPTIONS))
async def test_fuzz_sync_org_units(
    client: httpx.AsyncClient, db_conn: AsyncConnection, body: bytes
) -> None:
    await _fuzz_setup(client)
    await _post_and_check(client, db_conn, SYNC_ORG_UNITS, body, "application/json")
