"""Managing webhook subscriptions (the API side). Delivery is app.webhook.worker's."""

import ipaddress
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from app.change_feed import service as change_feed
from app.config import WebhookSettings
from app.errors import ProblemFieldError
from app.ids import new_id
from app.pagination import PageParams, paginate
from app.personal_data import secret_box
from app.webhook import repository, signing
from app.webhook.errors import WebhookNotFound, WebhookUrlNotAllowed
from app.webhook.models import WebhookDelivery, WebhookSubscription
from app.webhook.schemas import WebhookCreate, WebhookRead, WebhookUpdate


def _context(subscription_id: uuid.UUID) -> bytes:
    return b"webhook_subscription.secret:" + subscription_id.bytes


def seal_secret(subscription_id: uuid.UUID, secret: str) -> bytes:
    return secret_box().seal(secret.encode(), context=_context(subscription_id))


def open_secret(subscription_id: uuid.UUID, blob: bytes) -> str:
    return secret_box().open(blob, context=_context(subscription_id)).decode()


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_refused(address: IPAddress, settings: WebhookSettings) -> str | None:
    """Why a receiver may not be at `address` (None: it may). Public addresses are fine; this
    host's loopback only where the deployment allows it; other non-public ones (private,
    link-local such as cloud metadata, reserved) only inside `allowed_networks`: a webhook must
    not become a way to reach the service's own neighbourhood."""
    if any(address in network for network in settings.allowed_networks):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_loopback:
            return None if settings.allow_loopback else "a loopback address"
        # An IPv4 address carried inside an IPv6 one is judged as itself; translation
        # prefixes lead to IPv4 addresses this check cannot see, so they are refused.
        teredo = address.teredo
        inner = address.ipv4_mapped or address.sixtofour or (teredo[1] if teredo else None)
        if inner is not None:
            return address_refused(inner, settings)
        if any(address in network for network in _TRANSLATING):
            return "an IPv6 address that translates to IPv4"
    if address.is_loopback:
        return None if settings.allow_loopback else "a loopback address"
    if address.is_global and not address.is_multicast:
        return None
    return "a non-public address outside APP_WEBHOOKS__ALLOWED_NETWORKS"


