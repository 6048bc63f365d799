"""Every query of the user domain."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.auth.tokens import ExternalIdentity, Subject
from app.cadre.models import Cadre
from app.enums import Role
from app.org_unit.models import OrgUnit
from app.user.models import RefreshToken, User


async def by_id(db_session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await db_session.get(User, user_id)


def list_query(*, role: Role | None, active: bool | None) -> Select[User]:
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active == active)
    return stmt


async def org_unit_exists(db_session: AsyncSession, org_unit_id: uuid.UUID) -> bool:
    return await db_session.get(OrgUnit, org_unit_id) is not None


async def cadre_exists(db_session: AsyncSession, cadre_id: uuid.UUID) -> bool:
    return await db_session.get(Cadre, cadre_id) is not None


async def by_username(
    db_session: AsyncSession, username: str, *, for_update: bool = False
) -> User | None:
    stmt = select(User).where(User.username == username)
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def _org_path(db_session: AsyncSession, user: User) -> str | None:
    """org_admin: the path of the unit it administers; cadre: the path of its cadre's unit."""
    if user.role == Role.org_admin and user.org_unit_id is not None:
        return await db_session.scalar(select(OrgUnit.path).where(OrgUnit.id == user.org_unit_id))
    if user.role == Role.cadre and user.cadre_id is not None:
        return await db_session.scalar(
            select(OrgUnit.path)
            .join(Cadre, Cadre.org_unit_id == OrgUnit.id)
            .where(Cadre.id == user.cadre_id)
        )
    return None


async def actor_of(db_session: AsyncSession, user: User) -> Actor:
    """The actor a user acts as, with the org path its scope is built from."""
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        org_unit_id=user.org_unit_id,
        org_path=await _org_path(db_session, user),
        cadre_id=user.cadre_id,
    )


async def by_external_identity(db_session: AsyncSession, identity: ExternalIdentity) -> User | None:
    return (
        await db_session.scalars(
            select(User).where(
                User.external_issuer == identity.issuer,
                User.external_subject == identity.subject,
            )
        )
    ).one_or_none()


async def active_actor(db_session: AsyncSession, subject: Subject) -> Actor | None:
    """The actor a valid token speaks for (a local user at the token's version, or the user
    linked to an external identity), or None when the user is unknown or deactivated, or the
    token was issued before its version last rose. Wired into `app.security` by `app.main`."""
    if subject.user_id is not None:
        user = await by_id(db_session, subject.user_id)
        if user is not None and user.token_version != subject.token_version:
            return None
    elif subject.external is not None:
        user = await by_external_identity(db_session, subject.external)
    else:
        user = None
    if user is None or not user.active:
        return None
    return await actor_of(db_session, user)


async def count_failed_login(
    db_session: AsyncSession, user_id: uuid.UUID, *, threshold: int, lock_minutes: int
) -> None:
    """One more failed attempt; at the threshold the account locks for a while. A core UPDATE:
    no version bump, and the arithmetic happens in the row, safe against concurrent attempts."""
    reached = User.failed_logins + 1 >= threshold
    lock_until = func.now() + timedelta(minutes=lock_minutes)
    await db_session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            failed_logins=case((reached, 0), else_=User.failed_logins + 1),
            locked_until=case((reached, lock_until), else_=User.locked_until),
        )
    )


async def clear_failed_logins(db_session: AsyncSession, user_id: uuid.UUID) -> None:
    await db_session.execute(
        update(User).where(User.id == user_id).values(failed_logins=0, locked_until=None)
    )


async def refresh_family_of(db_session: AsyncSession, digest: bytes) -> uuid.UUID | None:
    """The family of the refresh token with this digest, read without a lock."""
    return await db_session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == digest)
    )


async def lock_refresh_family(db_session: AsyncSession, family_id: uuid.UUID) -> None:
    """Lock the family's first token: every use, reuse and revocation of a family takes this
    lock first, so they run one after the other, and no child is issued to a family while it
    is being revoked."""
    await db_session.execute(
        select(RefreshToken.id).where(RefreshToken.id == family_id).with_for_update()
    )


async def refresh_by_digest(db_session: AsyncSession, digest: bytes) -> RefreshToken | None:
    """The token as committed now (read again after the family's lock was taken)."""
    return (
        await db_session.scalars(
            select(RefreshToken)
            .where(RefreshToken.token_hash == digest)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def revoke_refresh_family(
    db_session: AsyncSession, family_id: uuid.UUID, at: datetime
) -> None:
    await db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )
