"""`Idempotency-Key` on POST: the same key and body answer the stored first answer; the same
key with another body is 422; a retry while the first is still running is 409. A key is kept
`APP_IDEMPOTENCY_RETENTION_HOURS` (24): after that the same key is a new request.

The route class wraps the endpoint in the request's one transaction (app.db.transaction), so the
stored answer commits together with what the request created, or not at all. Stored answers are
encrypted (app.personal_data.SecretBox): they may show a whole ID number or a webhook's secret,
which a copy of the database must not.

A replay is authorised as the request itself is: the route's dependencies run again (the token,
the user still active, the role's permission for the operation: app.security.authorize), and only
the endpoint is replaced by the stored answer. A user deactivated since gets 401, one whose role
may no longer call the operation 403, as the request would. The answer was made for the rights
the caller had then (its role, its unit or cadre: what it showed whole or masked), which are
sealed with it: a caller whose rights changed otherwise gets 409 `idempotency.rights_changed`,
never the stored body."""

import asyncio
import functools
import hashlib
import inspect
import re
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.actor import Actor
from app.auth.tokens import InvalidToken, verify
from app.db import transaction
from app.errors import ProblemFieldError
from app.http import settings_of
from app.i18n import N_, current_language
from app.idempotency import repository
from app.idempotency.errors import (
    AnswerUnreadable,
    BadKey,
    KeyReused,
    RightsChanged,
    StillRunning,
)
from app.idempotency.models import IdempotencyRecord
from app.personal_data import secret_box

HEADER = "idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


async def _principal(request: Request) -> Any:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    settings = settings_of(request)
    try:
        if settings.auth.oidc_jwks_url:
            # The identity provider's keys may have to be fetched: not on the event loop.
            subject = await asyncio.to_thread(verify, settings, header[7:])
        else:
            subject = verify(settings, header[7:])
    except InvalidToken:
        return None
    return subject.user_id


def _context(principal: Any, key: str) -> bytes:
    return f"idempotency_record.body:{principal}:{key}".encode()


# The sealed plaintext: this header, the rights the answer was made for, a newline, the body.
# A record sealed without it (before rights were kept) is never replayed.
_SEALED_V2 = b"rights/v2\n"


def _rights(request: Request) -> bytes:
    """What decided the answer's content: the authorised actor's role and unit or cadre
    (app.security.authorize leaves the actor on the request)."""
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is None:
        return b"-"
    return f"{actor.role.value}:{actor.org_unit_id or ''}:{actor.cadre_id or ''}".encode()


def _seal_plaintext(request: Request, body: bytes) -> bytes:
    return _SEALED_V2 + _rights(request) + b"\n" + body


def _unseal_plaintext(plaintext: bytes) -> tuple[bytes | None, bytes]:
    """(rights, body); rights None for a record sealed without them."""
    if not plaintext.startswith(_SEALED_V2):
        return None, plaintext
    rights, _, body = plaintext[len(_SEALED_V2) :].partition(b"\n")
    return rights, body


@dataclass(frozen=True)
class _Replay:
    request: Request
    stored: IdempotencyRecord
    rights: bytes | None
    body: bytes

    def answer(self) -> Response:
        """The stored answer, once the dependencies have authorised the caller again."""
        if self.rights is None or self.rights != _rights(self.request):
            raise RightsChanged()
        return _replay(self.stored, self.body)


# Set by the handler while a replay runs the route's dependencies; read by the endpoint wrapper.
_REPLAYING: ContextVar[_Replay | None] = ContextVar("idempotent_replay", default=None)


def _or_replay(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, or the stored answer when the request is a replay. Same signature, so
    FastAPI resolves (and authorises) exactly what the endpoint declares."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: an IdempotentRoute endpoint must be async")

    @functools.wraps(endpoint)
    async def endpoint_or_replay(*args: Any, **kwargs: Any) -> Any:
        replay = _REPLAYING.get()
        if replay is not None:
            return replay.answer()
        return await endpoint(*args, **kwargs)

    return endpoint_or_replay


class IdempotentRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _or_replay(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if request.method != "POST" or key is None:
                return await original(request)
            if not _KEY.match(key):
                raise BadKey(
                    errors=[
                        ProblemFieldError(
                            pointer="/header/Idempotency-Key", detail=N_("invalid"), code="bad_key"
                        )
                    ]
                )
            principal = await _principal(request)
            if principal is None:  # unauthenticated: the endpoint answers 401 as usual
                return await original(request)
            body = await request.body()
            digest = secret_box().fingerprint(
                hashlib.sha256(
                    b"\0".join([request.url.path.encode(), request.url.query.encode(), body])
                ).digest()
            )
            async with transaction(request.app.state.sessionmaker) as db_session:
                if not await repository.try_lock(db_session, principal, key):
                    raise StillRunning()
                stored = await repository.get(db_session, principal, key)
                retention = timedelta(hours=settings_of(request).idempotency_retention_hours)
                if stored is not None and stored.created_at < datetime.now(UTC) - retention:
                    await repository.forget(db_session, stored)  # expired: the key starts afresh
                    stored = None
                # The endpoint (or a replay's dependencies) joins this transaction
                # (app.db.get_db_session).
                request.state.db_session = db_session
                if stored is not None:
                    try:
                        sealed = secret_box().open(stored.body, context=_context(principal, key))
                    except InvalidTag:  # APP_DATA_KEY changed: the fingerprint cannot match
                        raise AnswerUnreadable() from None
                    if stored.request_hash != digest:
                        raise KeyReused()
                    rights, answer_body = _unseal_plaintext(sealed)
                    token = _REPLAYING.set(_Replay(request, stored, rights, answer_body))
                    try:
                        return await original(request)
                    finally:
                        _REPLAYING.reset(token)
                response = await original(request)
                if 200 <= response.status_code < 300:
                    answer = secret_box().seal(
                        _seal_plaintext(request, bytes(response.body)),
                        context=_context(principal, key),
                    )
                    db_session.add(
                        IdempotencyRecord(
                            principal_id=principal,
                            key=key,
                            request_hash=digest,
                            status_code=response.status_code,
                            content_type=response.headers.get("content-type", ""),
                            location=response.headers.get("location"),
                            etag=response.headers.get("etag"),
                            content_language=current_language.get(),
                            body=answer,
                        )
                    )
                return response

        return handler


def _replay(stored: IdempotencyRecord, body: bytes) -> Response:
    headers = {"Idempotent-Replayed": "true"}
    if stored.location:
        headers["Location"] = stored.location
    if stored.etag:
        headers["ETag"] = stored.etag
    if stored.content_language:
        # The body's words are the first answer's: so is their language.
        headers["Content-Language"] = stored.content_language
    return Response(
        content=body,
        status_code=stored.status_code,
        media_type=stored.content_type or None,
        headers=headers,
    )
