"""Request ids, structured JSON logs, Prometheus metrics and the security headers.

One pure ASGI middleware does all of them so every response, including errors raised before
routing, carries `X-Request-ID` and the security headers, and is counted.

The request id is always the server's own: a client's `X-Request-ID` cannot choose what the audit
trail records as the request (it could otherwise pose as another request, or as a job such as
`webhook-worker`). A well-formed one is kept beside it as `client_request_id` (in the audit
trail and the logs) and echoed back as `X-Client-Request-ID`.

Metrics are labelled by route template, never by raw path, so ids cannot explode the label space;
logs never carry query strings or bodies (ID numbers).
"""

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import database_fault, fault_answer
from app.i18n import gettext, negotiate

REQUEST_ID_HEADER = "x-request-id"
CLIENT_REQUEST_ID_HEADER = "x-client-request-id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

log = structlog.get_logger("app.access")


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.replica_fallbacks = Counter(
            "replica_fallbacks_total",
            "Reads meant for the read replica served by the primary, by reason (the replica "
            "unavailable, or lagging past APP_DATABASE__REPLICA_MAX_LAG_SECONDS)",
            ["reason"],
            registry=self.registry,
        )


def _route_template(scope: Scope, status: int) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Only API routes carry their template; the few others (docs, OpenAPI, static docs assets)
    # have fixed paths, so their raw path is a bounded label. Anything unrouted is one label.
    if status in (404, 405):
        return "<unmatched>"
    raw = scope.get("path", "")
    return "/docs-assets/*" if raw.startswith("/docs-assets/") else str(raw)


async def _send_internal_error(send: Send, request_id: str, scope: Scope) -> None:
    language = negotiate(Request(scope).headers.get("accept-language"))
    body = json.dumps(
        {
            "type": "urn:cadre-training:problem:internal_error",
            "title": gettext("Internal server error", language),
            "status": 500,
            "detail": gettext(
                "An unexpected error occurred; quote the request id when reporting it.", language
            ),
            "code": "internal_error",
            "instance": scope.get("path", ""),
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", language.encode()),
                (b"vary", b"Accept-Language"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID_RE.match(candidate) else None
    return None


def security_headers(*, hsts_max_age_seconds: int) -> list[tuple[bytes, bytes]]:
    """Headers every answer carries. HSTS only where the deployment is served over https and
    says so (`APP_HSTS_MAX_AGE_SECONDS`): sent over plain http it would lock browsers out."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
    if hsts_max_age_seconds > 0:
        headers.append((b"strict-transport-security", f"max-age={hsts_max_age_seconds}".encode()))
    return headers


# The docs' static assets (scripts, styles, the favicon) hold no data and are the same for
# everyone: caches may keep them. Every other answer is `no-store`: API answers carry personal
# records, and a shared cache or the browser's disk must not keep them.
_CACHEABLE_PREFIX = "/docs-assets/"
# Answers that hold no personal data and say themselves how long they keep (the enum labels,
# app.meta): their own `Cache-Control` stands; without one (a problem) they are `no-store` too.
_OWN_CACHE_CONTROL = frozenset({"/api/v1/meta/labels"})
_NO_STORE = (b"cache-control", b"no-store")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.headers = headers if headers is not None else security_headers(hsts_max_age_seconds=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        client_request_id = _client_request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_request_id"] = client_request_id
        extra = [*self.headers, (b"x-request-id", request_id.encode())]
        if client_request_id is not None:
            extra.append((CLIENT_REQUEST_ID_HEADER.encode(), client_request_id.encode()))
        path = str(scope.get("path", ""))
        cacheable = path.startswith(_CACHEABLE_PREFIX)
        own_cache_control = path in _OWN_CACHE_CONTROL
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if cacheable or own_cache_control or k.lower() != b"cache-control"
                ]
                headers.extend(extra)
                if not cacheable and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        structlog.contextvars.bind_contextvars(
            request_id=request_id, client_request_id=client_request_id
        )
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Unhandled errors (including a failed commit after the endpoint returned) become a
            # problem+json 500 here, inside this middleware, so they still carry the request id.
            if response_started:
                log.exception("unhandled_error")
                raise
            # What escaped every handler (a fault wrapped in an exception group, or raised
            # outside the routes' reach) is still a 503 with Retry-After if the database's.
            fault = database_fault(exc)
            if fault is not None:
                answer = fault_answer(Request(scope), exc, fault)
                await answer(scope, receive, send_with_id)
                return
            log.exception("unhandled_error")
            await _send_internal_error(send_with_id, request_id, scope)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope, status)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            log.info(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id", "client_request_id")
