"""Application factory: lifespan, routers, middleware, error handlers. Nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request

from app import docs_assets
from app.assessment.router import router as assessment_router
from app.cadre.router import router as cadre_router
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.enrollment.router import router as enrollment_router
from app.enrollment.router import session_router as session_enrollment_router
from app.errors import install_error_handlers
from app.health.router import router as health_router
from app.observability import Metrics, RequestContextMiddleware, configure_logging
from app.openapi import install_openapi
from app.org_unit.router import router as org_unit_router
from app.study_log.router import router as study_log_router
from app.training_session.router import router as training_session_router

DESCRIPTION = """\
Education and training records of cadres (干部教育培训档案): org units, cadres, training sessions,
enrollments, study logs and annual assessments, and the credit hours (学时) and compliance figures
computed from them.

Errors are RFC 9457 `application/problem+json` with a stable `code`. Collections are
cursor-paginated (`limit`, `cursor` → `{items, next_cursor}`). Updates accept `If-Match` with the
`ETag` of a previous read and answer 412 when the resource changed meanwhile.
"""


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
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Cadre training records service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        servers=[{"url": "/", "description": "This deployment"}],
        license_info={"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        contact={"name": "干部教育科 (cadre education office)"},
    )
    app.state.settings = settings
    app.state.sessionmaker = None
    metrics = Metrics()
    app.state.metrics = metrics

    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    for router in (
        org_unit_router,
        cadre_router,
        training_session_router,
        session_enrollment_router,
        enrollment_router,
        study_log_router,
        assessment_router,
        health_router,
    ):
        app.include_router(router)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

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

    return app
