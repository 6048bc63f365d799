"""A unit's archives and compliance for one year, streamed: constant memory, first byte fast.

The request's own database session ends when its endpoint returns; the rows are read after
that, on a session of their own, through a server-side cursor."""

import os
import tempfile
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.archive import formats
from app.cadre.models import Cadre
from app.compliance.figures import CadreFigures, cadre_figures
from app.credit_policy.policy import Policy
from app.db import transaction
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree
from app.study_log.models import StudyLog

COLUMNS = (
    "org_unit_code",
    "org_unit",
    "hr_id",
    "name",
    "rank",
    "cadre_status",
    "five_year_status",
    "five_year_centralised_days",
    "five_year_centralised_hours",
    "annual_status",
    "annual_credited_hours",
    "online_status",
    "online_hours",
    "log_start_date",
    "log_end_date",
    "log_kind",
    "log_title",
    "log_hours",
    "log_days",
    "log_status",
)
CHUNK_ROWS = 2_000


def _query(root_path: str, year: int) -> Any:
    overlaps = and_(
        StudyLog.cadre_id == Cadre.id,
        StudyLog.start_date <= date(year, 12, 31),
        StudyLog.end_date >= date(year, 1, 1),
    )
    return (
        select(
            OrgUnit.code,
            OrgUnit.name,
            Cadre.id,
            Cadre.hr_id,
            Cadre.name,
            Cadre.rank,
            Cadre.status,
            StudyLog.start_date,
            StudyLog.end_date,
            StudyLog.kind,
            StudyLog.title,
            StudyLog.hours,
            StudyLog.days,
            StudyLog.status,
        )
        .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
        .outerjoin(StudyLog, overlaps)
        .where(in_subtree(root_path))
        .order_by(OrgUnit.path, Cadre.hr_id, StudyLog.start_date, StudyLog.id)
        .execution_options(yield_per=CHUNK_ROWS)
    )


def _row(record: Any, figures: dict[Any, CadreFigures]) -> list[Any]:
    (code, unit, cadre_id, hr_id, name, rank, status, start, end, kind, title, hours, days, st) = (
        record
    )
    f = figures.get(cadre_id)
    return [
        code,
        unit,
        hr_id,
        name,
        rank.value,
        status.value,
        f.five_year_status.value if f else None,
        f.five_year_days.quantize(formats.CENT) if f else None,
        f.five_year_hours.quantize(formats.CENT) if f else None,
        f.annual_status.value if f else None,
        f.annual_credited_hours.quantize(formats.CENT) if f else None,
        f.online_status.value if f else None,
        f.online_hours.quantize(formats.CENT) if f else None,
        start.isoformat() if start else None,
        end.isoformat() if end else None,
        kind.value if kind else None,
        title,
        hours,
        days,
        st.value if st else None,
    ]


async def _rows(
    db_session: AsyncSession, root_path: str, year: int, as_of: date, policy: Policy
) -> AsyncIterator[list[Any]]:
    figures = {f.cadre_id: f for f in await cadre_figures(db_session, root_path, as_of, policy)}
    stream = await db_session.stream(_query(root_path, year))
    async for record in stream:
        yield _row(record, figures)


async def csv_chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    root_path: str,
    year: int,
    as_of: date,
    policy: Policy,
) -> AsyncIterator[bytes]:
    yield (formats.BOM + formats.csv_line(COLUMNS)).encode()
    async with transaction(sessionmaker) as db_session:
        buffer: list[str] = []
        async for row in _rows(db_session, root_path, year, as_of, policy):
            buffer.append(formats.csv_line(row))
            if len(buffer) >= CHUNK_ROWS:
                yield "".join(buffer).encode()
                buffer.clear()
        if buffer:
            yield "".join(buffer).encode()


async def xlsx_chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    root_path: str,
    year: int,
    as_of: date,
    policy: Policy,
) -> AsyncIterator[bytes]:
    """openpyxl's write-only mode keeps rows on disk; the finished file is streamed in chunks."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=f"{year}")
    sheet.append(list(COLUMNS))
    async with transaction(sessionmaker) as db_session:
        async for row in _rows(db_session, root_path, year, as_of, policy):
            sheet.append([formats.cell(v) if isinstance(v, str) else v for v in row])
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        workbook.save(path)
        with open(path, "rb") as handle:  # noqa: ASYNC230 (a local temporary file)
            while chunk := handle.read(1 << 20):
                yield chunk
    finally:
        os.unlink(path)
