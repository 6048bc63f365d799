"""The sign-in sheet (签到表) as a person gets it: the PDF rendered to pixels and read back as text
(pypdfium2, the PDF engine of Chrome), the workbook opened with openpyxl. No database."""

import io
import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pypdf
import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook

from app.documents.pdf import A4_LONG, A4_SHORT, Column, TableDocument, TableSection
from app.documents.sign_in_sheet import SheetPart, SheetRow, SignInSheet
from app.enums import Language, Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem

MM = 72 / 25.4  # PDF points per millimetre
TITLE = "2026年度县处级干部进修班"
ORGANISER = "市委组织部"
PERIODS = ("上午", "下午")


def _parts(count: int) -> list[SheetPart]:
    return [
        SheetPart(date(2026, 11, 2) + timedelta(days=i // 2), PERIODS[i % 2]) for i in range(count)
    ]


def _sheet(trainees: int = 3, parts: int = 4, lang: Language = Language.zh_cn) -> SignInSheet:
    names = ["张三", "李四", "王五"]
    rows = [
        SheetRow(
            names[i] if i < len(names) else f"学员{i + 1:02d}",
            "青山县委组织部" if i % 2 else "市委组织部干部一科",
            # the second trainee was on leave for the first part; the rest sign by hand
            ["请假" if (i, j) == (1, 0) else None for j in range(max(parts, 1))],
        )
        for i in range(trainees)
    ]
    return SignInSheet(
        TITLE, ORGANISER, date(2026, 11, 2), date(2026, 11, 6), _parts(parts), rows, lang=lang
    )


def _pages(pdf: bytes) -> list[tuple[float, float, str]]:
    """Each page's width, height (points) and text, as a PDF viewer extracts it."""
    document = pdfium.PdfDocument(pdf)
    try:
        out = []
        for page in document:
            width, height = page.get_size()
            textpage = page.get_textpage()
            out.append((width, height, textpage.get_text_range()))
            textpage.close()
            page.close()
        return out
    finally:
        document.close()


def _dark(histogram: list[int]) -> int:
    return sum(histogram[:128])


def _ink(pdf: bytes, page_index: int, needle: str) -> tuple[int, int]:
    """Dark pixels inside the box where `needle` is set, and in a same-size box of the right
    margin (8 mm, empty): text that is there but invisible (no glyphs: a missing font) leaves
    the first at zero."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[page_index]
        scale = 3
        image = page.render(scale=scale).to_pil().convert("L")
        _, height = page.get_size()
        textpage = page.get_textpage()
        searcher = textpage.search(needle)
        found = searcher.get_next()
        assert found is not None, f"{needle!r} is not in the text of page {page_index + 1}"
        index, count = found
        boxes = [textpage.get_charbox(index + i) for i in range(count)]
        searcher.close()
        textpage.close()
        page.close()
    finally:
        document.close()
    left = min(b[0] for b in boxes)
    right = max(b[2] for b in boxes)
    bottom = min(b[1] for b in boxes)
    top = max(b[3] for b in boxes)
    box = (
        int(left * scale),
        int((height - top) * scale),
        int(right * scale) + 1,
        int((height - bottom) * scale) + 1,
    )
    dark = _dark(image.crop(box).histogram())
    margin_box = (image.width - int(8 * MM * scale), box[1], image.width - 2, box[3])
    blank = _dark(image.crop(margin_box).histogram())
    return dark, blank


def test_the_pdf_is_an_a4_page_in_chinese_with_one_column_per_part() -> None:
    pdf = _sheet().to_pdf()
    [(width, height, text)] = _pages(pdf)
    assert (width, height) == pytest.approx((A4_SHORT * MM, A4_LONG * MM), abs=0.5)
    assert f"{TITLE}签到表" in text
    assert "组织单位：市委组织部" in text
    assert "培训时间：2026-11-02 至 2026-11-06" in text
    for word in ("序号", "姓名", "单位", "张三", "李四", "王五", "青山县委组织部", "请假"):
        assert word in text
    # one column per part: date and period, in the order of the parts
    headers = ["11月2日\r\n上午", "11月2日\r\n下午", "11月3日\r\n上午", "11月3日\r\n下午"]
    positions = [text.find(h) for h in headers]
    assert -1 not in positions, text
    assert positions == sorted(positions)
    assert "第 1 页，共 1 页" in text


def test_the_chinese_text_is_drawn_not_only_encoded() -> None:
    """Text extraction alone would pass with a font that has no glyphs: the pixels say a reader
    sees the title and the names (the font is embedded, so on any machine)."""
    pdf = _sheet().to_pdf()
    for needle in (TITLE, "张三", "请假", "11月2日"):
        dark, blank = _ink(pdf, 0, needle)
        assert dark > 20, needle
        assert blank == 0
    resources: Any = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]
    for reference in resources["/Font"].values():
        font = reference.get_object()
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile3" in descriptor or "/FontFile2" in descriptor  # embedded
        assert "+" in str(font["/BaseFont"])  # a subset: only the glyphs used


def test_sixty_trainees_span_pages_and_every_page_repeats_the_header() -> None:
    pdf = _sheet(trainees=60).to_pdf()
    pages = _pages(pdf)
    assert len(pages) >= 3
    for number, (width, height, text) in enumerate(pages, start=1):
        assert (width, height) == pytest.approx((A4_SHORT * MM, A4_LONG * MM), abs=0.5)
        assert "序号" in text
        assert "姓名" in text
        assert "11月3日\r\n下午" in text
        assert f"第 {number} 页，共 {len(pages)} 页" in text
    everything = "".join(text for _, _, text in pages)
    for n in range(4, 61):
        assert everything.count(f"学员{n:02d}") == 1  # each trainee once, none lost at a break
    assert "学员60" in pages[-1][2]
    assert f"{TITLE}签到表" not in pages[1][2]  # the title once, the header on every page
    # a few tens of kilobytes: the font is a subset
    assert len(pdf) < 150_000


def test_many_parts_turn_the_page_and_more_continue_in_another_table() -> None:
    wide = _pages(_sheet(parts=8).to_pdf())
    assert len(wide) == 1
    width, height, _ = wide[0]
    assert (width, height) == pytest.approx((A4_LONG * MM, A4_SHORT * MM), abs=0.5)

    pages = _pages(_sheet(parts=13).to_pdf())
    assert len(pages) == 2  # 13 parts: 7 on the first table, 6 on the second
    assert "第 1–7 个课次，共 13 个" in pages[0][2]
    assert "第 8–13 个课次，共 13 个" in pages[1][2]
    assert "11月8日\r\n上午" in pages[1][2]
    assert "11月8日\r\n上午" not in pages[0][2]
    for _, _, text in pages:
        assert "张三" in text  # the trainees are on every table


def test_a_session_without_parts_has_one_column_to_sign() -> None:
    [(_, _, text)] = _pages(_sheet(parts=0).to_pdf())
    assert "签名" in text
    assert "上午" not in text


def test_english_on_request() -> None:
    sheet = _sheet(lang=Language.en)
    [(_, _, text)] = _pages(sheet.to_pdf())
    assert f"{TITLE}: sign-in sheet" in text
    assert "Organiser: 市委组织部" in text
    assert "Nov 2\r\n上午" in text  # the period labels are the caller's
    assert "Page 1 of 1" in text
    book = load_workbook(io.BytesIO(sheet.to_xlsx()))
    assert book.sheetnames == ["Sign-in sheet", "Training session"]
    assert [c.value for c in book["Sign-in sheet"][1]][:3] == ["No.", "Name", "Unit"]


def test_the_same_sheet_gives_the_same_pdf() -> None:
    assert _sheet(trainees=30).to_pdf() == _sheet(trainees=30).to_pdf()


def test_the_workbook_reads_back() -> None:
    sheet = _sheet(trainees=60)
    book = load_workbook(io.BytesIO(sheet.to_xlsx()))
    assert book.sheetnames == ["签到表", "培训班"]
    table = book["签到表"]
    header = [c.value for c in table[1]]
    assert header == [
        "序号",
        "姓名",
        "单位",
        "11月2日 上午",
        "11月2日 下午",
        "11月3日 上午",
        "11月3日 下午",
    ]
    rows = [[c.value for c in row] for row in table.iter_rows(min_row=2)]
    assert len(rows) == 60
    assert rows[0][:3] == [1, "张三", "市委组织部干部一科"]
    assert rows[1][3] == "请假"
    assert rows[0][3] is None  # blank: signed on paper
    assert isinstance(rows[59][0], int)
    assert table.freeze_panes == "A2"
    assert table.auto_filter.ref == "A1:G61"
    assert table.column_dimensions["C"].width >= 16  # 8 wide characters
    assert table.print_title_rows == "$1:$1"
    assert table.page_setup.paperSize == 9  # A4
    assert table.oddHeader.center.text == f"{TITLE}签到表"
    info = {row[0].value: row[1].value for row in book["培训班"].iter_rows(min_row=2)}
    assert info["培训班"] == TITLE
    assert info["组织单位"] == ORGANISER
    assert info["开始日期"].date() == date(2026, 11, 2)  # a date cell, not text
    assert info["学员人数"] == 60


def test_a_name_excel_would_run_is_defused() -> None:
    rows = [SheetRow("=HYPERLINK(1)", "+unit", [None])]
    sheet = SignInSheet("班", ORGANISER, date(2026, 1, 5), date(2026, 1, 5), [], rows)
    table = load_workbook(io.BytesIO(sheet.to_xlsx())).active
    assert [c.value for c in table[2]][1:3] == ["'=HYPERLINK(1)", "'+unit"]


def test_a_row_must_have_one_mark_per_part() -> None:
    with pytest.raises(ValueError, match="one mark per part"):
        SignInSheet(
            "班",
            ORGANISER,
            date(2026, 1, 5),
            date(2026, 1, 5),
            _parts(2),
            [SheetRow("张三", "单位", [None])],
        )


def test_the_table_document_turns_landscape_when_the_columns_need_it() -> None:
    narrow = TableSection("表", [], [Column("甲", 90), Column("乙", 90)], [["1", "2"]])
    wide = TableSection("表", [], [Column("甲", 100), Column("乙", 100)], [["1", "2"]])
    pages = _pages(TableDocument([narrow, wide]).to_pdf())
    assert [w > h for w, h, _ in pages] == [False, True]


# --- GET /api/v1/training-sessions/{training_session_id}/sign-in-sheet


async def _class_with_trainees(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A city class with three trainees from two counties, and one who withdrew."""
    city = await create_org_unit(client, name="滁州市委组织部")
    east = await create_org_unit(client, city["id"], name="东县委组织部", kind="county")
    west = await create_org_unit(client, city["id"], name="西县委组织部", kind="county")
    ts = await create_session(client, city["id"], title="2025年春季县处级干部进修班")
    url = f"{API}/training-sessions/{ts['id']}/enrollments"
    for unit, name in ((west, "赵六"), (east, "李四"), (east, "张三"), (west, "退学者")):
        cadre = await create_cadre(client, unit["id"], name=name)
        r = await client.post(url, json={"cadre_id": cadre["id"]})
        assert r.status_code == 201, r.text
        if name == "退学者":
            r = await client.patch(
                f"{API}/enrollments/{r.json()['id']}", json={"status": "withdrawn"}
            )
            assert r.status_code == 200, r.text
    return ts, east


async def test_the_organiser_downloads_the_sheet_as_pdf_and_xlsx(client: httpx.AsyncClient) -> None:
    ts, _ = await _class_with_trainees(client)
    url = f"{API}/training-sessions/{ts['id']}/sign-in-sheet"

    r = await client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-language"] == "zh-CN"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    filename = unquote(disposition.split("filename*=UTF-8''")[1])
    assert filename == "签到表-2025年春季县处级干部进修班.pdf"
    [(width, height, text)] = _pages(r.content)
    assert (width, height) == pytest.approx((A4_SHORT * MM, A4_LONG * MM), abs=0.5)
    assert "2025年春季县处级干部进修班签到表" in text
    assert "组织单位：滁州市委组织部" in text
    assert "签名" in text  # no parts yet: one column to sign
    assert "退学者" not in text  # withdrawn: not on the sheet
    # unit by unit (the order of the org tree), then by name
    order = [text.find(n) for n in ("张三", "李四", "赵六")]
    assert -1 not in order
    assert order == sorted(order)

    r = await client.get(url, params={"format": "xlsx", "lang": "en"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert r.headers["content-language"] == "en"
    assert unquote(r.headers["content-disposition"].split("filename*=UTF-8''")[1]) == (
        "Sign-in sheet-2025年春季县处级干部进修班.xlsx"
    )
    table = load_workbook(io.BytesIO(r.content))["Sign-in sheet"]
    assert [[c.value for c in row] for row in table.iter_rows()] == [
        ["No.", "Name", "Unit", "Signature"],
        [1, "张三", "东县委组织部", None],
        [2, "李四", "东县委组织部", None],
        [3, "赵六", "西县委组织部", None],
    ]


async def test_only_the_organisers_get_the_sheet(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    ts, east = await _class_with_trainees(client)
    url = f"{API}/training-sessions/{ts['id']}/sign-in-sheet"
    # a county's administrator sees the city's class, but does not organise it
    county_admin = await client_for(Role.org_admin, org_unit_id=east["id"])
    assert (await county_admin.get(f"{API}/training-sessions/{ts['id']}")).status_code == 200
    assert_problem(await county_admin.get(url), 403, "training_session.not_organiser")
    cadre = await create_cadre(client, east["id"], name="王五")
    trainee = await client_for(Role.cadre, cadre_id=cadre["id"])
    assert_problem(await trainee.get(url), 403, "forbidden")
    missing = f"{API}/training-sessions/{uuid.uuid4()}/sign-in-sheet"
    assert_problem(await client.get(missing), 404, "training_session.not_found")
    assert_problem(await client.get(url, params={"format": "docx"}), 422, "validation_failed")


def test_a_character_the_font_lacks_shows_as_missing_not_gone() -> None:
    """A name must not print as another name: 王😀 is 王〓 on paper, never 王."""
    rows = [SheetRow("王😀", "单位", [None])]
    sheet = SignInSheet("班", ORGANISER, date(2026, 1, 5), date(2026, 1, 5), [], rows)
    [(_, _, text)] = _pages(sheet.to_pdf())
    assert "王〓" in text
    dark, _ = _ink(sheet.to_pdf(), 0, "王〓")
    assert dark > 20
    table = load_workbook(io.BytesIO(sheet.to_xlsx())).active
    assert table["B2"].value == "王😀"  # the workbook keeps the name as it is


def test_a_class_without_trainees_still_prints_its_header() -> None:
    [(_, _, text)] = _pages(_sheet(trainees=0).to_pdf())
    assert "学员人数：0" in text
    assert "序号" in text
    table = load_workbook(io.BytesIO(_sheet(trainees=0).to_xlsx())).active
    assert table.max_row == 1


async def test_a_class_with_parts_gets_a_column_per_part_with_the_marks(
    client: httpx.AsyncClient,
) -> None:
    """Three class parts (day and half-day) are three columns; a recorded mark prints as its
    label (出勤, 请假, 缺勤), an unmarked part stays blank for a signature. Leave marked without
    an approved request counts as absent (rule 12), and the sheet says it is not approved."""
    ts, _ = await _class_with_trainees(client)
    url = f"{API}/training-sessions/{ts['id']}"
    parts = [
        {"part_date": "2025-03-03", "period": "morning", "credit_hours": "16"},
        {"part_date": "2025-03-03", "period": "afternoon", "credit_hours": "16"},
        {"part_date": "2025-03-04", "period": "evening", "credit_hours": "8"},
    ]
    etag = (await client.get(url)).headers["ETag"]  # the enrollments moved it
    r = await client.put(f"{url}/parts", json={"parts": parts}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    part_ids = [p["id"] for p in r.json()["parts"]]
    enrollments = (await client.get(f"{url}/enrollments")).json()["items"]
    by_name = {}
    for e in enrollments:
        cadre = (await client.get(f"{API}/cadres/{e['cadre_id']}")).json()
        by_name[cadre["name"]] = e["id"]
    marks = [
        ("张三", 0, "present"),
        ("张三", 1, "present"),
        ("李四", 0, "on_leave"),
        ("赵六", 2, "absent"),
    ]
    rows = [
        {"enrollment_id": by_name[name], "session_part_id": part_ids[part], "mark": mark}
        for name, part, mark in marks
    ]
    r = await client.post(f"{url}/attendance", json={"marks": rows})
    assert r.status_code == 200, r.text

    r = await client.get(f"{url}/sign-in-sheet")
    assert r.status_code == 200, r.text
    [(_w, _h, text)] = _pages(r.content)
    for word in ("3月3日", "3月4日", "上午", "下午", "晚上", "出勤", "请假", "缺勤"):
        assert word in text, word
    assert "签名" not in text  # the parts are the columns now

    r = await client.get(f"{url}/sign-in-sheet", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    table = load_workbook(io.BytesIO(r.content))["签到表"]
    cells = [[c.value for c in row] for row in table.iter_rows()]
    assert [str(h).split() for h in cells[0][3:]] == [
        ["3月3日", "上午"],
        ["3月3日", "下午"],
        ["3月4日", "晚上"],
    ]
    assert cells[1:] == [
        [1, "张三", "东县委组织部", "出勤", "出勤", None],
        [2, "李四", "东县委组织部", "请假（未批准）", None, None],
        [3, "赵六", "西县委组织部", None, None, "缺勤"],
    ]

    r = await client.get(f"{url}/sign-in-sheet", params={"format": "xlsx", "lang": "en"})
    table = load_workbook(io.BytesIO(r.content))["Sign-in sheet"]
    cells = [[c.value for c in row] for row in table.iter_rows()]
    assert [str(h).split(maxsplit=2)[-1] for h in cells[0][3:]] == [
        "Morning",
        "Afternoon",
        "Evening",
    ]
    assert cells[1][3:] == ["Present", "Present", None]
    assert cells[2][3] == "On leave (not approved)"
