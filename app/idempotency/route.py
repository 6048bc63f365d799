"""`Idempotency-Key` on POST: the same key and body answer the stored first answer; the same
key with another body is 422; a retry while the first is still running is 409. A key is kept
`APP_IDEMPOTENCY_RETENTION_HOURS` (24): after that the same key is a new request.

The route class wraps the endpoint in the request's one transaction (app.db.transaction), so the
stored answer commits together with what the request created, or not at all. Stored answers are
encrypted (app.personal_data.SecretBox): they may show a whole ID number or a webhook's secret,
which a copy of the database must not."""

import hashlib
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.auth.tokens import InvalidToken, verify
from app.db import transaction
from app.errors import ProblemFieldError
from app.http import app_settings
from app.idempotency import repository
from app.idempotency.errors import AnswerUnreadable, BadKey, KeyReused, StillRunning
from app.idempotency.models import IdempotencyRecord
from app.personal_data import secret_box

HEADER = "idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def _principal(request: Request) -> Any:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    try:
        subject = verify(app_settings(request), header[7:])
    except InvalidToken:
        return None
    return subject.user_id


def _context(principal: Any, key: str) -> bytes:
    return f"idempotency_record.body:{principal}:{key}".encode()


class IdempotentRoute(APIRoute):
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
                            pointer="/header/Idempotency-Key", detail="invalid", code="bad_key"
                        )
                    ]
                )
            principal = _principal(request)
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
                retention = timedelta(hours=app_settings(request).idempotency_retention_hours)
                if stored is not None and stored.created_at < datetime.now(UTC) - retention:
                    await repository.forget(db_session, stored)  # expired: the key starts afresh
                    stored = None
                if stored is not None:
                    try:
                        body = secret_box().open(stored.body, context=_context(principal, key))
                    except InvalidTag:  # APP_DATA_KEY changed: the fingerprint cannot match
                        raise AnswerUnreadable() from None
                    if stored.request_hash != digest:
                        raise KeyReused()
                    return _replay(stored, body)
                # The endpoint joins this transaction (app.db.get_db_session).
                request.state.db_session = db_session
                response = await original(request)
                if 200 <= response.status_code < 300:
                    answer = secret_box().seal(
                        bytes(response.body), context=_context(principal, key)
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
    return Response(
        content=body,
        status_code=stored.status_code,
        media_type=stored.content_type or None,
        headers=headers,
    )
