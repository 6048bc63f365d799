"""The yardstick of bench.http_reads: a bare FastAPI + asyncpg primary-key read of one cadre row.

No ORM, no authentication, no middleware: what one uvicorn worker answers when a request costs
one round trip to the same PostgreSQL. Its pool has the service's size (`APP_DATABASE__POOL_SIZE`
plus `APP_DATABASE__MAX_OVERFLOW`, defaults 20 + 0).

    DATABASE_URL=postgresql://... uvicorn bench.yardstick_app:create_app --factory
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, Request

from bench.province import plain_url


def create_app() -> FastAPI:
    url = plain_url(os.environ["DATABASE_URL"])
    size = int(os.environ.get("APP_DATABASE__POOL_SIZE", "20"))
    overflow = int(os.environ.get("APP_DATABASE__MAX_OVERFLOW", "0"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with asyncpg.create_pool(url, min_size=size, max_size=size + overflow) as pool:
            app.state.pool = pool
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/cadres/{cadre_id}")
    async def get_cadre(cadre_id: uuid.UUID, request: Request) -> dict[str, Any]:
        pool: asyncpg.Pool = request.app.state.pool
        row = await pool.fetchrow("SELECT * FROM cadre WHERE id = $1", cadre_id)
        if row is None:
            raise HTTPException(404)
        return {key: str(value) for key, value in row.items()}

    return app
