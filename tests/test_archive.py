"""The training archive (培训档案): JSON, CSV for Excel, and XLSX."""

import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from openpyxl import load_workbook

from app.archive import columns, unit_export
from app.enums import Language
from tests.factories import API, create_cadre, create_log, create_org_unit, create_session

_EXCEL_DEFAULT_WIDTH = 8.43


def _shown(value: object) -> str:
    """A cell as its CSV text: a date cell (read back as a datetime) as its ISO date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)


async def test_archive_in_three_formats(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(
        client,
        unit["id"],
        name='=HYPERLINK("http://x")',
        rank="county_division",
        post_type="leading",
    )
    await create_log(
        client,
        cadre["id"],
        title="+SUM(A1:A9)",
        status="approved",
        start_date="2024-03-01",
        end_date="2024-03-01",
    )
    await create_log(
        client,
        cadre["id"],
        title="学习贯彻党的二十大精神",
        start_date="2023-05-01",
        end_date="2023-05-02",
    )
    ts = await create_session(client, unit["id"], title="-1+1 专题班")
    await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    url = f"{API}/cadres/{cadre['id']}/archive"

    archive = (await client.get(url)).json()
    assert [log["start_date"] for log in archive["study_logs"]] == ["2023-05-01", "2024-03-01"]
    assert (archive["cadre"]["rank"], archive["cadre"]["post_type"]) == (
        "county_division",
        "leading",
    )
    assert archive["enrollments"][0]["training_session"]["title"] == "-1+1 专题班"

    r = await client.get(url, params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    disposition = r.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("培训档案-")
    text = r.content.decode("utf-8-sig")
    rows = text.splitlines()
    assert rows[0].startswith("人事编号,姓名,职务层次,职务类别,开始日期,结束日期,学习形式,培训名称")
    assert "'+SUM(A1:A9)" in rows[2]  # a formula in a cell is defused
    assert ',"\'=HYPERLINK(""http://x"")",' in rows[1]
    assert "学习贯彻党的二十大精神" in rows[1]

    r = await client.get(url, params={"format": "xlsx"})
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames == ["学习记录", "参训记录", "年度考核"]
    sheet_rows = [list(row) for row in book["学习记录"].iter_rows(values_only=True)]
    import csv

    csv_rows = list(csv.reader(text.splitlines()))
    assert [list(map(_shown, row[:8])) for row in sheet_rows] == [row[:8] for row in csv_rows]
    assert csv_rows[1][2:4] == ["县处级", "领导职务"]
    assert sheet_rows[1][1] == '\'=HYPERLINK("http://x")'
    enrollment_rows = list(book["参训记录"].iter_rows(values_only=True))
    assert enrollment_rows[1][0] == "'-1+1 专题班"


async def test_unit_export_streams_csv_and_xlsx_with_the_same_rows(
    client: httpx.AsyncClient,
) -> None:
    import csv

    city = await create_org_unit(client, name="滁州市")
    county = await create_org_unit(client, city["id"], kind="county", name="来安县")
    trained = await create_cadre(
        client, county["id"], name='=HYPERLINK("http://x")', rank="section_member"
    )
    idle = await create_cadre(client, city["id"], rank="county_division", post_type="leading")
    for title, start, end in (
        ("网络专题班", "2025-03-01", "2025-03-10"),
        ("@SUM(1)", "2025-04-01", "2025-04-10"),
    ):
        await create_log(
            client,
            trained["id"],
            title=title,
            status="approved",
            hours="60",
            start_date=start,
            end_date=end,
        )
    await create_log(
        client,
        trained["id"],
        title="党校进修班",
        kind="centralised_training",
        status="approved",
        hours="70",
        days="10",
        start_date="2025-05-12",
        end_date="2025-05-23",
    )
    await create_log(
        client,
        trained["id"],
        title="去年",
        status="approved",
        start_date="2024-03-01",
        end_date="2024-03-01",
    )
    url = f"{API}/org-units/{city['id']}/archive"

    r = await client.get(url, params={"year": 2025})
    assert r.status_code == 200, r.text
    zh_rows = list(csv.reader(r.content.decode("utf-8-sig").splitlines()))
    assert zh_rows[0][:5] == ["单位代码", "单位", "人事编号", "姓名", "职务层次"]
    assert {row[zh_rows[0].index("五年达标情况")] for row in zh_rows[1:]} == {"未达标", "不适用"}

    r = await client.get(url, params={"year": 2025, "lang": "en"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(r.content.decode("utf-8-sig").splitlines()))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["org_unit_code", "org_unit", "hr_id", "name"]
    by_title = {row[header.index("log_title")]: row for row in body}
    # One row per log of the year; a cadre without any: one row, with its compliance.
    assert set(by_title) == {"网络专题班", "'@SUM(1)", "党校进修班", ""}
    assert by_title[""][header.index("hr_id")] == idle["hr_id"]
    assert by_title[""][header.index("five_year_status")] == "Not met"
    assert by_title[""][header.index("post_type")] == "Leading post"
    assert by_title["网络专题班"][header.index("post_type")] == "Grade (non-leading)"
    online = by_title["网络专题班"]
    assert online[header.index("name")] == '\'=HYPERLINK("http://x")'
    # docs/rules.md rule 5: 10 centralised days and 70 h counted; 190 h credited, not compared.
    annual = [
        online[header.index(column)]
        for column in (
            "annual_status",
            "annual_centralised_days",
            "annual_centralised_hours",
            "annual_counted_hours",
            "annual_credited_hours",
        )
    ]
    assert annual == ["Not met", "10.00", "70.00", "70.00", "190.00"]

    r = await client.get(url, params={"year": 2025, "format": "xlsx", "lang": "en"})
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content), read_only=True)["2025"]
    from decimal import Decimal, InvalidOperation

    def same(value: object) -> object:
        # Numbers are numbers in the workbook and text in the CSV; empty trailing cells vanish.
        text = "" if value is None else _shown(value)
        try:
            return Decimal(text)
        except InvalidOperation:
            return text

    xlsx_rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(xlsx_rows) == len(rows)
    for got, want in zip(xlsx_rows, rows, strict=True):
        got += [None] * (len(want) - len(got))
        assert [same(v) for v in got] == [same(v) for v in want]


async def test_archive_assessments_show_the_annual_figures_and_the_override(
    client: httpx.AsyncClient,
) -> None:
    from tests.test_assessments import REASON
    from tests.test_compliance_api import example_5_cadre

    unit = await create_org_unit(client)
    cadre = await example_5_cadre(client, unit["id"])
    r = await client.post(
        f"{API}/assessments",
        json={
            "cadre_id": cadre["id"],
            "year": 2025,
            "rating": "excellent",
            "override_reason": REASON,
        },
    )
    assert r.status_code == 201, r.text
    url = f"{API}/cadres/{cadre['id']}/archive"
    (assessment,) = (await client.get(url)).json()["assessments"]
    assert assessment["override_reason"] == REASON
    assert assessment["training_snapshot"]["annual"]["counted_hours"] == "84.00"

    xlsx = await client.get(url, params={"format": "xlsx", "lang": "en"})
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    header, row = [list(r) for r in book["assessments"].iter_rows(values_only=True)]
    got = dict(zip(header, row, strict=True))
    assert (got["rating"], got["excellent_allowed"], got["override_reason"]) == (
        "Excellent",
        "no",
        REASON,
    )
    assert [
        got[f"annual_{name}"]
        for name in ("status", "centralised_days", "centralised_hours", "counted_hours")
    ] == ["Not met", 11, 84, 84]
    assert got["annual_credited_hours"] == 144


async def _records(count: int) -> AsyncIterator[list[Any]]:
    for n in range(count):
        yield [f"r{n}"] + [None] * (len(unit_export.COLUMNS) - 1)


@pytest.mark.parametrize(
    ("records", "sheet_rows", "sheets"),
    [
        (0, 3, [("2026", 0)]),
        (3, 3, [("2026", 3)]),  # exactly full: no empty second sheet
        (4, 3, [("2026", 3), ("2026 (2)", 1)]),
        (7, 3, [("2026", 3), ("2026 (2)", 3), ("2026 (3)", 1)]),
        (5, 1, [("2026", 1)] + [(f"2026 ({n})", 1) for n in range(2, 6)]),
    ],
)
async def test_an_xlsx_export_flows_over_into_further_sheets(
    records: int, sheet_rows: int, sheets: list[tuple[str, int]]
) -> None:
    """An Excel sheet holds 1,048,576 rows; a province's year has more. Every sheet has its
    header, and the records keep their order across sheets."""
    body = b"".join(
        [c async for c in unit_export.encode_xlsx(_records(records), 2026, sheet_rows=sheet_rows)]
    )
    book = load_workbook(io.BytesIO(body))
    found, read = [], []
    for sheet in book.worksheets:
        header, *rows = sheet.iter_rows(values_only=True)
        assert list(header) == columns.header(unit_export.UNIT_COLUMNS, Language.zh_cn)
        # every sheet gets the same treatment
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:X{len(rows) + 1}"
        assert sheet.column_dimensions["A"].width > _EXCEL_DEFAULT_WIDTH
        found.append((sheet.title, len(rows)))
        read += [row[0] for row in rows]
    assert found == sheets
    assert read == [f"r{n}" for n in range(records)]
    assert unit_export.SHEET_ROWS + 1 == 1_048_576


def _sheet_as_seen(sheet: Any) -> tuple[list[Any], list[list[Any]]]:
    header, *rows = ([cell.value for cell in row] for row in sheet.iter_rows())
    return header, rows


def _assert_laid_out(sheet: Any, columns_count: int, rows: int) -> None:
    """The header row frozen, an autofilter over the data, columns wider than Excel's default."""
    from openpyxl.utils import get_column_letter

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{get_column_letter(columns_count)}{rows + 1}"
    for n in range(1, columns_count + 1):
        assert sheet.column_dimensions[get_column_letter(n)].width > _EXCEL_DEFAULT_WIDTH


