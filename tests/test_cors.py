"""CORS for browser front ends (issue 12, "Browsers"): with `APP_CORS__ALLOW_ORIGINS` set, a
preflight of every operation of the contract is answered before authentication, body limits and
rate limits; every answer to an allowed origin — a 201, problems raised in routes, the body
limit's 413, the rate limit's 429, the request context's own 500 and 503 — carries the CORS
headers and exposes what a front end reads. Other origins get none; unconfigured, nothing
changes. The apps are built from settings and served over ASGITransport, on the suite's
PostgreSQL."""

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import BodyLimitSettings, CorsSettings, Environment, RateLimitSettings, Settings
from app.cors import ALLOW_HEADERS, ALLOW_METHODS, EXPOSE_HEADERS
from app.enums import Role
from app.main import create_app
from tests.conftest import add_user, bearer
from tests.factories import API, unique
from tests.test_database_faults import assert_retry_later, own_app
from tests.test_platform import assert_problem
from tests.test_posture import production

ORIGIN = "http://localhost:5173"
OTHER = "https://evil.example"
CONTRACT = Path(__file__).parent.parent / "openapi" / "openapi.json"
# Every header a front end reads of some answer (issue 12), and the download checksum.
MUST_EXPOSE = {
    "etag",
    "location",
    "retry-after",
    "idempotent-replayed",
    "x-request-id",
    "content-disposition",
    "content-length",
    "content-range",
    "accept-ranges",
    "repr-digest",
}


