"""Managing people and machine clients (admin only)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.passwords import PasswordHashing, hash_password
from app.auth.principals import forget_user
from app.auth.tokens import RefreshSecret, new_refresh_secret, refresh_digest
from app.config import AuthSettings
from app.db import attribute, flush_mapping_conflicts
from app.enums import Role
from app.errors import ProblemFieldError
from app.i18n import N_
from app.pagination import PageParams, paginate
from app.user import repository
from app.user.errors import (
    CadreAlreadyLinked,
    ExternalIdentityTaken,
    UserBindingMismatch,
    UsernameTaken,
    UserNotFound,
    UserReferenceNotFound,
)
from app.user.models import RefreshToken, User
from app.user.schemas import BindingMismatch, UserCreate, UserUpdate, check_binding

_CONFLICTS = {
    "uq_app_user_username": UsernameTaken(),
    "uq_app_user_cadre_id": CadreAlreadyLinked(),
    "uq_app_user_external_issuer_external_subject": ExternalIdentityTaken(),
}


async def get_user(db_session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.by_id(db_session, user_id)
    if user is None:
        raise UserNotFound()
    return user


async def _check_references(
    db_session: AsyncSession, org_unit_id: uuid.UUID | None, cadre_id: uuid.UUID | None
) -> None:
    if org_unit_id is not None and not await repository.org_unit_exists(db_session, org_unit_id):
        raise UserReferenceNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/org_unit_id", detail=N_("no such org unit"), code="not_found"
                )
            ]
        )
    if cadre_id is not None and not await repository.cadre_exists(db_session, cadre_id):
        raise UserReferenceNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/cadre_id", detail=N_("no such cadre"), code="not_found"
                )
            ]
        )


async def create_user(
    db_session: AsyncSession, data: UserCreate, *, hashing: PasswordHashing
) -> User:
    if await repository.by_username(db_session, data.username) is not None:
        raise UsernameTaken()
    await _check_references(db_session, data.org_unit_id, data.cadre_id)
    user = User(
        username=data.username,
        password_hash=await hashing.hash(data.password.get_secret_value()),
        role=data.role,
        org_unit_id=data.org_unit_id,
        cadre_id=data.cadre_id,
        active=data.active,
        failed_logins=0,
        token_version=0,
        external_issuer=data.external_issuer,
        external_subject=data.external_subject,
    )
    db_session.add(user)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return user


async def update_user(
    db_session: AsyncSession, user: User, data: UserUpdate, *, hashing: PasswordHashing
) -> User:
    """Apply the changes. A new password, a new role or binding, or deactivation raises the
    token version: the tokens issued before stop working at once."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    role = changes.get("role") or user.role
    org_unit_id = changes.get("org_unit_id", user.org_unit_id)
    cadre_id = changes.get("cadre_id", user.cadre_id)
    if "role" in changes:
        # Changing role drops the binding the old role needed, unless a new one is given.
        org_unit_id = org_unit_id if role == Role.org_admin else None
        cadre_id = cadre_id if role == Role.cadre else None
    try:
        check_binding(role, org_unit_id, cadre_id)
    except BindingMismatch as exc:
        # Depends on the stored role when the change names none: a rule, not the body's shape.
        pointer = ProblemFieldError(
            pointer=f"/body/{exc.field}", detail=str(exc), code=UserBindingMismatch.code
        )
        raise UserBindingMismatch(str(exc), errors=[pointer]) from exc
    await _check_references(db_session, org_unit_id, cadre_id)
    deactivated = user.active and changes.get("active") is False
    if (
        password is not None
        or deactivated
        or (role, org_unit_id, cadre_id) != (user.role, user.org_unit_id, user.cadre_id)
    ):
        user.token_version += 1
    user.role = role
    user.org_unit_id = org_unit_id
    user.cadre_id = cadre_id
    if changes.get("active") is not None:
        user.active = changes["active"]
    if "external_issuer" in changes:
        user.external_issuer = changes["external_issuer"]
        user.external_subject = changes["external_subject"]
    if password is not None:
        user.password_hash = await hashing.hash(password.get_secret_value())
        user.failed_logins = 0
        user.locked_until = None
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    # This process stops answering for the old actor at once (others within the cache's
    # lifetime: README, "Refresh tokens and logout").
    forget_user(db_session, user.id)
    return user


async def ensure_admin(db_session: AsyncSession, username: str, password: str) -> bool:
    """Create an admin named `username` unless a user of that name exists. True if created."""
    if await repository.by_username(db_session, username) is not None:
        return False
    db_session.add(
        User(
            username=username,
            password_hash=hash_password(password),
            role=Role.admin,
            active=True,
            failed_logins=0,
        )
    )
    await db_session.flush()
    return True


