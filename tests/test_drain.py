"""Stopping gracefully (issue 11): on SIGTERM the server drains first — `/health/ready` answers
503 `draining` while everything else is still served, new connections included — and only then
closes its listener and lets the requests in flight finish; it exits 0.

A real server process (`python -m app.cli serve`, as `make run` and the image start it) on
127.0.0.1, since the finding is about the server itself. A request is made slow
deterministically: its handler waits for a table lock this test holds, and gets it only when the
test lets go. Nothing is timed: every step waits for a state (a safety bound only stops a hung
test)."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db import create_sessionmaker
from app.enums import Role
from tests.conftest import add_user, bearer, empty_tables
from tests.factories import API
from tests.live_server import serving_process

REPO = Path(__file__).resolve().parent.parent
# Only stops a test that hangs; no assertion depends on how long anything takes.
SAFETY_BOUND_S = 90.0
# The slow request: its handler reads `credit_policy`, which the test locks.
SLOW_PATH = f"{API}/credit-policies"
LOCKED_TABLE = "credit_policy"


@pytest.fixture
async def admin_headers(engine: AsyncEngine, settings: Settings) -> AsyncIterator[dict[str, str]]:
    """A committed admin (the server has its own connections); tables emptied afterwards."""
    admin = await add_user(create_sessionmaker(engine), Role.admin)
    try:
        yield bearer(settings, admin)
    finally:
        await empty_tables(engine)


@contextmanager
def serving(
    settings: Settings, drain_seconds: float
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.async_database_url,
        "APP_LOG_LEVEL": "INFO",
        "APP_SERVER__DRAIN_SECONDS": str(drain_seconds),
    }
    with serving_process([sys.executable, "-m", "app.cli", "serve"], env, REPO) as served:
        yield served


async def until(what: str, check: Callable[[], Awaitable[bool]]) -> None:
    try:
        async with asyncio.timeout(SAFETY_BOUND_S):
            while True:  # polling another process's state: there is no event to wait for
                if await check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


def fresh(base: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A client that opens a new connection for every request: it sees whether the listener
    still accepts."""
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60)


async def _ready(proc: subprocess.Popen[bytes], base: str) -> bool:
    assert proc.poll() is None, "the server exited"
    async with fresh(base) as c:
        try:
            return (await c.get("/health/ready")).status_code == 200
        except httpx.TransportError:
            return False


# The listener is closing: a connection is refused, or (a race a loaded machine wins) accepted
# by the kernel just before the close and then reset or dropped without an answer. Network
# errors only: a timeout (a server that hangs) is not a closed listener.
CLOSED = (httpx.NetworkError, httpx.RemoteProtocolError)


async def _refused(base: str) -> bool:
    async with fresh(base) as c:
        try:
            await c.get("/health/live")
        except CLOSED:
            return True
        return False


async def _waiting_for_lock(engine: AsyncEngine) -> bool:
    """Whether one of the server's connections waits for a lock (the slow request)."""
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cadre-training' "
                "AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def _lock(engine: AsyncEngine) -> AsyncConnection:
    conn = await engine.connect()
    await conn.execute(text(f"LOCK TABLE {LOCKED_TABLE} IN ACCESS EXCLUSIVE MODE"))
    return conn


async def _start_slow_request(
    engine: AsyncEngine, base: str, headers: dict[str, str]
) -> tuple["asyncio.Task[httpx.Response]", httpx.AsyncClient]:
    client = httpx.AsyncClient(base_url=base, headers=headers, timeout=SAFETY_BOUND_S)
    slow = asyncio.create_task(client.get(SLOW_PATH))
    await until("the slow request waits for the lock", lambda: _waiting_for_lock(engine))
    return slow, client


async def test_sigterm_drains_then_closes_the_listener_and_finishes_requests_in_flight(
    settings: Settings, engine: AsyncEngine, admin_headers: dict[str, str]
) -> None:
    # A drain longer than the test: a second SIGTERM ends it (what a second Ctrl+C does).
    with serving(settings, drain_seconds=600) as (proc, base):
        await until("the server is ready", lambda: _ready(proc, base))
        lock = await _lock(engine)
        try:
            slow, slow_client = await _start_slow_request(engine, base, admin_headers)

            proc.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                async with fresh(base) as c:
                    return (await c.get("/health/ready")).status_code == 503

            await until("readiness turns 503", draining)
            async with fresh(base, admin_headers) as c:
                ready = await c.get("/health/ready")
                live = await c.get("/health/live")
                api = await c.get(f"{API}/org-units")
            # Readiness says why; everything else is served on new connections as before.
            assert ready.status_code == 503
            assert ready.json()["status"] == "not_ready"
            assert [(ch["name"], ch["ok"]) for ch in ready.json()["checks"]] == [
                ("draining", False)
            ]
            assert live.status_code == 200
            assert api.status_code == 200, api.text
            assert not slow.done()
            assert proc.poll() is None

            # A second signal skips the rest of the drain: the listener closes, the request in
            # flight still runs.
            proc.send_signal(signal.SIGTERM)
            await until("the listener refuses new connections", lambda: _refused(base))
            assert not slow.done()
            assert proc.poll() is None
        finally:
            await lock.rollback()
            await lock.close()
        answer = await slow
        await slow_client.aclose()
        assert answer.status_code == 200, answer.text
        assert proc.wait(timeout=SAFETY_BOUND_S) == 0


async def test_the_drain_ends_by_itself_and_the_request_in_flight_finishes(
    settings: Settings, engine: AsyncEngine, admin_headers: dict[str, str]
) -> None:
    # The drain must outlast a few readiness polls (each ~ms) for the test to see it: 3 s is
    # a wide margin even on a busy machine, and nothing is asserted about its length.
    with serving(settings, drain_seconds=3) as (proc, base):
        await until("the server is ready", lambda: _ready(proc, base))
        lock = await _lock(engine)
        try:
            slow, slow_client = await _start_slow_request(engine, base, admin_headers)
            proc.send_signal(signal.SIGTERM)
            statuses: list[int] = []

            async def refused() -> bool:
                async with fresh(base) as c:
                    try:
                        statuses.append((await c.get("/health/ready")).status_code)
                    except CLOSED:
                        return True
                return False

            # One signal: the drain ends on its own, then the listener closes.
            await until("the listener refuses new connections", refused)
            # A load balancer polling readiness saw the drain, and once readiness said 503 it
            # never said ready again.
            assert 503 in statuses, statuses
            assert set(statuses[statuses.index(503) :]) == {503}, statuses
            assert not slow.done()
            assert proc.poll() is None
        finally:
            await lock.rollback()
            await lock.close()
        answer = await slow
        await slow_client.aclose()
        assert answer.status_code == 200, answer.text
        assert proc.wait(timeout=SAFETY_BOUND_S) == 0


async def test_readiness_answers_503_draining_while_the_app_drains(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    assert (await anonymous.get("/health/ready")).status_code == 200
    app.state.draining = True
    try:
        r = await anonymous.get("/health/ready")
        live = await anonymous.get("/health/live")
    finally:
        app.state.draining = False
    assert r.status_code == 503
    assert r.json()["checks"][0]["name"] == "draining"
    assert live.status_code == 200
