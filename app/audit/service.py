"""Who is writing. The audit trail is written by the database (migration 0013): a statement-level
trigger on every audited table records each row's change, with the actor and the request id it
reads from transaction-local settings. `attribute` sets them, once per transaction, wherever a
transaction is opened for someone: `app.security.authorize` for API requests, the token endpoint,
the CLI and the webhook worker. A transaction that sets nothing is recorded without an actor."""

import uuid
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import Role

_SET = text(
    "SELECT set_config('app.actor_id', :actor_id, true), "
    "set_config('app.actor_username', :actor_username, true), "
    "set_config('app.actor_role', :actor_role, true), "
    "set_config('app.request_id', :request_id, true)"
)


class Attributable(Protocol):
    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> Role: ...


async def attribute(
    db_session: AsyncSession, *, request_id: str | None, actor: Attributable | None = None
) -> None:
    """Every write of this transaction from now on is recorded as `actor`'s (none: a system
    write) from `request_id`. Settings every call overwrites all four, so nothing of an earlier
    caller lingers; they end with the transaction."""
    await db_session.execute(
        _SET,
        {
            "actor_id": str(actor.user_id) if actor else "",
            "actor_username": actor.username if actor else "",
            "actor_role": actor.role.value if actor else "",
            "request_id": request_id or "",
        },
    )
