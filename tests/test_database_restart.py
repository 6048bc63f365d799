"""PostgreSQL restarted and killed under load: no 500s, and no acknowledged write lost or
duplicated (issue 11).

The suite's own PostgreSQL for this test is a cluster of its own (devtools/localpg.py), so that
restarting it cannot disturb the other tests. The service runs as it does in production, a real
uvicorn on 127.0.0.1, under writers and readers that keep going while the database is stopped
fast, stopped immediately, and while its postmaster is killed with SIGKILL. Each phase waits
until the load has seen the database gone (503s) before starting it again, and until writes
succeed again before the next: the load overlaps every restart whatever the machine's speed.
The timeouts only guard against a hang.

`CI=1 .venv/bin/pytest -q -s tests/test_database_restart.py` prints the counts."""

import asyncio
import itertools
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import DatabaseSettings, Settings
from app.db import create_sessionmaker
from app.enums import Role
from app.migrations import alembic_config
from devtools.localpg import LocalPostgres
from tests.conftest import add_user, bearer
from tests.factories import API, session_body
from tests.live_server import live_server

pytestmark = pytest.mark.slow

WRITERS = 10
READERS = 6
# Guards against a hang only; nothing here is timed.
PHASE_TIMEOUT_S = 180
# Writes acknowledged between two restarts, and 503s seen while the database is gone.
WRITES_PER_PHASE = 50
FAILURES_PER_OUTAGE = 5


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalPostgres]:
    with tempfile.TemporaryDirectory(prefix="cadre-restart-pg-") as tmp:
        # Fast (fsync off: the machine does not crash, the server does), but every commit
        # acknowledged is in the WAL the server recovers from after a kill.
        pg = LocalPostgres(Path(tmp) / "pg", ephemeral=True, conf={"synchronous_commit": "on"})
        try:
            command.upgrade(alembic_config(pg.start()), "head")
            yield pg
        finally:
            pg.stop()


@dataclass
class Load:
    """What the clients saw. A logical write is one training session, sent with its own
    Idempotency-Key and retried with the same key until it is acknowledged."""

    statuses: Counter[int] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    attempted: set[str] = field(default_factory=set)
    ready_statuses: Counter[int] = field(default_factory=Counter)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def unavailable(self) -> int:
        return self.statuses[503]

    def saw(self, r: httpx.Response) -> None:
        self.statuses[r.status_code] += 1
        self.progress.set()
        if r.status_code < 500:
            if r.status_code >= 400:
                self.bad.append(f"{r.request.method} {r.request.url.path}: {r.text[:300]}")
            return
        problem = r.json() if r.headers.get("content-type", "").endswith("json") else {}
        if (
            r.status_code != 503
            or not r.headers.get("content-type", "").startswith("application/problem+json")
            or problem.get("code") not in {"database_unavailable", "query_timeout"}
            or not r.headers.get("retry-after", "").isdigit()
        ):
            self.bad.append(f"{r.request.method} {r.request.url.path} {r.status_code}: {r.text}")


_titles = itertools.count()


async def _writer(client: httpx.AsyncClient, load: Load, org_unit_id: str) -> None:
    while not load.stop.is_set():
        title = f"restart-{next(_titles):06d}"
        load.attempted.add(title)
        await _write_until_acknowledged(client, load, org_unit_id, title, until=load.stop)


async def _write_until_acknowledged(
    client: httpx.AsyncClient,
    load: Load,
    org_unit_id: str,
    title: str,
    until: asyncio.Event | None = None,
) -> None:
    body = session_body(org_unit_id, title=title)
    while True:
        r = await client.post(
            f"{API}/training-sessions", json=body, headers={"Idempotency-Key": title}
        )
        load.saw(r)
        if r.status_code == 201:
            load.acknowledged.add(title)
            return
        if r.status_code != 503 or (until is not None and until.is_set()):
            return
        await asyncio.sleep(0.05)


async def _reader(client: httpx.AsyncClient, load: Load) -> None:
    for n in itertools.count():
        if load.stop.is_set():
            return
        if n % 4 == 0:
            r = await client.get("/health/ready")
            load.ready_statuses[r.status_code] += 1
            if r.status_code not in (200, 503):
                load.bad.append(f"/health/ready {r.status_code}: {r.text}")
            load.progress.set()
        else:
            load.saw(await client.get(f"{API}/training-sessions", params={"limit": 5}))
        await asyncio.sleep(0.01)


