"""Tokens of an external OIDC provider: verified against its JWKS (served here on loopback) and
mapped to a local user by username."""

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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import AuthSettings, Settings
from app.enums import Role
from app.main import create_app
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


def _token(username: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": "cadre-api",
        "exp": now + 300,
        "iat": now,
        "preferred_username": username,
        **claims,
    }
    return jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": "k1"})


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
        await add_user(isolated_sessionmaker, Role.auditor, username="li.auditor")
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:

            async def me(token: str) -> httpx.Response:
                return await c.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})

            ok = await me(_token("li.auditor"))
            assert ok.status_code == 200, ok.text
            assert ok.json()["role"] == "auditor"
            assert (await me(_token("nobody"))).status_code == 401
            # Admins and machine clients sign in with the service's own tokens only.
            await add_user(isolated_sessionmaker, Role.admin, username="idp.admin")
            assert (await me(_token("idp.admin"))).status_code == 401
            assert (await me(_token("li.auditor", aud="someone-else"))).status_code == 401
            assert (await me(_token("li.auditor", exp=int(time.time()) - 10))).status_code == 401
            # Signed by another key: refused.
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            forged = jwt.encode(
                {
                    "iss": ISSUER,
                    "aud": "cadre-api",
                    "exp": int(time.time()) + 60,
                    "preferred_username": "li.auditor",
                },
                other,
                algorithm="RS256",
                headers={"kid": "k1"},
            )
            assert (await me(forged)).status_code == 401
