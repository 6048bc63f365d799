"""Signed access tokens (JWT, HS256) of the built-in issuer, optional OIDC tokens, and the
opaque refresh tokens of the password grant."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt

from app.config import Settings
from app.enums import Role

ALGORITHM = "HS256"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def issue(settings: Settings, *, user_id: uuid.UUID, role: Role, token_version: int) -> IssuedToken:
    """A token for the user at its current `token_version`: a password change, role change or
    deactivation raises the version, which ends every token issued before."""
    now = datetime.now(UTC)
    ttl = timedelta(minutes=settings.auth.access_token_minutes)
    claims = {
        "iss": settings.auth.issuer,
        "aud": settings.auth.audience,
        "sub": str(user_id),
        "role": role.value,
        "ver": token_version,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key_value, algorithm=ALGORITHM)
    return IssuedToken(access_token=token, expires_in=int(ttl.total_seconds()))


@dataclass(frozen=True)
class RefreshSecret:
    """An opaque refresh token: `token` goes to the client once, only `digest` is stored."""

    token: str
    digest: bytes

    def __repr__(self) -> str:  # never in a log or a traceback
        return "RefreshSecret(token=<hidden>)"


def refresh_digest(token: str) -> bytes:
    """SHA-256: the token carries 256 random bits, so no slow hash (or salt) is needed."""
    return hashlib.sha256(token.encode()).digest()


def new_refresh_secret() -> RefreshSecret:
    token = secrets.token_urlsafe(32)
    return RefreshSecret(token=token, digest=refresh_digest(token))


@dataclass(frozen=True)
class ExternalIdentity:
    """An identity at an external OIDC provider: its `sub` is unique only at its issuer."""

    issuer: str
    subject: str


@dataclass(frozen=True)
class Subject:
    """Who a valid token speaks for: a local user id at a token version, or an external
    identity an admin linked to a local user."""

    user_id: uuid.UUID | None = None
    token_version: int | None = None
    external: ExternalIdentity | None = None
    # The token's `exp` (seconds since the epoch): a verified token is remembered no longer.
    expires_at: float | None = field(default=None, compare=False)


class InvalidToken(Exception):
    pass


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


def _expiry(claims: dict[str, Any]) -> float | None:
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def verify(settings: Settings, token: str) -> Subject:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed token") from exc
    issuer = unverified.get("iss")
    auth = settings.auth
    try:
        if auth.oidc_issuer and auth.oidc_jwks_url and issuer == auth.oidc_issuer:
            key = _jwks_client(auth.oidc_jwks_url).get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=auth.oidc_audience,
                issuer=auth.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            # Mapped by (issuer, sub), never by a name the user may choose at the provider.
            sub = claims["sub"]
            if not isinstance(sub, str) or not sub:
                raise InvalidToken("the identity provider's token names no subject")
            return Subject(
                external=ExternalIdentity(issuer=auth.oidc_issuer, subject=sub),
                expires_at=_expiry(claims),
            )
        claims = jwt.decode(
            token,
            settings.secret_key_value,
            algorithms=[ALGORITHM],
            audience=auth.audience,
            issuer=auth.issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "ver"]},
        )
        version = claims["ver"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidToken("the token version is not a number")
        return Subject(
            user_id=uuid.UUID(str(claims["sub"])),
            token_version=version,
            expires_at=_expiry(claims),
        )
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
