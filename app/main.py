"""Application factory: lifespan, routers, middleware, error handlers. Nothing else."""

import gc
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Security
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request

from app import docs_assets, personal_data
from app.archive.router import router as archive_router
from app.archive.router import unit_router as unit_archive_router
from app.assessment.router import router as assessment_router
from app.attendance.router import closing_router as session_closing_router
from app.attendance.router import router as attendance_router
from app.attendance.router import session_router as session_attendance_router
from app.audit.router import router as audit_router
from app.auth.principals import PrincipalCache
from app.auth.rate_limit import RateLimiter
from app.cadre.router import router as cadre_router
from app.calendar.router import feed_router as calendar_feed_router
from app.calendar.router import router as calendar_router
from app.catalogue.router import router as catalogue_router
from app.certificate.router import router as certificate_router
from app.certificate.router import verify_router as certificate_verify_router
from app.change_feed.router import router as change_feed_router
from app.compliance.router import report_router
from app.compliance.router import router as compliance_router
from app.config import Environment, Settings, get_settings
from app.cors import install_cors
from app.credit_policy.router import router as credit_policy_router
from app.db import attribute, create_engine, create_sessionmaker, transaction
from app.enrollment.router import router as enrollment_router
from app.enrollment.router import session_router as session_enrollment_router
from app.errors import Unauthorized, install_error_handlers
from app.evaluation.router import answer_router as evaluation_answer_router
from app.evaluation.router import report_router as evaluation_report_router
from app.evaluation.router import router as evaluation_router
from app.export.router import router as export_router
from app.health.router import router as health_router
from app.i18n import N_, LanguageMiddleware
from app.imports.router import router as import_router
from app.imports.schemas import StudyLogImport, StudyLogImportRow
from app.limits import BodyLimitMiddleware
from app.meta.router import router as meta_router
from app.notification.router import router as notification_router
from app.observability import (
    Metrics,
    RequestContextMiddleware,
    configure_logging,
    security_headers,
)
from app.online.report_router import router as online_report_router
from app.online.router import import_router as online_import_router
from app.online.router import router as online_platform_router
from app.online.schemas import OnlineRecordImport, OnlineRecordImportRow
from app.openapi import install_openapi
from app.org_unit.router import router as org_unit_router
from app.qualification.router import report_router as qualification_report_router
from app.qualification.router import router as qualification_router
from app.scorecard.router import report_router as scorecard_report_router
from app.scorecard.router import router as scorecard_router
from app.security import authorize
from app.sign_in_sheet.router import router as sign_in_sheet_router
from app.study_log.router import router as study_log_router
from app.sync.router import router as sync_router
from app.thesis.router import router as thesis_router
from app.training_plan.router import report_router as plan_report_router
from app.training_plan.router import router as training_plan_router
from app.training_session.router import router as training_session_router
from app.user import repository as user_repository
from app.user.router import me_router, token_router
from app.user.router import router as user_router
from app.user.service import ensure_admin
from app.webhook.router import router as webhook_router

log = structlog.get_logger(__name__)

DESCRIPTION = """\
Education and training records of cadres (干部教育培训档案): org units, cadres, training sessions,
enrollments, study logs and annual assessments, and the credit hours (学时) and compliance figures
computed from them.

Errors are RFC 9457 `application/problem+json` with a stable `code`. Collections are
cursor-paginated (`limit`, `cursor` → `{items, next_cursor}`). Updates accept `If-Match` with the
`ETag` of a previous read and answer 412 when the resource changed meanwhile.

Authentication: `POST /api/v1/auth/token` (password grant for people, client_credentials for the
HR system), then `Authorization: Bearer <token>`; people renew with the refresh_token grant and
log out with `POST /api/v1/auth/revoke`. What each role may do is listed per operation;
objects outside the caller's org subtree answer 404.
"""


# The request id the audit trail records for the bootstrap admin's creation (no request made it).
BOOTSTRAP_REQUEST_ID = "bootstrap-admin"


async def _bootstrap_admin(app: FastAPI, settings: Settings) -> None:
    """APP_BOOTSTRAP_ADMIN_USERNAME/PASSWORD: the first admin of a new deployment."""
    name, password = settings.bootstrap_admin_username, settings.bootstrap_admin_password
    if not name or password is None:
        return
    async with transaction(app.state.sessionmaker) as db_session:
        await attribute(db_session, request_id=BOOTSTRAP_REQUEST_ID)
        if await ensure_admin(db_session, name, password.get_secret_value()):
            log.info("bootstrap_admin_created", username=name)


# Young collections after this many new container objects (Python's default: 700). A request
# allocates thousands (pydantic models, SQLAlchemy rows, dicts of the ASGI scope), so at the
# default the collector ran several times a request (docs/scaling.md, "Reads": the cadre read's
# p99 was 9x its p50, 1.4x with this and the freeze below).
GC_THRESHOLDS = (20_000, 50, 100)


