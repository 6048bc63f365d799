"""Settings, read from the environment (and a `.env` file when present)."""

import base64
import binascii
import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PositiveInt,
    PostgresDsn,
    SecretStr,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.enums import Role


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DatabaseSettings(BaseModel):
    # 20 kept, none beyond: a connection opened beyond the pool is closed when it comes back,
    # so under more concurrent requests than the pool holds every request beyond it paid a
    # connect (issue 16: 8 % of a cadre read at 32 connections, CPU a read 2.07 → 1.26 ms).
    pool_size: int = Field(default=20, ge=1, le=200)
    max_overflow: int = Field(default=0, ge=0, le=200)
    pool_timeout_seconds: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    retry_after_seconds: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="`Retry-After` of the 503 answered while the database is unreachable, out "
        "of connections or past the statement timeout",
    )
    pgbouncer: bool = Field(
        default=False,
        description="`DATABASE_URL` names a pgbouncer in `pool_mode = transaction`: no "
        "prepared statement outlives its transaction (asyncpg's and SQLAlchemy's statement "
        "caches off), and `jit` and the statement timeout, which pgbouncer refuses as startup "
        "parameters, are set at the start of every transaction (docs/scaling.md, pgbouncer)",
    )
    replica_url: PostgresDsn | None = Field(
        default=None,
        description="A streaming replica (hot standby) of the database: reports, exports, "
        'collections and per-cadre compliance reads go to it (docs/scaling.md, "Read '
        'replica"); unset, they read on the primary',
    )
    replica_max_lag_seconds: float | None = Field(
        default=30.0,
        ge=0,
        description="A replica whose replay is behind by more than this is bypassed: the read "
        "goes to the primary (null: any lag is accepted)",
    )
    replica_connect_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="A replica that has not answered a connection attempt by then is taken "
        "for down: the read goes to the primary",
    )


class AuthSettings(BaseModel):
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(
        default=30,
        ge=1,
        le=366,
        description="Lifetime of a refresh token of the password grant; each use issues a new "
        "one with a fresh lifetime",
    )
    issuer: str = "cadre-training"
    audience: str = "cadre-training-api"
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    password_hash_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Password hashes (argon2, ~300 ms of CPU each) computed at once, in threads "
        "off the event loop",
    )
    password_hash_queue: int = Field(
        default=64,
        ge=0,
        le=10_000,
        description="Logins that may wait for a hashing thread (holding no database "
        "connection); beyond them a login answers 503 with Retry-After at once",
    )
    # Optional external identity provider (OIDC): its tokens are accepted too, and mapped to the
    # local user an admin linked to the token's (issuer, sub); the built-in issuer stays
    # available.
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    # Roles an external identity may act as; admins and machine clients use the built-in issuer.
    oidc_roles: frozenset[Role] = frozenset({Role.org_admin, Role.cadre, Role.auditor})
    principal_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="Seconds a process keeps an authenticated actor (keyed by user and token "
        "version); a change in this process drops it at once, other processes and replicas see "
        'it within this bound (README, "Refresh tokens and logout"); 0 turns the cache off',
    )
    principal_cache_size: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Actors (and, apart, verified tokens) a process keeps at most",
    )

    @model_validator(mode="after")
    def _oidc_audience_required(self) -> Self:
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("APP_AUTH__OIDC_AUDIENCE is required with APP_AUTH__OIDC_ISSUER")
        return self


class RateLimitSettings(BaseModel):
    """Per client, per process (each replica counts on its own)."""

    token_per_minute: int = Field(default=20, ge=1)
    # The public certificate check (GET /certificates/verify/{code}): its own count per address.
    verify_per_minute: int = Field(default=60, ge=1)
    writes_per_minute: int = Field(default=600, ge=1)
    id_number_lookups_per_hour: int = Field(
        default=120,
        ge=1,
        description="Per user: searches by resident ID number, and writes by a role that sees "
        "numbers masked that name a number new to the record (a taken one answers 409)",
    )
    # The public calendar feed (GET /calendar-feeds/{token}.ics): its own count per address.
    calendar_feed_per_minute: int = Field(default=60, ge=1)


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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(value: str) -> str:
    """An origin as a browser sends it (`scheme://host[:port]`, lower case, no default port),
    or `*`. Anything else would never match, so it is refused rather than silently useless."""
    if value == "*":
        return value
    refused = ValueError(
        f"APP_CORS__ALLOW_ORIGINS: {value!r} is not an origin: write scheme://host[:port], "
        "http or https, with no path (not even a trailing /), query or wildcard"
    )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise refused from None
    host = parts.hostname
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not host
        or "*" in value
        or parts.path
        or parts.query
        or parts.fragment
        or "?" in value
        or "#" in value
        or parts.username is not None
    ):
        raise refused
    host = f"[{host}]" if ":" in host else host
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


