"""Tokens of an external OIDC provider: verified against its JWKS (served here on loopback) and
mapped to the local user an admin linked to the token's (issuer, sub), never by a username."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import AuthSettings, Settings
from app.enums import Role
from app.main import create_app
from app.user.models import User
from tests.conftest import add_user
from tests.factories import API

ISSUER = "https://idp.example.gov.cn/realms/cadre"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/certs"
    server.shutdown()
    server.server_close()


def _token(subject: str | None, username: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": "cadre-api",
        "exp": now + 300,
        "iat": now,
        "sub": subject,
        "preferred_username": username or subject,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": "k1"})


async def _link(
    sessionmaker: async_sessionmaker[AsyncSession], user: User, issuer: str, sub: str
) -> None:
    async with sessionmaker() as db_session:
        await db_session.execute(
            update(User)
            .where(User.id == user.id)
            .values(external_issuer=issuer, external_subject=sub)
        )
        await db_session.commit()


def test_an_oidc_issuer_needs_an_audience() -> None:
    with pytest.raises(ValidationError, match="OIDC_AUDIENCE"):
        AuthSettings(oidc_issuer=ISSUER, oidc_jwks_url="http://127.0.0.1:9/certs")


async def test_oidc_tokens_map_to_local_users(
    settings: Settings, jwks_url: str, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    oidc = settings.model_copy(
        update={
            "auth": AuthSettings(
                oidc_issuer=ISSUER, oidc_jwks_url=jwks_url, oidc_audience="cadre-api"
            )
        }
    )
    app = create_app(oidc)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = isolated_sessionmaker
        auditor = await add_user(isolated_sessionmaker, Role.auditor, username="li.auditor")
        await _link(isolated_sessionmaker, auditor, ISSUER, "f3a9-li")
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:

            async def me(token: str) -> httpx.Response:
                return await c.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})

            ok = await me(_token("f3a9-li", "whatever-name"))
            assert ok.status_code == 200, ok.text
            assert ok.json()["username"] == "li.auditor"
            assert ok.json()["role"] == "auditor"
            # A name the user may choose at the provider maps to nobody: only (iss, sub) does.
            assert (await me(_token("someone-else", "li.auditor"))).status_code == 401
            assert (await me(_token("nobody"))).status_code == 401
            # The same sub at another issuer is another identity.
            other_issuer = await add_user(isolated_sessionmaker, Role.auditor)
            await _link(isolated_sessionmaker, other_issuer, "https://elsewhere", "x-1")
            assert (await me(_token("x-1"))).status_code == 401
            # Admins and machine clients sign in with the service's own tokens only.
            admin = await add_user(isolated_sessionmaker, Role.admin, username="idp.admin")
            await _link(isolated_sessionmaker, admin, ISSUER, "adm-1")
            assert (await me(_token("adm-1"))).status_code == 401
            assert (await me(_token("f3a9-li", aud="someone-else"))).status_code == 401
            # The audience claim is required, not only checked when present.
            assert (await me(_token("f3a9-li", aud=None))).status_code == 401
            assert (await me(_token(None, "li.auditor"))).status_code == 401
            assert (await me(_token("f3a9-li", exp=int(time.time()) - 10))).status_code == 401
            # Signed by another key: refused.
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            forged = jwt.encode(
                {
                    "iss": ISSUER,
                    "aud": "cadre-api",
                    "exp": int(time.time()) + 60,
                    "sub": "f3a9-li",
                },
                other,
                algorithm="RS256",
                headers={"kid": "k1"},
            )
            assert (await me(forged)).status_code == 401


async def test_an_admin_links_a_user_to_its_external_identity(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{API}/users",
        json={
            "username": "wang.auditor",
            "password": "a long enough password",
            "role": "auditor",
            "external_issuer": ISSUER,
            "external_subject": "9c1e-wang",
        },
    )
    assert created.status_code == 201, created.text
    assert (created.json()["external_issuer"], created.json()["external_subject"]) == (
        ISSUER,
        "9c1e-wang",
    )
    # The pair is unique: a second user cannot be linked to it.
    second = await client.post(
        f"{API}/users",
        json={"username": "zhao.auditor", "password": "a long enough password", "role": "auditor"},
    )
    user_id, version = second.json()["id"], second.json()["version"]
    taken = await client.patch(
        f"{API}/users/{user_id}",
        json={"external_issuer": ISSUER, "external_subject": "9c1e-wang"},
        headers={"If-Match": f'"{version}"'},
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "user.external_identity_taken"
    # Issuer and subject go together.
    half = await client.patch(f"{API}/users/{user_id}", json={"external_subject": "x"})
    assert half.status_code == 422
    # Both null: unlinked.
    unlinked = await client.patch(
        f"{API}/users/{created.json()['id']}",
        json={"external_issuer": None, "external_subject": None},
    )
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["external_subject"] is None
