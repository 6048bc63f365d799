"""Settings, read from the environment (and a `.env` file when present)."""

import base64
import binascii
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Self

from pydantic import BaseModel, Field, PositiveInt, PostgresDsn, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.enums import Role


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DatabaseSettings(BaseModel):
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=10, ge=0, le=200)
    pool_timeout_seconds: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)


class AuthSettings(BaseModel):
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    issuer: str = "cadre-training"
    audience: str = "cadre-training-api"
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Optional external identity provider (OIDC): its tokens are accepted too, and mapped to a
    # local user by `oidc_username_claim`; the built-in issuer stays available.
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_username_claim: str = "preferred_username"
    # Roles an external identity may act as; admins and machine clients use the built-in issuer.
    oidc_roles: frozenset[Role] = frozenset({Role.org_admin, Role.cadre, Role.auditor})


class RateLimitSettings(BaseModel):
    """Per client, per process (each replica counts on its own)."""

    token_per_minute: int = Field(default=20, ge=1)
    writes_per_minute: int = Field(default=600, ge=1)


class BodyLimitSettings(BaseModel):
    """Request bodies, by route class: checked against Content-Length and as the body streams
    in, before authentication and before a database connection is taken (app.limits)."""

    json_max_bytes: int = Field(
        default=1024 * 1024, ge=1, description="Every body not named below (JSON, forms)"
    )
    sync_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1, description="Snapshot syncs (/api/v1/sync/...)"
    )
    import_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1, description="The study-log import (/api/v1/imports/...)"
    )
    read_timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="The whole body must arrive within this time"
    )
    json_max_depth: int = Field(
        default=64, ge=2, le=512, description="Nesting of a JSON body's arrays and objects"
    )


class WebhookSettings(BaseModel):
    """The webhook delivery worker (`python -m app.cli webhook-worker`) and the subscriptions."""

    batch_size: int = Field(default=100, ge=1, le=1000, description="Events per message at most")
    subscriptions_per_pass: int = Field(
        default=10, ge=1, le=200, description="Subscriptions one worker delivers to at once"
    )
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="Whole attempt: connect, send, response"
    )
    # Standard Webhooks' schedule: the waits after the 1st, 2nd, ... failed attempt (plus up to
    # 10% jitter); the last wait repeats until `max_attempts` have failed in a row.
    retry_schedule_seconds: tuple[PositiveInt, ...] = Field(
        default=(5, 300, 1800, 7200, 18000, 36000, 36000), min_length=1
    )
    max_attempts: int = Field(
        default=8, ge=1, le=100, description="Failed attempts in a row before disabling"
    )
    allow_loopback: bool = Field(
        default=False,
        description="Accept receivers on this host's loopback addresses, over http too (local "
        "receivers, tests). Off unless set, except in development and test environments",
    )
    allowed_networks: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="Private networks receivers may be in (e.g. the provincial intranet, "
        '["10.20.0.0/16"]); other non-public addresses are refused',
    )
    delivery_retention_days: int = Field(default=30, ge=1, description="Delivery log retention")
    secret_rotation_grace_hours: int = Field(
        default=24, ge=0, le=24 * 30, description="The previous secret also signs meanwhile"
    )


# Development-only secrets: fixed, so that `make run` keeps its data readable across restarts.
# Any other environment refuses to start with them (or without secrets).
DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105
DEV_DATA_KEY = "ZGV2ZWxvcG1lbnQtb25seS1kYXRhLWtleS0zMmJ5dGU="


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="APP_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    env: Environment = Environment.development
    # DATABASE_URL is the conventional name, so it is read without the APP_ prefix.
    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql+asyncpg://postgres@127.0.0.1:5432/cadre"),
        validation_alias="DATABASE_URL",
    )
    database: DatabaseSettings = DatabaseSettings()
    log_level: str = "INFO"
    log_json: bool = True
    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    secret_key: SecretStr | None = Field(
        default=None, description="Signs access tokens; at least 32 characters"
    )
    data_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 random bytes: encrypts resident ID numbers and keys their "
        "lookup hash",
    )
    sync_max_deactivation_share: Decimal = Field(
        default=Decimal("0.10"),
        ge=0,
        le=1,
        description="A snapshot sync may deactivate at most this share of a unit's active cadres "
        "(cadre sync), or of the active units below `snapshot_of` (org-unit sync), unless forced",
    )
    changes_retention_days: int = Field(
        default=90, ge=1, description="How long the change feed keeps events"
    )
    idempotency_retention_hours: int = Field(
        default=24, ge=1, le=24 * 90, description="How long an Idempotency-Key is remembered"
    )
    webhooks: WebhookSettings = WebhookSettings()
    body: BodyLimitSettings = BodyLimitSettings()
    bootstrap_admin_username: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    @model_validator(mode="after")
    def _loopback_receivers_outside_production(self) -> Self:
        if self.env != Environment.production and "allow_loopback" not in (
            self.webhooks.model_fields_set
        ):
            self.webhooks = self.webhooks.model_copy(update={"allow_loopback": True})
        return self

    @model_validator(mode="after")
    def _secrets(self) -> Self:
        if self.env == Environment.development:
            if self.secret_key is None:
                self.secret_key = SecretStr(DEV_SECRET_KEY)
            if self.data_key is None:
                self.data_key = SecretStr(DEV_DATA_KEY)
            return self
        problems = []
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if len(secret) < 32 or secret == DEV_SECRET_KEY:
            problems.append("APP_SECRET_KEY must be set to at least 32 random characters")
        data = self.data_key.get_secret_value() if self.data_key else ""
        if data in ("", DEV_DATA_KEY) or len(_b64(data)) != 32:
            problems.append("APP_DATA_KEY must be set to base64 of 32 random bytes")
        if problems:
            raise ValueError(f"refusing to start in {self.env.value}: " + "; ".join(problems))
        return self

    @property
    def secret_key_value(self) -> str:
        assert self.secret_key is not None  # set by the validator
        return self.secret_key.get_secret_value()

    @property
    def data_key_bytes(self) -> bytes:
        assert self.data_key is not None
        return _b64(self.data_key.get_secret_value())

    @property
    def async_database_url(self) -> str:
        """The URL with the asyncpg driver, whatever scheme the operator wrote."""
        url = str(self.database_url)
        scheme, rest = url.split("://", 1)
        return f"postgresql+asyncpg://{rest}" if scheme in {"postgres", "postgresql"} else url


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


@lru_cache
def get_settings() -> Settings:
    return Settings()
