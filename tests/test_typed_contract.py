"""The contract is fully typed: the grants it declares, no free-form objects where the shape is
known, and every property a response always carries marked required."""

from typing import Any

from fastapi import FastAPI

from app.security import TOKEN_URL


def test_security_scheme_declares_both_grants(app: FastAPI) -> None:
    """People log in with `password` (and renew with refresh_token); machine clients (the HR
    system) with `client_credentials`, which has no refresh."""
    flows: dict[str, Any] = app.openapi()["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert set(flows) == {"password", "clientCredentials"}
    assert flows["password"] == {"tokenUrl": TOKEN_URL, "refreshUrl": TOKEN_URL, "scopes": {}}
    assert flows["clientCredentials"] == {"tokenUrl": TOKEN_URL, "scopes": {}}