async def _until(load: Load, condition: Callable[[], bool], what: str) -> None:
    """Wait, answer by answer, until `condition` holds (what is asserted when it never does)."""
    try:
        async with asyncio.timeout(PHASE_TIMEOUT_S):
            while not condition():
                load.progress.clear()
                await load.progress.wait()
    except TimeoutError:
        pytest.fail(what)


async def _outage(
    load: Load, stop: Callable[[], Awaitable[Any]], resume: Callable[[], Any]
) -> None:
    """Stop the database while the load runs; start it once the load has seen it gone; then
    wait for writes to succeed again."""
    failures, writes, not_ready = load.unavailable, len(load.acknowledged), load.ready_statuses[503]
    await stop()
    await _until(
        load,
        lambda: (
            load.unavailable >= failures + FAILURES_PER_OUTAGE
            and load.ready_statuses[503] > not_ready
        ),
        "the load saw no outage, or readiness did not say the database was gone",
    )
    await asyncio.to_thread(resume)
    await _until(
        load, lambda: len(load.acknowledged) >= writes + WRITES_PER_PHASE, "writes did not resume"
    )


@pytest.fixture
async def server(cluster: LocalPostgres, settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """The service on the restartable cluster: its URL and an admin's bearer token."""
    own = settings.model_copy(
        update={
            "database_url": cluster.url,
            "database": DatabaseSettings(pool_size=10, max_overflow=5, pool_timeout_seconds=5),
        }
    )
    engine = create_async_engine(cluster.url)
    try:
        admin = await add_user(create_sessionmaker(engine), Role.admin)
    finally:
        await engine.dispose()
    with live_server(own) as url:
        yield url, bearer(own, admin)["Authorization"]


async def test_restarting_postgresql_under_load_answers_no_500(
    cluster: LocalPostgres, server: tuple[str, str]
) -> None:
    url, authorization = server
    load = Load()
    limits = httpx.Limits(max_connections=WRITERS + READERS + 4)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": authorization}, timeout=60, limits=limits
    ) as client:
        r = await client.post(
            f"{API}/org-units", json={"code": "RESTART", "name": "重启", "kind": "city"}
        )
        assert r.status_code == 201, r.text
        org_unit_id = r.json()["id"]
        tasks = [asyncio.create_task(_writer(client, load, org_unit_id)) for _ in range(WRITERS)]
        tasks += [asyncio.create_task(_reader(client, load)) for _ in range(READERS)]
        try:
            await _until(
                load, lambda: len(load.acknowledged) >= WRITES_PER_PHASE, "no writes at all"
            )
            await _outage(load, lambda: asyncio.to_thread(cluster.shutdown, "fast"), cluster.resume)
            await _outage(
                load, lambda: asyncio.to_thread(cluster.shutdown, "immediate"), cluster.resume
            )
            await _outage(load, lambda: asyncio.to_thread(cluster.kill), cluster.resume)
        finally:
            load.stop.set()
            await asyncio.gather(*tasks)
        # Writes cut off by the end of the load are retried with their key until acknowledged.
        for title in sorted(load.attempted - load.acknowledged):
            await _write_until_acknowledged(client, load, org_unit_id, title)

    print(
        f"\nrestart test: {sum(load.statuses.values())} answers, {load.statuses[500]} × 500, "
        f"{load.unavailable} × 503, statuses {dict(sorted(load.statuses.items()))}; "
        f"/health/ready {dict(sorted(load.ready_statuses.items()))}; "
        f"{len(load.acknowledged)} writes acknowledged"
    )
    assert load.statuses[500] == 0
    assert not load.bad, load.bad[:5]
    assert load.unavailable >= 3 * FAILURES_PER_OUTAGE
    assert load.ready_statuses[503] > 0, "readiness never said the database was gone"
    assert load.attempted == load.acknowledged

    engine = create_async_engine(cluster.url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT title, count(*) FROM training_session GROUP BY title")
            )
            stored: dict[str, int] = dict(rows.all())
    finally:
        await engine.dispose()
    # Every acknowledged write is there exactly once, and nothing else is.
    assert stored == dict.fromkeys(load.acknowledged, 1)
