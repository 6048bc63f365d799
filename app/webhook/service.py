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
from app.i18n import N_, _
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


def _networks(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Receivers live at global unicast addresses. Python's `is_global` is not the judge: its tables
# differ between versions and miss ranges (site-local fec0::/10, documentation 3fff::/20, the
# 6to4 relay anycast 192.88.99.0/24, 192.0.0.0/24 ...). The IANA special-purpose registries,
# written out, are: every IPv4 range below is refused, and of IPv6 only 2000::/3 (global
# unicast) is allowed, minus its special ranges.
_IPV4_REFUSED = _networks(
    "0.0.0.0/8",  # this network
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # shared address space (carrier-grade NAT)
    "127.0.0.0/8",  # loopback (allowed separately, where the deployment says so)
    "169.254.0.0/16",  # link-local, cloud metadata
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation (TEST-NET-1)
    "192.31.196.0/24",  # AS112
    "192.52.193.0/24",  # AMT
    "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
    "192.168.0.0/16",  # private
    "192.175.48.0/24",  # AS112 (direct delegation)
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation (TEST-NET-2)
    "203.0.113.0/24",  # documentation (TEST-NET-3)
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and the limited broadcast address
)
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV6_REFUSED = _networks(
    "2001::/23",  # IETF protocol assignments: Teredo, benchmarking, ORCHID, AMT, AS112 ...
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4 (judged by the IPv4 address it carries, before this table)
    "2620:4f:8000::/48",  # AS112
    "3fff::/20",  # documentation
)
# Addresses that translate to IPv4 ones this check cannot see: NAT64 (well-known and
# local-use), IPv4-compatible, SIIT (IPv4-translated). Outside 2000::/3 too; named for the
# reason given.
_TRANSLATING = _networks("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")

NOT_ALLOWED = "a non-public address outside APP_WEBHOOKS__ALLOWED_NETWORKS"


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 one carries: IPv4-mapped, 6to4, and Teredo's server and
    client."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    return list(address.teredo) if address.teredo is not None else []


def address_refused(address: IPAddress, settings: WebhookSettings) -> str | None:
    """Why a receiver may not be at `address` (None: it may). Global unicast addresses are fine;
    this host's loopback only where the deployment allows it; anything else (private,
    site-local, unique-local, link-local such as cloud metadata, documentation, benchmarking,
    multicast, reserved, tunnels carrying such an IPv4 address) only inside
    `allowed_networks`: a webhook must not become a way to reach the service's own
    neighbourhood."""
    if any(address in network for network in settings.allowed_networks):
        return None
    if address.is_loopback:
        return None if settings.allow_loopback else "a loopback address"
    if isinstance(address, ipaddress.IPv4Address):
        return NOT_ALLOWED if any(address in n for n in _IPV4_REFUSED) else None
    carried = _carried_ipv4(address)
    if carried:
        # An IPv4 address carried inside an IPv6 one is judged as itself.
        reasons = [address_refused(inner, settings) for inner in carried]
        return next((r for r in reasons if r is not None), None)
    if any(address in network for network in _TRANSLATING):
        return "an IPv6 address that translates to IPv4"
    if address not in _IPV6_GLOBAL_UNICAST or any(address in n for n in _IPV6_REFUSED):
        return NOT_ALLOWED
    return None


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
            _("This deployment does not deliver to {refused}.").format(refused=refused),
            errors=[
                ProblemFieldError(pointer="/body/url", detail=refused, code="address_not_allowed")
            ],
        )
    if parts.scheme.lower() == "https" or (address is not None and address.is_loopback):
        return
    raise WebhookUrlNotAllowed(
        N_("Webhook URLs use https (http only to this host's loopback, where allowed)."),
        errors=[ProblemFieldError(pointer="/body/url", detail=N_("https"), code="insecure_url")],
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
