"""The webhook delivery worker: `python -m app.cli webhook-worker`.

Each pass takes the subscriptions that are due (`FOR UPDATE SKIP LOCKED`, so any number of
workers can run side by side), and for each reads the next events after its position with the
change feed's own rule (app.change_feed.service.read_after: never an event of a transaction that
an earlier one could still precede), POSTs them as one signed message, and records the outcome.

Taking a subscription moves its `next_attempt_at` past the delivery timeout (a lease) and commits
at once: no transaction stays open during the HTTP call (an open transaction with an id would
hold back the feed for every reader). A worker that dies mid-delivery only delays the message:
after the lease it is due again, and sent again with the same `webhook-id` (at least once).

A 2xx answer advances the position. Anything else is logged and retried, the same message each
time, on Standard Webhooks' schedule with jitter; after `max_attempts` failures in a row the
subscription is disabled, keeping its position: events are never skipped.
"""

import asyncio
import contextlib
import ipaddress
import json
import secrets
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import structlog
from cryptography.exceptions import InvalidTag
from sqlalchemy import Table, exists, insert, literal, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.change_feed import service as change_feed
from app.change_feed.models import ChangeEvent
from app.change_feed.schemas import ChangeRead
from app.config import Settings, WebhookSettings
from app.db import attribute, create_engine, create_sessionmaker, transaction
from app.ids import new_id
from app.observability import configure_logging
from app.webhook import signing
from app.webhook.models import WebhookDelivery, WebhookSubscription
from app.webhook.service import IPAddress, address_refused, literal_address, open_secret

log = structlog.get_logger(__name__)

USER_AGENT = "cadre-training-webhooks/1.0"
WORKER_REQUEST_ID = "webhook-worker"
PRUNE_EVERY_SECONDS = 3600.0
_ERROR_LENGTH = 500
_SUB = cast(Table, WebhookSubscription.__table__)
_LOG = cast(Table, WebhookDelivery.__table__)
_random = secrets.SystemRandom()


@dataclass(frozen=True)
class _Claim:
    id: uuid.UUID
    url: str
    entity_types: frozenset[str]
    secret_ciphertext: bytes
    previous_secret_ciphertext: bytes | None
    previous_secret_expires_at: datetime | None
    position: change_feed.Position
    pending_until: change_feed.Position | None
    attempts: int
    lease_token: uuid.UUID


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
class _Outcome:
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


def retry_delay(failures: int, settings: WebhookSettings) -> timedelta:
    """The wait after the `failures`-th failed attempt in a row: the schedule's step plus up to
    10% jitter, so receivers that failed together are not retried together."""
    schedule = settings.retry_schedule_seconds
    base = schedule[min(failures, len(schedule)) - 1]
    return timedelta(seconds=base * (1 + _random.uniform(0, 0.1)))


def _lease(settings: WebhookSettings) -> timedelta:
    return timedelta(seconds=2 * settings.timeout_seconds + 30)


def build_message(subscription_id: uuid.UUID, events: list[ChangeEvent], end: str) -> Message:
    body = {
        "type": "changes",
        "events": [ChangeRead.model_validate(e).model_dump(mode="json") for e in events],
        "cursor": end,
    }
    first, last = events[0].id, events[-1].id
    return Message(
        id=signing.message_id(subscription_id, first, last, len(events)),
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        first_event_id=first,
        last_event_id=last,
        count=len(events),
    )


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], settings: WebhookSettings, now: datetime
) -> list[_Claim]:
    token = uuid.uuid4()
    due = (
        select(_SUB.c.id)
        .where(_SUB.c.active, _SUB.c.next_attempt_at <= now)
        .order_by(_SUB.c.next_attempt_at)
        .limit(settings.subscriptions_per_pass)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(_SUB)
        .where(_SUB.c.id.in_(due.scalar_subquery()))
        .values(
            next_attempt_at=now + _lease(settings),
            lease_token=token,
            updated_at=_SUB.c.updated_at,  # delivery state is not a change of configuration
        )
        .returning(
            _SUB.c.id,
            _SUB.c.url,
            _SUB.c.entity_types,
            _SUB.c.secret_ciphertext,
            _SUB.c.previous_secret_ciphertext,
            _SUB.c.previous_secret_expires_at,
            _SUB.c.position_xid,
            _SUB.c.position_event_id,
            _SUB.c.pending_until_xid,
            _SUB.c.pending_until_event_id,
            _SUB.c.attempts,
        )
    )
    async with transaction(sessionmaker) as db_session:
        rows = (await db_session.execute(stmt)).all()
    return [
        _Claim(
            id=row.id,
            url=row.url,
            entity_types=frozenset(row.entity_types),
            secret_ciphertext=row.secret_ciphertext,
            previous_secret_ciphertext=row.previous_secret_ciphertext,
            previous_secret_expires_at=row.previous_secret_expires_at,
            position=(row.position_xid, row.position_event_id),
            pending_until=(
                (row.pending_until_xid, row.pending_until_event_id)
                if row.pending_until_xid is not None
                else None
            ),
            attempts=row.attempts,
            lease_token=token,
        )
        for row in rows
    ]


