"""Messages in zh-CN by default and in English on `Accept-Language: en` (app/i18n.py): the same
failing calls differ only in the words of titles and details, never in status, code or pointers;
every error title and every extracted text has a Chinese translation."""

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from fastapi import Request

from app.config import Settings
from app.errors import AppError, DatabaseConnectError, _validation_message
from app.i18n import LOCALE_DIR, gettext, negotiate
from app.main import create_app  # every router, so every error class, is imported
from tests.factories import API, create_cadre, create_org_unit

CJK = re.compile(r"[\u4e00-\u9fff]")
ZH_HEADERS = [{"Accept-Language": "zh-CN"}, {"Accept-Language": "zh-CN,zh;q=0.9"}]


def _words_removed(body: dict[str, Any]) -> dict[str, Any]:
    """The problem without its words (and its request id, new each call)."""
    out = {k: v for k, v in body.items() if k not in {"title", "detail", "request_id"}}
    if "errors" in out:
        out["errors"] = [{k: v for k, v in e.items() if k != "detail"} for e in out["errors"]]
    return out


def _texts(body: dict[str, Any]) -> list[str]:
    return [body["title"], body.get("detail") or ""] + [e["detail"] for e in body.get("errors", [])]


async def _calls(client: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> list[Any]:
    """One failing call of each kind, as (name, client, method, url, json)."""
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    return [
        ("404 of the application", client, "GET", f"{API}/cadres/{uuid.uuid4()}", None),
        ("404 of the router", client, "GET", f"{API}/no-such-thing", None),
        ("405", client, "DELETE", f"{API}/org-units", None),
        (
            "422 with several errors",
            client,
            "POST",
            f"{API}/org-units",
            {"code": "X" * 500, "kind": "galaxy", "parent_id": "not-a-uuid", "extra": 1},
        ),
        ("422 of a query", client, "GET", f"{API}/org-units", {"limit": "many"}),
        (
            "409 rule violation",
            client,
            "PATCH",
            f"{API}/org-units/{city['id']}",
            {"parent_id": county["id"]},
        ),
        ("401", anonymous, "GET", f"{API}/cadres", None),
        # A detail formatted from a translated template at the raise (app.http).
        (
            "412",
            client,
            "PATCH",
            f"{API}/org-units/{county['id']}",
            {"name": "x", "_if_match": '"999"'},
        ),
    ]


async def _send(
    c: httpx.AsyncClient, method: str, url: str, payload: Any, headers: dict[str, str]
) -> httpx.Response:
    if method == "GET" and payload:
        return await c.get(url, params=payload, headers=headers)
    if payload and "_if_match" in payload:
        payload = dict(payload)
        headers = {**headers, "If-Match": payload.pop("_if_match")}
    return await c.request(method, url, json=payload, headers=headers)


def _without_language(c: httpx.AsyncClient, transport: httpx.ASGITransport) -> httpx.AsyncClient:
    """The same caller through a transport that names no language (the suite's asks for en)."""
    plain = httpx.ASGITransport(app=transport.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=plain, base_url="http://test", headers=c.headers)


async def test_the_same_errors_differ_only_in_their_words(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, transport: httpx.ASGITransport
) -> None:
    for name, c, method, url, payload in await _calls(client, anonymous):
        en = await _send(c, method, url, payload, {"Accept-Language": "en"})
        assert en.status_code >= 400, name
        assert en.headers["content-language"] == "en", name
        assert "Accept-Language" in en.headers["vary"], name
        en_body = en.json()
        assert not any(CJK.search(t) for t in _texts(en_body)), (name, en_body)
        async with _without_language(c, transport) as plain:
            answers = [await _send(plain, method, url, payload, {})]
        answers += [await _send(c, method, url, payload, h) for h in ZH_HEADERS]
        for zh in answers:
            assert zh.status_code == en.status_code, name
            assert zh.headers["content-language"] == "zh-CN", name
            assert "Accept-Language" in zh.headers["vary"], name
            assert zh.headers["content-type"] == en.headers["content-type"], name
            zh_body = zh.json()
            assert _words_removed(zh_body) == _words_removed(en_body), name
            # Every text is Chinese (a pattern or a value quoted in it may stay as it is).
            for text in _texts(zh_body):
                if text:
                    assert CJK.search(text), (name, text, zh_body)
            assert zh_body["title"] != en_body["title"], name


async def test_validation_messages_are_formatted_in_chinese(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/org-units",
        json={"code": "X" * 500, "kind": "city", "name": "x"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["title"] == "请求无效"
    [error] = body["errors"]
    assert error["code"] == "string_too_long"
    assert re.fullmatch(r"字符串最多只能有 \d+ 个字符", error["detail"]), error


def test_a_validation_message_falls_back_to_pydantic_when_its_context_is_missing() -> None:
    err = {"type": "string_too_long", "msg": "String should have at most 5 characters"}
    assert _validation_message(err, "zh-CN") == err["msg"]
    assert _validation_message(err, "en") == err["msg"]
    err = {"type": "no_such_type", "msg": "Something pydantic says"}
    assert _validation_message(err, "zh-CN") == "Something pydantic says"
    enum = {"type": "enum", "msg": "Input should be 'a' or 'b'", "ctx": {"expected": "'a' or 'b'"}}
    assert _validation_message(enum, "zh-CN") == "应为 'a' 或 'b'"
    value_error = {"type": "value_error", "msg": "Value error, end_date is before start_date"}
    assert _validation_message(value_error, "zh-CN") == "取值错误：end_date 早于 start_date"
    unknown = {"type": "value_error", "msg": "Value error, a message without a translation"}
    assert _validation_message(unknown, "zh-CN") == "取值错误：a message without a translation"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en;q=0.9,zh-CN;q=0.8", "en"),
        ("zh-CN;q=0.5,en;q=0.9", "en"),
        ("fr-FR,en;q=0.5", "en"),
        ("fr-FR,de;q=0.5", "zh-CN"),
        ("en;q=0", "zh-CN"),
        ("*", "zh-CN"),
        ("fr, *;q=0.5", "zh-CN"),
        ("en;q=abc", "zh-CN"),
        ("en;q=2", "zh-CN"),
        ("en, zh-CN", "en"),
        ("zh-CN, en", "zh-CN"),
        ("%%%garbage;;;,,", "zh-CN"),
        ("x" * 5000, "zh-CN"),
        ("en-", "zh-CN"),
        ("und", "zh-CN"),
        ("und, en;q=0.1", "en"),
    ],
)
def test_accept_language_is_negotiated(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def _error_classes() -> set[type[AppError]]:
    found: set[type[AppError]] = set()
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.add(cls)
            pending.extend(cls.__subclasses__())
    return found


def test_every_error_title_has_a_chinese_translation() -> None:
    classes = _error_classes()
    assert len(classes) > 50
    untranslated = sorted(
        f"{cls.__module__}.{cls.__name__}: {cls.title}"
        for cls in classes
        if not CJK.search(gettext(cls.title, "zh-CN"))
    )
    assert untranslated == []
    assert all(gettext(cls.title, "en") == cls.title for cls in classes)


def _catalogue(path: Path, locale: str | None = None) -> dict[str, str]:
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    return {
        str(m.id): str(m.string) for m in catalog if m.id and not m.fuzzy and isinstance(m.id, str)
    }


def test_the_template_is_up_to_date_and_every_text_is_translated() -> None:
    """A text marked with _() or N_() but missing from app/locale/messages.pot (run
    `make messages`), or without a Chinese translation, fails here."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    extracted = {
        message
        for _, _, message, _, _ in extract_from_dir(
            Path(__file__).parent.parent / "app", keywords=keywords
        )
        if isinstance(message, str)
    }
    template = set(_catalogue(LOCALE_DIR / "messages.pot"))
    assert extracted - template == set(), "run `make messages`"
    zh = _catalogue(LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po", "zh_CN")
    assert sorted(m for m in template if not zh.get(m)) == []
    for msgid, msgstr in zh.items():
        # A translated template keeps its placeholders.
        assert set(re.findall(r"\{\w+\}", msgid)) == set(re.findall(r"\{\w+\}", msgstr)), msgid


async def test_faults_of_the_database_and_of_the_service_are_translated(
    settings: Settings,
) -> None:
    app = create_app(settings)

    async def unreachable(_: Request) -> None:
        raise DatabaseConnectError("connection refused")

    async def bug(_: Request) -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-i18n/unreachable", unreachable)
    app.add_api_route("/test-i18n/bug", bug)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for path, status, code in [
            ("/test-i18n/unreachable", 503, "database_unavailable"),
            ("/test-i18n/bug", 500, "internal_error"),
        ]:
            en = await c.get(path, headers={"Accept-Language": "en-US,en;q=0.9"})
            zh = await c.get(path)
            assert (en.status_code, zh.status_code) == (status, status)
            assert en.json()["code"] == zh.json()["code"] == code
            assert en.headers.get("retry-after") == zh.headers.get("retry-after")
            assert (en.headers["content-language"], zh.headers["content-language"]) == (
                "en",
                "zh-CN",
            )
            assert not CJK.search(en.json()["title"])
            assert CJK.search(zh.json()["title"])
            assert CJK.search(zh.json().get("detail", "中"))


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("en;q=0.1, zh;q=0.8", "zh-CN"),
        ("fr", "zh-CN"),
        ("x" * 300 + ";q=abc, ;;;,,*;q=-1", "zh-CN"),
    ],
)
async def test_every_json_answer_says_its_language(
    client: httpx.AsyncClient, header: str, language: str
) -> None:
    """Not only problems: a read, a list and a creation say the negotiated language and that
    the answer varies with Accept-Language; a header that cannot be read is zh-CN, never a 500."""
    unit = await create_org_unit(client)
    answers = [
        await client.get(f"{API}/org-units/{unit['id']}", headers={"Accept-Language": header}),
        await client.get(f"{API}/org-units", headers={"Accept-Language": header}),
        await client.get(f"{API}/auth/me", headers={"Accept-Language": header}),
        await client.get(f"{API}/org-units/{uuid.uuid4()}", headers={"Accept-Language": header}),
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 404]
    for r in answers:
        assert r.headers["Content-Language"] == language, r.request.url
        vary = [v.strip().lower() for v in r.headers["Vary"].split(",")]
        assert vary.count("accept-language") == 1, r.headers["Vary"]


async def test_a_file_says_the_language_of_its_lang_parameter(client: httpx.AsyncClient) -> None:
    """An archive's words follow its `lang`, not Accept-Language: it says so, and does not vary
    with the header."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    url = f"{API}/cadres/{cadre['id']}/archive"
    for lang, asked in (("en", "zh-CN"), ("zh-CN", "en")):
        r = await client.get(
            url, params={"format": "csv", "lang": lang}, headers={"Accept-Language": asked}
        )
        assert r.status_code == 200, r.text
        assert r.headers["Content-Language"] == lang
        assert "accept-language" not in r.headers.get("Vary", "").lower()
    units = await client.get(
        f"{API}/org-units/{unit['id']}/archive",
        params={"format": "csv", "lang": "en"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert units.status_code == 200, units.text
    assert units.headers["Content-Language"] == "en"
