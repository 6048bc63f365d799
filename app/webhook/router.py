import uuid

from fastapi import APIRouter, Response, status

from app.db import DbSession
from app.errors import PreconditionFailed
from app.http import API_PREFIX, AppSettings, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.pagination import Page, PageQuery
from app.security import CurrentActor
from app.webhook import service
from app.webhook.errors import WebhookNotFound, WebhookUrlNotAllowed
from app.webhook.models import WebhookSubscription
from app.webhook.schemas import (
    WebhookCreate,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

# Creating and rotating answer with a secret: a replayed Idempotency-Key answer is stored sealed.
router = APIRouter(prefix=f"{API_PREFIX}/webhooks", tags=["webhooks"], route_class=IdempotentRoute)


class WebhookPage(Page[WebhookRead]):
    pass


class WebhookDeliveryPage(Page[WebhookDeliveryRead]):
    pass


def _with_secret(subscription: WebhookSubscription, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**service.to_read(subscription).model_dump(), secret=secret)


@router.get("", operation_id="listWebhooks")
async def list_webhooks(
    db_session: DbSession, actor: CurrentActor, page: PageQuery, active: bool | None = None
) -> WebhookPage:
    """Webhook subscriptions in creation order (secrets are never shown again)."""
    items, next_cursor = await service.list_webhooks(db_session, page, active=active)
    return WebhookPage(items=[service.to_read(s) for s in items], next_cursor=next_cursor)


@router.post(
    "",
    operation_id="createWebhook",
    status_code=status.HTTP_201_CREATED,
    responses=problems(WebhookUrlNotAllowed),
)
async def create_webhook(
    body: WebhookCreate,
    settings: AppSettings,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
) -> WebhookWithSecret:
    """Subscribe a URL to the change feed. It receives every change committed from now on
    (optionally only to `entity_types`), in feed order, as POSTed JSON messages
    `{"type": "changes", "events": [...], "cursor": "..."}` whose `events` are the items of
    `GET /api/v1/changes` and whose `cursor` continues that feed. Messages are signed as
    Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the `secret`
    returned here, once: store it. Any answer but 2xx is retried with back-off (5 s, 5 min,
    30 min, 2 h, 5 h, 10 h, 10 h) and the same `webhook-id`; after the last retry the
    subscription is disabled, losing nothing: re-enabling it resumes where it stopped."""
    subscription, secret = await service.create_webhook(db_session, body, settings.webhooks)
    set_etag(response, subscription.version)
    response.headers["Location"] = f"{API_PREFIX}/webhooks/{subscription.id}"
    return _with_secret(subscription, secret)


@router.get("/{webhook_id}", operation_id="getWebhook", responses=problems(WebhookNotFound))
async def get_webhook(
    webhook_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> WebhookRead:
    """One webhook subscription (its secret is never shown again), with its `ETag`."""
    subscription = await service.get_webhook(db_session, webhook_id)
    set_etag(response, subscription.version)
    return service.to_read(subscription)


@router.patch(
    "/{webhook_id}",
    operation_id="updateWebhook",
    responses=problems(WebhookNotFound, WebhookUrlNotAllowed, PreconditionFailed),
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    settings: AppSettings,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookRead:
    """Change the URL, description or filter, pause (`active: false`) or resume. Resuming, or a
    new URL, retries the pending message at once with a fresh schedule; a new filter applies to
    the messages not yet delivered."""
    subscription = await service.get_webhook(db_session, webhook_id)
    check_if_match(if_match, subscription.version)
    await service.update_webhook(db_session, subscription, body, settings.webhooks)
    set_etag(response, subscription.version)
    return service.to_read(subscription)


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(WebhookNotFound, PreconditionFailed),
)
async def delete_webhook(
    webhook_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, if_match: IfMatch = None
) -> None:
    """Unsubscribe: nothing more is sent, and the delivery log goes with it."""
    subscription = await service.get_webhook(db_session, webhook_id)
    check_if_match(if_match, subscription.version)
    await service.delete_webhook(db_session, subscription)


@router.post(
    "/{webhook_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    responses=problems(WebhookNotFound, PreconditionFailed),
)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID,
    settings: AppSettings,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookWithSecret:
    """A new signing secret, returned once. The previous one keeps signing alongside it (two
    `v1,` signatures in `webhook-signature`) until `previous_secret_expires_at`
    (`APP_WEBHOOKS__SECRET_ROTATION_GRACE_HOURS`, 24), so the receiver can switch over."""
    subscription = await service.get_webhook(db_session, webhook_id)
    check_if_match(if_match, subscription.version)
    secret = await service.rotate_secret(db_session, subscription, settings.webhooks)
    set_etag(response, subscription.version)
    return _with_secret(subscription, secret)


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    responses=problems(WebhookNotFound),
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, page: PageQuery
) -> WebhookDeliveryPage:
    """Recent delivery attempts, newest first, kept for
    `APP_WEBHOOKS__DELIVERY_RETENTION_DAYS` (30)."""
    subscription = await service.get_webhook(db_session, webhook_id)
    items, next_cursor = await service.list_deliveries(db_session, subscription.id, page)
    return WebhookDeliveryPage(
        items=[WebhookDeliveryRead.model_validate(d) for d in items], next_cursor=next_cursor
    )
