"""Delivering one subscription's next message, under a lease (the loop that runs deliveries
side by side is app.webhook.runner: `python -m app.cli webhook-worker`).

A worker takes the subscriptions that are due (`FOR UPDATE SKIP LOCKED`, so any number of
workers can run side by side), and for each reads the next events after its position with the
change feed's own rule (app.change_feed.service.read_after: never an event of a transaction that
an earlier one could still precede), POSTs them as one signed message, and records the outcome.

Taking a subscription moves its `next_attempt_at` a short lease ahead (`lease_seconds`) and
commits at once: no transaction stays open during the HTTP call (an open transaction with an id
would hold back the feed for every reader). While the delivery is under way a heartbeat moves
the lease on, every third of it; a worker that dies stops renewing, and another takes the
subscription over within one lease. Before the message is sent, its last event is written down
(`pending_until`), so whoever sends it again — a retry, or the worker that took over — sends the
same events with the same `webhook-id` (at least once; every event also carries its own id).

A 2xx answer advances the position. Anything else is logged and retried, the same message each
time, on Standard Webhooks' schedule with jitter; after `max_attempts` failures in a row the
subscription is disabled, keeping its position: events are never skipped.
"""

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import structlog
from cryptography.exceptions import InvalidTag
from sqlalchemy import Table, exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.change_feed import service as change_feed
from app.change_feed.models import ChangeEvent
from app.change_feed.schemas import change_read
from app.config import WebhookSettings
from app.db import attribute, transaction
from app.ids import new_id
from app.webhook import signing
from app.webhook.models import WebhookDelivery, WebhookSubscription
from app.webhook.service import open_secret
from app.webhook.transport import COULD_NOT_DELIVER as COULD_NOT_DELIVER
from app.webhook.transport import Message, Outcome, send
from app.webhook.transport import http_client as http_client

log = structlog.get_logger(__name__)

WORKER_REQUEST_ID = "webhook-worker"
_ERROR_LENGTH = 500
_SUB = cast(Table, WebhookSubscription.__table__)
_LOG = cast(Table, WebhookDelivery.__table__)
_random = secrets.SystemRandom()


@dataclass(frozen=True)
class Claim:
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


def retry_delay(failures: int, settings: WebhookSettings) -> timedelta:
    """The wait after the `failures`-th failed attempt in a row: the schedule's step plus up to
    10% jitter, so receivers that failed together are not retried together."""
    schedule = settings.retry_schedule_seconds
    base = schedule[min(failures, len(schedule)) - 1]
    return timedelta(seconds=base * (1 + _random.uniform(0, 0.1)))


def _lease(settings: WebhookSettings) -> timedelta:
    return timedelta(seconds=settings.lease_seconds)


def build_message(subscription_id: uuid.UUID, events: list[ChangeEvent], end: str) -> Message:
    body = {
        "type": "changes",
        "events": [change_read(e).model_dump(mode="json") for e in events],
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


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: WebhookSettings,
    now: datetime,
    limit: int,
) -> list[Claim]:
    """Take up to `limit` due subscriptions, each under a lease of its own."""
    token = uuid.uuid4()
    due = (
        select(_SUB.c.id)
        .where(_SUB.c.active, _SUB.c.next_attempt_at <= now)
        .order_by(_SUB.c.next_attempt_at)
        .limit(limit)
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
        .returning(*_CLAIMED)
    )
    async with transaction(sessionmaker) as db_session:
        rows = (await db_session.execute(stmt)).all()
    return [_claimed(row, token) for row in rows]


