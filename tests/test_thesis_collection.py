"""论文汇编 (docs/rules.md, "Theses and reflections"): the excellent theses of a session or a
year as one PDF or DOCX, checked the way a person sees it: the PDF rendered (pdfium, poppler)
and its text read page by page, the table of contents' page numbers against the pages the
titles are really on; the DOCX read back with python-docx."""

import asyncio
import io
import re
import subprocess
from pathlib import Path
from typing import Any

import docx
import httpx
import pypdfium2 as pdfium
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from app.config import Settings, ThesisSettings
from app.documents.thesis_collection import (
    Collection,
    CollectionEntry,
    CollectionWords,
    collection_pdf,
)
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_certificates import _need_poppler
from tests.test_platform import assert_problem

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _pages(pdf: bytes) -> list[str]:
    """Each page's text as a PDF viewer extracts it (pdfium), whitespace dropped; pypdf reads
    the same words from the content streams."""
    document = pdfium.PdfDocument(pdf)
    texts = [re.sub(r"\s+", "", page.get_textpage().get_text_range()) for page in document]
    reader = PdfReader(io.BytesIO(pdf))
    assert [re.sub(r"[\s\x00]+", "", p.extract_text()) for p in reader.pages] == texts
    return texts


def _toc(pages: list[str], titles: list[str]) -> dict[str, int]:
    """The page number the table of contents gives each title (the TOC pages follow the cover,
    before the first title's page)."""
    first = next(
        n for n, text in enumerate(pages) if n > 0 and titles[0] in text and "目录" not in text
    )
    contents = "".join(pages[1:first])
    numbers = {}
    for title in titles:
        found = re.search(re.escape(title) + r"(\d+)", contents)
        assert found, (title, contents)
        numbers[title] = int(found.group(1))
    return numbers


def _where_titles_are(pages: list[str], titles: list[str], first: int) -> dict[str, int]:
    """The (1-based) page on which each title is set, from the first text page on."""
    return {
        title: next(n + 1 for n in range(first, len(pages)) if pages[n].startswith(title))
        for title in titles
    }


def _ink(pdf: bytes, page: int) -> int:
    """The darkest grey on a rendered page: Chinese drawn, not only encoded."""
    image = pdfium.PdfDocument(pdf)[page].render(scale=1).to_pil().convert("L")
    return int(image.getextrema()[0])


WORDS = CollectionWords(
    contents="目录",
    author="作者",
    unit="单位",
    kind="类别",
    page="第 {page} 页",
    count="共 {count} 篇",
)


def test_the_table_of_contents_gives_the_page_each_title_is_really_on() -> None:
    """Texts of different lengths, some over several pages, and more of them than one contents
    page lists: each line of the contents gives the page its text starts on."""
    entries = [
        CollectionEntry(
            title=f"第{n:02d}篇调研报告",
            author=f"作者{n}",
            unit="来安县",
            kind="调研文章",
            body="\n".join(["基层干部教育培训的质量和效益。" * 12] * (1 + (n * 7) % 13)),
        )
        for n in range(1, 41)
    ]
    pdf = collection_pdf(Collection("2025年度优秀调研文章汇编", entries, WORDS))
    pages = _pages(pdf)
    titles = [e.title for e in entries]
    listed = _toc(pages, titles)
    # Forty lines take two contents pages (pages 2 and 3); the texts begin on page 4.
    assert "目录" in pages[1]
    assert titles[-1] in pages[2]
    really = _where_titles_are(pages, titles, 3)
    assert listed == really
    assert really[titles[0]] == 4
    assert len(set(really.values())) == 40
    assert max(really.values()) < len(pages)
    # The foot of each page but the cover shows the same number.
    for title, page in really.items():
        assert pages[page - 1].endswith(f"第{page}页"), (title, pages[page - 1][-20:])
    assert pages[0].startswith("2025年度优秀调研文章汇编共40篇")
    assert _ink(pdf, 0) < 64
    assert _ink(pdf, 3) < 64


async def _graded_class(client: httpx.AsyncClient, client_for: ClientFor) -> dict[str, Any]:
    """A city class with trainees of two counties; three excellent theses, one merely passed,
    one excellent reflection."""
    city = await create_org_unit(client, name="滁州市委组织部")
    a = await create_org_unit(client, city["id"], kind="county", name="来安县")
    b = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    ts = await create_session(client, city["id"], title="县处级干部进修班")
    made: dict[str, str] = {}
    for unit, name, title, kind, grade in (
        (b, "王五", "全椒县乡村振兴调研", "thesis", "excellent"),
        (a, "李四", "来安县基层党建调研", "thesis", "excellent"),
        (a, "张三", "来安县干部培训需求调研", "thesis", "excellent"),
        (a, "赵六", "来安县营商环境调研", "thesis", "pass"),
        (b, "王五", "进修班学习心得", "reflection", "excellent"),
    ):
        cadre_id = made.get(name) or (await create_cadre(client, unit["id"], name=name))["id"]
        if name not in made:
            r = await client.post(
                f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre_id}
            )
            assert r.status_code == 201, r.text
        made[name] = cadre_id
        r = await client.post(
            f"{API}/theses",
            json={
                "cadre_id": cadre_id,
                "training_session_id": ts["id"],
                "kind": kind,
                "title": title,
                "body": f"{title}的第一段。\n{title}的第二段。",
            },
        )
        assert r.status_code == 201, r.text
        r = await client.put(f"{API}/theses/{r.json()['id']}/grade", json={"grade": grade})
        assert r.status_code == 200, r.text
    return {"ts": ts, "city": city, "a": a, "b": b}


