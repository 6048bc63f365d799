import base64
import binascii
import re
import uuid
from typing import Annotated, TypedDict

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth.client_address import client_address
from app.auth.passwords import HashingBusy, hashing
from app.auth.rate_limit import RateLimited, RateLimiter
from app.auth.tokens import issue
from app.config import Settings
from app.db import DbSession, attribute
from app.enums import Role
from app.errors import PreconditionFailed, UnprocessableEntity, problem_response
from app.http import API_PREFIX, AppSettings, IfMatch, check_if_match, problems, set_etag
from app.i18n import N_
from app.idempotency.route import IdempotentRoute
from app.pagination import Page, PageQuery
from app.security import CurrentActor
from app.user import service
from app.user.errors import (
    CadreAlreadyLinked,
    ExternalIdentityTaken,
    InvalidCredentials,
    InvalidGrant,
    UnsupportedGrant,
    UserBindingMismatch,
    UsernameTaken,
    UserNotFound,
    UserReferenceNotFound,
)
from app.user.models import User
from app.user.schemas import GrantType, TokenResponse, UserCreate, UserRead, UserUpdate

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"], route_class=IdempotentRoute)
me_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"], route_class=IdempotentRoute)
# The token endpoint is the one route that takes no bearer token: it is not protected.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
token_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


class UserPage(Page[UserRead]):
    pass


@router.get("", operation_id="listUsers")
async def list_users(
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    role: Role | None = None,
    active: bool | None = None,
) -> UserPage:
    """The accounts, a page at a time (`next_cursor`), filtered by role and by whether they are
    active."""
    items, next_cursor = await service.list_users(db_session, page, role=role, active=active)
    return UserPage(items=[UserRead.model_validate(u) for u in items], next_cursor=next_cursor)


@router.post(
    "",
    operation_id="createUser",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        UsernameTaken, UserReferenceNotFound, CadreAlreadyLinked, ExternalIdentityTaken, HashingBusy
    ),
)
async def create_user(
    body: UserCreate,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    response: Response,
) -> UserRead:
    """Create a person or a machine client (`hr_system`: its username is the client id and its
    password the client secret). `external_issuer` with `external_subject` link the user to
    its identity at the OIDC provider: that provider's tokens with this `iss` and `sub` act as
    this user."""
    user = await service.create_user(db_session, body, hashing=hashing(settings.auth))
    set_etag(response, user.version)
    response.headers["Location"] = f"{API_PREFIX}/users/{user.id}"
    return UserRead.model_validate(user)


