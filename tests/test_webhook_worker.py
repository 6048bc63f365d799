"""The webhook worker as a process: a receiver that never answers holds only its own
subscription; a worker that dies is replaced within one short lease, and the message it had in
flight is sent again as the same message (same `webhook-id`, same events, each with its id); on
SIGTERM the worker hands its subscriptions back. Real receivers on 127.0.0.1, real worker
processes killed with real signals; no timing is asserted (waits are hang guards only)."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.webhook import runner, worker
from app.webhook.models import WebhookDelivery, WebhookSubscription
from tests.factories import create_cadre, create_org_unit
from tests.test_webhooks import FAST, Received, receiving, subscribe

REPO = Path(__file__).resolve().parent.parent
GUARD = 60.0  # seconds: only against hanging, never a measure


@dataclass
class Hanging:
    """A receiver whose first `hang` requests wait until the test lets them go (an answer that
    never comes, as far as the worker can tell); later ones answer 204 at once."""

    url: str = ""
    hang: int = 1
    release: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def waiting(self) -> int:
        with self.lock:
            return len(self.received) - self.answered


@contextmanager
def hanging(hang: int = 1) -> Iterator[Hanging]:
    receiver = Hanging(hang=hang)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            with receiver.lock:
                receiver.received.append(Received(dict(self.headers.items()), body))
                held = len(receiver.received) <= receiver.hang
            if held:
                receiver.release.wait(timeout=10 * GUARD)
            try:
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
            finally:
                with receiver.lock:
                    receiver.answered += 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def until(condition: Callable[[], Any], what: str, guard: float = GUARD) -> None:
    """Wait for `condition` (a function, or a coroutine function; checked every few
    milliseconds); the guard only stops a hang."""
    deadline = time.monotonic() + guard
    while True:
        met = condition()
        if asyncio.iscoroutine(met):
            met = await met
        if met:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from app.db import create_sessionmaker

    return create_sessionmaker(engine)


async def row(maker: async_sessionmaker[AsyncSession], hook: dict[str, Any]) -> Any:
    async with maker() as db_session:
        found = (
            await db_session.execute(
                select(WebhookSubscription, func.now().label("db_now")).where(
                    WebhookSubscription.id == uuid.UUID(hook["id"])
                )
            )
        ).one()
    return found


async def attempts_logged(maker: async_sessionmaker[AsyncSession], hook: dict[str, Any]) -> int:
    async with maker() as db_session:
        return int(
            await db_session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == uuid.UUID(hook["id"]))
            )
            or 0
        )


@contextmanager
def worker_process(settings: Settings, tmp_path: Path, **webhooks: Any) -> Iterator[Any]:
    """`python -m app.cli webhook-worker` on the test database, its settings from the
    environment as in a deployment; killed at the end whatever happened."""
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": str(settings.database_url),
        "APP_LOG_LEVEL": "INFO",
        **{f"APP_WEBHOOKS__{k.upper()}": str(v) for k, v in webhooks.items()},
    }
    if "lease_seconds" in webhooks:  # a short lease needs a pool timeout to match
        env["APP_DATABASE__POOL_TIMEOUT_SECONDS"] = str(float(webhooks["lease_seconds"]) / 2)
    output = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "webhook-worker"],
        env=env,
        cwd=REPO,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=GUARD)
        output.close()


# --- 1. a receiver that never answers holds only its own subscription ---------------------------


async def test_a_hanging_receiver_does_not_hold_back_the_others(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    client = committed_client
    # One event per message, and a timeout far beyond the test: A's request stays unanswered
    # for as long as the test wants.
    settings = FAST.model_copy(
        update={"batch_size": 1, "timeout_seconds": 300, "poll_interval_seconds": 0.05}
    )
    unit = await create_org_unit(client)
    with hanging() as a, receiving("/b") as b:
        await subscribe(client, a.url)
        await subscribe(client, b.url)
        cadres = [await create_cadre(client, unit["id"]) for _ in range(8)]
        stop = asyncio.Event()
        async with worker.http_client(settings) as http:
            serving = asyncio.create_task(runner.serve(maker, http, settings, stop))
            try:
                await until(lambda: len(b.received) >= len(cadres), "B gets every message")
                # All of them while A's one request was (and still is) unanswered.
                assert (len(a.received), a.waiting) == (1, 1)
                assert [e[2] for e in b.events()] == [c["id"] for c in cadres]
                assert len(b.received) == len(cadres)  # one event each, as configured
            finally:
                a.release.set()
                stop.set()
                await asyncio.wait_for(serving, GUARD)


# --- 2 and 3. a worker killed mid-delivery: taken over within one lease, the same message -------


LEASE = 1.5


async def test_a_killed_worker_is_taken_over_within_a_lease_with_the_same_message(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    with hanging() as receiver:
        hook = await subscribe(client, receiver.url)
        first = [await create_cadre(client, unit["id"]) for _ in range(2)]
        with worker_process(
            settings,
            tmp_path,
            lease_seconds=LEASE,
            timeout_seconds=300,
            poll_interval_seconds=0.1,
            batch_size=50,
        ) as proc:
            await until(lambda: receiver.received, "the worker sends the first message")
            held = (await row(maker, hook)).WebhookSubscription
            assert held.lease_token is not None
            # The message in flight is written down before it is sent.
            assert held.pending_until_event_id is not None

            async def renewed() -> bool:
                now = (await row(maker, hook)).WebhookSubscription.next_attempt_at
                return bool(now > held.next_attempt_at)

            # The heartbeat moves the lease on while the receiver keeps the worker waiting...
            await until(renewed, "the lease is renewed")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=GUARD)
        # ... and only by one short lease: the dead worker holds it no longer than that.
        killed = await row(maker, hook)
        expires = killed.WebhookSubscription.next_attempt_at
        assert killed.WebhookSubscription.lease_token is not None
        assert expires <= killed.db_now + timedelta(seconds=LEASE)

        # More changes after the crash: they must not change the message in flight.
        later = [await create_cadre(client, unit["id"]) for _ in range(2)]
        async with worker.http_client(FAST) as http:
            # Before the lease ends no other worker takes the subscription...
            before = expires - timedelta(milliseconds=1)
            assert await worker.deliver_once(maker, http, before, settings=FAST) == 0
            assert len(receiver.received) == 1
            # ... from its end, another one does, and sends the same message again.
            assert await worker.deliver_once(maker, http, expires, settings=FAST) == 1
            assert len(receiver.received) == 2
            assert await worker.deliver_once(maker, http, expires, settings=FAST) == 1
    lost, again, after = receiver.received
    assert again.headers["webhook-id"] == lost.headers["webhook-id"]
    assert again.body == lost.body
    assert [e["entity_id"] for e in again.message["events"]] == [c["id"] for c in first]
    # Each event has its own id, the same in every message that carries it and in the feed.
    ids = [e["id"] for e in lost.message["events"]]
    assert all(isinstance(i, int) for i in ids)
    assert [e["id"] for e in again.message["events"]] == ids
    assert after.headers["webhook-id"] != lost.headers["webhook-id"]
    assert [e["entity_id"] for e in after.message["events"]] == [c["id"] for c in later]
    assert min(e["id"] for e in after.message["events"]) > max(ids)
    feed = (await client.get("/api/v1/changes", params={"cursor": hook["cursor"]})).json()
    assert [i["id"] for i in feed["items"]] == ids + [e["id"] for e in after.message["events"]]
    # The lost attempt left no trace in the log; the re-send is its first recorded attempt.
    assert await attempts_logged(maker, hook) == 2


# --- 4. SIGTERM: the worker stops and hands its subscriptions back --------------------------


async def test_sigterm_stops_the_worker_which_hands_its_subscription_back(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    with hanging() as receiver:
        hook = await subscribe(client, receiver.url)
        cadre = await create_cadre(client, unit["id"])
        with worker_process(
            settings,
            tmp_path,
            timeout_seconds=300,
            poll_interval_seconds=0.1,
            stop_grace_seconds=0.5,
        ) as proc:
            await until(lambda: receiver.received, "the worker sends the message")
            assert (await row(maker, hook)).WebhookSubscription.lease_token is not None
            proc.send_signal(signal.SIGTERM)
            # The receiver still has not answered; the worker exits all the same.
            assert proc.wait(timeout=GUARD) == 0, (tmp_path / "worker.log").read_text()
        assert receiver.waiting == 1
        handed_back = await row(maker, hook)
        state: WebhookSubscription = handed_back.WebhookSubscription
        assert state.lease_token is None
        assert state.next_attempt_at <= handed_back.db_now  # due at once, for another worker
        # Abandoned, not failed: no attempt counted, no error, nothing in the log.
        assert (state.attempts, state.last_error, state.last_attempt_at) == (0, None, None)
        assert await attempts_logged(maker, hook) == 0
        async with worker.http_client(FAST) as http:
            assert await worker.deliver_once(maker, http, settings=FAST) == 1
    lost, again = receiver.received
    assert again.headers["webhook-id"] == lost.headers["webhook-id"]
    assert [e["entity_id"] for e in again.message["events"]] == [cadre["id"]]


async def test_a_stopping_worker_starts_no_further_message_in_a_row(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    """Review #8: during the stop grace a delivery finishes the message under way and hands
    the subscription back; it does not chain the next ones (sends it would then abandon, and
    another worker would send again after the deploy)."""
    client = committed_client
    # One event per message, so three messages wait; the grace is far beyond the test, so
    # nothing is abandoned: only the stop is in play.
    settings = FAST.model_copy(
        update={
            "batch_size": 1,
            "timeout_seconds": 300,
            "poll_interval_seconds": 0.05,
            "stop_grace_seconds": 10 * GUARD,
        }
    )
    unit = await create_org_unit(client)
    with hanging() as receiver:
        hook = await subscribe(client, receiver.url)
        cadres = [await create_cadre(client, unit["id"]) for _ in range(3)]
        stop = asyncio.Event()
        async with worker.http_client(settings) as http:
            serving = asyncio.create_task(runner.serve(maker, http, settings, stop))
            try:
                await until(lambda: receiver.received, "the worker sends the first message")
                stop.set()  # SIGTERM while the first message is under way ...
                receiver.release.set()  # ... which then succeeds, within the grace
                await asyncio.wait_for(serving, GUARD)
            finally:
                stop.set()
                receiver.release.set()
                if not serving.done():
                    await asyncio.wait_for(serving, GUARD)
        assert len(receiver.received) == 1
        handed_back = await row(maker, hook)
        state: WebhookSubscription = handed_back.WebhookSubscription
        assert state.lease_token is None
        assert state.next_attempt_at <= handed_back.db_now  # due at once, for another worker
        assert await attempts_logged(maker, hook) == 1
        # The next worker goes on with the second message.
        async with worker.http_client(settings) as http:
            assert await worker.deliver_once(maker, http, settings=settings) == 1
    sent = [[e["entity_id"] for e in r.message["events"]] for r in receiver.received]
    assert sent == [[cadres[0]["id"]], [cadres[1]["id"]]]


# --- 5. settings under which a lease could lapse under pool pressure: refused at start-up ----


@pytest.mark.parametrize(
    ("webhooks", "database", "refused"),
    [
        ({}, {}, []),  # the defaults start
        ({"subscriptions_per_pass": 9}, {}, []),  # 19 connections of 20
        ({"subscriptions_per_pass": 10}, {}, ["SUBSCRIPTIONS_PER_PASS=10 needs up to 21"]),
        ({"subscriptions_per_pass": 200}, {}, ["SUBSCRIPTIONS_PER_PASS=200 needs up to 401"]),
        ({"subscriptions_per_pass": 20}, {"pool_size": 30, "max_overflow": 11}, []),
        ({"subscriptions_per_pass": 20}, {"pool_size": 30, "max_overflow": 10}, ["needs up to 41"]),
        ({"lease_seconds": 10}, {}, ["LEASE_SECONDS=10 must be more than 1.5"]),
        ({"lease_seconds": 15}, {}, ["LEASE_SECONDS=15 must be more than 1.5"]),  # not more
        ({"lease_seconds": 16}, {}, []),
        ({"lease_seconds": 1.5}, {"pool_timeout_seconds": 0.75}, []),
        ({"lease_seconds": 10}, {"pool_timeout_seconds": 5}, []),
        (
            {"subscriptions_per_pass": 50, "lease_seconds": 5},
            {},
            ["SUBSCRIPTIONS_PER_PASS=50", "LEASE_SECONDS=5 must be more"],
        ),
    ],
)
def test_the_worker_refuses_settings_under_which_a_lease_could_lapse(
    settings: Settings, webhooks: dict[str, Any], database: dict[str, Any], refused: list[str]
) -> None:
    """Review #13: each delivery may hold two connections (its steps and its heartbeat), and a
    heartbeat that waits the pool timeout must still renew the lease in time; otherwise a
    second worker sends the same message while the first still does."""
    configured = Settings.model_validate(
        {
            **settings.model_dump(exclude={"webhooks", "database"}),
            "webhooks": webhooks,
            "database": database,
        }
    )
    problems = runner.pool_problems(configured)
    assert len(problems) == len(refused)
    for problem, expected in zip(problems, refused, strict=True):
        assert expected in problem


def test_the_worker_process_says_why_it_refuses_to_start(
    settings: Settings, tmp_path: Path
) -> None:
    with worker_process(settings, tmp_path, subscriptions_per_pass=30) as proc:
        assert proc.wait(timeout=GUARD) == 1
    said = (tmp_path / "worker.log").read_text()
    assert said.startswith("refusing to start the webhook worker: ")
    assert "APP_WEBHOOKS__SUBSCRIPTIONS_PER_PASS=30 needs up to 61 database connections" in said
    assert "Traceback" not in said