def _held(claim: _Claim) -> Any:
    """Only the worker holding the lease records the outcome (another may have taken over
    after the lease ran out)."""
    return (_SUB.c.id == claim.id) & (_SUB.c.lease_token == claim.lease_token)


async def _hand_back(
    db_session: AsyncSession, claim: _Claim, next_attempt_at: datetime, **values: Any
) -> bool:
    """Give the lease back, writing the delivery state in `values`, if this worker still
    holds it. False when it does not (taken back by an API change, or run out)."""
    result = await db_session.execute(
        update(_SUB)
        .where(_held(claim))
        .values(
            next_attempt_at=next_attempt_at,
            lease_token=None,
            updated_at=_SUB.c.updated_at,  # delivery state is not a change of configuration
            **values,
        )
        .returning(_SUB.c.id)
    )
    return result.first() is not None


async def _release(
    sessionmaker: async_sessionmaker[AsyncSession],
    claim: _Claim,
    next_attempt_at: datetime,
    **values: Any,
) -> bool:
    async with transaction(sessionmaker) as db_session:
        return await _hand_back(db_session, claim, next_attempt_at, **values)


async def _disable(
    db_session: AsyncSession, claim: _Claim, now: datetime, reason: str, **values: Any
) -> bool:
    """The one change of configuration the worker makes: versioned and audited like an API
    write (no actor; request id `webhook-worker`)."""
    reason = reason[:_ERROR_LENGTH]
    await attribute(db_session, request_id=WORKER_REQUEST_ID)
    result = await db_session.execute(
        update(_SUB)
        .where(_held(claim), _SUB.c.active)
        .values(
            active=False,
            disabled_reason=reason,
            next_attempt_at=now,
            lease_token=None,
            version=_SUB.c.version + 1,
            **values,
        )
        .returning(_SUB.c.id)
    )
    if result.first() is None:
        return False
    log.warning("webhook_disabled", subscription_id=str(claim.id), reason=reason)
    return True


def _signature_secrets(claim: _Claim) -> list[str]:
    """The current secret (InvalidTag when it cannot be decrypted), and the previous one while
    its grace period lasts."""
    keys = [open_secret(claim.id, claim.secret_ciphertext)]
    expires = claim.previous_secret_expires_at
    if claim.previous_secret_ciphertext is not None and expires and expires > datetime.now(UTC):
        try:
            keys.append(open_secret(claim.id, claim.previous_secret_ciphertext))
        except InvalidTag:
            log.warning("webhook_previous_secret_unreadable", subscription_id=str(claim.id))
    return keys


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
) -> _Outcome:
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
        return _Outcome(False, None, COULD_NOT_DELIVER, None, detail)
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = 200 <= status < 300
    return _Outcome(ok, status, None if ok else f"HTTP {status}", duration_ms)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    claim: _Claim,
    message: Message,
    end: change_feed.Position,
    outcome: _Outcome,
    settings: WebhookSettings,
    now: datetime,
) -> bool:
    attempt = claim.attempts + 1
    async with transaction(sessionmaker) as db_session:
        if outcome.succeeded:
            held = await _hand_back(
                db_session,
                claim,
                now,  # more may be waiting: due again at once
                position_xid=end[0],
                position_event_id=end[1],
                pending_until_xid=None,
                pending_until_event_id=None,
                attempts=0,
                last_attempt_at=now,
                last_delivered_at=now,
                last_error=None,
            )
        else:
            failed = {
                "pending_until_xid": end[0],
                "pending_until_event_id": end[1],
                "attempts": attempt,
                "last_attempt_at": now,
                "last_error": outcome.error,
            }
            held = False
            if attempt >= settings.max_attempts:
                reason = f"Delivery failed {attempt} times in a row; last: {outcome.error}"
                held = await _disable(db_session, claim, now, reason, **failed)
            if not held:  # retries left, or paused meanwhile (then it waits to be resumed)
                held = await _hand_back(
                    db_session, claim, now + retry_delay(attempt, settings), **failed
                )
        # The log keeps every attempt, even one whose lease ran out, unless the subscription
        # was deleted meanwhile.
        values = {
            "id": new_id(),
            "subscription_id": claim.id,
            "message_id": message.id,
            "first_event_id": message.first_event_id,
            "last_event_id": message.last_event_id,
            "event_count": message.count,
            "attempt": attempt,
            "succeeded": outcome.succeeded,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
            "attempted_at": now,
        }
        await db_session.execute(
            insert(_LOG).from_select(
                list(values),
                select(*(literal(v, _LOG.c[k].type) for k, v in values.items())).where(
                    exists().where(_SUB.c.id == claim.id)
                ),
            )
        )
    log.info(
        "webhook_attempt",
        subscription_id=str(claim.id),
        message_id=message.id,
        events=message.count,
        attempt=attempt,
        status_code=outcome.status_code,
        error=outcome.error,
        detail=outcome.detail,
        duration_ms=outcome.duration_ms,
    )
    return held and outcome.succeeded