# What a worker reads of a subscription it takes (its configuration as it is now).
_CLAIMED = (
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


def _claimed(row: Any, token: uuid.UUID) -> Claim:
    return Claim(
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


def _held(claim: Claim) -> Any:
    """Only the worker holding the lease records the outcome (another may have taken over
    after the lease ran out)."""
    return (_SUB.c.id == claim.id) & (_SUB.c.lease_token == claim.lease_token)


async def _hand_back(
    db_session: AsyncSession, claim: Claim, next_attempt_at: datetime, **values: Any
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
    claim: Claim,
    next_attempt_at: datetime,
    **values: Any,
) -> bool:
    async with transaction(sessionmaker) as db_session:
        return await _hand_back(db_session, claim, next_attempt_at, **values)


async def _disable(
    db_session: AsyncSession, claim: Claim, now: datetime, reason: str, **values: Any
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


def _signature_secrets(claim: Claim) -> list[str]:
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


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    claim: Claim,
    message: Message,
    end: change_feed.Position,
    outcome: Outcome,
    settings: WebhookSettings,
    now: datetime,
    keep: bool = False,
) -> bool | Claim:
    """Write the attempt's outcome down. True when the position advanced; with `keep`, the
    subscription stays this worker's after a success (its lease renewed), and the claim of its
    next message is returned instead, read afresh."""
    attempt = claim.attempts + 1
    next_claim: Claim | None = None
    async with transaction(sessionmaker) as db_session:
        if outcome.succeeded:
            delivered = {
                "position_xid": end[0],
                "position_event_id": end[1],
                "pending_until_xid": None,
                "pending_until_event_id": None,
                "attempts": 0,
                "last_attempt_at": now,
                "last_delivered_at": now,
                "last_error": None,
            }
            if keep:
                row = (
                    await db_session.execute(
                        update(_SUB)
                        .where(_held(claim))
                        .values(
                            next_attempt_at=datetime.now(UTC) + _lease(settings),
                            updated_at=_SUB.c.updated_at,
                            **delivered,
                        )
                        .returning(*_CLAIMED)
                    )
                ).first()
                next_claim = _claimed(row, claim.lease_token) if row is not None else None
                held = next_claim is not None
            else:  # more may be waiting: due again at once
                held = await _hand_back(db_session, claim, now, **delivered)
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
    if held and outcome.succeeded:
        return next_claim or True
    return False


async def _keep_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
    claim: Claim,
    settings: WebhookSettings,
    now: datetime,
    done: asyncio.Event,
) -> None:
    """The heartbeat: every third of the lease, while the delivery is under way, move the
    lease's end on (counted from the pass's `now`, so a pass run at a given time keeps its
    clock). It stops when the delivery ends or the lease is no longer this worker's."""
    started = time.monotonic()
    interval = settings.lease_seconds / 3
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), interval)
        if done.is_set():
            return
        until = now + timedelta(seconds=time.monotonic() - started) + _lease(settings)
        try:
            async with transaction(sessionmaker) as db_session:
                held = await _hand_on(db_session, claim, next_attempt_at=until)
        except Exception as exc:  # the heartbeat's trouble never ends the delivery itself
            # Tried again at the next beat; if the database stays away, the lease runs out
            # and another worker sends the same message again.
            log.warning("webhook_lease_not_renewed", subscription_id=str(claim.id), error=repr(exc))
            continue
        if not held:
            return


async def _hand_on(db_session: AsyncSession, claim: Claim, **values: Any) -> bool:
    """Write delivery state in `values`, keeping the lease, if this worker still holds it.
    Before a message is sent, its last event is written down: whoever sends it again (a
    retry, or another worker after this one died) sends the same events under the same
    `webhook-id`, even when more have settled meanwhile."""
    result = await db_session.execute(
        update(_SUB)
        .where(_held(claim))
        .values(updated_at=_SUB.c.updated_at, **values)
        .returning(_SUB.c.id)
    )
    return result.first() is not None


