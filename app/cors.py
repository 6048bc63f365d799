"""Cross-origin calls from browser front ends (APP_CORS__*): Starlette's CORSMiddleware, told
which request headers the API takes and which answer headers a front end reads."""

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.config import CorsSettings
from app.observability import CLIENT_REQUEST_ID_HEADER

# Every method of the contract (tests/test_cors.py walks it); HEAD and GET need no preflight.
ALLOW_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
# The request headers the API reads beyond the CORS-safelisted ones (Content-Type is listed by
# Starlette itself): the bearer token, the preconditions, the download ranges, the retry key,
# the language (safelisted only while its value keeps to letters, digits and `-.;=,*`: a value
# beyond them needs a preflight), the client's own request id and the sign-in device
# (`X-Device-ID`, docs/rules.md rule 12). Content-Language, answered,
# is a safelisted response header: a script reads it without exposing it.
ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-Range",
    "If-None-Match",
    "Range",
    "Idempotency-Key",
    "Accept-Language",
    "X-Request-ID",
    "X-Device-ID",
)
# What a script may read of an answer: a browser hides every other header but the few
# safelisted ones (Content-Type, Cache-Control, ...).
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "X-Request-ID",
    CLIENT_REQUEST_ID_HEADER,
    "Content-Disposition",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
    "Repr-Digest",
)


def install_cors(app: FastAPI, cors: CorsSettings) -> None:
    """Outermost of the middleware, so that a preflight is answered before the body limits,
    authentication or a rate limit see it, and every answer below — a problem raised in a
    route, the request context's own 500 or 503 — passes through it and carries the headers.
    Without origins configured nothing is added: no answer carries a CORS header."""
    if not cors.allow_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors.allow_origins),
        allow_methods=ALLOW_METHODS,
        allow_headers=ALLOW_HEADERS,
        allow_credentials=cors.allow_credentials,
        expose_headers=EXPOSE_HEADERS,
        max_age=cors.max_age_seconds,
    )