async def test_the_cadre_archive_workbook_is_typed_frozen_filtered_and_sized(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="county_division")
    await create_log(
        client,
        cadre["id"],
        title="学习贯彻党的二十大精神专题网络培训班",
        hours="12.5",
        start_date="2024-03-01",
        end_date="2024-03-02",
    )
    url = f"{API}/cadres/{cadre['id']}/archive"

    r = await client.get(url, params={"format": "xlsx"})
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    sheet = book["学习记录"]
    header, (row,) = _sheet_as_seen(sheet)
    assert header[:10] == [
        "人事编号",
        "姓名",
        "职务层次",
        "职务类别",
        "开始日期",
        "结束日期",
        "学习形式",
        "培训名称",
        "举办单位",
        "学时",
    ]
    got = dict(zip(header, row, strict=True))
    assert got["职务层次"] == "县处级"
    assert got["审核状态"] == "待审核"
    # dates are dates, hours are numbers, each with a number format
    assert got["开始日期"] == datetime(2024, 3, 1)
    assert sheet["E2"].is_date
    assert sheet["E2"].number_format == "yyyy-mm-dd"
    assert got["学时"] == 12.5
    assert sheet["J2"].data_type == "n"
    assert sheet["J2"].number_format == "0.00"
    _assert_laid_out(sheet, len(header), 1)
    # CJK characters count double: the title's column is wider than its 18 characters
    assert sheet.column_dimensions["H"].width >= 36
    for name in ("参训记录", "年度考核"):
        _assert_laid_out(book[name], book[name].max_column, 0)

    r = await client.get(url, params={"format": "xlsx", "lang": "en"})
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["study_logs", "enrollments", "assessments"]
    header, (row,) = _sheet_as_seen(book["study_logs"])
    assert header[:4] == ["hr_id", "name", "rank", "post_type"]
    assert row[2] == "County or division level"

    r = await client.get(url, params={"format": "csv", "lang": "en"})
    assert r.content.startswith("\ufeff".encode())
    header_line, line = r.content.decode("utf-8-sig").splitlines()
    assert header_line.startswith("hr_id,name,rank,post_type,start_date,end_date,kind,title")
    got = dict(zip(header_line.split(","), line.split(","), strict=True))
    assert (got["rank"], got["start_date"], got["hours"]) == (
        "County or division level",
        "2024-03-01",
        "12.50",  # numbers stay plain
    )