class CorsSettings(BaseModel):
    """Browser front ends served from other origins (app.cors). None by default: no answer
    carries a CORS header, and a browser refuses every cross-origin call."""

    allow_origins: tuple[Annotated[str, AfterValidator(_origin)], ...] = Field(
        default=(),
        max_length=100,
        description="JSON list of origins (`scheme://host[:port]`) whose pages may call the API; "
        "`*` (any origin) only outside production",
    )
    allow_credentials: bool = Field(
        default=False,
        description="Let browsers send cookies and HTTP authentication along. The API reads "
        "bearer tokens only, so nothing needs it; refused with `*`",
    )
    max_age_seconds: int = Field(
        default=600,
        ge=0,
        le=86_400,
        description="How long a browser may keep a preflight's answer (browsers cap it: "
        "Chromium at 2 hours)",
    )

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Self:
        if "*" in self.allow_origins and self.allow_credentials:
            raise ValueError(
                "APP_CORS__ALLOW_ORIGINS `*` with APP_CORS__ALLOW_CREDENTIALS: any site could "
                "call the API with the user's credentials; list the origins"
            )
        return self


class WebhookSettings(BaseModel):
    """The webhook delivery worker (`python -m app.cli webhook-worker`) and the subscriptions."""

    batch_size: int = Field(default=100, ge=1, le=1000, description="Events per message at most")
    subscriptions_per_pass: int = Field(
        default=8,
        ge=1,
        le=200,
        description="Subscriptions one worker delivers to at once (each may need two database "
        "connections: the worker refuses to start unless 2 × this + 1 fit its pool)",
    )
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=300)
    lease_seconds: float = Field(
        default=20.0,
        ge=1,
        le=300,
        description="How long a worker holds a subscription unless it renews the hold (every "
        "third of it while a delivery is under way): how soon another worker takes over from "
        "one that died. Over 1.5 × the database pool timeout, so a renewal that waits for a "
        "connection still lands in time",
    )
    stop_grace_seconds: float = Field(
        default=3.0,
        ge=0,
        le=60,
        description="On SIGTERM, how long deliveries under way may still finish before the "
        "worker abandons them and hands their subscriptions back",
    )
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


class ServerSettings(BaseModel):
    """How the API server (`python -m app.cli serve`, app/serve.py) stops on SIGTERM."""

    drain_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="First, `/health/ready` answers 503 `draining` for this long while every "
        "request is still served, so load balancers stop sending traffic here",
    )
    graceful_timeout_seconds: int = Field(
        default=25,
        ge=1,
        le=3600,
        description="Then the listener closes, and the requests in flight get this long to "
        "finish before they are cancelled",
    )


class ExportSettings(BaseModel):
    """Export jobs (`POST /api/v1/exports`) and their worker (`python -m app.cli export-worker`).
    The files are stored in PostgreSQL (docs/exports.md): every replica serves what any worker
    wrote."""

    retention_hours: int = Field(
        default=24, ge=1, le=24 * 90, description="A job and its file expire this long after it"
    )
    purge_after_hours: int = Field(
        default=7 * 24,
        ge=0,
        le=24 * 365,
        description="An expired job's row is deleted this long after it expired (404 then)",
    )
    lease_seconds: float = Field(
        default=15.0, ge=1, le=600, description="A job whose worker stops renewing is taken over"
    )
    heartbeat_seconds: float = Field(
        default=3.0, gt=0, le=200, description="How often a worker renews its lease (< lease)"
    )
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=300)
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Workers that may take a job before it fails"
    )
    chunk_bytes: int = Field(
        default=1 << 20, ge=1024, le=64 << 20, description="A stored file's chunk size"
    )
    progress_rows: int = Field(
        default=10_000, ge=1, description="Rows between two progress reports of a job"
    )
    statement_timeout_ms: int = Field(
        default=30 * 60_000, ge=0, description="The export query's own timeout in a job"
    )
    max_active_per_user: int = Field(
        default=5, ge=1, le=100, description="Queued or running jobs one user may have"
    )

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> "ExportSettings":
        # A worker renews its lease several times before it runs out, or loses its job to
        # another worker while it is still working on it.
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("APP_EXPORTS__HEARTBEAT_SECONDS must be at most half the lease")
        return self


