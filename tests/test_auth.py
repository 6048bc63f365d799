import base64
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Environment, RateLimitSettings, Settings
from app.enums import Role
from app.main import create_app
from app.user.models import User
from tests.conftest import TEST_PASSWORD, add_user
from tests.factories import API, create_org_unit

TOKEN = f"{API}/auth/token"


async def test_password_grant_gives_a_working_token(
    anonymous: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await add_user(isolated_sessionmaker, Role.auditor, username="auditor-li")
    r = await anonymous.post(
        TOKEN, data={"grant_type": "password", "username": "auditor-li", "password": TEST_PASSWORD}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["token_type"], body["role"], body["expires_in"]) == ("bearer", "auditor", 900)
    me = await anonymous.get(
        f"{API}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["id"] == str(user.id)
    assert "password" not in me.text


async def test_client_credentials_for_machine_clients_only(
    anonymous: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await add_user(isolated_sessionmaker, Role.hr_system, username="provincial-hr")
    basic = base64.b64encode(f"provincial-hr:{TEST_PASSWORD}".encode()).decode()
    r = await anonymous.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "hr_system"
    form = await anonymous.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": "provincial-hr",
            "client_secret": TEST_PASSWORD,
        },
    )
    assert form.status_code == 200
    # A machine client cannot log in as a person, nor a person as a machine.
    r = await anonymous.post(
        TOKEN,
        data={"grant_type": "password", "username": "provincial-hr", "password": TEST_PASSWORD},
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "nobody-here", "password": "x" * 12},
        {"grant_type": "password", "username": "known-user", "password": "wrong password!"},
        {"grant_type": "implicit", "username": "known-user", "password": TEST_PASSWORD},
        {"grant_type": "password", "username": "known-user"},
    ],
)
async def test_bad_credentials(
    anonymous: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    form: dict[str, str],
) -> None:
    await add_user(isolated_sessionmaker, Role.admin, username="known-user")
    r = await anonymous.post(TOKEN, data=form)
    assert r.status_code in (400, 401, 422)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "access_token" not in r.text


async def test_lockout_after_repeated_failures(
    anonymous: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await add_user(isolated_sessionmaker, Role.admin, username="locked-wang")
    wrong = {"grant_type": "password", "username": "locked-wang", "password": "wrong password!"}
    right = {**wrong, "password": TEST_PASSWORD}
    for _ in range(5):
        assert (await anonymous.post(TOKEN, data=wrong)).status_code == 401
    # Locked now: even the right password is refused, with the same answer as a wrong one.
    r = await anonymous.post(TOKEN, data=right)
    assert r.status_code == 401
    async with isolated_sessionmaker() as s:
        user = (await s.scalars(select(User).where(User.username == "locked-wang"))).one()
        assert user.locked_until is not None


async def test_inactive_user_token_stops_working(
    client: httpx.AsyncClient, client_for: Any
) -> None:
    auditor = await client_for(Role.auditor)
    me = (await auditor.get(f"{API}/auth/me")).json()
    assert (
        await client.patch(f"{API}/users/{me['id']}", json={"active": False})
    ).status_code == 200
    assert (await auditor.get(f"{API}/org-units")).status_code == 401


async def test_token_endpoint_is_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"rate_limit": RateLimitSettings(token_per_minute=3, writes_per_minute=2)}
    )
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            codes = [
                (
                    await c.post(
                        TOKEN, data={"grant_type": "password", "username": "x", "password": "y"}
                    )
                ).status_code
                for _ in range(4)
            ]
            assert codes == [401, 401, 401, 429]
            r = await c.post(
                TOKEN, data={"grant_type": "password", "username": "x", "password": "y"}
            )
            assert r.json()["code"] == "rate_limited"
            assert int(r.headers["retry-after"]) >= 1


async def test_writes_are_rate_limited_per_client(
    settings: Settings, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from tests.conftest import bearer

    limited = settings.model_copy(
        update={"rate_limit": RateLimitSettings(token_per_minute=100, writes_per_minute=2)}
    )
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = isolated_sessionmaker
        admin = await add_user(isolated_sessionmaker, Role.admin)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=bearer(limited, admin)
        ) as c:
            codes = [
                (
                    await c.post(
                        f"{API}/org-units", json={"code": f"RL{i}", "name": "x", "kind": "city"}
                    )
                ).status_code
                for i in range(3)
            ]
            assert codes == [201, 201, 429]
            assert (await c.get(f"{API}/org-units")).status_code == 200  # reads are not limited


def test_outside_development_secrets_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_SECRET_KEY", "APP_DATA_KEY"):
        monkeypatch.delenv(name)
    for env in (Environment.test, Environment.production):
        with pytest.raises(ValidationError, match="APP_SECRET_KEY"):
            Settings(env=env, DATABASE_URL="postgresql://x@127.0.0.1/x")
        with pytest.raises(ValidationError, match="APP_DATA_KEY"):
            Settings(
                env=env,
                DATABASE_URL="postgresql://x@127.0.0.1/x",
                secret_key="Zq8vN2-rT5xW0yLk3_HbJ7mPc4dFs9Ge",
                data_key=base64.b64encode(b"short").decode(),
            )
    dev = Settings(env=Environment.development, DATABASE_URL="postgresql://x@127.0.0.1/x")
    assert dev.secret_key is not None


async def test_bootstrap_admin(
    settings: Settings, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    name = f"boot-{uuid.uuid4().hex[:8]}"
    boot = settings.model_copy(
        update={"bootstrap_admin_username": name, "bootstrap_admin_password": TEST_PASSWORD}
    )
    from pydantic import SecretStr

    boot.bootstrap_admin_password = SecretStr(TEST_PASSWORD)
    app: FastAPI = create_app(boot)
    app.state.sessionmaker = isolated_sessionmaker
    for _ in range(2):  # a second start finds the admin and leaves it alone
        async with app.router.lifespan_context(app):
            pass
    async with isolated_sessionmaker() as s:
        users = (await s.scalars(select(User).where(User.username == name))).all()
    assert [u.role for u in users] == [Role.admin]


async def test_users_are_managed_by_admin(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.post(
        f"{API}/users",
        json={
            "username": "zhang.org",
            "password": "a-long-password-1",
            "role": "org_admin",
            "org_unit_id": unit["id"],
        },
    )
    assert r.status_code == 201, r.text
    assert "password" not in r.json()
    r = await client.post(
        f"{API}/users",
        json={"username": "bad.org", "password": "a-long-password-1", "role": "org_admin"},
    )
    assert r.status_code == 422
    r = await client.post(
        f"{API}/users",
        json={"username": "zhang.org", "password": "a-long-password-1", "role": "auditor"},
    )
    assert r.status_code == 409
    r = await client.post(
        f"{API}/users", json={"username": "short.pw", "password": "short", "role": "auditor"}
    )
    assert r.status_code == 422


async def test_a_binding_the_stored_role_does_not_take_is_a_rule_with_a_pointer(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Found by the stateful contract run: a PATCH naming a unit for an auditor broke a rule of
    the stored role, and answered a bare `validation_failed` with no field."""
    auditor = await add_user(isolated_sessionmaker, Role.auditor)
    unit = await create_org_unit(client)
    r = await client.patch(f"{API}/users/{auditor.id}", json={"org_unit_id": unit["id"]})
    # A rule on the stored role, not the body's shape: a 409, as rule violations are.
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "user.binding_mismatch"
    assert [e["pointer"] for e in r.json()["errors"]] == ["/body/org_unit_id"]