async def _send_unless_abandoned(
    client: httpx.AsyncClient,
    url: str,
    message: Message,
    keys: list[str],
    settings: WebhookSettings,
    abandon: asyncio.Event | None,
) -> Outcome | None:
    """The attempt, or None when the worker abandons it first (it is stopping): an abandoned
    attempt is no attempt, neither failed nor succeeded."""
    sending = asyncio.create_task(send(client, url, message, keys, settings))
    if abandon is None:
        return await sending
    stopping = asyncio.create_task(abandon.wait())
    try:
        await asyncio.wait({sending, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not sending.done():
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
    return None if sending.cancelled() else sending.result()


async def deliver(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: WebhookSettings,
    claim: Claim,
    now: datetime,
    abandon: asyncio.Event | None = None,
    messages: int = 1,
    stop: asyncio.Event | None = None,
) -> bool:
    """Deliver the claimed subscription's next message, renewing the lease meanwhile, and, up
    to `messages` in a row, the next ones while it keeps advancing (without taking it again
    each time). True when its position advanced. When `abandon` is set before the receiver
    answers, the attempt is dropped and the subscription handed back, due at once. Once
    `stop` is set (the worker is stopping), no further message is started: the subscription
    is handed back after the one under way, so a deploy does not start sends it would then
    abandon (and another worker send again)."""
    advanced = False
    for left in range(messages - 1, -1, -1):
        done = asyncio.Event()
        heartbeat = asyncio.create_task(_keep_lease(sessionmaker, claim, settings, now, done))
        try:
            result = await _deliver(
                sessionmaker, client, settings, claim, now, abandon, keep=left > 0
            )
        finally:
            done.set()
            await heartbeat
        if not isinstance(result, Claim):
            return advanced or result
        advanced, claim, now = True, result, datetime.now(UTC)
        if any(e is not None and e.is_set() for e in (abandon, stop)):
            await _release(sessionmaker, claim, now)
            break
    return advanced


@dataclass(frozen=True)
class _Batch:
    events: list[ChangeEvent]  # those the subscription asked for
    end: change_feed.Position  # the last event read, asked for or not


async def _next_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: WebhookSettings,
    claim: Claim,
    now: datetime,
) -> _Batch | bool:
    """The events of the next message (those of the message in flight, when there is one),
    written down as in flight in the same transaction. Otherwise whether the position advanced
    without a message: nothing new (handed back until the poll interval), nothing the
    subscription asked for (moved past), the feed pruned past its position (disabled), or the
    lease no longer this worker's."""
    try:
        async with transaction(sessionmaker) as db_session:
            events = await change_feed.read_after(
                db_session, claim.position, settings.batch_size, until=claim.pending_until
            )
            if not events:  # nothing new: due again after the poll interval, not at once
                poll = timedelta(seconds=settings.poll_interval_seconds)
                await _hand_back(db_session, claim, now + poll)
                return False
            end = (events[-1].xid, events[-1].id)
            wanted = [
                e for e in events if not claim.entity_types or e.entity_type in claim.entity_types
            ]
            if not wanted:
                # Nothing this receiver asked for: move past without a message.
                return await _hand_back(
                    db_session,
                    claim,
                    now,
                    position_xid=end[0],
                    position_event_id=end[1],
                    pending_until_xid=None,
                    pending_until_event_id=None,
                )
            if claim.pending_until is None and not await _hand_on(
                db_session, claim, pending_until_xid=end[0], pending_until_event_id=end[1]
            ):
                return False  # taken back meanwhile (an API change): sent under the new settings
            return _Batch(wanted, end)
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


async def _deliver(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: WebhookSettings,
    claim: Claim,
    now: datetime,
    abandon: asyncio.Event | None,
    keep: bool,
) -> bool | Claim:
    batch = await _next_batch(sessionmaker, settings, claim, now)
    if isinstance(batch, bool):
        return batch
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
    end = batch.end
    message = build_message(claim.id, batch.events, change_feed.encode_cursor(*end))
    outcome = await _send_unless_abandoned(client, claim.url, message, keys, settings, abandon)
    if outcome is None:
        await _release(sessionmaker, claim, now)
        log.info("webhook_attempt_abandoned", subscription_id=str(claim.id), message_id=message.id)
        return False
    return await _record(sessionmaker, claim, message, end, outcome, settings, now, keep)


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    now: datetime | None = None,
    *,
    settings: WebhookSettings,
) -> int:
    """One pass, run at `now`: every due subscription this worker could take gets its next
    message (at most one each, side by side), and the pass waits for all of them. Returns how
    many subscriptions advanced; 0 means there is nothing to do right now. The worker process
    does not wait for the slowest like this (app.webhook.runner); tests drive time with it."""
    now = now or datetime.now(UTC)
    claims = await claim(sessionmaker, settings, now, settings.subscriptions_per_pass)
    results = await asyncio.gather(
        *(deliver(sessionmaker, client, settings, c, now) for c in claims),
        return_exceptions=True,
    )
    advanced = 0
    for taken, result in zip(claims, results, strict=True):
        if isinstance(result, BaseException):
            log_crash(taken, result)
        elif result:
            advanced += 1
    return advanced


def log_crash(taken: Claim, exc: BaseException) -> None:
    """One subscription's trouble (the database, a bug) is not the others': its lease runs out
    and it is tried again then."""
    log.error(
        "webhook_delivery_crashed",
        subscription_id=str(taken.id),
        exc_info=(type(exc), exc, exc.__traceback__),
    )


async def prune_deliveries(db_session: AsyncSession, retention_days: int, now: datetime) -> int:
    result = await db_session.execute(
        _LOG.delete().where(_LOG.c.attempted_at < now - timedelta(days=retention_days))
    )
    return int(getattr(result, "rowcount", 0) or 0)