class AttendanceSettings(BaseModel):
    """Sign-in by class part (docs/rules.md, rule 12)."""

    code_seconds: int = Field(
        default=30, ge=5, le=300, description="How long a rotating sign-in code is valid"
    )
    grace_minutes: int = Field(
        default=10,
        ge=0,
        le=120,
        description="A QR sign-in this long after the part's start still counts as present; "
        "later is late",
    )
    sign_in_opens_minutes_before: int = Field(
        default=30,
        ge=0,
        le=240,
        description="QR sign-in opens this long before the class's start (and closes at its "
        "end); a sign-in before the start is present",
    )


class QualificationSettings(BaseModel):
    """Qualifications with validity, 持证上岗 (docs/rules.md, rule 13)."""

    expiring_days: int = Field(
        default=90,
        ge=0,
        le=3660,
        description="A qualification is `expiring` in its last this many days of validity",
    )


class ThesisSettings(BaseModel):
    """Theses and reflections (docs/rules.md, "Theses and reflections")."""

    collection_max: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="A 论文汇编 holds at most this many theses; a larger selection is refused "
        "(409 `thesis.collection_too_large`), so one document's memory stays bounded",
    )


class EvaluationSettings(BaseModel):
    """The anonymous evaluation (评课, docs/rules.md rule 14 and docs/evaluation.md)."""

    open_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="How many days a session's evaluation stays open (copied when attached)",
    )
    min_answers: int = Field(
        default=5,
        ge=5,
        le=1000,
        description="A group with fewer answers shows no figures (never below 5: anonymity)",
    )
    review_below: Decimal = Field(
        default=Decimal("3.50"),
        ge=1,
        le=5,
        decimal_places=2,
        description="A teacher whose weighted score is below this in each of their latest "
        "`review_sessions` sessions with figures is flagged for review (师资退出)",
    )
    review_sessions: int = Field(
        default=3, ge=1, le=50, description="How many sessions in a row flag a teacher"
    )


class CalendarSettings(BaseModel):
    """Calendar files (docs/calendars.md)."""

    feed_url: str = Field(
        default="http://localhost:8000/api/v1/calendar-feeds/{token}.ics",
        max_length=500,
        pattern=r"^https?://.*\{token\}",
        description="The address of a cadre's private feed given out when it is created, "
        "`{token}` its secret: this service's public `GET /api/v1/calendar-feeds/{token}.ics` "
        "as the phones reach it",
    )
    uid_domain: str = Field(
        default="cadre-training.invalid",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9.-]+$",
        description="The right-hand side of every event's UID (`<part id>@<domain>`). Keep it "
        "fixed: a calendar takes an event with a new UID for another event",
    )


