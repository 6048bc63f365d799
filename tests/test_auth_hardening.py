"""Issue 10, authentication: logins off the event loop, safe default environment and secrets,
forwarded addresses only from trusted proxies, machine clients locked out too, tokens ended by a
password change, role change or deactivation."""

import asyncio
import base64
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import passwords
from app.config import (
    AuthSettings,
    DatabaseSettings,
    Environment,
    RateLimitSettings,
    Settings,
)
from app.enums import Role
from app.main import create_app
from app.serve import uvicorn_config
from app.user.models import User
from devtools import run
from tests.conftest import (
    TEST_DATA_KEY,
    TEST_PASSWORD,
    TEST_SECRET_KEY,
    add_user,
    bearer,
    empty_tables,
)
from tests.factories import API
from tests.live_server import serving_process

TOKEN = f"{API}/auth/token"
REPO = Path(__file__).resolve().parent.parent
URL = "postgresql://x@127.0.0.1/x"


def _bad_login(i: int) -> dict[str, str]:
    return {"grant_type": "password", "username": f"nobody-{i}", "password": "wrong password"}


# --- Medium 3: argon2 off the event loop, with bounded concurrency --------------------------


class _GatedHasher(PasswordHasher):
    """Verification waits for the test to open the gate, so the test can look at the server
    while hashes are under way. If the wait ever blocks the event loop (the defect), the gate
    opens by itself after a while, so the test fails instead of hanging."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = 0
        self._lock = threading.Lock()
        self._loop = loop
        self._arrived = asyncio.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.entered += 1
        self._loop.call_soon_threadsafe(self._arrived.set)
        if not self.gate.wait(timeout=5):
            self.gate.set()
        return super().verify(hash, password)

    async def held(self, count: int) -> None:
        """Until `count` verifications wait at the gate (or the gate opened by itself)."""
        while self.entered < count and not self.gate.is_set():
            self._arrived.clear()
            await self._arrived.wait()


@pytest.fixture
async def gated(monkeypatch: pytest.MonkeyPatch) -> _GatedHasher:
    hasher = _GatedHasher(asyncio.get_running_loop())
    monkeypatch.setattr(passwords, "_hasher", hasher)
    return hasher


@pytest.fixture
async def login_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """An app of its own (its own engine, big enough for 40 logins at once) whose hashing
    threads are its own too."""
    own = settings.model_copy(
        update={
            "auth": AuthSettings(password_hash_concurrency=2, password_hash_queue=64),
            "database": DatabaseSettings(pool_size=45, max_overflow=0),
        }
    )
    app = create_app(own)
    async with app.router.lifespan_context(app):
        yield app
    await empty_tables(engine)


async def test_health_answers_while_40_logins_hash(login_app: FastAPI, gated: _GatedHasher) -> None:
    transport = httpx.ASGITransport(app=login_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        logins = [asyncio.create_task(c.post(TOKEN, data=_bad_login(i))) for i in range(40)]
        # Wait until hashing has begun: the first hashes are held at the gate.
        await gated.held(2)
        live = await c.get("/health/live")
        assert live.status_code == 200
        # It answered while every login was still being checked (none had finished).
        assert not gated.gate.is_set(), "the event loop was blocked by a hash"
        assert not any(t.done() for t in logins)
        gated.gate.set()
        answers = await asyncio.gather(*logins)
    assert [a.status_code for a in answers] == [401] * 40


async def test_logins_beyond_the_queue_answer_503_at_once(
    settings: Settings, engine: AsyncEngine, gated: _GatedHasher
) -> None:
    own = settings.model_copy(
        update={"auth": AuthSettings(password_hash_concurrency=1, password_hash_queue=0)}
    )
    app = create_app(own)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                first = asyncio.create_task(c.post(TOKEN, data=_bad_login(1)))
                await gated.held(1)
                busy = await c.post(TOKEN, data=_bad_login(2))
                gated.gate.set()
                assert (await first).status_code == 401
    finally:
        await empty_tables(engine)
    assert busy.status_code == 503
    assert busy.json()["code"] == "auth.busy"
    assert busy.headers["retry-after"] == "1"


# --- Medium 4: production by default, and low-entropy secrets refused -----------------------


@pytest.fixture
def no_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ENV", "APP_SECRET_KEY", "APP_DATA_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no .env file here


def test_the_default_environment_is_production_and_needs_secrets(no_app_env: None) -> None:
    with pytest.raises(ValidationError, match="refusing to start in production"):
        Settings(DATABASE_URL=URL)


def test_make_run_and_make_webhooks_choose_development(no_app_env: None) -> None:
    env = run.development_env()
    assert env["APP_ENV"] == "development"
    # The development keys are the published ones: they serve development only.
    assert Settings(env=env["APP_ENV"], DATABASE_URL=URL).secret_key is not None


GOOD_SECRET = "Zq8vN2-rT5xW0yLk3_HbJ7mPc4dFs9Ge"
GOOD_DATA_KEY = base64.b64encode(hashlib.sha256(b"a data key for these tests").digest()).decode()


@pytest.mark.parametrize(
    ("secret_key", "data_key", "refused"),
    [
        ("a" * 32, GOOD_DATA_KEY, "APP_SECRET_KEY"),
        ("ab" * 20, GOOD_DATA_KEY, "APP_SECRET_KEY"),
        ("0123456789abcdef" * 2, GOOD_DATA_KEY, "APP_SECRET_KEY"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", GOOD_DATA_KEY, "APP_SECRET_KEY"),
        (GOOD_SECRET, base64.b64encode(bytes(32)).decode(), "APP_DATA_KEY"),
        (GOOD_SECRET, base64.b64encode(b"k" * 32).decode(), "APP_DATA_KEY"),
        (GOOD_SECRET, base64.b64encode(b"\x01\x02" * 16).decode(), "APP_DATA_KEY"),
        # Runs: no generator gives them.
        ("abcdefghijklmnopqrstuvwxyz012345", GOOD_DATA_KEY, "APP_SECRET_KEY"),
        (GOOD_SECRET, base64.b64encode(bytes(range(32))).decode(), "APP_DATA_KEY"),
        (GOOD_SECRET, base64.b64encode(bytes(range(7, 7 + 32 * 7, 7))).decode(), "APP_DATA_KEY"),
    ],
)
@pytest.mark.parametrize("env", [Environment.test, Environment.production])
def test_low_entropy_secrets_are_refused(
    env: Environment, secret_key: str, data_key: str, refused: str
) -> None:
    with pytest.raises(ValidationError, match=refused):
        Settings(env=env, DATABASE_URL=URL, secret_key=secret_key, data_key=data_key)


def test_the_keys_the_repository_publishes_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="published"):
        Settings(
            env=Environment.production,
            DATABASE_URL=URL,
            secret_key=TEST_SECRET_KEY,
            data_key=GOOD_DATA_KEY,
        )
    with pytest.raises(ValidationError, match="published"):
        Settings(
            env=Environment.production,
            DATABASE_URL=URL,
            secret_key=GOOD_SECRET,
            data_key=TEST_DATA_KEY,
        )


def test_random_secrets_are_accepted() -> None:
    for _ in range(200):
        settings = Settings(
            env=Environment.production,
            DATABASE_URL=URL,
            secret_key=os.urandom(16).hex(),
            data_key=base64.b64encode(os.urandom(32)).decode(),
        )
        assert len(settings.data_key_bytes) == 32


# --- Low: X-Forwarded-For only from trusted proxies; machine clients lock out ---------------


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The API served as `make run` serves it (devtools.run.server_argv), a token limit of 3,
    on a socket bound beforehand (`--fd` overrides the port)."""
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.async_database_url,
        "APP_RATE_LIMIT__TOKEN_PER_MINUTE": "3",
        "APP_LOG_LEVEL": "WARNING",
    }
    with serving_process(run.server_argv(0), env, REPO) as (proc, base):
        # The socket listens already: this waits until the server answers on it.
        if httpx.get(f"{base}/health/live", timeout=60).status_code != 200:
            raise RuntimeError("uvicorn did not start")
        yield base
        proc.terminate()
        proc.wait(timeout=20)


