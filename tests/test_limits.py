"""Request bodies: size limits per route class (Content-Length and streamed), the read
timeout, the JSON nesting bound (app.limits), all before authentication."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import BodyLimitSettings, Settings
from app.limits import json_too_deep
from app.main import create_app
from tests.factories import API
from tests.test_platform import assert_problem

SMALL = BodyLimitSettings(
    json_max_bytes=1_000, sync_max_bytes=2_000, import_max_bytes=5_000, read_timeout_seconds=0.5
)


@pytest.fixture(scope="module")
async def small_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update={"body": SMALL}))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def small(
    small_app: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client of an app with small limits: every refusal comes before the token
    is looked at (an answer of 401 would mean the body got past the limits)."""
    small_app.state.sessionmaker = isolated_sessionmaker
    transport = httpx.ASGITransport(app=small_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def _chunked(body: bytes, size: int = 100) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(body), size):
            yield body[at : at + size]

    return chunks()


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/org-units", 1_000), ("/cadres", 1_000), ("/sync/cadres", 2_000)],
)
async def test_a_body_over_its_limit_is_413_before_authentication(
    small: httpx.AsyncClient, path: str, limit: int
) -> None:
    over = b'{"name": "' + b"x" * limit + b'"}'
    r = await small.post(f"{API}{path}", content=over, headers=JSON)
    body = assert_problem(r, 413, "body_too_large")
    assert str(limit) in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    # The same without Content-Length (chunked): refused as the bytes arrive.
    r = await small.post(f"{API}{path}", content=_chunked(over), headers=JSON)
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, "body_too_large")
    # Under the limit, the body gets to authentication.
    r = await small.post(f"{API}{path}", content=b'{"name": "x"}', headers=JSON)
    assert_problem(r, 401, "unauthorized")


async def test_the_import_has_its_own_larger_limit(small: httpx.AsyncClient) -> None:
    csv = (
        b"hr_id,kind,title,start_date,end_date,hours\r\n"
        + b"H,lecture,t,2020-01-01,2020-01-01,1\r\n" * 100
    )
    assert 1_000 < len(csv) < 5_000
    headers = {"Content-Type": "text/csv"}
    r = await small.post(f"{API}/imports/study-logs", content=csv, headers=headers)
    assert_problem(r, 401, "unauthorized")
    r = await small.post(f"{API}/imports/study-logs", content=csv * 2, headers=headers)
    assert_problem(r, 413, "body_too_large")
    r = await small.post(f"{API}/imports/study-logs", content=_chunked(csv * 2), headers=headers)
    assert_problem(r, 413, "body_too_large")


async def test_the_default_limits(client: httpx.AsyncClient) -> None:
    # 1 MB for JSON bodies (the default settings of the suite's app).
    r = await client.post(f"{API}/org-units", content=b" " * (1024 * 1024 + 1), headers=JSON)
    assert_problem(r, 413, "body_too_large")


async def test_a_body_that_does_not_arrive_in_time_is_408(small: httpx.AsyncClient) -> None:
    never = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b'{"name": '
        await never.wait()  # the client stops sending
        yield b"}"

    r = await small.post(f"{API}/org-units", content=stalls(), headers=JSON)
    body = assert_problem(r, 408, "body_timeout")
    assert "0.5 seconds" in body["detail"]


def _nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("path", ["/org-units", "/cadres", "/sync/cadres", "/imports/study-logs"])
async def test_json_nested_1000_levels_is_400(client: httpx.AsyncClient, path: str) -> None:
    r = await client.post(f"{API}{path}", content=_nested(1_000), headers=JSON)
    body = assert_problem(r, 400, "bad_request")
    assert "64 levels" in body["detail"]
    # 64 levels are parsed; the body is then only invalid (or, for the import, a bad row).
    r = await client.post(f"{API}{path}", content=_nested(64), headers=JSON)
    assert r.status_code != 400, r.text


def test_json_depth_is_counted_outside_strings() -> None:
    assert not json_too_deep(b'{"a": "' + b"[" * 500 + b'"}', 64)
    assert not json_too_deep(b'["\\"[[[[", ' + b"[" * 10 + b"]" * 10 + b"]", 11)
    assert json_too_deep(b'["\\"[[[[", ' + b"[" * 11 + b"]" * 11 + b"]", 11)
    assert json_too_deep(b"{" * 65, 64)  # unclosed counts
    assert not json_too_deep(b"[" * 10 + b"]" * 10 + b"]" * 100, 64)
    assert not json_too_deep(b"[" + b"{}," * 1_000 + b"{}]", 2)
    assert json_too_deep(b"[" + b"{}," * 1_000 + b"{[]}]", 2)
