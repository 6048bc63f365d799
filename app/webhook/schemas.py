import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, Field, StringConstraints

from app.enums import FeedEntity
from app.i18n import N_
from app.schema_types import Bool, InputModel, OutputModel, Text, Version


def _check_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a port out of range)
        httpx.URL(value)
    except (ValueError, httpx.InvalidURL) as exc:
        raise ValueError(N_("not a valid URL")) from exc
    if not parts.hostname:
        raise ValueError(N_("the URL has no host"))
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            N_("credentials in the URL are not accepted: the receiver checks signatures")
        )
    if parts.fragment:
        raise ValueError(N_("the URL may not have a #fragment"))
    return value


# Where the deployment allows http (loopback hosts) is decided by the service.
WebhookUrl = Annotated[
    str,
    StringConstraints(
        min_length=10, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f-\x9f]+$"
    ),
    AfterValidator(_check_url),
    Field(
        description="Where messages are POSTed: https (http only to the service host's loopback, "
        "where the deployment allows it), to a public address or one of the deployment's "
        "allowed networks; no credentials, no fragment",
        examples=["https://hr.example.org/hooks/cadre-training"],
    ),
]
EntityTypes = Annotated[
    list[FeedEntity],
    Field(
        max_length=len(FeedEntity),
        description="Deliver only changes to these entities; empty: every entity of the feed",
    ),
]


class WebhookCreate(InputModel):
    url: WebhookUrl
    description: Text | None = None
    entity_types: EntityTypes = Field(default_factory=list)
    active: Bool = True


class WebhookUpdate(InputModel):
    url: WebhookUrl | None = None
    description: Text | None = None
    entity_types: EntityTypes | None = None
    active: Bool | None = Field(
        default=None,
        description="false pauses delivery; true resumes it (also after the worker disabled "
        "it), from where it stopped, with a fresh retry schedule",
    )


class WebhookRead(OutputModel):
    id: uuid.UUID
    url: str
    description: str | None
    entity_types: list[FeedEntity]
    active: bool
    disabled_reason: str | None = Field(
        description="Why the worker disabled the subscription (delivery kept failing)"
    )
    cursor: str = Field(
        description="The feed position delivered so far (a `GET /api/v1/changes` cursor)"
    )
    attempts: int = Field(description="Failed attempts in a row at the pending message")
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_delivered_at: datetime | None
    last_error: str | None = Field(
        description="Why the last attempt failed: `HTTP <status>` when the receiver answered, "
        "else `could not deliver` (no connection-level detail: the worker's log has it)"
    )
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation, the previous secret also signs until then"
    )
    version: Version
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="The signing secret (Standard Webhooks `whsec_...`), shown only in this "
        "answer: store it now",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDeliveryRead(OutputModel):
    id: uuid.UUID
    message_id: str = Field(description="The `webhook-id` header sent")
    event_count: int
    attempt: int = Field(description="1 for the first attempt at this message")
    succeeded: bool
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered")
    error: str | None = Field(
        description="`HTTP <status>` when the receiver answered otherwise than 2xx; `could not "
        "deliver` when no HTTP answer came, whatever the reason"
    )
    duration_ms: int | None = Field(
        description="How long the receiver took to answer; null when no HTTP answer came"
    )
    attempted_at: datetime
