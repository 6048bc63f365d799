"""Managing people and machine clients (admin only)."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.passwords import PasswordHashing, hash_password
from app.config import AuthSettings
from app.db import flush_mapping_conflicts
from app.enums import Role
from app.errors import ProblemFieldError
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
from app.user.models import User
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
                    pointer="/body/org_unit_id", detail="no such org unit", code="not_found"
                )
            ]
        )
    if cadre_id is not None and not await repository.cadre_exists(db_session, cadre_id):
        raise UserReferenceNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/cadre_id", detail="no such cadre", code="not_found"
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