# NAT64 (well-known and local-use), IPv4-compatible, and SIIT (IPv4-translated) addresses.
_TRANSLATING = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host is written as, if it is one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str, settings: WebhookSettings) -> None:
    """https, or http to a loopback host where the deployment allows it (local receivers,
    tests): messages carry personal records, so nothing else travels in clear. A host given as
    an address is checked here; a name is checked on every delivery, once resolved."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    # `localhost` is loopback wherever it is resolved.
    address = ipaddress.IPv4Address("127.0.0.1") if host == "localhost" else literal_address(host)
    refused = address_refused(address, settings) if address is not None else None
    if refused is not None:
        raise WebhookUrlNotAllowed(
            f"This deployment does not deliver to {refused}.",
            errors=[
                ProblemFieldError(pointer="/body/url", detail=refused, code="address_not_allowed")
            ],
        )
    if parts.scheme.lower() == "https" or (address is not None and address.is_loopback):
        return
    raise WebhookUrlNotAllowed(
        "Webhook URLs use https (http only to this host's loopback, where allowed).",
        errors=[ProblemFieldError(pointer="/body/url", detail="https", code="insecure_url")],
    )


def _entity_types(values: Sequence[str]) -> list[str]:
    return sorted({str(v) for v in values})


def to_read(subscription: WebhookSubscription) -> WebhookRead:
    return WebhookRead.model_validate(
        {
            **{
                field: getattr(subscription, field)
                for field in WebhookRead.model_fields
                if field != "cursor"
            },
            "cursor": change_feed.encode_cursor(
                subscription.position_xid, subscription.position_event_id
            ),
        }
    )


async def get_webhook(db_session: AsyncSession, webhook_id: uuid.UUID) -> WebhookSubscription:
    found = await repository.get(db_session, webhook_id)
    if found is None:
        raise WebhookNotFound()
    return found


async def create_webhook(
    db_session: AsyncSession, data: WebhookCreate, settings: WebhookSettings
) -> tuple[WebhookSubscription, str]:
    """A new subscription starts at the current end of the feed: it receives every change
    committed from now on. Returns the subscription and its secret (stored only encrypted)."""
    check_url(data.url, settings)
    xid, event_id = await change_feed.end_position(db_session)
    secret = signing.new_secret()
    subscription_id = new_id()
    subscription = WebhookSubscription(
        id=subscription_id,
        url=data.url,
        description=data.description,
        entity_types=_entity_types(data.entity_types),
        active=data.active,
        secret_ciphertext=seal_secret(subscription_id, secret),
        position_xid=xid,
        position_event_id=event_id,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
    )
    db_session.add(subscription)
    await db_session.flush()
    return subscription, secret


def _resume(subscription: WebhookSubscription) -> None:
    """Deliver again now, with a fresh retry schedule, from where delivery stopped."""
    subscription.attempts = 0
    subscription.next_attempt_at = datetime.now(UTC)
    subscription.disabled_reason = None


async def update_webhook(
    db_session: AsyncSession,
    subscription: WebhookSubscription,
    data: WebhookUpdate,
    settings: WebhookSettings,
) -> WebhookSubscription:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        check_url(changes["url"], settings)
    if "entity_types" in changes and changes["entity_types"] is not None:
        changes["entity_types"] = _entity_types(changes["entity_types"])
    changes = {
        k: v
        for k, v in changes.items()
        if (v is not None or k == "description") and getattr(subscription, k) != v
    }
    if not changes:
        return subscription
    for field, value in changes.items():
        setattr(subscription, field, value)
    if "entity_types" in changes and subscription.pending_until_xid is not None:
        # The message being retried was built under the old filter: build it again.
        subscription.pending_until_xid = subscription.pending_until_event_id = None
    if changes.keys() & {"url", "active", "entity_types"}:
        if subscription.active:
            _resume(subscription)
        # A worker sending meanwhile under the old settings no longer holds the subscription:
        # its outcome is not recorded, and the message goes again under the new ones. Written
        # even when it reads None here: a worker may have taken the lease since it was read.
        subscription.lease_token = None
        flag_modified(subscription, "lease_token")
    await db_session.flush()
    return subscription


async def rotate_secret(
    db_session: AsyncSession, subscription: WebhookSubscription, settings: WebhookSettings
) -> str:
    """A new secret signs from now on; the previous one keeps signing alongside it (several
    `v1,` signatures in one header) for the grace period, so receivers can switch over."""
    secret = signing.new_secret()
    grace = timedelta(hours=settings.secret_rotation_grace_hours)
    if grace:
        subscription.previous_secret_ciphertext = subscription.secret_ciphertext
        subscription.previous_secret_expires_at = datetime.now(UTC) + grace
    else:
        subscription.previous_secret_ciphertext = None
        subscription.previous_secret_expires_at = None
    subscription.secret_ciphertext = seal_secret(subscription.id, secret)
    await db_session.flush()
    return secret


async def delete_webhook(db_session: AsyncSession, subscription: WebhookSubscription) -> None:
    """The delivery log goes with it (ON DELETE CASCADE); the audit trail keeps the record."""
    await db_session.delete(subscription)
    await db_session.flush()


async def list_webhooks(
    db_session: AsyncSession, page: PageParams, *, active: bool | None
) -> tuple[list[WebhookSubscription], str | None]:
    return await paginate(
        db_session, repository.list_query(active=active), WebhookSubscription.id, page
    )


async def list_deliveries(
    db_session: AsyncSession, subscription_id: uuid.UUID, page: PageParams
) -> tuple[list[WebhookDelivery], str | None]:
    """Newest first."""
    return await repository.list_deliveries(db_session, subscription_id, page)
