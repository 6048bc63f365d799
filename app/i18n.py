"""Messages in zh-CN (the default) or en, chosen by `Accept-Language`.

The catalogues are gettext `.po` files under app/locale/<lang>/LC_MESSAGES/messages.po, read with
Babel when first needed (no build step). Message ids are the English texts, so `en` is the
identity and the zh_CN catalogue translates them. `make messages` extracts every text marked with
`_()` or `N_()` into app/locale/messages.pot and updates the catalogues.
"""

from collections.abc import Iterable
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "zh-CN"
SUPPORTED_LANGUAGES = ("zh-CN", "en")
# The catalogue of each language; en has none (the message ids are English).
_CATALOGUES = {"zh-CN": "zh_CN"}

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Marks a text for extraction without translating it (class attributes, tables): it is
    translated where it is rendered."""
    return message


def _language_of(tag: str) -> str | None:
    """The supported language a language range names, or None (`zh`, `zh-CN`, `zh-Hans` → zh-CN;
    `en`, `en-US` → en; `*` → the default)."""
    tag = tag.strip()
    if tag == "*":
        return DEFAULT_LANGUAGE
    try:
        locale = Locale.parse(tag, sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if locale.language != tag.partition("-")[0].lower():
        return None  # Babel fills in a likely language for `und` (undetermined): it names none
    if locale.language == "en":
        return "en"
    if locale.language == "zh":
        # Traditional Chinese (zh-TW, zh-HK, zh-Hant) is not served: zh-CN is the nearest.
        return "zh-CN"
    return None


def negotiate(accept_language: str | None) -> str:
    """The language to answer in, from an `Accept-Language` value (RFC 9110 §12.5.4): the
    supported language of the highest q-value, the first listed on a tie; zh-CN when none is
    supported, the header is missing or cannot be read."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")[:32]):
        tag, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        if quality <= 0.0:
            continue
        language = _language_of(tag)
        if language is not None:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


@cache
def translations(language: str) -> NullTranslations:
    """The gettext translations of `language`, compiled from its .po file in memory."""
    name = _CATALOGUES.get(language)
    if name is None:
        return NullTranslations()
    path = LOCALE_DIR / name / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=name)
    out = Translations()
    for message in catalog:
        if message.id and message.string and not message.fuzzy and isinstance(message.id, str):
            assert isinstance(message.string, str)
            out._catalog[message.id] = message.string
    return out


def gettext(message: str, language: str | None = None) -> str:
    """`message` in `language` (by default the request's), or as it is when not translated."""
    return translations(language or current_language.get()).gettext(message)


_ = gettext


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def join(separator: str, items: Iterable[str]) -> str:
    """`items` joined with the translation of `separator` (" and " → 和): where a Chinese
    word meets a figure, a space between them, as Chinese text sets them (尚差 3 天和 42 学时)."""
    sep = gettext(separator)
    out = ""
    for index, item in enumerate(items):
        if index:
            out += sep
            if out and _is_cjk(out[-1]) and item[:1].isascii() and item[:1].isalnum():
                out += " "
        out += item
    return out


def vary_on_language(headers: MutableHeaders) -> None:
    """Adds `Accept-Language` to the answer's `Vary` (once), keeping what is there."""
    listed = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    if "accept-language" not in {v.lower() for v in listed}:
        headers["Vary"] = ", ".join([*listed, "Accept-Language"])


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class LanguageMiddleware:
    """Sets `current_language` for the request from its `Accept-Language`, and says the
    language on every JSON answer: `Content-Language` (the negotiated one) and `Vary:
    Accept-Language`. A file answer (an archive) says its own language, from its `lang`
    parameter, and does not vary on the header; an answer that already says its language
    keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"accept-language":
                header = value.decode("latin-1")
                break
        language = negotiate(header)

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if _is_json(headers.get("content-type", "")):
                    if "content-language" not in headers:
                        headers["Content-Language"] = language
                    vary_on_language(headers)
            await send(message)

        token = current_language.set(language)
        try:
            await self.app(scope, receive, send_with_language)
        finally:
            current_language.reset(token)