async def _deliver(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: WebhookSettings,
    claim: _Claim,
    now: datetime,
) -> bool:
    """Deliver the claimed subscription's next message. True when its position advanced."""
    try:
        async with transaction(sessionmaker) as db_session:
            events = list(
                await change_feed.read_after(
                    db_session, claim.position, settings.batch_size, until=claim.pending_until
                )
            )
    except change_feed.CursorExpired:
        async with transaction(sessionmaker) as db_session:
            await _disable(
                db_session,
                claim,
                now,
                "The change feed was pruned past this subscription's position "
                "(APP_CHANGES_RETENTION_DAYS); changes were missed: resynchronise, then create "
                "a new subscription",
            )
        return False
    if not events:  # nothing new: due again after the poll interval, not at once
        await _release(sessionmaker, claim, now + timedelta(seconds=settings.poll_interval_seconds))
        return False
    end = (events[-1].xid, events[-1].id)
    wanted = [e for e in events if not claim.entity_types or e.entity_type in claim.entity_types]
    if not wanted:
        # Nothing this receiver asked for: move past without a message.
        return await _release(
            sessionmaker,
            claim,
            now,
            position_xid=end[0],
            position_event_id=end[1],
            pending_until_xid=None,
            pending_until_event_id=None,
        )
    try:
        keys = _signature_secrets(claim)
    except InvalidTag:
        async with transaction(sessionmaker) as db_session:
            await _disable(
                db_session,
                claim,
                now,
                "The signing secret cannot be decrypted (was APP_DATA_KEY changed?): rotate the "
                "secret, then resume",
            )
        return False
    message = build_message(claim.id, wanted, change_feed.encode_cursor(*end))
    outcome = await send(client, claim.url, message, keys, settings)
    return await _record(sessionmaker, claim, message, end, outcome, settings, now)


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    now: datetime | None = None,
    *,
    settings: WebhookSettings,
) -> int:
    """One pass: every due subscription this worker could take gets its next message (at
    most one each, concurrently). Returns how many subscriptions advanced; 0 means there is
    nothing to do right now."""
    now = now or datetime.now(UTC)
    claims = await _claim(sessionmaker, settings, now)
    results = await asyncio.gather(
        *(_deliver(sessionmaker, client, settings, claim, now) for claim in claims),
        return_exceptions=True,
    )
    advanced = 0
    for claim, result in zip(claims, results, strict=True):
        if isinstance(result, BaseException):
            # One subscription's trouble (the database, a bug) is not the others': its lease
            # runs out and it is tried again then.
            log.error(
                "webhook_delivery_crashed",
                subscription_id=str(claim.id),
                exc_info=(type(result), result, result.__traceback__),
            )
        elif result:
            advanced += 1
    return advanced


async def prune_deliveries(db_session: AsyncSession, retention_days: int, now: datetime) -> int:
    result = await db_session.execute(
        _LOG.delete().where(_LOG.c.attempted_at < now - timedelta(days=retention_days))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def run(settings: Settings) -> None:
    """Deliver until SIGINT or SIGTERM; a pass under way finishes first (each attempt is
    bounded by the timeout), so no delivery is left half recorded."""
    configure_logging(settings.log_level, json=settings.log_json)
    config = settings.webhooks
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        log.info("webhook_worker_stopping")
        stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)  # a second signal ends the process at once

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    log.info("webhook_worker_started", batch_size=config.batch_size)
    next_prune = 0.0
    try:
        async with http_client(config) as client:
            while not stop.is_set():
                advanced = 0
                try:
                    if time.monotonic() >= next_prune:
                        async with transaction(sessionmaker) as db_session:
                            pruned = await prune_deliveries(
                                db_session, config.delivery_retention_days, datetime.now(UTC)
                            )
                        log.info("webhook_deliveries_pruned", rows=pruned)
                        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    advanced = await deliver_once(sessionmaker, client, settings=config)
                except (OperationalError, InterfaceError, OSError) as exc:
                    log.warning("webhook_worker_database_unavailable", error=type(exc).__name__)
                except Exception:  # keep delivering to the others; retried after the poll
                    log.exception("webhook_worker_pass_failed")
                if advanced:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), config.poll_interval_seconds)
    finally:
        await engine.dispose()
        log.info("webhook_worker_stopped")
