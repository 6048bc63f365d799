"""Cursor (keyset) pagination over time-ordered ids.

The cursor is opaque to clients: base64url of the last id of the page. Pages are walked by
`WHERE id > :after ORDER BY id`, which stays fast at any depth, unlike OFFSET.
"""

import base64
import binascii
import uuid
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import ProblemFieldError, UnprocessableEntity
from app.i18n import N_

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )


class PageParams(BaseModel):
    limit: int
    after: uuid.UUID | None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise UnprocessableEntity(
            N_("The cursor is not one this API returned."),
            errors=[
                ProblemFieldError(
                    pointer="/query/cursor", detail=N_("invalid cursor"), code="invalid_cursor"
                )
            ],
        ) from exc


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]*$",
            description="Opaque cursor from a previous page's `next_cursor`",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageQuery = Annotated[PageParams, Depends(page_params)]


async def paginate(
    db_session: AsyncSession,
    stmt: Select[R],
    id_column: InstrumentedAttribute[uuid.UUID],
    params: PageParams,
    *,
    newest_first: bool = False,
) -> tuple[list[R], str | None]:
    """Run `stmt` (one ORM entity per row) keyset-paginated on `id_column`, oldest first
    unless `newest_first`."""
    if params.after is not None:
        stmt = stmt.where(id_column < params.after if newest_first else id_column > params.after)
    order = id_column.desc() if newest_first else id_column
    rows = list((await db_session.scalars(stmt.order_by(order).limit(params.limit + 1))).all())
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last: Any = rows[-1]
        return rows, encode_cursor(last.id)
    return rows, None