def cors(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(
        update={"cors": CorsSettings(allow_origins=(ORIGIN,), max_age_seconds=1234), **changes}
    )


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def cors_app(
    settings: Settings, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[FastAPI]:
    app = create_app(cors(settings))
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = isolated_sessionmaker
        yield app


def exposed(r: httpx.Response) -> set[str]:
    return {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}


def assert_cors(r: httpx.Response) -> None:
    assert r.headers["access-control-allow-origin"] == ORIGIN, (r.status_code, r.headers)
    assert "origin" in r.headers["vary"].lower()
    assert exposed(r) >= MUST_EXPOSE
    assert "access-control-allow-credentials" not in r.headers


def no_cors(r: httpx.Response) -> None:
    assert not [h for h in r.headers if h.lower().startswith("access-control-allow")], r.headers


def operations() -> list[tuple[str, str, list[str]]]:
    """(method, path, the request headers it takes) of every operation of the contract."""
    contract = json.loads(CONTRACT.read_text())
    found = []
    for path, item in contract["paths"].items():
        for method, op in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            params = [
                contract["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
                if "$ref" in p
                else p
                for p in params
            ]
            headers = ["Authorization", "X-Request-ID"]
            headers += [p["name"] for p in params if p["in"] == "header"]
            if "requestBody" in op:
                headers.append("Content-Type")
            if method == "post" and "Idempotency-Key" not in headers:
                headers.append("Idempotency-Key")
            found.append((method.upper(), path, headers))
    return found


OPERATIONS = operations()


def test_the_walk_covers_the_contract_and_its_preconditions() -> None:
    """The walk below sees every method and header the contract names."""
    assert len(OPERATIONS) > 50
    methods = {m for m, _, _ in OPERATIONS}
    assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert methods <= set(ALLOW_METHODS)
    taken = {h.lower() for _, _, headers in OPERATIONS for h in headers}
    assert {"if-match", "idempotency-key", "x-request-id", "range", "if-range"} <= taken
    assert taken <= {h.lower() for h in ALLOW_HEADERS}


async def test_every_operation_of_the_contract_passes_its_preflight(cors_app: FastAPI) -> None:
    """A preflight carries no token and no body: it is answered before authentication, the
    body limits and the rate limits, for every route and every header that route takes."""
    async with serving(cors_app) as c:
        for method, template, headers in OPERATIONS:
            path = template
            while "{" in path:
                start, end = path.index("{"), path.index("}")
                path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
            r = await c.options(
                path,
                headers={
                    "Origin": ORIGIN,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": ", ".join(h.lower() for h in headers),
                },
            )
            assert r.status_code == 200, (method, template, r.text)
            assert r.headers["access-control-allow-origin"] == ORIGIN
            assert method in r.headers["access-control-allow-methods"].split(", ")
            allowed = {h.lower() for h in r.headers["access-control-allow-headers"].split(", ")}
            assert {h.lower() for h in headers} <= allowed, (method, template)
            assert r.headers["access-control-max-age"] == "1234"
            assert "access-control-allow-credentials" not in r.headers


async def test_a_created_resource_exposes_location_and_etag(
    cors_app: FastAPI, settings: Settings, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await add_user(isolated_sessionmaker, Role.admin)
    async with serving(cors_app) as c:
        body = {"code": unique("CORS"), "name": "跨域", "kind": "city"}
        headers = {
            **bearer(settings, admin),
            "Origin": ORIGIN,
            "Idempotency-Key": unique("cors-key"),
            "X-Request-ID": "front-end-1",
        }
        r = await c.post(f"{API}/org-units", json=body, headers=headers)
        assert r.status_code == 201, r.text
        assert_cors(r)
        assert r.headers["location"].startswith(f"{API}/org-units/")
        assert r.headers["etag"]
        assert r.headers["x-client-request-id"] == "front-end-1"
        again = await c.post(f"{API}/org-units", json=body, headers=headers)
        assert again.headers["idempotent-replayed"] == "true"
        assert_cors(again)


async def test_problem_answers_carry_the_cors_headers(
    cors_app: FastAPI, settings: Settings, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """401, 404 and 422 from routes and dependencies, 404 of an unrouted path."""
    admin = await add_user(isolated_sessionmaker, Role.admin)
    auth = {**bearer(settings, admin), "Origin": ORIGIN}
    async with serving(cors_app) as c:
        assert_cors(r := await c.get(f"{API}/org-units", headers={"Origin": ORIGIN}))
        assert_problem(r, 401, "unauthorized")
        assert_cors(r := await c.get(f"{API}/org-units/{uuid.uuid4()}", headers=auth))
        assert_problem(r, 404, "org_unit.not_found")
        assert_cors(r := await c.post(f"{API}/org-units", json={"x": 1}, headers=auth))
        assert_problem(r, 422, "validation_failed")
        assert_cors(r := await c.get("/no/such/path", headers={"Origin": ORIGIN}))
        assert_problem(r, 404, "not_found")


async def test_the_request_contexts_own_answers_carry_the_cors_headers(
    settings: Settings,
) -> None:
    """A bug's 500 and a fault's 503 answered by the request-context middleware itself."""
    app = create_app(cors(settings))

    async def bug(_: Request) -> None:
        raise RuntimeError("a bug")

    async def grouped(_: Request) -> None:
        refused = ConnectionRefusedError(111, "Connection refused")
        raise ExceptionGroup("tasks", [OperationalError("SELECT 1", {}, refused)])

    app.add_api_route("/test-cors/bug", bug)
    app.add_api_route("/test-cors/group", grouped)
    async with serving(app) as c:
        assert_cors(r := await c.get("/test-cors/bug", headers={"Origin": ORIGIN}))
        assert_problem(r, 500, "internal_error")
        assert_cors(r := await c.get("/test-cors/group", headers={"Origin": ORIGIN}))
        assert_problem(r, 503, "database_unavailable")
        assert "retry-after" in r.headers


async def test_a_full_pool_is_a_503_the_front_end_can_read(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with own_app(
        cors(settings), engine, pool_size=1, max_overflow=0, pool_timeout_seconds=0.2
    ) as (client, app_engine):
        async with app_engine.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            r = await client.get(f"{API}/org-units", headers={"Origin": ORIGIN})
        assert_retry_later(r, "database_unavailable")
        assert_cors(r)


async def test_limits_refuse_no_preflight_and_their_answers_carry_the_cors_headers(
    settings: Settings,
) -> None:
    """A rate limit of one sign-in a minute, a JSON body limit of 64 bytes: preflights pass
    however many, and the 429 and the 413 can be read by the front end."""
    app = create_app(
        cors(
            settings,
            rate_limit=RateLimitSettings(token_per_minute=1),
            body=BodyLimitSettings(json_max_bytes=64),
        )
    )
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    form = {"grant_type": "password", "username": "nobody", "password": "wrong"}
    async with app.router.lifespan_context(app), serving(app) as c:
        for _ in range(3):
            r = await c.options(f"{API}/auth/token", headers=preflight)
            assert r.status_code == 200
        await c.post(f"{API}/auth/token", data=form, headers={"Origin": ORIGIN})
        r = await c.post(f"{API}/auth/token", data=form, headers={"Origin": ORIGIN})
        assert_problem(r, 429, "rate_limited")
        assert_cors(r)
        r = await c.post(f"{API}/org-units", json={"name": "x" * 100}, headers={"Origin": ORIGIN})
        assert_problem(r, 413, "body_too_large")
        assert_cors(r)


async def test_another_origin_gets_no_cors_headers(
    cors_app: FastAPI, settings: Settings, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await add_user(isolated_sessionmaker, Role.admin)
    async with serving(cors_app) as c:
        r = await c.options(
            f"{API}/org-units",
            headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in r.headers
        assert r.status_code == 400
        r = await c.get(f"{API}/org-units", headers={**bearer(settings, admin), "Origin": OTHER})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers
        # A header the API does not take fails the preflight of an allowed origin.
        r = await c.options(
            f"{API}/org-units",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-something-else",
            },
        )
        assert r.status_code == 400


async def test_without_origins_configured_nothing_changes(client: httpx.AsyncClient) -> None:
    """The default: no CORS middleware, so a preflight is an OPTIONS the routes do not take."""
    r = await client.options(
        f"{API}/org-units",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert_problem(r, 405, "method_not_allowed")
    no_cors(r)
    assert "access-control-expose-headers" not in r.headers
    r = await client.get(f"{API}/org-units", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    no_cors(r)
    assert "access-control-expose-headers" not in r.headers


# --- the setting ------------------------------------------------------------------------------


def test_the_exposed_headers_are_the_issues() -> None:
    assert {h.lower() for h in EXPOSE_HEADERS} >= MUST_EXPOSE


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://app.example.cn", "https://app.example.cn"),
        ("HTTPS://App.Example.CN", "https://app.example.cn"),
        ("https://app.example.cn:443", "https://app.example.cn"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_origins_are_kept_as_browsers_send_them(given: str, kept: str) -> None:
    assert CorsSettings(allow_origins=(given,)).allow_origins == (kept,)


@pytest.mark.parametrize(
    "given",
    [
        "app.example.cn",
        "https://app.example.cn/",
        "https://app.example.cn/app",
        "https://*.example.cn",
        "https://app.example.cn?x=1",
        "ftp://app.example.cn",
        "https://user@app.example.cn",
        "https://app.example.cn:99999",
        "",
    ],
)
def test_what_is_not_an_origin_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        CorsSettings(allow_origins=(given,))


def test_any_origin_with_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="with APP_CORS__ALLOW_CREDENTIALS"):
        CorsSettings(allow_origins=("*",), allow_credentials=True)


def test_any_origin_is_refused_in_production(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="refused in production"):
        production(settings, cors=CorsSettings(allow_origins=("*",)))
    assert production(settings, cors=CorsSettings(allow_origins=(ORIGIN,))).cors.allow_origins


def test_the_origins_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_CORS__ALLOW_ORIGINS", '["https://app.example.cn", "*"]')
    monkeypatch.setenv("APP_CORS__MAX_AGE_SECONDS", "60")
    loaded = Settings(env=Environment.test)
    assert loaded.cors.allow_origins == ("https://app.example.cn", "*")
    assert loaded.cors.max_age_seconds == 60
    assert not loaded.cors.allow_credentials
