"""Every query of the webhook API (the delivery worker's own statements live in worker.py, next
to the lease protocol they implement)."""

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.pagination import PageParams, paginate
from app.webhook.models import WebhookDelivery, WebhookSubscription


async def get(db_session: AsyncSession, webhook_id: uuid.UUID) -> WebhookSubscription | None:
    return await db_session.get(WebhookSubscription, webhook_id)


def list_query(*, active: bool | None) -> Select[WebhookSubscription]:
    stmt = select(WebhookSubscription)
    if active is not None:
        stmt = stmt.where(WebhookSubscription.active == active)
    return stmt


async def list_deliveries(
    db_session: AsyncSession, subscription_id: uuid.UUID, params: PageParams
) -> tuple[list[WebhookDelivery], str | None]:
    """Newest first (keyset on the time-ordered id, descending)."""
    return await paginate(
        db_session,
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id),
        WebhookDelivery.id,
        params,
        newest_first=True,
    )