async def authenticate(
    db_session: AsyncSession,
    name: str,
    secret: str,
    *,
    machine: bool,
    auth: AuthSettings,
    hashing: PasswordHashing,
) -> User | None:
    """The user these credentials sign in, or None. Failed attempts count towards a lock-out,
    for people and machine clients alike: otherwise a client secret could be guessed from many
    addresses at once, the per-address rate limit notwithstanding."""
    # FOR UPDATE: parallel guesses at one account queue up, so none slips past the lock-out.
    user = await repository.by_username(db_session, name, for_update=True)
    now = datetime.now(UTC)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    # Always pay for one argon2 verification, so answers take as long whatever went wrong; in
    # a thread, so the event loop serves other requests meanwhile.
    valid = await hashing.verify(user.password_hash if user and not locked else None, secret)
    if user is None or not (valid and user.active and (user.role == Role.hr_system) == machine):
        if user is not None and not locked:
            await repository.count_failed_login(
                db_session,
                user.id,
                threshold=auth.lockout_threshold,
                lock_minutes=auth.lockout_minutes,
            )
        return None
    if user.failed_logins or user.locked_until:
        await repository.clear_failed_logins(db_session, user.id)
    return user


async def list_users(
    db_session: AsyncSession, page: PageParams, *, role: Role | None, active: bool | None
) -> tuple[list[User], str | None]:
    return await paginate(
        db_session, repository.list_query(role=role, active=active), User.id, page
    )


@dataclass(frozen=True)
class Refreshed:
    user: User
    secret: RefreshSecret


def _child(
    user: User, *, family_id: uuid.UUID | None, parent_id: uuid.UUID | None, days: int
) -> tuple[RefreshToken, RefreshSecret]:
    secret = new_refresh_secret()
    now = datetime.now(UTC)
    token_id = uuid.uuid4()
    row = RefreshToken(
        id=token_id,
        user_id=user.id,
        family_id=family_id or token_id,  # a family is named by its first token
        parent_id=parent_id,
        token_hash=secret.digest,
        token_version=user.token_version,
        issued_at=now,
        expires_at=now + timedelta(days=days),
    )
    return row, secret


async def start_refresh_family(
    db_session: AsyncSession,
    user: User,
    *,
    days: int,
    request_id: str | None,
    client_request_id: str | None,
) -> RefreshSecret:
    """A new family for a password sign-in (a new device session), attributed to the user."""
    await attribute(
        db_session,
        request_id=request_id,
        client_request_id=client_request_id,
        actor=await repository.actor_of(db_session, user),
    )
    row, secret = _child(user, family_id=None, parent_id=None, days=days)
    db_session.add(row)
    await db_session.flush()
    return secret


async def rotate_refresh(
    db_session: AsyncSession,
    token: str,
    *,
    days: int,
    request_id: str | None,
    client_request_id: str | None,
) -> Refreshed | None:
    """Use a refresh token once: mark it used and issue its child, or None (invalid_grant).
    A token presented after its use is a reuse (a copy was stolen, or two refreshes raced):
    the whole family is revoked, the newest token with it (RFC 9700 §4.14.2). Parallel uses
    of one token queue on the family's lock, so exactly one succeeds. The writes are attributed
    to the token's user; the caller commits even when this answers None, so a revocation
    sticks."""
    digest = refresh_digest(token)
    family_id = await repository.refresh_family_of(db_session, digest)
    if family_id is None:
        return None
    await repository.lock_refresh_family(db_session, family_id)
    row = await repository.refresh_by_digest(db_session, digest)
    if row is None:
        return None
    user = await repository.by_id(db_session, row.user_id)
    if user is None:
        return None
    now = datetime.now(UTC)
    await attribute(
        db_session,
        request_id=request_id,
        client_request_id=client_request_id,
        actor=await repository.actor_of(db_session, user),
    )
    if row.used_at is not None and row.revoked_at is None:
        await repository.revoke_refresh_family(db_session, row.family_id, now)
        return None
    if (
        row.used_at is not None
        or row.revoked_at is not None
        or row.expires_at <= now
        or not user.active
        or user.token_version != row.token_version
    ):
        return None
    row.used_at = now
    child, secret = _child(user, family_id=row.family_id, parent_id=row.id, days=days)
    db_session.add(child)
    await db_session.flush()
    return Refreshed(user=user, secret=secret)


async def revoke_refresh(
    db_session: AsyncSession,
    token: str,
    *,
    request_id: str | None,
    client_request_id: str | None,
) -> None:
    """Logout (RFC 7009): revoke the family of this refresh token. An unknown, expired or
    already revoked token changes nothing, and the caller learns nothing of it."""
    digest = refresh_digest(token)
    family_id = await repository.refresh_family_of(db_session, digest)
    if family_id is None:
        return
    await repository.lock_refresh_family(db_session, family_id)
    row = await repository.refresh_by_digest(db_session, digest)
    user = await repository.by_id(db_session, row.user_id) if row is not None else None
    if row is None or user is None:
        return
    await attribute(
        db_session,
        request_id=request_id,
        client_request_id=client_request_id,
        actor=await repository.actor_of(db_session, user),
    )
    await repository.revoke_refresh_family(db_session, row.family_id, datetime.now(UTC))
