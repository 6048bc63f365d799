"""Every query of the credit-policy domain. Policies are few: they are read whole."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.credit_policy.models import CreditPolicy

POLICY_LOCK = 7_202_301  # pg_advisory_xact_lock key for policy changes


async def versions(db_session: AsyncSession) -> tuple[tuple[uuid.UUID, int], ...]:
    """(id, version) of every policy, oldest first: what changed since a policy was parsed."""
    return tuple(
        (row.id, row.version)
        for row in await db_session.execute(
            select(CreditPolicy.id, CreditPolicy.version).order_by(CreditPolicy.effective_from)
        )
    )


async def all_rows(db_session: AsyncSession, *, for_update: bool = False) -> list[CreditPolicy]:
    """Every policy, oldest first."""
    stmt = select(CreditPolicy).order_by(CreditPolicy.effective_from)
    if for_update:
        stmt = stmt.with_for_update()
    return list(await db_session.scalars(stmt))


async def lock_changes(db_session: AsyncSession) -> None:
    """Serialise policy changes until the transaction ends: row locks cannot stop two new,
    overlapping rows."""
    await db_session.execute(select(func.pg_advisory_xact_lock(POLICY_LOCK)))
