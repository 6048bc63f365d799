"""The webhook worker process: `python -m app.cli webhook-worker`.

Each subscription is delivered on its own: the worker keeps up to `subscriptions_per_pass`
deliveries under way, each a task of its own (app.webhook.worker.deliver), and takes the next
due subscription as soon as one of them ends. A receiver that does not answer holds only its
own subscription, for at most the timeout; the others go on meanwhile. A task sends up to
MESSAGES_PER_TAKE messages in a row to a subscription that keeps advancing, then lets it go
back to the queue.

On SIGTERM (or SIGINT) it takes nothing new and starts no further message in a row, lets the
messages under way finish for `stop_grace_seconds`, then abandons the rest: their subscriptions
are handed back, due at once for another worker, and nothing is recorded as a failed attempt.
"""

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, WebhookSettings
from app.db import create_engine, create_sessionmaker, transaction
from app.observability import configure_logging
from app.webhook import worker

log = structlog.get_logger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
# Messages one delivery task sends in a row to a subscription that keeps advancing, before it
# goes back to the queue (behind those due earlier): fewer round trips, and still fair.
MESSAGES_PER_TAKE = 10
# After the grace, how long abandoned deliveries may take to hand their subscriptions back
# (a write each) before the process gives up on them: their leases then run out instead.
_HAND_BACK_SECONDS = 5.0


async def _wait_any(seconds: float, *events: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


class _Deliveries:
    """The deliveries under way in this worker, one task per subscription."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        settings: WebhookSettings,
        stop: asyncio.Event,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.client = client
        self.settings = settings
        self.running: dict[asyncio.Task[bool], worker.Claim] = {}
        self.ended = asyncio.Event()  # one of them ended: its subscription may be due again
        self.stop = stop  # the worker is stopping: no delivery starts another message
        self.abandon = asyncio.Event()

    @property
    def free(self) -> int:
        return self.settings.subscriptions_per_pass - len(self.running)

    def start(self, claim: worker.Claim, now: datetime) -> None:
        task = asyncio.create_task(
            worker.deliver(
                self.sessionmaker,
                self.client,
                self.settings,
                claim,
                now,
                self.abandon,
                messages=MESSAGES_PER_TAKE,
                stop=self.stop,
            )
        )
        self.running[task] = claim
        task.add_done_callback(self._end)

    def _end(self, task: asyncio.Task[bool]) -> None:
        claim = self.running.pop(task)
        self.ended.set()
        if not task.cancelled() and (exc := task.exception()) is not None:
            worker.log_crash(claim, exc)

    async def take_due(self) -> int:
        """Start a delivery for each due subscription there is room for."""
        if self.free <= 0:
            return 0
        now = datetime.now(UTC)
        claims = await worker.claim(self.sessionmaker, self.settings, now, self.free)
        for claim in claims:
            self.start(claim, now)
        return len(claims)

    async def wind_down(self, grace: float) -> None:
        """Let the deliveries under way finish for `grace` seconds, then abandon the rest (each
        hands its subscription back)."""
        if self.running:
            await asyncio.wait(set(self.running), timeout=grace)
        if not self.running:
            return
        log.info("webhook_deliveries_abandoned", count=len(self.running))
        self.abandon.set()
        _, late = await asyncio.wait(set(self.running), timeout=_HAND_BACK_SECONDS)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)


async def serve(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: WebhookSettings,
    stop: asyncio.Event,
) -> None:
    """Deliver until `stop` is set, then wind down (see the module's description)."""
    deliveries = _Deliveries(sessionmaker, client, settings, stop)
    next_prune = 0.0
    try:
        while not stop.is_set():
            deliveries.ended.clear()
            try:
                if time.monotonic() >= next_prune:
                    async with transaction(sessionmaker) as db_session:
                        pruned = await worker.prune_deliveries(
                            db_session, settings.delivery_retention_days, datetime.now(UTC)
                        )
                    log.info("webhook_deliveries_pruned", rows=pruned)
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                await deliveries.take_due()
            except (OperationalError, InterfaceError, OSError) as exc:
                log.warning("webhook_worker_database_unavailable", error=type(exc).__name__)
            except Exception:  # keep delivering to the others; tried again after the poll
                log.exception("webhook_worker_pass_failed")
            # Until a delivery ends (its subscription may be due again at once), something
            # else may have become due (the poll interval), or the worker is told to stop.
            await _wait_any(settings.poll_interval_seconds, deliveries.ended, stop)
    finally:
        await deliveries.wind_down(settings.stop_grace_seconds)


def pool_problems(settings: Settings) -> list[str]:
    """Why this worker's settings would let a lease lapse under pool pressure (none: it may
    start). A delivery holds up to two connections at once (its own steps, and its heartbeat's
    renewal), and taking subscriptions one more; a renewal that waits the whole pool timeout
    for a connection must still land before the lease it renews runs out (it starts a third
    of the lease after the previous one). Otherwise a second worker takes the subscription
    while the first still sends, and the receiver gets the message twice at once."""
    config, db = settings.webhooks, settings.database
    problems = []
    needed = 2 * config.subscriptions_per_pass + 1
    capacity = db.pool_size + db.max_overflow
    if needed > capacity:
        problems.append(
            f"APP_WEBHOOKS__SUBSCRIPTIONS_PER_PASS={config.subscriptions_per_pass} needs up to "
            f"{needed} database connections at once (2 per delivery, 1 to take subscriptions), "
            f"but APP_DATABASE__POOL_SIZE + APP_DATABASE__MAX_OVERFLOW = {capacity}: lower "
            "the first or raise the others"
        )
    margin = config.lease_seconds * 2 / 3
    if margin <= db.pool_timeout_seconds:
        problems.append(
            f"APP_WEBHOOKS__LEASE_SECONDS={config.lease_seconds:g} must be more than 1.5 × "
            f"APP_DATABASE__POOL_TIMEOUT_SECONDS={db.pool_timeout_seconds:g} (a renewal starts "
            "a third of the lease after the last one, and may wait the pool timeout for a "
            "connection)"
        )
    return problems


async def run(settings: Settings) -> None:
    """Deliver until SIGINT or SIGTERM; a second signal ends the process at once."""
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
            loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    log.info(
        "webhook_worker_started",
        batch_size=config.batch_size,
        concurrency=config.subscriptions_per_pass,
        lease_seconds=config.lease_seconds,
    )
    try:
        async with worker.http_client(config) as client:
            await serve(sessionmaker, client, config, stop)
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()
        log.info("webhook_worker_stopped")
