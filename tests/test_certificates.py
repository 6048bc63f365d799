"""Certificates (结业证书, docs/certificates.md): issued at a session's close to the completed
trainees, numbered per organiser and year, checked in public by their code, revoked when the
study log is voided."""

import asyncio
import io
import os
import re
import shutil
import subprocess
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from app.certificate.service import mask_name
from app.config import RateLimitSettings, Settings
from app.documents.certificate import CertificatePage, certificates_pdf
from app.enums import Role
from app.main import create_app
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem


async def _class(
    client: httpx.AsyncClient, unit: dict[str, Any], names: list[str], **fields: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ts = await create_session(client, unit["id"], **fields)
    enrollments = []
    for name in names:
        cadre = await create_cadre(client, unit["id"], name=name)
        r = await client.post(
            f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
        assert r.status_code == 201, r.text
        enrollments.append(r.json())
    return ts, enrollments


async def _close(client: httpx.AsyncClient, ts: dict[str, Any]) -> None:
    r = await client.post(f"{API}/training-sessions/{ts['id']}/close")
    assert r.status_code == 200, r.text


async def _certificates(client: httpx.AsyncClient, ts: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/training-sessions/{ts['id']}/certificates")
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_closing_issues_a_certificate_to_each_completed_trainee(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    ts, enrollments = await _class(client, unit, ["张三丰", "李四", "王五"])
    # 王五 takes more leave than 1/7 of 40 hours: dropped out (退学), no log, no certificate.
    r = await client.patch(f"{API}/enrollments/{enrollments[2]['id']}", json={"leave_hours": "8"})
    assert r.status_code == 200, r.text
    assert await _certificates(client, ts) == []
    await _close(client, ts)

    issued = await _certificates(client, ts)
    assert [c["cadre_name"] for c in issued] == ["张三丰", "李四"]
    assert [c["serial"] for c in issued] == ["2025-0001", "2025-0002"]
    assert {c["enrollment_id"] for c in issued} == {e["id"] for e in enrollments[:2]}
    assert [(c["hours"], c["days"], c["status"]) for c in issued] == [
        ("40.00", "5.00", "valid")
    ] * 2
    assert issued[0]["title"] == ts["title"]
    log = (await client.get(f"{API}/study-logs/{issued[0]['study_log_id']}")).json()
    assert (log["enrollment_id"], log["hours"]) == (enrollments[0]["id"], "40.00")
    codes = {c["verification_code"] for c in issued}
    assert len(codes) == 2
    # 32 random bytes in URL-safe base64: 256 bits.
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", code) for code in codes)

    r = await client.get(f"{API}/cadres/{issued[1]['cadre_id']}/certificates")
    assert [c["serial"] for c in r.json()["items"]] == ["2025-0002"]


async def test_serials_run_on_per_organiser_and_year(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, name="南谯区", kind="county")
    first, _ = await _class(client, city, ["甲一", "甲二"])
    second, _ = await _class(client, city, ["乙一"])
    other, _ = await _class(client, county, ["丙一"])
    next_year, _ = await _class(
        client, city, ["丁一"], start_date="2026-03-02", end_date="2026-03-06"
    )
    for ts in (first, other, second, next_year):
        await _close(client, ts)
    serials = {
        name: [c["serial"] for c in await _certificates(client, ts)]
        for name, ts in (
            ("first", first),
            ("second", second),
            ("other", other),
            ("next", next_year),
        )
    }
    assert serials == {
        "first": ["2025-0001", "2025-0002"],
        "second": ["2025-0003"],
        "other": ["2025-0001"],
        "next": ["2026-0001"],
    }


async def test_anyone_verifies_a_code_and_sees_the_name_masked(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    unit = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰", "李四"])
    await _close(client, ts)
    issued = await _certificates(client, ts)

    answers = []
    for certificate in issued:
        r = await anonymous.get(f"{API}/certificates/verify/{certificate['verification_code']}")
        assert r.status_code == 200, r.text
        answers.append(r.json())
    assert answers[0] == {
        "name": "张*丰",
        "title": "县处级干部进修班",
        "start_date": "2025-03-03",
        "end_date": "2025-03-07",
        "hours": "40.00",
        "status": "valid",
    }
    assert answers[1]["name"] == "李*"
    unknown = f"{API}/certificates/verify/{'A' * 43}"
    assert_problem(await anonymous.get(unknown), 404, "certificate.not_found")
    r = await anonymous.get(unknown, headers={"Accept-Language": "zh-CN"})
    assert r.json()["title"] == "未找到结业证书"
    for malformed in ("short", "A" * 42 + "!"):
        r = await anonymous.get(f"{API}/certificates/verify/{malformed}")
        assert_problem(r, 422, "validation_failed")


def test_the_middle_of_a_name_is_masked() -> None:
    assert [mask_name(n) for n in ("张三丰", "李四", "欧阳修文", "王")] == [
        "张*丰",
        "李*",
        "欧**文",
        "王*",
    ]


async def test_voiding_the_study_log_revokes_the_certificate(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    unit = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰", "李四"])
    await _close(client, ts)
    voided, kept = await _certificates(client, ts)
    r = await client.post(f"{API}/study-logs/{voided['study_log_id']}/void")
    assert r.status_code == 200, r.text

    status = {}
    for certificate in (voided, kept):
        r = await anonymous.get(f"{API}/certificates/verify/{certificate['verification_code']}")
        status[certificate["serial"]] = r.json()["status"]
    assert status == {"2025-0001": "revoked", "2025-0002": "valid"}
    listed = await _certificates(client, ts)
    assert [c["status"] for c in listed] == ["revoked", "valid"]
    assert listed[0]["revoked_at"] is not None
    events = (await client.get(f"{API}/audit-events", params={"entity_id": voided["id"]})).json()
    assert [e["action"] for e in events["items"]] == ["create", "update"]
    assert set(events["items"][1]["changes"]) >= {"revoked_at"}
    assert "verification_code" not in events["items"][0]["changes"]


async def test_only_the_organisers_list_a_session_s_certificates(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    unit = await create_org_unit(client)
    elsewhere = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰"])
    await _close(client, ts)
    stranger = await client_for(Role.org_admin, org_unit_id=elsewhere["id"])
    r = await stranger.get(f"{API}/training-sessions/{ts['id']}/certificates")
    assert r.status_code in (403, 404)
    organiser = await client_for(Role.org_admin, org_unit_id=unit["id"])
    r = await organiser.get(f"{API}/training-sessions/{ts['id']}/certificates")
    assert [c["serial"] for c in r.json()["items"]] == ["2025-0001"]


def _render(pdf: bytes) -> Any:
    document = pdfium.PdfDocument(pdf)
    assert len(document) == 1
    page = document[0]
    # A4 in points.
    assert (round(page.get_width()), round(page.get_height())) == (595, 842)
    return page.render(scale=2).to_pil()


def _text(pdf: bytes) -> str:
    """The page's text as a PDF viewer extracts it (pdfium), lines joined: a sentence may wrap."""
    document = pdfium.PdfDocument(pdf)
    textpage = document[0].get_textpage()
    text = re.sub(r"\s+", "", textpage.get_text_range())
    # pypdf reads the same words from the content stream (its CID text comes NUL-separated).
    assert re.sub(r"[\s\x00]+", "", PdfReader(io.BytesIO(pdf)).pages[0].extract_text()) == text
    return text


async def test_the_pdf_shows_the_certificate_and_its_qr_code_links_to_the_check(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Settings
) -> None:
    unit = await create_org_unit(client, name="滁州市委组织部")
    ts, _ = await _class(client, unit, ["张三丰"])
    await _close(client, ts)
    (certificate,) = await _certificates(client, ts)

    r = await client.get(f"{API}/certificates/{certificate['id']}/pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    text = _text(r.content)
    for shown in (
        "结业证书",
        "编号：2025-0001",
        "张三丰同志于2025年3月3日至2025年3月7日参加县处级干部进修班",
        "计40学时、5天",
        "滁州市委组织部",
    ):
        assert shown in text, (shown, text)

    image = _render(r.content).convert("L")
    # Ink on the page where the title is: the Chinese is drawn, not only encoded.
    assert image.crop((0, 0, image.width, image.height // 4)).getextrema()[0] < 64
    (qr,) = zxingcpp.read_barcodes(image)
    url = settings.certificate_verify_url.replace("{code}", certificate["verification_code"])
    assert qr.text == url
    checked = await anonymous.get(url.removeprefix("http://localhost:8000"))
    assert (checked.json()["name"], checked.json()["status"]) == ("张*丰", "valid")


def _poppler(body: bytes, directory: Path) -> tuple[str, str]:
    """pdftoppm renders the page to PNG (the QR code read from it); pdftotext returns the
    text it shows."""
    pdf = directory / "certificate.pdf"
    pdf.write_bytes(body)
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(pdf), str(directory / "page")], check=True)
    (png,) = directory.glob("page*.png")
    with Image.open(png) as image:
        (qr,) = zxingcpp.read_barcodes(image)
    shown = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return shown, qr.text


def _need_poppler() -> None:
    if shutil.which("pdftoppm") and shutil.which("pdftotext"):
        return
    reason = "no pdftoppm/pdftotext: apt-get install poppler-utils"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run this test: .ci/run installs it)")
    pytest.skip(reason)


async def test_poppler_renders_and_reads_the_certificate(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The issue's check by eye: pdftoppm renders the page, pdftotext reads what it shows."""
    _need_poppler()
    unit = await create_org_unit(client, name="滁州市委组织部")
    ts, _ = await _class(client, unit, ["张三丰"])
    await _close(client, ts)
    (certificate,) = await _certificates(client, ts)
    body = (await client.get(f"{API}/certificates/{certificate['id']}/pdf")).content
    shown, qr = await asyncio.to_thread(_poppler, body, tmp_path)
    assert qr.endswith(f"/api/v1/certificates/verify/{certificate['verification_code']}")
    for text in ("结业证书", "2025-0001", "张三丰", "县处级干部进修班", "滁州市委组织部"):
        assert text in shown, (text, shown)


async def test_a_revoked_certificate_prints_as_revoked(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰"])
    await _close(client, ts)
    (certificate,) = await _certificates(client, ts)
    await client.post(f"{API}/study-logs/{certificate['study_log_id']}/void")
    r = await client.get(f"{API}/certificates/{certificate['id']}/pdf")
    assert "已撤销" in _text(r.content)


async def test_a_session_s_certificates_come_as_one_zip(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    unit = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰", "李四"])
    await _close(client, ts)
    r = await client.get(f"{API}/training-sessions/{ts['id']}/certificates.zip")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = archive.namelist()
        assert names == ["结业证书-2025-0001-张三丰.pdf", "结业证书-2025-0002-李四.pdf"]
        texts = [_text(archive.read(name)) for name in names]
    assert ["张三丰同志" in texts[0], "李四同志" in texts[1]] == [True, True]

    stranger = await client_for(Role.org_admin, org_unit_id=(await create_org_unit(client))["id"])
    r = await stranger.get(f"{API}/training-sessions/{ts['id']}/certificates.zip")
    assert r.status_code in (403, 404)


async def test_a_certificate_outside_the_scope_is_not_found(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    unit = await create_org_unit(client)
    ts, _ = await _class(client, unit, ["张三丰"])
    await _close(client, ts)
    (certificate,) = await _certificates(client, ts)
    stranger = await client_for(Role.org_admin, org_unit_id=(await create_org_unit(client))["id"])
    r = await stranger.get(f"{API}/certificates/{certificate['id']}/pdf")
    assert_problem(r, 404, "certificate.not_found")
    r = await stranger.get(f"{API}/cadres/{certificate['cadre_id']}/certificates")
    assert_problem(r, 404, "cadre.not_found")


async def test_two_classes_closing_at_once_share_one_gap_free_series(
    committed_client: httpx.AsyncClient,
) -> None:
    """Two closes of one organiser, each in its own committed transaction, at the same time:
    the counter row's lock makes the second wait, so the numbers neither repeat nor skip."""
    client = committed_client
    unit = await create_org_unit(client)
    classes = [(await _class(client, unit, ["甲一", "甲二", "甲三"]))[0] for _ in range(2)]
    answers = await asyncio.gather(
        *(client.post(f"{API}/training-sessions/{ts['id']}/close") for ts in classes)
    )
    assert [r.status_code for r in answers] == [200, 200]
    serials = [c["serial"] for ts in classes for c in await _certificates(client, ts)]
    assert sorted(serials) == [f"2025-{n:04d}" for n in range(1, 7)]
    # Each class's numbers run on without a gap (one UPSERT takes the whole class's block).
    for ts in classes:
        seqs = [int(c["serial"][-4:]) for c in await _certificates(client, ts)]
        assert seqs == list(range(seqs[0], seqs[0] + 3))


async def test_checks_do_not_use_up_the_sign_in_limit(settings: Settings) -> None:
    """The public check counts apart from the token route: checks past the sign-in limit leave
    the address free to sign in."""
    limited = settings.model_copy(
        update={"rate_limit": RateLimitSettings(token_per_minute=2, verify_per_minute=100)}
    )
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for _ in range(3):
                r = await c.get(f"{API}/certificates/verify/{'A' * 43}")
                assert r.status_code == 404, r.text
            r = await c.post(
                f"{API}/auth/token",
                data={"grant_type": "password", "username": "x", "password": "y"},
            )
            assert r.status_code == 401, r.text


async def test_the_certificate_prints_in_english_on_request(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client, name="滁州市委组织部")
    ts, _ = await _class(client, unit, ["张三丰", "李四"])
    await _close(client, ts)
    certificate, _ = await _certificates(client, ts)

    r = await client.get(f"{API}/certificates/{certificate['id']}/pdf", params={"lang": "en"})
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == "en"
    text = _text(r.content)
    for shown in (
        "CertificateofCompletion",
        "No.2025-0001",
        "张三丰attended县处级干部进修班from3March2025to7March2025",
        "40credithoursover5days",
        "滁州市委组织部",  # names and titles unchanged
        "Scantoverifythiscertificate",
    ):
        assert shown in text, (shown, text)
    assert "结业证书" not in text
    image = _render(r.content).convert("L")
    assert image.crop((0, 0, image.width, image.height // 4)).getextrema()[0] < 64

    r = await client.get(
        f"{API}/training-sessions/{ts['id']}/certificates.zip", params={"lang": "en"}
    )
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = archive.namelist()
        assert names == ["certificate-2025-0001-张三丰.pdf", "certificate-2025-0002-李四.pdf"]
        assert all("CertificateofCompletion" in _text(archive.read(n)) for n in names)
    chinese = await client.get(f"{API}/certificates/{certificate['id']}/pdf")
    assert "结业证书" in _text(chinese.content)
    bad = await client.get(f"{API}/certificates/{certificate['id']}/pdf", params={"lang": "fr"})
    assert_problem(bad, 422, "validation_failed")


@pytest.mark.parametrize(
    ("days", "lang", "shown"),
    [
        (Decimal("1"), "en", "8credithoursover1day,"),
        (Decimal("2"), "en", "16credithoursover2days,"),
        (Decimal("0.5"), "en", "4credithoursover0.5days,"),
        (Decimal("1"), "zh-CN", "计8学时、1天"),
    ],
)
def test_one_day_is_a_day_in_english(days: Decimal, lang: str, shown: str) -> None:
    page = CertificatePage(
        serial="2025-0001",
        name="张三丰",
        title="专题讲座",
        start_date=date(2025, 3, 3),
        end_date=date(2025, 3, 3),
        hours=Decimal(8) * days,
        days=days,
        organiser="滁州市委组织部",
        verify_url="https://example.test/verify/x",
    )
    text = _text(certificates_pdf([page], lang))
    assert shown in text, text
