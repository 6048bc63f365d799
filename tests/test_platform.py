"""Cross-cutting behaviour: health, errors as problem+json, request ids, metrics, docs, and the
transaction boundary."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.tokens import issue
from app.config import Settings
from app.enums import Role
from app.errors import database_error_answer
from app.main import create_app
from tests.conftest import add_user, bearer
from tests.factories import API, create_org_unit

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def test_liveness_never_needs_the_database(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/live")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_when_database_is_at_head(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"
    assert {c["name"]: c["ok"] for c in r.json()["checks"]} == {
        "database": True,
        "migrations": True,
    }


async def _client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def test_not_ready_when_database_unreachable(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    )
    async for c in _client_for(unreachable):
        r = await c.get("/health/ready")
        assert r.status_code == 503
        checks = {ch["name"]: ch for ch in r.json()["checks"]}
        assert checks["database"]["ok"] is False
        # The API itself answers 503 problem+json, not a 500, while the database is down.
        token = issue(settings, user_id=uuid.uuid4(), role=Role.admin, token_version=0).access_token
        r = await c.get(f"{API}/org-units", headers={"Authorization": f"Bearer {token}"})
        assert_problem(r, 503, "database_unavailable")
        assert r.headers["retry-after"]


async def test_not_ready_when_schema_behind(settings: Settings, db_conn: Any, app: FastAPI) -> None:
    from sqlalchemy import text

    # Inside the rolled-back test transaction, pretend the schema is one revision behind.
    await db_conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    previous = app.state.engine
    app.state.engine = db_conn  # the probe opens `engine.connect()`; give it our transaction

    class _Conn:
        def connect(self) -> Any:
            return _Ctx()

    class _Ctx:
        async def __aenter__(self) -> Any:
            return db_conn

        async def __aexit__(self, *exc: object) -> None:
            return None

    app.state.engine = _Conn()
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/health/ready")
    finally:
        app.state.engine = previous
    assert r.status_code == 503
    checks = {ch["name"]: ch for ch in r.json()["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is False
    assert "older" in checks["migrations"]["detail"]


async def test_unknown_route_is_problem_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{API}/nothing-here"), 404, "not_found")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    r = await client.delete(f"{API}/org-units")
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, POST"


async def test_validation_errors_point_at_fields(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/org-units",
        json={"code": "x" * 65, "name": "", "kind": "galaxy", "extra": 1},
    )
    body = assert_problem(r, 422, "validation_failed")
    pointers = {e["pointer"]: e["code"] for e in body["errors"]}
    assert pointers == {
        "/body/code": "string_too_long",
        "/body/name": "string_too_short",
        "/body/kind": "enum",
        "/body/extra": "extra_forbidden",
    }


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"code": "A1", "name": "a\x00b", "kind": "city"}, "/body/name"),
        ({"code": "A1\x00", "name": "ab", "kind": "city"}, "/body/code"),
        (
            {"code": "A1", "name": "ab", "kind": "city", "parent_id": "not-a-uuid"},
            "/body/parent_id",
        ),
        ({"code": 12, "name": "ab", "kind": "city"}, "/body/code"),
    ],
)
async def test_malformed_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    r = await client.post(f"{API}/org-units", json=body)
    problem = assert_problem(r, 422, "validation_failed")
    assert pointer in {e["pointer"] for e in problem["errors"]}
    listing = await client.get(f"{API}/org-units", params={"code": "A1"})
    assert listing.json()["items"] == []


async def test_huge_numbers_and_bad_dates_are_422(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/study-logs", params={"year": "9" * 40})
    assert_problem(r, 422, "validation_failed")
    r = await client.get(f"{API}/training-sessions", params={"starts_from": "2025-02-30"})
    assert_problem(r, 422, "validation_failed")
    r = await client.get(f"{API}/training-sessions", params={"starts_from": "0"})
    assert_problem(r, 422, "validation_failed")
    r = await client.get(f"{API}/org-units", params={"limit": 501})
    assert_problem(r, 422, "validation_failed")
    for path in ("/org-units", "/cadres"):
        r = await client.get(f"{API}{path}", params={"q": "a\x00b"})
        assert_problem(r, 422, "validation_failed")


async def test_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/org-units", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code in (400, 422)
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_the_request_id_is_the_servers_own(client: httpx.AsyncClient) -> None:
    """A client's well-formed X-Request-ID is echoed as X-Client-Request-ID, beside the
    server's own id; it never replaces it (issue 10)."""
    r = await client.get("/health/live", headers={"X-Request-ID": "trace-abc.123"})
    assert r.headers["x-client-request-id"] == "trace-abc.123"
    generated = r.headers["x-request-id"]
    assert generated != "trace-abc.123"
    assert len(generated) == 32
    again = await client.get("/health/live", headers={"X-Request-ID": "trace-abc.123"})
    assert again.headers["x-request-id"] != generated
    r = await client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
    assert "x-client-request-id" not in r.headers
    assert len(r.headers["x-request-id"]) == 32


