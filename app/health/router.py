"""Liveness and readiness probes: cheap enough to call every second."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.migrations import head_revisions

router = APIRouter(prefix="/health", tags=["health"])

READY_TIMEOUT_SECONDS = 2.0
DRAINING = "the server is stopping: it still serves requests until its listener closes"


class Liveness(BaseModel):
    status: str = Field(examples=["ok"])


class Check(BaseModel):
    # `detail` is always sent (null when there is nothing to say): required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    name: str
    ok: bool
    detail: str | None = None


class Readiness(BaseModel):
    status: str = Field(description="`ready` or `not_ready`")
    checks: list[Check]


@router.get("/live", operation_id="getLiveness")
async def live() -> Liveness:
    """The process is up. Never touches the database."""
    return Liveness(status="ok")


async def _schema_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        return {r[0] for r in rows}


@router.get(
    "/ready",
    operation_id="getReadiness",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready; `checks` says which failed"}},
)
async def ready(request: Request) -> Readiness | JSONResponse:
    """The database answers and its schema is at the migrations' head.

    While the server drains before it stops (after SIGTERM, for `APP_SERVER__DRAIN_SECONDS`),
    the answer is 503 with the single failed check `draining`, though every other request is
    still served: a load balancer polling this probe stops sending traffic before the listener
    closes."""
    if request.app.state.draining:
        body = Readiness(
            status="not_ready", checks=[Check(name="draining", ok=False, detail=DRAINING)]
        )
        return JSONResponse(body.model_dump(), status_code=503)
    engine: AsyncEngine = request.app.state.engine
    checks: list[Check]
    try:
        revisions = await asyncio.wait_for(_schema_revisions(engine), READY_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to reach the schema means not ready
        checks = [
            Check(name="database", ok=False, detail=type(exc).__name__),
            Check(name="migrations", ok=False, detail="not checked"),
        ]
    else:
        at_head = revisions == set(head_revisions())
        checks = [
            Check(name="database", ok=True),
            Check(
                name="migrations",
                ok=at_head,
                detail=None
                if at_head
                else f"schema at {sorted(revisions)}, code expects {sorted(head_revisions())}",
            ),
        ]
    if all(c.ok for c in checks):
        return Readiness(status="ready", checks=checks)
    body = Readiness(status="not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=503)
