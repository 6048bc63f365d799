"""Slow uploads cannot starve the service: no pooled connection is held while a body arrives
(app.limits reads it before any dependency runs). A real uvicorn on 127.0.0.1, since the finding
is about the server itself; the pool is small so that 30 uploads would exhaust it."""

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import DatabaseSettings, Settings
from app.db import create_sessionmaker
from app.enums import Role
from tests.conftest import add_user, bearer, empty_tables
from tests.live_server import live_server

UPLOADS = 30
POOL = DatabaseSettings(pool_size=5, max_overflow=0, pool_timeout_seconds=2)


@pytest.fixture
async def admin_headers(engine: AsyncEngine, settings: Settings) -> AsyncIterator[dict[str, str]]:
    """A committed admin (the server has its own connections); tables emptied afterwards."""
    admin = await add_user(create_sessionmaker(engine), Role.admin)
    try:
        yield bearer(settings, admin)
    finally:
        await empty_tables(engine)


async def _start_upload(
    base_url: str, headers: dict[str, str], path: str, media: str
) -> asyncio.StreamWriter:
    """A request whose body arrives at one byte every now and then: its headers, a byte, and
    nothing more while the test runs."""
    url = urlsplit(base_url)
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {url.netloc}",
        f"Authorization: {headers['Authorization']}",
        f"Content-Type: {media}",
        "Content-Length: 1000",
        "",
        "",
    ]
    writer.write("\r\n".join(head).encode() + b"h")
    await writer.drain()
    return writer


async def test_reads_and_readiness_succeed_while_30_uploads_trickle_in(
    settings: Settings, admin_headers: dict[str, str]
) -> None:
    server_settings = settings.model_copy(update={"database": POOL})
    assert POOL.pool_size + POOL.max_overflow < UPLOADS
    with live_server(server_settings) as base_url:
        # Half to the import, which reads its body by hand after its dependencies (the actor,
        # a connection); half to a route whose body FastAPI reads before them.
        targets = [
            ("/api/v1/imports/study-logs", "text/csv"),
            ("/api/v1/org-units", "application/json"),
        ]
        uploads = [
            await _start_upload(base_url, admin_headers, *targets[n % 2]) for n in range(UPLOADS)
        ]
        try:
            # Let the server take up every upload first (a setup pause, nothing is timed).
            async with httpx.AsyncClient(base_url=base_url, headers=admin_headers) as c:
                await c.get("/health/live")
                await asyncio.sleep(0.5)
                answers = await asyncio.gather(
                    *[c.get("/api/v1/org-units") for _ in range(10)],
                    *[c.get("/api/v1/cadres") for _ in range(10)],
                    *[c.get("/health/ready") for _ in range(5)],
                )
            assert [r.status_code for r in answers] == [200] * 25, [
                (r.status_code, r.text[:200]) for r in answers if r.status_code != 200
            ]
        finally:
            for writer in uploads:
                writer.close()
                await writer.wait_closed()  # before the server stops (it waits for them)