async def test_metrics_are_labelled_by_route_template(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    await client.get(f"{API}/org-units/{unit['id']}")
    await client.get(f"{API}/org-units/{uuid.uuid4()}")
    text = (await client.get("/metrics")).text
    assert 'route="/api/v1/org-units/{org_unit_id}"' in text
    assert unit["id"] not in text
    assert "http_request_duration_seconds_bucket" in text


async def test_docs_work_without_internet(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert "cdn." not in html
        assert "https://" not in html.replace("https://fastapi", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        r = await client.get(f"/docs-assets/{asset}")
        assert r.status_code == 200
        assert len(r.content) > 10_000


class _FailingCommitSession(AsyncSession):
    async def commit(self) -> None:
        raise RuntimeError("disk full")


async def test_a_failing_commit_is_a_problem_not_a_2xx(
    app: FastAPI,
    db_conn: Any,
    settings: Settings,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    admin = await add_user(isolated_sessionmaker, Role.admin)
    previous = app.state.sessionmaker
    app.state.sessionmaker = async_sessionmaker(
        bind=db_conn, class_=_FailingCommitSession, join_transaction_mode="create_savepoint"
    )
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(
                f"{API}/org-units",
                json={"code": "FAIL1", "name": "x", "kind": "city"},
                headers=bearer(settings, admin),
            )
    finally:
        app.state.sessionmaker = previous
    assert_problem(r, 500, "internal_error")
    assert "disk full" not in r.text


def test_problem_schema_documented_for_every_error(app: FastAPI) -> None:
    doc = app.openapi()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, resp in op["responses"].items():
                if status.startswith(("4", "5")) and not path.startswith("/health"):
                    assert list(resp["content"]) == [PROBLEM], (method, path, status)
    json.dumps(doc)


async def _answer_to(exc: Exception) -> tuple[int, str, str | None]:
    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": []})
    response = await database_error_answer(request, exc)
    body = json.loads(bytes(response.body))
    return response.status_code, body["code"], response.headers.get("retry-after")


async def test_transaction_conflicts_and_timeouts_are_retryable_problems(db_conn: Any) -> None:
    """A statement timeout or a deadlock reaches the service as a bare DBAPIError (or, from a
    COPY, as asyncpg's own error): a 503 or a 409 to retry, never a 500."""
    savepoint = await db_conn.begin_nested()
    await db_conn.execute(text("SET LOCAL statement_timeout = 1"))
    with pytest.raises(DBAPIError) as timeout:
        await db_conn.execute(text("SELECT pg_sleep(1)"))
    await savepoint.rollback()
    assert await _answer_to(timeout.value) == (503, "query_timeout", "5")
    deadlock = asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
    assert await _answer_to(deadlock) == (409, "concurrent_update", "1")
    serialization = asyncpg.exceptions.SerializationError("could not serialize access")
    assert await _answer_to(serialization) == (409, "concurrent_update", "1")


async def test_malformed_input_found_by_review_is_4xx_not_500(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """Three inputs a security review found answering 500: a NUL in HTTP Basic credentials
    (before any token), an import row whose HR id holds a NUL or a lone surrogate (sent to the
    database before the row was checked), and an instant past year 9999 in UTC."""
    basic = base64.b64encode(b"hr\x00client:secret").decode()
    r = await anonymous.post(
        f"{API}/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert 400 <= r.status_code < 500, r.text
    for hr_id in ("HR\u0000X", "HR\ud800X"):
        body = json.dumps(
            {"items": [{"hr_id": hr_id, "kind": "self_study", "title": "x", "hours": "1"}]}
        )
        r = await client.post(
            f"{API}/imports/study-logs",
            content=body.encode("utf-8", "surrogatepass"),
            headers={"content-type": "application/json"},
        )
        assert 400 <= r.status_code < 500 or r.status_code == 200, r.text
        if r.status_code == 200:
            assert r.json()["rejected"] == 1, r.text
    for instant in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        r = await client.get(f"{API}/audit-events", params={"occurred_from": instant})
        assert r.status_code == 422, r.text
