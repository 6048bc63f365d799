"""What both flows' snapshots share: the subtree a snapshot covers."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.org_unit import repository as org_units
from app.org_unit.models import OrgUnit
from app.sync.errors import SnapshotScopeNotFound


async def snapshot_root(db_session: AsyncSession, code: str | None, actor: Actor) -> OrgUnit:
    """The unit a snapshot covers (with its subtree), if the caller may see it."""
    root = await org_units.get_by_code(db_session, code, actor) if code is not None else None
    if root is None:
        raise SnapshotScopeNotFound()
    return root
