"""Refresh tokens of the password grant (issue 12, "Tokens for mobile and web"): rotation,
reuse detection, logout, lifetimes, and what ends a sign-in."""

import asyncio
import hashlib
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent
from app.config import AuthSettings, Settings
from app.db import create_sessionmaker
from app.enums import Role
from app.user.models import RefreshToken
from tests.conftest import TEST_PASSWORD, add_user
from tests.factories import API

TOKEN = f"{API}/auth/token"
REVOKE = f"{API}/auth/revoke"


async def _login(c: httpx.AsyncClient, username: str) -> dict[str, Any]:
    r = await c.post(
        TOKEN, data={"grant_type": "password", "username": username, "password": TEST_PASSWORD}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _refresh(c: httpx.AsyncClient, token: str) -> httpx.Response:
    return await c.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token})


def _assert_invalid_grant(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "auth.invalid_grant"


async def _me(c: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await c.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {access_token}"})


@pytest.fixture
async def person(isolated_sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    return (await add_user(isolated_sessionmaker, Role.auditor)).username


async def test_the_password_grant_gives_a_refresh_token_stored_only_as_its_hash(
    anonymous: httpx.AsyncClient, person: str, db_conn: AsyncConnection
) -> None:
    body = await _login(anonymous, person)
    token = body["refresh_token"]
    assert isinstance(token, str)
    assert len(token) >= 43
    stored = (await db_conn.scalars(select(RefreshToken.token_hash))).all()
    assert hashlib.sha256(token.encode()).digest() in stored
    assert all(token.encode() not in bytes(h) for h in stored)
    row = (
        await db_conn.execute(
            select(RefreshToken.issued_at, RefreshToken.expires_at).where(
                RefreshToken.token_hash == hashlib.sha256(token.encode()).digest()
            )
        )
    ).one()
    assert (row.expires_at - row.issued_at).days == 30


async def test_machine_clients_get_no_refresh_token(
    anonymous: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client = await add_user(isolated_sessionmaker, Role.hr_system)
    r = await anonymous.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": client.username,
            "client_secret": TEST_PASSWORD,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] is None


async def test_a_refresh_rotates_and_the_old_token_is_used_up(
    anonymous: httpx.AsyncClient, person: str
) -> None:
    first = (await _login(anonymous, person))["refresh_token"]
    r = await _refresh(anonymous, first)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["refresh_token"] not in (None, first)
    assert (body["token_type"], body["role"], body["expires_in"]) == ("bearer", "auditor", 900)
    assert (await _me(anonymous, body["access_token"])).json()["username"] == person
    again = await _refresh(anonymous, body["refresh_token"])
    assert again.status_code == 200, again.text


async def test_a_reused_token_revokes_its_family_the_newest_token_too(
    anonymous: httpx.AsyncClient, person: str, db_conn: AsyncConnection
) -> None:
    first = (await _login(anonymous, person))["refresh_token"]
    other_sign_in = (await _login(anonymous, person))["refresh_token"]
    second = (await _refresh(anonymous, first)).json()["refresh_token"]
    third = (await _refresh(anonymous, second)).json()["refresh_token"]
    _assert_invalid_grant(await _refresh(anonymous, first))  # the stolen copy, replayed
    _assert_invalid_grant(await _refresh(anonymous, third))  # the legitimate newest one
    _assert_invalid_grant(await _refresh(anonymous, second))
    # Another sign-in (another device) of the same user is another family: untouched.
    assert (await _refresh(anonymous, other_sign_in)).status_code == 200
    # The revocation was committed with the 400 and is in the audit trail, as the user's.
    revoked = await db_conn.scalar(
        text(
            "SELECT count(*) FROM audit_event e JOIN refresh_token t ON t.id = e.entity_id "
            "JOIN app_user u ON u.id = t.user_id WHERE e.entity_type = 'refresh_token' "
            "AND e.action = 'update' AND e.changes ? 'revoked_at' AND e.actor_id = u.id "
            "AND u.username = :u"
        ),
        {"u": person},
    )
    assert revoked == 3


async def test_unknown_expired_and_malformed_tokens(
    anonymous: httpx.AsyncClient, person: str, db_conn: AsyncConnection
) -> None:
    _assert_invalid_grant(await _refresh(anonymous, "x" * 43))
    token = (await _login(anonymous, person))["refresh_token"]
    digest = hashlib.sha256(token.encode()).digest()
    await db_conn.execute(
        text(
            "UPDATE refresh_token SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = :h"
        ),
        {"h": digest},
    )
    _assert_invalid_grant(await _refresh(anonymous, token))
    missing = await anonymous.post(TOKEN, data={"grant_type": "refresh_token"})
    assert (missing.status_code, missing.json()["code"]) == (400, "auth.unsupported_grant")
    bad = await _refresh(anonymous, "a\x00b")
    assert bad.status_code == 422


@pytest.mark.parametrize("change", [{"active": False}, {"password": "a new long password"}])
async def test_deactivation_or_a_new_password_ends_the_refresh_tokens(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, person: str, change: dict[str, Any]
) -> None:
    token = (await _login(anonymous, person))["refresh_token"]
    users = (await client.get(f"{API}/users", params={"limit": 200})).json()["items"]
    user = next(u for u in users if u["username"] == person)
    r = await client.patch(f"{API}/users/{user['id']}", json=change)
    assert r.status_code == 200, r.text
    _assert_invalid_grant(await _refresh(anonymous, token))


async def test_a_token_version_bump_ends_the_refresh_tokens(
    anonymous: httpx.AsyncClient, person: str, db_conn: AsyncConnection
) -> None:
    token = (await _login(anonymous, person))["refresh_token"]
    await db_conn.execute(
        text("UPDATE app_user SET token_version = token_version + 1 WHERE username = :u"),
        {"u": person},
    )
    _assert_invalid_grant(await _refresh(anonymous, token))


async def test_logout_revokes_the_sign_in_and_tells_nothing(
    anonymous: httpx.AsyncClient, person: str
) -> None:
    first = (await _login(anonymous, person))["refresh_token"]
    body = (await _refresh(anonymous, first)).json()
    r = await anonymous.post(REVOKE, data={"token": body["refresh_token"]})
    assert (r.status_code, r.content) == (200, b"")
    _assert_invalid_grant(await _refresh(anonymous, body["refresh_token"]))
    # The access token stays valid until it expires (documented): logout cannot recall it.
    assert (await _me(anonymous, body["access_token"])).status_code == 200
    # Revoking again, an unknown token, or an access token: 200 alike.
    for token in (body["refresh_token"], "unknown", body["access_token"]):
        again = await anonymous.post(
            REVOKE, data={"token": token, "token_type_hint": "refresh_token"}
        )
        assert again.status_code == 200
    assert (await anonymous.post(REVOKE, data={})).status_code == 422


async def test_lifetimes_are_configurable(
    anonymous: httpx.AsyncClient, person: str, settings: Settings, db_conn: AsyncConnection
) -> None:
    assert (AuthSettings().access_token_minutes, AuthSettings().refresh_token_days) == (15, 30)
    assert AuthSettings(refresh_token_days=7).refresh_token_days == 7
    token = (await _login(anonymous, person))["refresh_token"]
    settings.auth.refresh_token_days = 7
    settings.auth.access_token_minutes = 5
    try:
        body = (await _refresh(anonymous, token)).json()
    finally:
        settings.auth.refresh_token_days = 30
        settings.auth.access_token_minutes = 15
    assert body["expires_in"] == 300
    digest = hashlib.sha256(body["refresh_token"].encode()).digest()
    row = (
        await db_conn.execute(
            select(RefreshToken.issued_at, RefreshToken.expires_at).where(
                RefreshToken.token_hash == digest
            )
        )
    ).one()
    assert (row.expires_at - row.issued_at).days == 7


async def test_the_secret_never_reaches_the_log_or_the_trail(
    anonymous: httpx.AsyncClient,
    person: str,
    db_conn: AsyncConnection,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    first = (await _login(anonymous, person))["refresh_token"]
    second = (await _refresh(anonymous, first)).json()["refresh_token"]
    await _refresh(anonymous, first)  # a reuse: revocations
    await anonymous.post(REVOKE, data={"token": second})
    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    trail = (
        await db_conn.execute(
            select(AuditEvent.changes).where(AuditEvent.entity_type == "refresh_token")
        )
    ).all()
    assert trail
    digests = [hashlib.sha256(t.encode()).hexdigest() for t in (first, second)]
    for secret in (first, second, *digests):
        assert secret not in logged
        assert secret not in str(trail)
    assert all("token_hash" not in str(changes) for (changes,) in trail)


async def test_parallel_refreshes_of_one_token_one_wins(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Both requests really commit: the second waits on the family's lock, then finds the
    token used. That is a reuse: one answer is 200, the other 400, and the family (the
    winner's new token too) is revoked."""
    user = await add_user(create_sessionmaker(engine), Role.auditor)
    token = (await _login(committed_client, user.username))["refresh_token"]
    answers = await asyncio.gather(*(_refresh(committed_client, token) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 400]
    winner = next(a for a in answers if a.status_code == 200).json()["refresh_token"]
    _assert_invalid_grant(await _refresh(committed_client, winner))
    async with engine.connect() as conn:
        children = await conn.scalar(
            text(
                "SELECT count(*) FROM refresh_token t JOIN app_user u ON u.id = t.user_id "
                "WHERE u.username = :u AND t.parent_id IS NOT NULL"
            ),
            {"u": user.username},
        )
    assert children == 1
