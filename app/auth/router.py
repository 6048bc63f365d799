"""`POST /api/v1/auth/token`: the OAuth2 token endpoint (RFC 6749 §4.3 and §4.4)."""

import base64
import binascii
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import attribute
from app.auth.passwords import verify_password
from app.auth.rate_limit import RateLimited, RateLimiter
from app.auth.tokens import issue
from app.config import Settings
from app.db import DbSession
from app.enums import Role
from app.errors import BadRequest, Unauthorized, problem_response
from app.http import API_PREFIX, problems
from app.user.models import User

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


class GrantType(StrEnum):
    password = "password"  # noqa: S105 (the grant type's name)
    client_credentials = "client_credentials"


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires")
    role: Role


class InvalidCredentials(Unauthorized):
    code = "auth.invalid_credentials"
    title = "Unknown user, wrong password, or the account is locked or inactive"


class UnsupportedGrant(BadRequest):
    code = "auth.unsupported_grant"
    title = "Use the password grant for people and client_credentials for machine clients"


# Printable, without control characters (a NUL byte never reaches PostgreSQL).
Credential = Annotated[str | None, Form(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


async def _count_failure(db_session: AsyncSession, user: User, settings: Settings) -> None:
    """One more failed attempt; at the threshold the account locks for a while. A core UPDATE:
    no version bump, and the arithmetic happens in the row, safe against concurrent attempts."""
    reached = User.failed_logins + 1 >= settings.auth.lockout_threshold
    lock_until = func.now() + timedelta(minutes=settings.auth.lockout_minutes)
    await db_session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            failed_logins=case((reached, 0), else_=User.failed_logins + 1),
            locked_until=case((reached, lock_until), else_=User.locked_until),
        )
    )


@router.post(
    "/token",
    operation_id="issueToken",
    response_model=TokenResponse,
    responses=problems(InvalidCredentials, UnsupportedGrant, RateLimited),
)
async def issue_token(
    request: Request,
    db_session: DbSession,
    grant_type: Annotated[GrantType, Form()],
    username: Credential = None,
    password: Credential = None,
    client_id: Credential = None,
    client_secret: Credential = None,
    scope: Credential = None,
) -> TokenResponse | JSONResponse:
    """Exchange credentials for a short-lived bearer token: `grant_type=password` with
    `username`/`password` for people, `grant_type=client_credentials` with `client_id`/
    `client_secret` (form fields or HTTP Basic) for machine clients. Repeated failures lock the
    account for a while; every client is rate-limited here."""
    limiter: RateLimiter = request.app.state.token_limiter
    client_host = request.client.host if request.client else "unknown"
    limiter.check(f"ip:{client_host}")
    settings: Settings = request.app.state.settings

    if grant_type == GrantType.password:
        name, secret = username, password
        machine = False
    else:
        basic = _basic_credentials(request)
        name, secret = basic if basic else (client_id, client_secret)
        machine = True
    if not name or secret is None:
        raise UnsupportedGrant("Credentials for this grant type are missing.")

    # No actor yet: what the attempt changes is recorded as the request's alone.
    await attribute(db_session, request_id=getattr(request.state, "request_id", None))
    # FOR UPDATE: parallel guesses at one account queue up, so none slips past the lock-out.
    user = (
        await db_session.scalars(select(User).where(User.username == name).with_for_update())
    ).one_or_none()
    now = datetime.now(UTC)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    # Always pay for one argon2 verification, so answers take as long whatever went wrong.
    valid = verify_password(user.password_hash if user and not locked else None, secret)
    usable = user is not None and valid and user.active and (user.role == Role.hr_system) == machine
    if not usable:
        # Machine clients are not locked out (anyone could lock the HR system out by guessing);
        # the per-client rate limit bounds their guesses.
        if user is not None and not locked and user.role != Role.hr_system:
            await _count_failure(db_session, user, settings)
        # Returned, not raised: the transaction commits, so the failed attempt is remembered.
        return problem_response(
            request,
            status=InvalidCredentials.status,
            code=InvalidCredentials.code,
            title=InvalidCredentials.title,
            headers={"WWW-Authenticate": 'Bearer realm="cadre-training"'},
        )
    assert user is not None
    if user.failed_logins or user.locked_until:
        await db_session.execute(
            update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None)
        )
    token = issue(settings, user_id=user.id, role=user.role)
    return TokenResponse(
        access_token=token.access_token,
        token_type="bearer",  # noqa: S106
        expires_in=token.expires_in,
        role=user.role,
    )