def _tune_gc() -> None:
    """Once a process, at the first start-up: what import and start-up built lives as long as the
    process, so it leaves the collector's generations (gc.freeze) and a full collection under
    load no longer walks it; then the thresholds above. Objects still die by their reference
    counts; only a cycle among frozen objects would stay."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        # Tests replace the sessionmaker with one bound to a rolled-back connection.
        if getattr(app.state, "sessionmaker", None) is None:
            app.state.sessionmaker = create_sessionmaker(engine)
        # The read replica (APP_DATABASE__REPLICA_URL): reads that may lag go there.
        replica = create_engine(settings, replica=True) if settings.async_replica_url else None
        app.state.replica_engine = replica
        if replica is not None and getattr(app.state, "replica_sessionmaker", None) is None:
            app.state.replica_sessionmaker = create_sessionmaker(replica)
        await _bootstrap_admin(app, settings)
        _tune_gc()
        try:
            yield
        finally:
            await engine.dispose()
            if replica is not None:
                await replica.dispose()

    app = FastAPI(
        title="Cadre training records service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,
        servers=[{"url": "/", "description": "This deployment"}],
        license_info={"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        contact={"name": "干部教育科 (cadre education office)"},
    )
    app.state.settings = settings
    # Authentication asks the user domain who a token speaks for (app.security.ActorLoader).
    app.state.actor_loader = user_repository.active_actor
    app.state.principals = PrincipalCache(
        settings.auth.principal_cache_seconds, settings.auth.principal_cache_size
    )
    app.state.sessionmaker = None
    app.state.replica_sessionmaker = None
    # Set by the server on SIGTERM (app/serve.py): readiness answers 503 while it drains.
    app.state.draining = False
    metrics = Metrics()
    app.state.metrics = metrics

    personal_data.configure(settings.data_key_bytes)
    app.state.token_limiter = RateLimiter(settings.rate_limit.token_per_minute)
    app.state.verify_limiter = RateLimiter(settings.rate_limit.verify_per_minute)
    app.state.write_limiter = RateLimiter(settings.rate_limit.writes_per_minute)
    app.state.calendar_feed_limiter = RateLimiter(settings.rate_limit.calendar_feed_per_minute)

    app.state.extra_openapi_models = [
        StudyLogImport,
        StudyLogImportRow,
        OnlineRecordImport,
        OnlineRecordImportRow,
    ]
    install_error_handlers(app)
    install_openapi(app)
    # Inside the request context (its answers carry the request id and the security headers),
    # outside everything else: a body is whole, and within its limits, before any route,
    # dependency or connection.
    app.add_middleware(BodyLimitMiddleware, settings=settings.body)
    # The language of the messages (app.i18n), from Accept-Language.
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        headers=security_headers(hsts_max_age_seconds=settings.hsts_max_age_seconds),
    )
    install_cors(app, settings.cors)

    # Every API router is protected as a whole: no route can forget to authenticate.
    protected = [Security(authorize)]
    for router in (
        org_unit_router,
        cadre_router,
        training_session_router,
        session_closing_router,
        session_enrollment_router,
        enrollment_router,
        study_log_router,
        assessment_router,
        user_router,
        me_router,
        audit_router,
        credit_policy_router,
        compliance_router,
        report_router,
        change_feed_router,
        archive_router,
        unit_archive_router,
        sync_router,
        import_router,
        webhook_router,
        export_router,
        meta_router,
        training_plan_router,
        plan_report_router,
        session_attendance_router,
        attendance_router,
        sign_in_sheet_router,
        certificate_router,
        qualification_router,
        qualification_report_router,
        catalogue_router,
        thesis_router,
        evaluation_router,
        evaluation_answer_router,
        evaluation_report_router,
        calendar_router,
        online_platform_router,
        online_import_router,
        online_report_router,
        notification_router,
        scorecard_router,
        scorecard_report_router,
    ):
        app.include_router(router, dependencies=protected)
    app.include_router(token_router)
    app.include_router(health_router)
    app.include_router(certificate_verify_router)
    app.include_router(calendar_feed_router)

    _install_metrics(app, settings, metrics)
    if settings.api_docs:
        _install_docs(app)
    return app


def _install_metrics(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """With APP_METRICS_TOKEN set, `/metrics` answers only `Authorization: Bearer <token>`.
    Without it, it is open outside production and absent (404) in production: request counts
    by route and latencies are no business of the public."""
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None
    if token is None and settings.env == Environment.production:
        return

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, b"Bearer " + token):
                raise Unauthorized(N_("Send `Authorization: Bearer <APP_METRICS_TOKEN>`."))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _install_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc (APP_API_DOCS, on by default: the contract is for other teams)."""
    # Docs served from local assets: the networks this runs on are air-gapped.
    app.mount("/docs-assets", StaticFiles(directory=docs_assets.STATIC_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs-assets/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} — API reference",
            redoc_js_url=f"{root}/docs-assets/redoc.standalone.js",
            redoc_favicon_url=f"{root}/docs-assets/favicon.png",
            with_google_fonts=False,
        )
