from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CalendarFeedCreated(BaseModel):
    """The private feed's address, given this once: only a hash of its token is kept."""

    url: str = Field(
        description="The feed to subscribe to (webcal: the same address with `webcal://`); "
        "anyone holding it reads the calendar, so keep it private. Shown only now",
        examples=["https://training.example.cn/api/v1/calendar-feeds/<token>.ics"],
    )
    issued_at: datetime = Field(description="When this address was made")


class CalendarFeedStatus(BaseModel):
    """Whether the caller has a private feed, without its address."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    active: bool = Field(description="A feed exists (its address works)")
    issued_at: datetime | None = Field(
        description="When its current address was made (created or rotated); null without one"
    )
    last_used_at: datetime | None = Field(
        description="When a calendar last fetched it; null if never, or without one"
    )
