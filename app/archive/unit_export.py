"""A unit's archives and compliance for one year, streamed: constant memory, first byte fast.

The request's own database session ends when its endpoint returns; the rows are read after
that, on a session of their own, through a server-side cursor."""

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.archive import columns, formats
from app.archive.columns import Column
from app.archive.formats import UnitExportFormat
from app.compliance import repository as compliance
from app.credit_policy.engine.common import RequirementStatus
from app.credit_policy.policy import Policy
from app.db import transaction
from app.enums import CadreStatus, Language, PostType, Rank, StudyLogKind, StudyLogStatus

# The columns (English name, Chinese header, the enum whose labels the values are shown as).
UNIT_COLUMNS = (
    Column("org_unit_code", "单位代码"),
    Column("org_unit", "单位"),
    Column("hr_id", "人事编号"),
    Column("name", "姓名"),
    Column("rank", "职务层次", Rank),
    Column("post_type", "职务类别", PostType),
    Column("cadre_status", "干部状态", CadreStatus),
    Column("five_year_status", "五年达标情况", RequirementStatus),
    Column("five_year_centralised_days", "五年集中培训天数"),
    Column("five_year_centralised_hours", "五年集中培训学时"),
    Column("annual_status", "年度达标情况", RequirementStatus),
    Column("annual_centralised_days", "年度集中培训天数"),
    Column("annual_centralised_hours", "年度集中培训学时"),
    Column("annual_counted_hours", "年度计入学时"),
    Column("annual_credited_hours", "年度认定学时"),
    Column("online_status", "网络学习达标情况", RequirementStatus),
    Column("online_hours", "网络学习学时"),
    Column("log_start_date", "开始日期"),
    Column("log_end_date", "结束日期"),
    Column("log_kind", "学习形式", StudyLogKind),
    Column("log_title", "培训名称"),
    Column("log_hours", "学时"),
    Column("log_days", "天数"),
    Column("log_status", "审核状态", StudyLogStatus),
)
COLUMNS = tuple(column.name for column in UNIT_COLUMNS)
CHUNK_ROWS = 2_000


async def rows(
    db_session: AsyncSession, root_path: str, year: int, as_of: date, policy: Policy
) -> AsyncIterator[list[Any]]:
    """The figures are joined in the database: no per-cadre state is held here."""
    async for record in compliance.export_rows(
        db_session, root_path, year, as_of, policy, yield_per=CHUNK_ROWS
    ):
        yield [v.value if isinstance(v, Enum) else v for v in record]


async def row_count(
    db_session: AsyncSession, root_path: str, year: int, as_of: date, policy: Policy
) -> int:
    return await compliance.export_row_count(db_session, root_path, year, as_of, policy)


async def encode_csv(
    records: AsyncIterator[list[Any]], lang: Language = Language.zh_cn
) -> AsyncIterator[bytes]:
    """CSV for Excel, `CHUNK_ROWS` rows a chunk. The header travels with the first rows, so
    nothing is sent before the query has answered: a query that fails fails before the first
    byte (a problem+json answer), not after it."""
    labelled = columns.Labeller(UNIT_COLUMNS, lang)
    buffer: list[str] = [formats.BOM + formats.csv_line(columns.header(UNIT_COLUMNS, lang))]
    async for row in records:
        buffer.append(formats.csv_line(labelled(row)))
        if len(buffer) >= CHUNK_ROWS:
            yield "".join(buffer).encode()
            buffer.clear()
    if buffer:
        yield "".join(buffer).encode()


# An Excel sheet holds 1,048,576 rows: the header and this many records. A larger export goes on
# over further sheets ("2026", "2026 (2)", ...), each with its own header.
SHEET_ROWS = 1_048_575
_WIDTH_SAMPLE = 500  # rows the column widths are computed from