# Sorted by unit (全椒县 before 来安县 in code point order), then author.
EXCELLENT_THESES = ["全椒县乡村振兴调研", "来安县干部培训需求调研", "来安县基层党建调研"]


async def test_the_pdf_collection_of_a_session(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _graded_class(client, client_for)
    r = await client.get(
        f"{API}/thesis-collection",
        params={"training_session_id": c["ts"]["id"], "kind": "thesis"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-language"] == "zh-CN"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    pages = _pages(r.content)
    assert pages[0].startswith("县处级干部进修班优秀调研文章汇编")
    listed = _toc(pages, EXCELLENT_THESES)
    assert (
        listed
        == _where_titles_are(pages, EXCELLENT_THESES, 2)
        == {
            "全椒县乡村振兴调研": 3,
            "来安县干部培训需求调研": 4,
            "来安县基层党建调研": 5,
        }
    )
    assert len(pages) == 5
    assert "作者：王五" in pages[2]
    assert "单位：全椒县" in pages[2]
    assert "类别：调研文章" in pages[2]
    assert "来安县营商环境调研" not in "".join(pages)  # merely passed
    assert "进修班学习心得" not in "".join(pages)  # a reflection, not asked for
    # No ID number, no id: an honour list.
    assert not re.search(r"\d{17}[\dX]", "".join(pages))

    # Both kinds by default; the title says so.
    r = await client.get(f"{API}/thesis-collection", params={"training_session_id": c["ts"]["id"]})
    pages = _pages(r.content)
    assert pages[0].startswith("县处级干部进修班优秀调研文章和学习心得汇编")
    assert "进修班学习心得" in pages[1]


async def test_poppler_renders_and_reads_the_collection(
    client: httpx.AsyncClient, client_for: ClientFor, tmp_path: Path
) -> None:
    _need_poppler()
    c = await _graded_class(client, client_for)
    r = await client.get(
        f"{API}/thesis-collection",
        params={"training_session_id": c["ts"]["id"], "kind": "thesis"},
    )
    path = tmp_path / "collection.pdf"
    path.write_bytes(r.content)

    def poppler() -> str:
        subprocess.run(["pdftoppm", "-png", "-r", "50", str(path), str(tmp_path / "p")], check=True)
        assert len(list(tmp_path.glob("p*.png"))) == 5
        return subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout

    shown = await asyncio.to_thread(poppler)
    by_page = [re.sub(r"\s+", "", p) for p in shown.split("\f")]
    assert "目录" in by_page[1]
    for title, page in (("全椒县乡村振兴调研", 3), ("来安县基层党建调研", 5)):
        assert f"{title}{page}" in by_page[1]
        assert title in by_page[page - 1]


async def test_the_docx_collection_reads_back_in_order_with_its_contents(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _graded_class(client, client_for)
    r = await client.get(
        f"{API}/thesis-collection",
        params={"training_session_id": c["ts"]["id"], "kind": "thesis", "format": "docx"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == DOCX
    document = docx.Document(io.BytesIO(r.content))
    styles = [p.style.name if p.style else "" for p in document.paragraphs]
    headings = [
        p.text for p, style in zip(document.paragraphs, styles, strict=True) if style == "Heading 1"
    ]
    assert headings == EXCELLENT_THESES
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "县处级干部进修班优秀调研文章汇编"
    # The contents: a Word TOC field over the headings, then the titles listed.
    xml = document.element.xml
    assert re.search(r'<w:instrText[^>]*>TOC \\o "1-1"', xml)
    contents = texts.index("目录")
    assert texts[contents + 2 : contents + 5] == EXCELLENT_THESES
    # Each text on a new page, with its byline and paragraphs.
    starts = [
        p for p, style in zip(document.paragraphs, styles, strict=True) if style == "Heading 1"
    ]
    assert all(p.paragraph_format.page_break_before for p in starts)
    first = styles.index("Heading 1")
    assert texts[first + 1] == "作者：王五　单位：全椒县　类别：调研文章"
    assert texts[first + 2 : first + 4] == [
        "全椒县乡村振兴调研的第一段。",
        "全椒县乡村振兴调研的第二段。",
    ]


async def test_a_year_s_collection_of_a_unit_in_english(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _graded_class(client, client_for)
    r = await client.get(
        f"{API}/thesis-collection",
        params={"year": 2025, "org_unit_id": c["a"]["id"], "kind": "thesis", "lang": "en"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == "en"
    pages = _pages(r.content)
    assert pages[0].startswith("2025:excellenttheses")
    assert "Contents" in pages[1]
    titles = EXCELLENT_THESES[1:]
    assert (
        _toc_en(pages, titles)
        == _where_titles_are(pages, titles, 2)
        == {
            titles[0]: 3,
            titles[1]: 4,
        }
    )
    assert pages[2].endswith("Page3")


def _toc_en(pages: list[str], titles: list[str]) -> dict[str, int]:
    contents = pages[1]
    return {t: int(re.search(re.escape(t) + r"(\d+)", contents).group(1)) for t in titles}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"year": 2024}, 404, "thesis.collection_empty"),
        ({}, 422, "validation_failed"),
        ({"year": 1800}, 422, "validation_failed"),
        ({"year": 2025, "format": "odt"}, 422, "validation_failed"),
        (
            {"training_session_id": "00000000-0000-7000-8000-000000000001"},
            404,
            "training_session.not_found",
        ),
        (
            {"year": 2025, "org_unit_id": "00000000-0000-7000-8000-000000000001"},
            404,
            "org_unit.not_found",
        ),
    ],
)
async def test_collection_problems(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    params: dict[str, Any],
    status: int,
    code: str,
) -> None:
    await _graded_class(client, client_for)
    r = await client.get(f"{API}/thesis-collection", params=params)
    assert_problem(r, status, code)


async def test_a_collection_over_the_cap_is_refused(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    app: FastAPI,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Memory stays bounded: more excellent texts than APP_THESIS__COLLECTION_MAX is a 409
    before anything is rendered; as many as the cap is a document."""
    c = await _graded_class(client, client_for)
    params = {"training_session_id": c["ts"]["id"]}
    for cap, status in ((3, 409), (4, 200)):
        capped = settings.model_copy(update={"thesis": ThesisSettings(collection_max=cap)})
        monkeypatch.setattr(app.state, "settings", capped)
        r = await client.get(f"{API}/thesis-collection", params=params)
        assert r.status_code == status, r.text
    monkeypatch.setattr(
        app.state,
        "settings",
        settings.model_copy(update={"thesis": ThesisSettings(collection_max=3)}),
    )
    assert_problem(
        await client.get(f"{API}/thesis-collection", params=params),
        409,
        "thesis.collection_too_large",
    )


async def test_a_collection_shows_only_what_the_caller_may_read(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """County B's org_admin, who neither organised the class nor has 来安县's cadres, gets 全椒县's
    text alone; a cadre may not ask for a collection at all."""
    c = await _graded_class(client, client_for)
    b_admin = await client_for(Role.org_admin, org_unit_id=c["b"]["id"])
    r = await b_admin.get(f"{API}/thesis-collection", params={"year": 2025, "kind": "thesis"})
    assert r.status_code == 200, r.text
    pages = _pages(r.content)
    assert len(pages) == 3
    assert "全椒县乡村振兴调研" in pages[2]
    cadre = await create_cadre(client, c["a"]["id"])
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    r = await me.get(f"{API}/thesis-collection", params={"year": 2025})
    assert r.status_code == 403


async def test_text_xml_cannot_hold_still_gives_a_docx(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """U+FFFE and U+FFFF pass the API's text patterns (they are printable code points) but XML
    1.0 cannot hold them: the DOCX leaves them out instead of failing with a 500; the PDF too
    still renders."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], title="进修班\uffff")
    cadre = await create_cadre(client, unit["id"], name="张\ufffe三")
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/theses",
        json={
            "cadre_id": cadre["id"],
            "training_session_id": ts["id"],
            "kind": "thesis",
            "title": "调研\uffff报告",
            "body": "第一段\ufffe。\n第二段\uffff。",
        },
    )
    assert r.status_code == 201, r.text
    r = await client.put(f"{API}/theses/{r.json()['id']}/grade", json={"grade": "excellent"})
    assert r.status_code == 200, r.text
    params = {"training_session_id": ts["id"]}
    r = await client.get(f"{API}/thesis-collection", params={**params, "format": "docx"})
    assert r.status_code == 200, r.text
    texts = [p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs]
    assert "调研报告" in texts
    assert "第一段。" in texts
    assert "第二段。" in texts
    assert any("张三" in t for t in texts)
    r = await client.get(f"{API}/thesis-collection", params={**params, "format": "pdf"})
    assert r.status_code == 200, r.text
