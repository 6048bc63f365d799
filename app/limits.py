"""Request bodies: a size limit per route class, a read deadline and a JSON nesting bound.

One pure ASGI middleware reads the whole body before routing, authentication or a database
connection (`APP_BODY__...`). A body over its route class's limit is refused from its
Content-Length, or as soon as the bytes that arrived pass the limit (a chunked body has no
length): 413. A body that has not arrived within the read timeout is 408. A JSON body nested
deeper than the bound is 400, like any other body that cannot be parsed.

Reading first is what keeps slow clients from starving the service: a handler that reads its
body after its dependencies (the import reads it by hand) would otherwise hold a pooled database
connection, and the actor's lookup, for as long as the client takes to send it. Here a slow
upload costs a socket and at most its limit in memory. The application then reads the buffered
body as one message.
"""

import asyncio
import re

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import BodyLimitSettings
from app.errors import AppError, BadRequest, problem_response
from app.http import API_PREFIX
from app.i18n import N_

# Bodies above this are scanned for their depth off the event loop.
_SCAN_IN_THREAD_BYTES = 1024 * 1024


class BodyTooLarge(AppError):
    status = 413
    code = "body_too_large"
    title = N_("The request body is larger than this operation accepts")


class BodyTimeout(AppError):
    status = 408
    code = "body_timeout"
    title = N_("The request body did not arrive in time")


class NestedTooDeep(BadRequest):
    title = N_("The JSON body is nested too deeply")


class _ClientGone(Exception):
    pass


class _LimitExceeded(Exception):
    pass


def body_limit(settings: BodyLimitSettings, path: str) -> int:
    """The route class of `path`, as its limit in bytes."""
    if path.startswith(f"{API_PREFIX}/imports/"):
        return settings.import_max_bytes
    if path.startswith(f"{API_PREFIX}/sync/"):
        return settings.sync_max_bytes
    return settings.json_max_bytes


_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
# Everything but brackets deleted; objects' braces read as arrays' brackets.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")


def json_too_deep(body: bytes, max_depth: int) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than `max_depth`, without
    parsing it (the parsers recurse: a deep enough text exhausts their stack). Each round removes
    the innermost `[]` pairs, so a text `max_depth` deep is empty after `max_depth` rounds; what
    an invalid text leaves unclosed counts as depth (the parser refuses it anyway)."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    rest = _STRING.sub(b"", body).translate(_BRACES_AS_BRACKETS, _NOT_BRACKETS)
    for rounds in range(max_depth):
        shorter = rest.replace(b"[]", b"")
        if len(shorter) == len(rest):  # nothing closes any more: count the unclosed
            return rounds + rest.count(b"[") > max_depth
        rest = shorter
    return b"[" in rest


def _is_json(headers: Headers) -> bool:
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and "+json" in media)


def _has_body(headers: Headers) -> bool:
    # HTTP/1.1: a request has a body only with one of these two headers.
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _LimitExceeded
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: BodyLimitSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _has_body(headers):
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["path"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, BodyTooLarge(_too_large(limit)))
            return
        try:
            body = await asyncio.wait_for(_read(receive, limit), self.settings.read_timeout_seconds)
        except _LimitExceeded:
            await self._refuse(scope, receive, send, BodyTooLarge(_too_large(limit)))
            return
        except TimeoutError:
            detail = f"Send the whole body within {self.settings.read_timeout_seconds:g} seconds."
            await self._refuse(scope, receive, send, BodyTimeout(detail))
            return
        except _ClientGone:
            return  # nobody is left to answer
        if _is_json(headers) and await _too_deep(body, self.settings.json_max_depth):
            detail = f"Arrays and objects may nest {self.settings.json_max_depth} levels at most."
            await self._refuse(scope, receive, send, NestedTooDeep(detail))
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: AppError) -> None:
        # The rest of the body is left unread: the connection cannot carry another request.
        response = problem_response(
            Request(scope),
            status=error.status,
            code=error.code,
            title=error.title,
            detail=error.detail,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _too_large(limit: int) -> str:
    return f"This operation accepts bodies of at most {limit} bytes."


async def _too_deep(body: bytes, max_depth: int) -> bool:
    if len(body) > _SCAN_IN_THREAD_BYTES:
        return await asyncio.to_thread(json_too_deep, body, max_depth)
    return json_too_deep(body, max_depth)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
