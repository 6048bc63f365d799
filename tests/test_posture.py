"""Production posture (issue 10): security headers on every answer, `/metrics` behind a token in
production, and the docs switch. The apps are built from settings and served over ASGITransport;
none of these answers touches the database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.config import Environment, Settings
from app.main import create_app
from tests.factories import API
from tests.test_platform import assert_problem

# Keys that pass the production checks (secrets made for this file, used nowhere else).
PRODUCTION_KEYS: dict[str, Any] = {
    "secret_key": "p2HtNNq77qRcw4ym9dPP1iOtAKWELSYqPXN9Oh6OtDvRhsJ7",
    "data_key": "st6b7lWVJWBmQ29ZBsn/Ofh20EPkMCvDPEW/Tkr71qc=",
}
METRICS_TOKEN = "hT2wilLL54tyJ614D432EyD-Ubp0EJKu--2fKbq0DnFi"


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def production(settings: Settings, **changes: Any) -> Settings:
    return Settings(
        env=Environment.production,
        DATABASE_URL=str(settings.database_url),
        log_level="WARNING",
        **PRODUCTION_KEYS,
        **changes,
    )


# --- security headers -----------------------------------------------------------------------


async def test_api_answers_carry_the_security_headers(client: httpx.AsyncClient) -> None:
    """Answers of every kind: a read, a problem raised in a route, an unrouted path, a probe."""
    answers = [
        await client.get(f"{API}/org-units"),
        await client.get(f"{API}/org-units/not-a-uuid"),
        await client.get("/no/such/path"),
        await client.get("/health/live"),
        await client.get("/openapi.json"),
        await client.get("/docs"),
    ]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["cache-control"] == "no-store", r.url
        assert r.headers["referrer-policy"] == "no-referrer", r.url
        assert "strict-transport-security" not in r.headers  # not configured
    assert_problem(answers[2], 404, "not_found")


async def test_the_docs_static_assets_stay_cacheable(client: httpx.AsyncClient) -> None:
    """Scripts and styles of the docs hold no data: caches may keep them (no `no-store`)."""
    r = await client.get("/docs-assets/swagger-ui.css")
    assert r.status_code == 200
    assert "no-store" not in r.headers.get("cache-control", "")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "etag" in r.headers


async def test_hsts_when_configured(settings: Settings) -> None:
    async with serving(settings, hsts_max_age_seconds=31_536_000) as c:
        r = await c.get("/health/live")
    assert r.headers["strict-transport-security"] == "max-age=31536000"


# --- /metrics -------------------------------------------------------------------------------


async def test_metrics_are_absent_in_production_without_a_token(settings: Settings) -> None:
    async with serving(production(settings)) as c:
        assert_problem(await c.get("/metrics"), 404, "not_found")
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert_problem(r, 404, "not_found")


@pytest.mark.parametrize("env", [Environment.production, Environment.test])
async def test_metrics_ask_for_the_configured_token(settings: Settings, env: Environment) -> None:
    configured = (
        production(settings, metrics_token=METRICS_TOKEN)
        if env == Environment.production
        else settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    )
    async with serving(configured) as c:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": METRICS_TOKEN},
            {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        ):
            assert_problem(await c.get("/metrics", headers=headers), 401, "unauthorized")
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200
    assert "http_requests_total" in r.text


def test_a_short_metrics_token_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="APP_METRICS_TOKEN"):
        production(settings, metrics_token="short")


async def test_metrics_stay_open_outside_production_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/metrics")).status_code == 200


# --- docs -----------------------------------------------------------------------------------


async def test_docs_are_on_by_default_in_production(settings: Settings) -> None:
    async with serving(production(settings)) as c:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
            assert (await c.get(path)).status_code == 200, path


async def test_docs_can_be_switched_off(settings: Settings) -> None:
    async with serving(production(settings, api_docs=False)) as c:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
            assert_problem(await c.get(path), 404, "not_found")
        assert (await c.get("/health/live")).status_code == 200
