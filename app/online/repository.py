"""Every query of the online academies (docs/rules.md, "Online academies")."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.online.plausibility import Converted, PlausibilityContext


async def plausibility_context(
    db_session: AsyncSession, platform_id: uuid.UUID, batch: Sequence[Converted]
) -> PlausibilityContext:
    """What `plausibility.flag` needs beyond the batch (loaded once a batch)."""
    return PlausibilityContext(platform_id=platform_id)
