"""Every query of the online academies (docs/rules.md, "Online academies"). Platforms are read
by every role allowed the operation (they are the province's, not a unit's); learners and
records are reached through their cadres, whose scope the cadre repository states."""

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import any_of
from app.ids import new_id
from app.online.models import OnlineLearner, OnlinePlatform, OnlineRecord
from app.online.plausibility import Converted, PlausibilityContext


async def get_platform(
    db_session: AsyncSession, platform_id: uuid.UUID, *, for_update: bool = False
) -> OnlinePlatform | None:
    stmt = select(OnlinePlatform).where(OnlinePlatform.id == platform_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def platform_by_code(db_session: AsyncSession, code: str) -> OnlinePlatform | None:
    stmt = select(OnlinePlatform).where(OnlinePlatform.code == code)
    return (await db_session.scalars(stmt)).one_or_none()


def platforms(*, active: bool | None) -> Select[OnlinePlatform]:
    stmt = select(OnlinePlatform)
    if active is not None:
        stmt = stmt.where(OnlinePlatform.active.is_(active))
    return stmt


async def get_learner(
    db_session: AsyncSession, platform_id: uuid.UUID, learner_id: str, *, for_update: bool = False
) -> OnlineLearner | None:
    stmt = select(OnlineLearner).where(
        OnlineLearner.platform_id == platform_id, OnlineLearner.learner_id == learner_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def learners(
    db_session: AsyncSession, platform_id: uuid.UUID, learner_ids: Collection[str]
) -> dict[str, uuid.UUID]:
    """The cadre of each of these accounts the platform knows (scope is the caller's: the
    cadres are checked visible afterwards)."""
    stmt = select(OnlineLearner.learner_id, OnlineLearner.cadre_id).where(
        OnlineLearner.platform_id == platform_id,
        any_of(OnlineLearner.learner_id, list(learner_ids)),
    )
    return {row.learner_id: row.cadre_id for row in await db_session.execute(stmt)}


async def learn(
    db_session: AsyncSession, platform_id: uuid.UUID, matched: dict[str, uuid.UUID]
) -> None:
    """Record accounts matched by ID number; one known already is left alone (a concurrent
    import matched it too)."""
    if not matched:
        return
    # Arrays, not one parameter a value: an import may teach tens of thousands of accounts.
    await db_session.execute(
        text(
            "INSERT INTO online_learner (id, version, platform_id, learner_id, cadre_id) "
            "SELECT i, 1, :platform_id, l, c FROM unnest(CAST(:ids AS uuid[]), "
            "CAST(:learner_ids AS varchar[]), CAST(:cadre_ids AS uuid[])) AS t(i, l, c) "
            "ON CONFLICT (platform_id, learner_id) DO NOTHING"
        ),
        {
            "platform_id": platform_id,
            "ids": [new_id() for _ in matched],
            "learner_ids": list(matched),
            "cadre_ids": list(matched.values()),
        },
    )


async def imported_external_ids(
    db_session: AsyncSession, platform_id: uuid.UUID, external_ids: Collection[str]
) -> set[str]:
    """Those of the platform's record ids imported before."""
    stmt = select(OnlineRecord.external_id).where(
        OnlineRecord.platform_id == platform_id,
        any_of(OnlineRecord.external_id, list(external_ids)),
    )
    return set((await db_session.scalars(stmt)).all())


async def plausibility_context(
    db_session: AsyncSession, platform_id: uuid.UUID, batch: Sequence[Converted]
) -> PlausibilityContext:
    """What `plausibility.flag` needs beyond the batch (loaded once a batch)."""
    return PlausibilityContext(platform_id=platform_id)
