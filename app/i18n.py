"""Messages in zh-CN (the default) or en, chosen by `Accept-Language`.

The catalogues are gettext `.po` files under app/locale/<lang>/LC_MESSAGES/messages.po, read with
Babel when first needed (no build step). Message ids are the English texts, so `en` is the
identity and the zh_CN catalogue translates them. `make messages` extracts every text marked with
`_()` or `N_()` into app/locale/messages.pot and updates the catalogues.
"""

from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.types import ASGIApp, Receive, Scope, Send

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


class LanguageMiddleware:
    """Sets `current_language` for the request from its `Accept-Language`."""

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
        token = current_language.set(negotiate(header))
        try:
            await self.app(scope, receive, send)
        finally:
            current_language.reset(token)