class NotifySettings(BaseModel):
    """Notifications to cadres and the reminder job (docs/notifications.md)."""

    days_before_start: int = Field(
        default=3,
        ge=1,
        le=60,
        description="The reminder job reminds a session's active enrollees once, within this "
        "many days before its start",
    )
    at_risk_days: int = Field(
        default=90,
        ge=0,
        le=3660,
        description="The five-year requirement is at risk when it would not be met this many "
        'days from today on what is recorded (docs/rules.md, "Requirement at risk")',
    )
    annual_at_risk_days: int = Field(
        default=60,
        ge=0,
        le=366,
        description="The annual requirement is at risk when it is not met and fewer than this "
        "many days of the year are left",
    )
    at_risk_every_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="A cadre at risk is told at most once in each period of this many days "
        "(periods counted from 1970-01-01, the same for every cadre); 1 tells it every day",
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

    # Production unless told otherwise: it refuses to start without real secrets. `make run`
    # sets development, the tests set test.
    env: Environment = Environment.production
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
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="Reverse proxies whose X-Forwarded-For is believed (JSON list of addresses "
        "or CIDRs); none by default, so a client cannot choose the address it is counted as",
    )
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
    exports: ExportSettings = ExportSettings()
    attendance: AttendanceSettings = AttendanceSettings()
    body: BodyLimitSettings = BodyLimitSettings()
    server: ServerSettings = ServerSettings()
    cors: CorsSettings = CorsSettings()
    qualification: QualificationSettings = QualificationSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    notify: NotifySettings = NotifySettings()
    bootstrap_admin_username: str | None = None
    bootstrap_admin_password: SecretStr | None = None
    # Production posture (issue 10): see app.observability and app.main.
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token `/metrics` asks for (at least 32 characters). Without one, "
        "`/metrics` is open outside production and absent (404) in production",
    )
    hsts_max_age_seconds: int = Field(
        default=0,
        ge=0,
        le=2 * 365 * 24 * 3600,
        description="`Strict-Transport-Security: max-age=N` on every answer; 0 (the default) "
        "sends none. Set it only where clients reach the service over https",
    )
    api_docs: bool = Field(
        default=True,
        description="Serve `/docs`, `/redoc` and `/openapi.json` (the contract other teams "
        "build against); false switches all three off",
    )
    certificate_verify_url: str = Field(
        default="http://localhost:8000/api/v1/certificates/verify/{code}",
        max_length=500,
        pattern=r"^https?://.*\{code\}",
        description="The address a certificate's QR code links to, `{code}` its verification "
        "code: this service's public `GET /api/v1/certificates/verify/{code}` or a front end's "
        "page that calls it",
    )
    thesis: ThesisSettings = ThesisSettings()
    calendar: CalendarSettings = CalendarSettings()

    @model_validator(mode="after")
    def _metrics_token_length(self) -> Self:
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 32:
            raise ValueError("APP_METRICS_TOKEN must be at least 32 random characters")
        return self

    @model_validator(mode="after")
    def _no_wildcard_origin_in_production(self) -> Self:
        if self.env == Environment.production and "*" in self.cors.allow_origins:
            raise ValueError(
                "APP_CORS__ALLOW_ORIGINS `*` is refused in production: list the origins of the "
                "front ends"
            )
        return self

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
        if len(secret) < 32 or secret == DEV_SECRET_KEY or not _looks_random(secret):
            problems.append("APP_SECRET_KEY must be set to at least 32 random characters")
        data = self.data_key.get_secret_value() if self.data_key else ""
        key = _b64(data)
        if data == DEV_DATA_KEY or len(key) != 32 or not _looks_random(key):
            problems.append("APP_DATA_KEY must be set to base64 of 32 random bytes")
        if self.env == Environment.production and (
            _digest(secret.encode()) in _PUBLISHED or _digest(key) in _PUBLISHED
        ):
            problems.append(
                "a key published in the service's repository (its tests or docs) is in use"
            )
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

    @property
    def async_replica_url(self) -> str | None:
        """The replica's URL with the asyncpg driver; None without a replica."""
        if self.database.replica_url is None:
            return None
        url = str(self.database.replica_url)
        scheme, rest = url.split("://", 1)
        return f"postgresql+asyncpg://{rest}" if scheme in {"postgres", "postgresql"} else url


# A secret key must carry at least this many bits by the estimate below: 32 random hex digits
# (128 bits) measure 115 on average and rarely under 95, `secrets.token_urlsafe(32)` about 200,
# 32 x "a" zero.
_MIN_SECRET_BITS = 80.0
# 32 random bytes show about 30 distinct values; fewer than 16 happens by chance almost never.
_MIN_DISTINCT_KEY_BYTES = 16


def _looks_random(value: str | bytes) -> bool:
    """Refuses values no random generator gives: a repeated pattern ("ab" * 16, 32 zero bytes)
    or too little Shannon entropy (length x the entropy of its own symbol frequencies). A
    screen against placeholders and typos, not a proof of randomness."""
    symbols: Sequence[object] = value
    length = len(symbols)
    for period in range(1, length // 2 + 1):
        if all(symbols[i] == symbols[i % period] for i in range(length)):
            return False
    codes = list(value) if isinstance(value, bytes) else [ord(c) for c in value]
    steps = {(b - a) % 256 for a, b in itertools.pairwise(codes)}
    if len(steps) <= 2:  # a run such as bytes(range(32)) or "abcdef…", wrapping or not
        return False
    counts = Counter(symbols)
    if isinstance(value, bytes):
        return len(counts) >= _MIN_DISTINCT_KEY_BYTES
    bits = -sum(n * math.log2(n / length) for n in counts.values())
    return bits >= _MIN_SECRET_BITS


# SHA-256 of the keys the repository publishes (tests/conftest.py): a deployment that copied one
# signs tokens anyone can forge. The development keys are refused by name above.
_PUBLISHED = frozenset(
    {
        "8fecdc1c6486d8b09ec10895c727b13f3ddc0c76688a01b5535785906d8d9d96",
        "22e706d0a2369d5385cde71468bb03a47ab785820367fa9c167503f33ac8331e",
    }
)


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


@lru_cache
def get_settings() -> Settings:
    return Settings()
