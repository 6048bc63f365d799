"""Bulk import of historical study logs."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.enums import Role
from app.errors import BadRequest
from app.ids import new_id
from app.imports import service
from app.imports.errors import TooManyRows
from app.imports.schemas import MAX_ROWS
from app.imports.service import MAX_RECORD_BYTES
from app.study_log import bulk
from tests.factories import API, create_cadre, create_org_unit
from tests.test_platform import assert_problem


def row(hr_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "hr_id": hr_id,
        "kind": "centralised_training",
        "title": "2019年春季进修班",
        "start_date": "2019-03-04",
        "end_date": "2019-03-15",
        "hours": "70",
        "days": "10",
        **fields,
    }


async def test_json_import_is_idempotent_and_reports_bad_rows(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="county_division")
    items = [
        row(cadre["hr_id"]),
        row(cadre["hr_id"], title="网络学习", kind="online_course", days=None, hours="12"),
        row("NOBODY"),
        row(cadre["hr_id"], end_date="2019-03-01"),
        row(cadre["hr_id"], hours="1.005"),
    ]
    r = await client.post(f"{API}/imports/study-logs", json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["already_imported"], report["rejected"]) == (2, 0, 3)
    assert [p["pointer"] for p in report["problems"]] == [
        "/body/items/2/hr_id",
        "/body/items/3/end_date",
        "/body/items/4/hours",
    ]
    again = (await client.post(f"{API}/imports/study-logs", json={"items": items[:2]})).json()
    assert (again["created"], again["already_imported"]) == (0, 2)
    logs = (await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})).json()
    assert {(x["source"], x["status"]) for x in logs["items"]} == {("import", "approved")}
    # The imported class counts at once (the year sums follow the COPY).
    credits = (
        await client.get(f"{API}/cadres/{cadre['id']}/credits", params={"year": 2019})
    ).json()
    assert (credits["centralised_days"], credits["total_hours"]) == ("10.00", "82.00")


async def test_csv_import_and_dry_run(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    csv_body = (
        "\ufeffhr_id,kind,title,start_date,end_date,hours,days,status\r\n"
        f"{cadre['hr_id']},self_study,读书,2020-05-01,2020-05-01,3,,\r\n"
        f"{cadre['hr_id']},lecture,讲座,2020-06-01,2020-06-01,abc,,\r\n"
    ).encode()
    headers = {"Content-Type": "text/csv"}
    dry = await client.post(
        f"{API}/imports/study-logs", content=csv_body, headers=headers, params={"dry_run": True}
    )
    assert (dry.json()["created"], dry.json()["rejected"]) == (1, 1)
    assert dry.json()["problems"][0]["pointer"] == "/rows/3/hours"
    assert (await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})).json()[
        "items"
    ] == []
    real = await client.post(f"{API}/imports/study-logs", content=csv_body, headers=headers)
    assert real.json()["created"] == 1


async def test_other_media_types_are_415(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/imports/study-logs", content=b"x", headers={"Content-Type": "text/plain"}
    )
    assert_problem(r, 415, "import.unsupported_media_type")
    r = await client.post(
        f"{API}/imports/study-logs", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422


async def test_out_of_scope_cadres_are_unknown(client: httpx.AsyncClient, client_for: Any) -> None:
    from app.enums import Role

    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county")
    b = await create_org_unit(client, city["id"], kind="county")
    cadre = await create_cadre(client, a["id"])
    other = await client_for(Role.org_admin, org_unit_id=b["id"])
    r = await other.post(f"{API}/imports/study-logs", json={"items": [row(cadre["hr_id"])]})
    assert r.json()["problems"][0]["pointer"] == "/body/items/0/hr_id"


async def test_rows_of_the_wrong_shape_are_rejected_not_crashing(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    items: list[Any] = [
        row(cadre["hr_id"], kind=["list"]),
        row(cadre["hr_id"], status={"x": 1}),
        row(cadre["hr_id"], id="not-a-uuid"),
        row(cadre["hr_id"], start_date=20190304),
        "not an object",
        row(cadre["hr_id"], colour="red"),
    ]
    r = await client.post(f"{API}/imports/study-logs", json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["rejected"]) == (0, 6)
    assert [p["pointer"] for p in report["problems"]] == [
        "/body/items/0/kind",
        "/body/items/1/status",
        "/body/items/2/id",
        "/body/items/3/start_date",
        "/body/items/4",
        "/body/items/5/colour",
    ]


# One row each, against a cadre: None = created, else the field the problem points at ("" = the
# row). Calendar days of 2019-03-04..2019-03-15: 12.
RULES: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    ({"hours": "0"}, None),
    ({"hours": "288"}, None),  # 24 × 12 calendar days: the cap itself
    ({"hours": "288.01"}, "hours"),
    ({"hours": "1.005"}, "hours"),
    ({"hours": "-1"}, "hours"),
    ({"hours": "1e3"}, "hours"),
    ({"hours": 70}, None),  # JSON numbers that are integers are fine
    ({"hours": 7.5}, "hours"),  # floats are not: no binary rounding of hours
    ({"days": "12"}, None),  # every calendar day
    ({"days": "12.01"}, "days"),
    ({"days": ""}, None),
    ({"end_date": "2019-03-04", "days": "1", "hours": "24"}, None),  # one day, at both caps
    ({"end_date": "2019-03-04"}, "days"),  # 10 days in one
    ({"end_date": "2019-03-03"}, "end_date"),
    ({"start_date": "2019-02-29"}, "start_date"),  # not a leap year
    ({"start_date": "2019-3-04"}, "start_date"),
    ({"start_date": "1899-12-31"}, "start_date"),
    ({"status": "pending"}, None),
    ({"status": "rejected"}, "status"),
    ({"kind": "sleeping"}, "kind"),
    ({"title": ""}, "title"),
    ({"title": "x" * 200}, None),
    ({"title": "x" * 201}, "title"),
    ({"title": "bell\x07"}, "title"),
    ({"title": " 前后有空格 "}, "title"),
    ({"title": "末尾换行\n"}, "title"),
    ({"hours": "12\n"}, "hours"),
    ({"start_date": "2019-W10-1"}, "start_date"),  # an ISO week date: 2019-03-04 in disguise
    ({"status": 0}, "status"),
    ({"status": False}, "status"),
    ({"id": 0}, "id"),
    ({"note": "两行\r\n备注\t"}, None),
    ({"note": "bell\x07"}, "note"),  # a NUL refuses the request: see test_malformed_input.py
    ({"provider": "p" * 201}, "provider"),
    ({"note": "n" * 2001}, "note"),
    ({"id": "0193a0c2-7c1e-7b3e-9a6f-1d2e3f405162"}, None),
    ({"hr_id": None}, "hr_id"),
]


async def test_row_rules_table(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    # Distinct titles: the natural keys must not collide between the rows of the table.
    items = [
        {**row(cadre["hr_id"], title=f"课程 {n}"), **fields} for n, (fields, _) in enumerate(RULES)
    ]
    report = (await client.post(f"{API}/imports/study-logs", json={"items": items})).json()
    expected = {
        n: f"/body/items/{n}/{field}" for n, (_, field) in enumerate(RULES) if field is not None
    }
    assert {p["row"]: p["pointer"] for p in report["problems"]} == expected
    assert report["created"] == len(RULES) - len(expected)
    log = (await client.get(f"{API}/study-logs/0193a0c2-7c1e-7b3e-9a6f-1d2e3f405162")).json()
    assert (log["hours"], log["days"], log["status"]) == ("70.00", "10.00", "approved")


async def test_the_same_row_twice_in_one_request_is_created_once(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    items = [row(cadre["hr_id"]), row(cadre["hr_id"]), row(cadre["hr_id"], title="另一个")]
    report = (await client.post(f"{API}/imports/study-logs", json={"items": items})).json()
    assert (report["created"], report["already_imported"]) == (2, 1)


async def test_csv_pointers_name_the_file_line(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    hr = cadre["hr_id"]
    csv_body = (
        "hr_id,kind,title,start_date,end_date,hours\r\n"  # line 1
        f'{hr},lecture,"两行的\r\n标题",2020-06-01,2020-06-01,2\r\n'  # lines 2-3
        "\r\n"  # line 4: blank, skipped
        f"{hr},lecture,多一格,2020-06-02,2020-06-02,2,extra\r\n"  # line 5
        f"{hr},lecture,少一格,2020-06-03\r\n"  # line 6
        f"{hr},lecture,好的,2020-06-04,2020-06-04,2\r\n"  # line 7
    ).encode()
    r = await client.post(
        f"{API}/imports/study-logs", content=csv_body, headers={"Content-Type": "text/csv"}
    )
    report = r.json()
    assert [(p["row"], p["pointer"]) for p in report["problems"]] == [
        (0, "/rows/2/title"),  # a line break is a control character in a title
        (1, "/rows/5"),
        (2, "/rows/6/end_date"),
    ]
    assert (report["rows"], report["created"]) == (4, 1)


@pytest.mark.parametrize(
    "broken",
    [
        "hr_id,kind,title,start_date,end_date,hours\r\nA1,lecture,a\rb,2020-06-01,2020-06-01,2\r\n",
        "hr_id,kind,title,start_date,end_date,hours\r\nA1,lecture," + "x" * 140_000 + "\r\n",
    ],
    ids=["bare carriage return in a cell", "cell beyond the csv module's limit"],
)
async def test_a_broken_csv_is_422_not_500(client: httpx.AsyncClient, broken: str) -> None:
    r = await client.post(
        f"{API}/imports/study-logs", content=broken.encode(), headers={"Content-Type": "text/csv"}
    )
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["detail"].startswith("line 2:")


def test_the_legacy_ids_are_uuid5_of_the_natural_key() -> None:
    import uuid

    from app.imports.service import NAMESPACE, legacy_natural_id

    for natural in ("a|b|2020-01-01|2020-01-02|t", "中文|lecture|2019-03-04|2019-03-15|讲座", ""):
        assert uuid.UUID(legacy_natural_id(natural)) == uuid.uuid5(NAMESPACE, natural)


async def test_derived_ids_cannot_be_computed_without_the_key(
    client: httpx.AsyncClient, client_for: Any
) -> None:
    """A derived id is keyed: knowing another county's cadre and course does not give the id of
    its log, so no import can test, by its counts, whether that log exists (issue 10)."""
    import uuid

    from app.imports.service import NAMESPACE

    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.post(f"{API}/imports/study-logs", json={"items": [row(cadre["hr_id"])]})
    assert r.json()["created"] == 1, r.text
    (log,) = (await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})).json()[
        "items"
    ]
    natural = f"{cadre['id']}|centralised_training|2019-03-04|2019-03-15|2019年春季进修班"
    assert uuid.UUID(log["id"]) != uuid.uuid5(NAMESPACE, natural)
    # An org_admin of another county naming the uuid5 id learns nothing: it is free.
    other = await create_org_unit(client)
    stranger = await create_cadre(client, other["id"])
    probe = await client_for(Role.org_admin, org_unit_id=other["id"])
    guess = str(uuid.uuid5(NAMESPACE, natural))
    r = await probe.post(
        f"{API}/imports/study-logs",
        json={"items": [row(stranger["hr_id"], id=guess)]},
        params={"dry_run": True},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["already_imported"]) == (1, 0), r.text


async def test_rows_imported_under_the_legacy_ids_create_nothing_again(
    client: httpx.AsyncClient, isolated_sessionmaker: Any
) -> None:
    """A file imported before ids were keyed, sent again, creates no second log."""
    import uuid

    from sqlalchemy import update

    from app.imports.service import NAMESPACE
    from app.study_log.models import StudyLog

    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.post(f"{API}/imports/study-logs", json={"items": [row(cadre["hr_id"])]})
    assert r.json()["created"] == 1, r.text
    natural = f"{cadre['id']}|centralised_training|2019-03-04|2019-03-15|2019年春季进修班"
    async with isolated_sessionmaker() as db_session:  # as the import of old gave it its id
        await db_session.execute(
            update(StudyLog)
            .where(StudyLog.cadre_id == uuid.UUID(cadre["id"]))
            .values(id=uuid.uuid5(NAMESPACE, natural))
        )
        await db_session.commit()
    r = await client.post(f"{API}/imports/study-logs", json={"items": [row(cadre["hr_id"])]})
    assert (r.json()["created"], r.json()["already_imported"]) == (0, 1), r.text
    logs = (await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})).json()
    assert len(logs["items"]) == 1


DEEP = b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


async def test_a_deeply_nested_body_is_400_not_500(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/imports/study-logs",
        content=DEEP,
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, 400, "bad_request")


def test_the_imports_own_parser_answers_400_for_deep_json() -> None:
    # app.limits refuses such bodies first; the import's parser, reached another way, agrees.
    with pytest.raises(BadRequest):
        service.read_rows("application/json", DEEP)


HEADER = b"hr_id,kind,title,start_date,end_date,hours\r\n"
LINE = b"H1,lecture,t,2020-01-01,2020-01-01,1\r\n"


@pytest.mark.parametrize(
    ("media", "body"),
    [
        ("text/csv", HEADER + LINE * (MAX_ROWS + 1) + b"\xff not UTF-8\r\n"),
        ("application/json", b'{"items": [' + b"{}," * (MAX_ROWS + 1) + b"{not json"),
    ],
)
def test_the_row_cap_is_enforced_as_rows_are_read(media: str, body: bytes) -> None:
    # The rows past the cap are never read: what is broken after them goes unnoticed.
    with pytest.raises(TooManyRows):
        service.read_rows(media, body)


async def test_too_many_rows_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/imports/study-logs",
        content=HEADER + LINE * (MAX_ROWS + 1),
        headers={"Content-Type": "text/csv"},
    )
    assert_problem(r, 422, "import.too_many_rows")


@pytest.mark.parametrize(
    "record",
    [
        b"a," * 2_000_000,  # one line of two million cells
        b'H1,lecture,"' + b"x\r\n" * 30_000 + b'",2020-01-01,2020-01-01,1',  # a cell of lines
    ],
)
async def test_a_record_longer_than_any_good_row_is_refused_unsplit(
    client: httpx.AsyncClient, record: bytes
) -> None:
    r = await client.post(
        f"{API}/imports/study-logs",
        content=HEADER + LINE + record + b"\r\n" + LINE,
        headers={"Content-Type": "text/csv"},
    )
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["detail"] == (
        f"line 3: a record is longer than {MAX_RECORD_BYTES} bytes"
    )


@pytest.mark.parametrize("path", ["/sync/cadres", "/sync/org-units", "/cadres", "/org-units"])
async def test_a_deeply_nested_body_elsewhere_is_4xx_not_500(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.post(
        f"{API}{path}", content=DEEP, headers={"Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_more_distinct_hr_ids_than_a_statement_has_parameters(
    client: httpx.AsyncClient,
) -> None:
    # PostgreSQL's protocol carries at most 32,767 parameters a statement: the HR ids of one
    # import must travel as one array, not one parameter each.
    n = 33_000
    items = [{"hr_id": f"NOBODY-{i}"} for i in range(n)]
    r = await client.post(f"{API}/imports/study-logs", json={"items": items})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["created"], report["rejected"]) == (n, 0, n)
    assert report["problems"][-1]["pointer"] == f"/body/items/{n - 1}/hr_id"


def _day(n: int) -> tuple[date, date, Decimal, Decimal]:
    """Start, end, hours and days of a one-day lecture on the n-th of March 2025 (from 0)."""
    return date(2025, 3, n + 1), date(2025, 3, n + 1), Decimal(2), Decimal(0)


async def test_an_import_moves_its_rows_in_batches_of_bounded_size(
    client: httpx.AsyncClient,
    db_conn: AsyncConnection,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # 50,000 rows in one INSERT took 27-43 s on a busy scale-1 province, past the statement
    # timeout (bench/README "bulk"): each statement moves at most `batch_rows` rows.
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    ids = [new_id() for _ in range(4)]
    rows = [
        (log_id, uuid.UUID(cadre["id"]), "lecture", f"讲座{n}", None, *_day(n), "approved", None)
        for n, log_id in enumerate([*ids, ids[0]])  # the last row repeats the first's id
    ]
    moves: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO study_log SELECT"):
            moves.append(statement)

    event.listen(db_conn.sync_connection, "before_cursor_execute", count)
    try:
        async with isolated_sessionmaker() as db_session:
            created = await bulk.import_many(
                db_session, service.CHECKED_COLUMNS, rows, batch_rows=2
            )
            await db_session.commit()
    finally:
        event.remove(db_conn.sync_connection, "before_cursor_execute", count)
    assert len(moves) == 3  # 5 rows, 2 a statement
    assert sorted(created) == sorted(ids)  # the repeated id created nothing
    r = await client.get(f"{API}/study-logs", params={"cadre_id": cadre["id"]})
    assert sorted(item["id"] for item in r.json()["items"]) == sorted(map(str, ids))