class _Workbook:
    """openpyxl's write-only workbook, whose rows flow over into a new sheet when one is full.

    Each sheet gets the same treatment: the header row frozen, column widths (from the header
    and the first batch of rows, set before any row is written, as write-only mode requires),
    typed cells, and an autofilter over its rows (set when the sheet is full or saved)."""

    def __init__(self, year: int, sheet_rows: int, header: list[str]) -> None:
        from openpyxl import Workbook

        self.book = Workbook(write_only=True)
        self.year = year
        self.sheet_rows = sheet_rows
        self.header = header
        self.widths: list[int] | None = None
        self.sheets: list[Any] = []
        self.filled = 0

    def _new_sheet(self) -> None:
        if self.sheets:
            formats.end_sheet(self.sheets[-1], len(self.header), self.filled)
        number = len(self.sheets) + 1
        title = f"{self.year}" if number == 1 else f"{self.year} ({number})"
        sheet = self.book.create_sheet(title=title)
        formats.start_sheet(sheet, self.header, self.widths or [])
        self.sheets.append(sheet)
        self.typed = formats.TypedCells(sheet)
        self.filled = 0

    def append(self, rows: list[list[Any]]) -> None:
        if self.widths is None:
            self.widths = formats.column_widths(self.header, rows[:_WIDTH_SAMPLE])
            self._new_sheet()
        for row in rows:
            if self.filled == self.sheet_rows:
                self._new_sheet()
            self.sheets[-1].append(self.typed.row(row))
            self.filled += 1

    def save(self, path: str) -> None:
        formats.end_sheet(self.sheets[-1], len(self.header), self.filled)
        self.book.save(path)

    def discard(self) -> None:
        """Close write-only sheets whose rows failed, and delete their temporary files: left to
        the garbage collector, a row writer fails on its closed file ("Exception ignored")."""
        for sheet in self.sheets:
            writer = getattr(sheet, "_writer", None)
            with contextlib.suppress(Exception):
                sheet.close()
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.cleanup()


async def _in_daemon_thread(function: Callable[[], object]) -> None:
    """Run `function` in a daemon thread of its own, not in the loop's default executor.

    Saving a large workbook takes a while, and a thread cannot be cancelled: a task cancelled
    while it waits (a worker told to stop, a client gone) stops waiting at once, but the thread
    runs on. In the executor it would hold the process: `asyncio.run` waits for the executor's
    threads when it ends (Python 3.11: without a timeout), and the interpreter joins them at
    exit, so an export worker given SIGTERM would hand its job back and then hang until the
    save finished. A daemon thread abandoned this way runs on, harmlessly, until it finishes
    (the file it writes was already deleted by its caller) or the process ends; openpyxl's
    own temporary files of that workbook may then stay in the temporary directory, as after a
    SIGKILL."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if done.done():  # the waiting task was cancelled: nobody wants the answer
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def target() -> None:
        error: BaseException | None = None
        try:
            function()
        except BaseException as exc:  # handed to the waiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=target, name="xlsx-save", daemon=True).start()
    await done


async def encode_xlsx(
    records: AsyncIterator[list[Any]],
    year: int,
    *,
    sheet_rows: int = SHEET_ROWS,
    lang: Language = Language.zh_cn,
) -> AsyncIterator[bytes]:
    """openpyxl's write-only mode keeps rows on disk; the finished file is read in chunks.

    openpyxl is synchronous: rows are appended `CHUNK_ROWS` at a time, and the file saved and
    read, in a worker thread, so the event loop serves other requests meanwhile (one thread at
    a time touches the workbook). The save, the long part, runs in a daemon thread of its own,
    so a cancelled export does not hold the process (`_in_daemon_thread`)."""
    workbook = _Workbook(year, sheet_rows, columns.header(UNIT_COLUMNS, lang))
    labelled = columns.Labeller(UNIT_COLUMNS, lang)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        try:
            batch: list[list[Any]] = []
            async for row in records:
                batch.append(labelled(row))
                if len(batch) >= CHUNK_ROWS:
                    await asyncio.to_thread(workbook.append, batch)
                    batch = []
            await asyncio.to_thread(workbook.append, batch)
        except BaseException:
            workbook.discard()
            raise
        await _in_daemon_thread(lambda: workbook.save(path))
        with open(path, "rb") as handle:  # noqa: ASYNC230 (a local temporary file)
            while chunk := await asyncio.to_thread(handle.read, 1 << 20):
                yield chunk
    finally:
        os.unlink(path)


def encode(
    format: UnitExportFormat,
    records: AsyncIterator[list[Any]],
    year: int,
    lang: Language = Language.zh_cn,
) -> AsyncIterator[bytes]:
    if format is UnitExportFormat.csv:
        return encode_csv(records, lang)
    return encode_xlsx(records, year, lang=lang)


async def chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    root_path: str,
    year: int,
    as_of: date,
    policy: Policy,
    format: UnitExportFormat,
    lang: Language = Language.zh_cn,
) -> AsyncGenerator[bytes]:
    """The file's chunks, read on a session of their own."""
    async with transaction(sessionmaker) as db_session:
        records = rows(db_session, root_path, year, as_of, policy)
        async for chunk in encode(format, records, year, lang):
            yield chunk
