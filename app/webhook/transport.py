"""One delivery attempt over HTTP: where it connects (the receiver's name resolved and checked
at each attempt), how it is signed, and what counts as its outcome. No database here."""

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import WebhookSettings
from app.webhook import signing
from app.webhook.service import IPAddress, address_refused, literal_address

USER_AGENT = "cadre-training-webhooks/1.0"
_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Message:
    id: str
    body: bytes
    first_event_id: int
    last_event_id: int
    count: int


# What the delivery log and `last_error` say of an attempt that got no HTTP answer, whatever
# happened: refused address, unresolvable name, refused connection, reset, TLS failure or
# timeout look alike, and carry no duration. Told apart, they would make webhooks a port
# scanner of the service's neighbourhood. The worker's own log keeps the detail for operators.
COULD_NOT_DELIVER = "could not deliver"


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: int | None  # only when an HTTP answer came
    detail: str | None = None  # for the worker's log only, never stored


def http_client(settings: WebhookSettings) -> httpx.AsyncClient:
    """Redirects are not followed (a 3xx is a failed attempt): the receiver is the URL that
    was registered, nothing it points elsewhere. No proxy from the environment, and no
    connection kept for the next attempt: each one connects to the address just checked, with
    TLS verified for the receiver's name (see pin_destination)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
        limits=httpx.Limits(
            max_connections=2 * settings.subscriptions_per_pass, max_keepalive_connections=0
        ),
        trust_env=False,
    )


def _describe(exc: BaseException, settings: WebhookSettings) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out ({type(exc).__name__}, limit {settings.timeout_seconds:g} s)"
    detail = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {detail}"[:_ERROR_LENGTH]


@dataclass(frozen=True)
class Destination:
    """Where one attempt connects: the URL with its host replaced by the address that was
    checked, so the connection cannot go elsewhere than what was checked (a name may resolve
    differently a moment later), and what keeps HTTP and TLS about the name."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]


async def pin_destination(url: str, settings: WebhookSettings) -> Destination | str:
    """Resolve the receiver's name now and check every address it has against what the
    deployment delivers to (app.webhook.service.address_refused): a name that pointed outside
    at registration may point inside later. A refusal is returned as its reason."""
    target = httpx.URL(url)
    host = target.host
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host,
                target.port or (443 if target.scheme == "https" else 80),
                type=socket.SOCK_STREAM,
            )
        except OSError as exc:
            return f"refused: {host} could not be resolved ({exc.strerror or exc})"
        addresses = list(
            dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
        )
    for address in addresses:
        why = address_refused(address, settings)
        if why is not None:
            return f"refused: {host} is {why} ({address})"
    if literal is not None:
        return Destination(url=target, headers={}, extensions={})
    return Destination(
        url=target.copy_with(host=str(addresses[0])),
        headers={"host": target.netloc.decode("ascii")},
        extensions={"sni_hostname": host} if target.scheme == "https" else {},
    )


async def send(
    client: httpx.AsyncClient,
    url: str,
    message: Message,
    keys: list[str],
    settings: WebhookSettings,
) -> Outcome:
    """One attempt. The answer's body is never read: only its status counts. Without an HTTP
    answer the outcome is only COULD_NOT_DELIVER."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": message.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(keys, message.id, timestamp, message.body),
    }
    started = time.monotonic()
    status: int | None = None
    detail: str | None = None
    try:
        async with asyncio.timeout(settings.timeout_seconds):
            destination = await pin_destination(url, settings)
            if isinstance(destination, str):
                detail = destination
            else:
                async with client.stream(
                    "POST",
                    destination.url,
                    content=message.body,
                    headers=headers | destination.headers,
                    extensions=destination.extensions,
                ) as r:
                    status = r.status_code
    except Exception as exc:  # whatever a receiver does, it costs an attempt, never the worker
        detail = _describe(exc, settings)
        status = None  # an answer cut off before it ended is no answer
    if status is None:
        return Outcome(False, None, COULD_NOT_DELIVER, None, detail)
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = 200 <= status < 300
    return Outcome(ok, status, None if ok else f"HTTP {status}", duration_ms)