@router.get("/{user_id}", operation_id="getUser", responses=problems(UserNotFound))
async def get_user(
    user_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> UserRead:
    """One account, with its `ETag` for `If-Match`."""
    user = await service.get_user(db_session, user_id)
    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.patch(
    "/{user_id}",
    operation_id="updateUser",
    responses=problems(
        UserNotFound,
        UserReferenceNotFound,
        UserBindingMismatch,
        CadreAlreadyLinked,
        ExternalIdentityTaken,
        UnprocessableEntity,
        PreconditionFailed,
        HashingBusy,
    ),
)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> UserRead:
    """Change role, binding, password, external identity, or deactivate. A new password also
    lifts a lock-out. A new password, role or binding, or deactivation ends every token
    issued to the user before."""
    user = await service.get_user(db_session, user_id)
    check_if_match(if_match, user.version)
    user = await service.update_user(db_session, user, body, hashing=hashing(settings.auth))
    set_etag(response, user.version)
    return UserRead.model_validate(user)


@me_router.get("/me", operation_id="getCurrentUser")
async def get_current_user(
    db_session: DbSession, actor: CurrentActor, response: Response
) -> UserRead:
    """The user the bearer token speaks for."""
    user = await service.get_user(db_session, actor.user_id)
    set_etag(response, user.version)
    return UserRead.model_validate(user)


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
    if not sep or _CONTROL.search(decoded) or len(client_id) > 200 or len(secret) > 200:
        return None  # as the form fields: printable and bounded, a NUL never reaches the database
    return client_id, secret


# A refresh token is 43 characters (32 random bytes, base64url); bounded, printable.
RefreshTokenForm = Annotated[str | None, Form(max_length=200, pattern=r"^[A-Za-z0-9_\-]*$")]


class _RequestIds(TypedDict):
    request_id: str | None
    client_request_id: str | None


def _request_ids(request: Request) -> _RequestIds:
    return {
        "request_id": getattr(request.state, "request_id", None),
        "client_request_id": getattr(request.state, "client_request_id", None),
    }


def _invalid_grant(request: Request) -> JSONResponse:
    # Returned, not raised: the transaction commits, so a reuse's revocation sticks.
    return problem_response(
        request, status=InvalidGrant.status, code=InvalidGrant.code, title=InvalidGrant.title
    )


@token_router.post(
    "/token",
    operation_id="issueToken",
    response_model=TokenResponse,
    responses=problems(
        InvalidCredentials, InvalidGrant, UnsupportedGrant, RateLimited, HashingBusy
    ),
)
async def issue_token(
    request: Request,
    db_session: DbSession,
    settings: AppSettings,
    grant_type: Annotated[GrantType, Form()],
    username: Credential = None,
    password: Credential = None,
    client_id: Credential = None,
    client_secret: Credential = None,
    scope: Credential = None,
    refresh_token: RefreshTokenForm = None,
) -> TokenResponse | JSONResponse:
    """Exchange credentials for a short-lived bearer token: `grant_type=password` with
    `username`/`password` for people, `grant_type=client_credentials` with `client_id`/
    `client_secret` (form fields or HTTP Basic) for machine clients. Repeated failures lock the
    account, or the machine client, for a while; every client address is rate-limited here.
    When too many sign-ins are being checked at once, the answer is 503 with Retry-After.

    The password grant also returns a `refresh_token` (machine clients sign in again instead).
    `grant_type=refresh_token` with `refresh_token` returns a new access token and a new
    refresh token; the one sent is used up. Sending a used refresh token again revokes every
    token of its sign-in (all devices' copies of that session) and answers 400
    `auth.invalid_grant`, as does an expired or revoked one, or one whose user was
    deactivated or changed password, role or binding since. Refresh one request at a time:
    two parallel refreshes of one token count as a reuse."""
    limiter: RateLimiter = request.app.state.token_limiter
    limiter.check(f"ip:{client_address(request, settings.trusted_proxies)}")
    if grant_type == GrantType.refresh_token:
        if not refresh_token:
            raise UnsupportedGrant(N_("The refresh_token grant needs a refresh_token."))
        refreshed = await service.rotate_refresh(
            db_session,
            refresh_token,
            days=settings.auth.refresh_token_days,
            **_request_ids(request),
        )
        if refreshed is None:
            return _invalid_grant(request)
        return _token_response(settings, refreshed.user, refreshed.secret.token)

    if grant_type == GrantType.password:
        name, secret = username, password
        machine = False
    else:
        basic = _basic_credentials(request)
        name, secret = basic if basic else (client_id, client_secret)
        machine = True
    if not name or secret is None:
        raise UnsupportedGrant(N_("Credentials for this grant type are missing."))

    passwords = hashing(settings.auth)
    # A turn at the hashing threads first: waiting for it holds no database connection.
    async with passwords.turn():
        # No actor yet: what the attempt changes is recorded as the request's alone.
        await attribute(db_session, **_request_ids(request))
        user = await service.authenticate(
            db_session, name, secret, machine=machine, auth=settings.auth, hashing=passwords
        )
    if user is None:
        # Returned, not raised: the transaction commits, so the failed attempt is remembered.
        return problem_response(
            request,
            status=InvalidCredentials.status,
            code=InvalidCredentials.code,
            title=InvalidCredentials.title,
            headers={"WWW-Authenticate": 'Bearer realm="cadre-training"'},
        )
    refresh = None
    if not machine:
        started = await service.start_refresh_family(
            db_session, user, days=settings.auth.refresh_token_days, **_request_ids(request)
        )
        refresh = started.token
    return _token_response(settings, user, refresh)


def _token_response(settings: Settings, user: User, refresh: str | None) -> TokenResponse:
    token = issue(settings, user_id=user.id, role=user.role, token_version=user.token_version)
    return TokenResponse(
        access_token=token.access_token,
        token_type="bearer",  # noqa: S106
        expires_in=token.expires_in,
        role=user.role,
        refresh_token=refresh,
    )


@token_router.post(
    "/revoke",
    operation_id="revokeToken",
    status_code=status.HTTP_200_OK,
    response_class=Response,
    responses={200: {"description": "Revoked, or nothing to revoke"}, **problems(RateLimited)},
)
async def revoke_token(
    request: Request,
    db_session: DbSession,
    settings: AppSettings,
    token: Annotated[str, Form(min_length=1, max_length=4096, pattern=r"^[^\x00-\x1f\x7f]*$")],
    token_type_hint: Credential = None,
) -> Response:
    """Log out (RFC 7009 token revocation): `token` is a refresh token; its whole sign-in (the
    token and every token rotated from it) is revoked. The answer is 200 with no body
    whatever the token was (unknown, expired, already revoked, or an access token), so it
    tells nobody what exists. The access tokens issued to that sign-in stay valid until they
    expire (`APP_AUTH__ACCESS_TOKEN_MINUTES`, 15 by default): discard them. To end every
    sign-in of a user at once, change the user's password (or deactivate it)."""
    limiter: RateLimiter = request.app.state.token_limiter
    limiter.check(f"ip:{client_address(request, settings.trusted_proxies)}")
    await service.revoke_refresh(db_session, token, **_request_ids(request))
    return Response(status_code=status.HTTP_200_OK)