async def test_the_unit_archive_workbook_is_typed_frozen_filtered_and_sized(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client, name="来安县")
    cadre = await create_cadre(client, unit["id"], rank="township_section")
    await create_log(
        client,
        cadre["id"],
        status="approved",
        hours="8",
        start_date="2025-04-01",
        end_date="2025-04-01",
    )
    url = f"{API}/org-units/{unit['id']}/archive"
    for lang, name_header, rank in (
        (None, "姓名", "乡科级"),
        ("en", "name", "Township or section level"),
    ):
        params: dict[str, Any] = {"year": 2025, "format": "xlsx"}
        if lang:
            params["lang"] = lang
        r = await client.get(url, params=params)
        assert r.status_code == 200, r.text
        sheet = load_workbook(io.BytesIO(r.content))["2025"]
        header, (row,) = _sheet_as_seen(sheet)
        assert header[3] == name_header
        got = dict(zip(unit_export.COLUMNS, row, strict=True))
        assert got["rank"] == rank
        assert got["log_start_date"] == datetime(2025, 4, 1)
        assert sheet["R2"].is_date
        assert sheet["R2"].number_format == "yyyy-mm-dd"
        assert got["log_hours"] == 8
        assert sheet["V2"].data_type == "n"
        assert sheet["V2"].number_format == "0.00"
        _assert_laid_out(sheet, len(unit_export.COLUMNS), 1)

        params["format"] = "csv"
        text = (await client.get(url, params=params)).content.decode("utf-8-sig")
        csv_header, csv_row = (line.split(",") for line in text.splitlines())
        assert csv_header == header
        assert csv_row[4] == rank
        assert csv_row[17] == date(2025, 4, 1).isoformat()