async def test_forwarded_for_does_not_reset_the_token_limit(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as c:
        codes = [
            (
                await c.post(
                    TOKEN, data=_bad_login(i), headers={"X-Forwarded-For": f"203.0.113.{i}"}
                )
            ).status_code
            for i in range(5)
        ]
    assert codes == [401, 401, 401, 429, 429]


def test_the_image_does_not_trust_forwarded_headers(settings: Settings) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "exec python -m app.cli serve " in command
    assert run.server_argv(8000)[1:4] == ["-m", "app.cli", "serve"]
    config = uvicorn_config(FastAPI(), settings, "127.0.0.1", 8000)
    assert config.proxy_headers is False
    assert config.access_log is False


async def _codes_from(app: FastAPI, forwarded: list[str]) -> list[int]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # peer 127.0.0.1
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return [
            (await c.post(TOKEN, data=_bad_login(i), headers={"X-Forwarded-For": hop})).status_code
            for i, hop in enumerate(forwarded)
        ]


@pytest.mark.parametrize(
    ("trusted", "forwarded", "codes"),
    [
        # No trusted proxy (the default): the header is ignored, the peer is counted.
        ((), ["198.51.100.1", "198.51.100.2", "198.51.100.3"], [401, 401, 429]),
        # The peer is a trusted proxy: the address it saw is counted, one limit per client.
        (("127.0.0.1/32",), ["198.51.100.1", "198.51.100.2", "198.51.100.1"], [401, 401, 401]),
        # Addresses a client prepends itself are not believed: the proxy's entry is rightmost.
        (
            ("127.0.0.1/32",),
            ["1.1.1.1, 198.51.100.9", "2.2.2.2, 198.51.100.9", "3.3.3.3, 198.51.100.9"],
            [401, 401, 429],
        ),
    ],
)
async def test_forwarded_for_is_believed_from_trusted_proxies_only(
    settings: Settings,
    engine: AsyncEngine,
    trusted: tuple[str, ...],
    forwarded: list[str],
    codes: list[int],
) -> None:
    own = settings.model_copy(
        update={
            "rate_limit": RateLimitSettings(token_per_minute=2),
            "trusted_proxies": tuple(ip_network(network) for network in trusted),
        }
    )
    app = create_app(own)
    try:
        async with app.router.lifespan_context(app):
            assert await _codes_from(app, forwarded) == codes
    finally:
        await empty_tables(engine)


async def test_machine_clients_lock_out_after_repeated_failures(
    anonymous: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await add_user(isolated_sessionmaker, Role.hr_system, username="provincial-hr")
    wrong = {
        "grant_type": "client_credentials",
        "client_id": "provincial-hr",
        "client_secret": "a wrong guess",
    }
    for _ in range(5):
        assert (await anonymous.post(TOKEN, data=wrong)).status_code == 401
    right = await anonymous.post(TOKEN, data={**wrong, "client_secret": TEST_PASSWORD})
    assert right.status_code == 401
    async with isolated_sessionmaker() as s:
        client = (await s.scalars(select(User).where(User.username == "provincial-hr"))).one()
        assert client.locked_until is not None


# --- Low: a password change, role change or deactivation ends the tokens issued -------------


@pytest.mark.parametrize(
    "change",
    [
        {"password": "a brand new password"},
        {"role": "admin"},
        {"active": False},
    ],
    ids=["password", "role", "deactivation"],
)
async def test_changes_end_the_tokens_already_issued(
    client: httpx.AsyncClient,
    settings: Settings,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, Any],
) -> None:
    user = await add_user(isolated_sessionmaker, Role.auditor)
    old = bearer(settings, user)
    assert (await client.get(f"{API}/auth/me", headers=old)).status_code == 200
    assert (await client.patch(f"{API}/users/{user.id}", json=change)).status_code == 200
    if change.get("active") is False:
        # Active again: the tokens issued before stay ended.
        again = await client.patch(f"{API}/users/{user.id}", json={"active": True})
        assert again.status_code == 200
    refused = await client.get(f"{API}/auth/me", headers=old)
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"


async def test_a_new_token_works_after_a_password_change(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    user = await add_user(isolated_sessionmaker, Role.auditor, username="auditor-zhou")
    new = "a brand new password"
    assert (await client.patch(f"{API}/users/{user.id}", json={"password": new})).status_code == 200
    token = await anonymous.post(
        TOKEN, data={"grant_type": "password", "username": "auditor-zhou", "password": new}
    )
    assert token.status_code == 200
    me = await anonymous.get(
        f"{API}/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.status_code == 200
    # Changing nothing that matters (re-sending the same role) keeps tokens working.
    same = await client.patch(f"{API}/users/{user.id}", json={"role": "auditor"})
    assert same.status_code == 200
    me = await anonymous.get(
        f"{API}/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.status_code == 200
