"""Rows are checked by hand-written code (a bulk path: pydantic per row would dominate), the
good ones created by `app.study_log.bulk.import_many` (a COPY and one INSERT ... ON CONFLICT
DO NOTHING). Ids are the client's, or derived from the row's natural key (cadre, kind,
dates, title) under the data key, so importing the same file twice creates nothing the second
time and nobody can compute another unit's ids to probe the counts."""

import csv
import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadre_repository
from app.clock import local_today
from app.enums import StudyLogKind, StudyLogStatus
from app.errors import BadRequest, ProblemFieldError, UnprocessableEntity, json_pointer
from app.i18n import N_, _
from app.imports.errors import TooManyRows, UnsupportedMediaType
from app.imports.schemas import MAX_ROWS
from app.personal_data import secret_box
from app.schema_types import (
    CODE_PATTERN,
    LINE_PATTERN,
    MAX_DATE,
    MIN_DATE,
    TEXT_PATTERN,
    UnstorableText,
    unstorable_text,
)
from app.study_log import bulk as study_logs
from app.study_log import repository as study_log_repository
from app.study_log import rules

NAMESPACE = uuid.UUID("6d1c3f64-2f5e-4f0b-9a71-2f3d8f0c1a77")
_CODE = re.compile(CODE_PATTERN)
FIELDS = (
    "id",
    "hr_id",
    "kind",
    "title",
    "provider",
    "start_date",
    "end_date",
    "hours",
    "days",
    "status",
    "note",
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # not the week dates fromisoformat takes
_DECIMAL = re.compile(r"^(?:0|[1-9][0-9]{0,4})(?:\.[0-9]{1,2})?$")
# The API's own rules for names and free text (app.schema_types), so that an imported log could
# have been written through POST /study-logs.
_LINE = re.compile(LINE_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)
_KINDS = {k.value: k for k in StudyLogKind}
_STATUSES = {StudyLogStatus.approved.value, StudyLogStatus.pending.value}


@dataclass
class RowProblem:
    row: int
    pointer: str
    detail: str
    code: str


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    created: int = 0
    already_imported: int = 0
    rejected: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    elapsed_seconds: float = 0.0


class IncompleteHeader(ValueError):
    pass


# The study_log columns of the tuples check_row returns, in their order (the cadre for its HR id).
CHECKED_COLUMNS = tuple("cadre_id" if name == "hr_id" else name for name in FIELDS)
REQUIRED_COLUMNS = frozenset({"hr_id", "kind", "title", "start_date", "end_date", "hours"})


# A CSV record (one line, or the lines of a quoted cell) is at most this long. The longest good
# row is about 10 KB (a 2,000-character note, two 200-character lines, UTF-8): a longer record
# is refused before it is split into cells, so a one-line file of millions of cells costs
# nothing.
MAX_RECORD_BYTES = 64 * 1024


class RecordTooLong(ValueError):
    pass


class _Lines:
    """The lines of a UTF-8 body, decoded one at a time (never the whole body as one string),
    each record (the lines csv.reader takes before it yields) bounded by MAX_RECORD_BYTES."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)
        self._first = True
        self.record_bytes = 0

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self._body.readline(MAX_RECORD_BYTES + 1 - self.record_bytes)
        if not line:
            raise StopIteration
        self.record_bytes += len(line)
        if self.record_bytes > MAX_RECORD_BYTES:
            raise RecordTooLong(
                _("a record is longer than {limit} bytes").format(limit=MAX_RECORD_BYTES)
            )
        if self._first:
            self._first = False
            line = line.removeprefix(b"\xef\xbb\xbf")
        return line.decode("utf-8")


def rows_from_csv(
    body: bytes, required: frozenset[str] = REQUIRED_COLUMNS
) -> tuple[list[dict[Any, Any]], list[int]]:
    """The rows of a CSV whose header names the required columns (else IncompleteHeader), and
    the file line each starts on (blank lines are skipped; a quoted cell may span lines). Read
    incrementally: more than MAX_ROWS rows is TooManyRows at the first row past the cap, and a
    record longer than MAX_RECORD_BYTES is RecordTooLong, before anything after it is read."""
    lines = _Lines(body)
    reader = csv.reader(lines)
    try:
        header = next(reader, [])
    except csv.Error:
        header = []
    missing = required - set(header)
    if missing:
        raise IncompleteHeader(
            _("the header row lacks the columns {columns}").format(columns=sorted(missing))
        )
    # csv.DictReader's semantics (short rows padded, extra cells under None, so that they are
    # reported as unknown fields) at a third of its cost.
    width = len(header)
    rows: list[dict[Any, Any]] = []
    starts: list[int] = []
    line = reader.line_num + 1
    lines.record_bytes = 0
    try:
        for cells in reader:
            lines.record_bytes = 0
            if len(cells) == width:
                rows.append(dict(zip(header, cells, strict=True)))
                starts.append(line)
            elif cells:
                padded: dict[Any, Any] = dict(zip(header, cells, strict=False))
                if len(cells) > width:
                    padded[None] = cells[width:]
                rows.append(padded)
                starts.append(line)
            if len(rows) > MAX_ROWS:
                raise TooManyRows()
            line = reader.line_num + 1
    except (csv.Error, RecordTooLong) as exc:  # the file is broken there: nothing after it counts
        where = line if isinstance(exc, RecordTooLong) else reader.line_num
        raise ValueError(_("line {line}: {error}").format(line=where, error=exc)) from exc
    return rows, starts


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def rows_from_json(body: bytes) -> list[Any]:
    """The items of `{"items": [...]}`, decoded one at a time: more than MAX_ROWS is
    TooManyRows at the first item past the cap, before the rest is decoded."""
    text = body.decode("utf-8-sig")
    shape = ValueError('expected {"items": [...]}')

    def skip(at: int) -> int:
        match = _JSON_SPACE.match(text, at)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def expect(at: int, char: str) -> int:
        at = skip(at)
        if text[at : at + 1] != char:
            raise shape
        return at + 1

    at = expect(0, "{")
    key, at = _DECODER.raw_decode(text, skip(at))
    if key != "items":
        raise shape
    at = expect(expect(at, ":"), "[")
    rows: list[Any] = []
    at = skip(at)
    if text[at : at + 1] == "]":
        at += 1
    else:
        while True:
            item, at = _DECODER.raw_decode(text, skip(at))
            rows.append(item)
            if len(rows) > MAX_ROWS:
                raise TooManyRows()
            at = skip(at)
            if text[at : at + 1] == "]":
                at += 1
                break
            at = expect(at, ",")
    if skip(expect(at, "}")) != len(text):
        raise shape
    return rows


# Where a body can hold a NUL or a lone surrogate at all: a JSON string only as an escape (the
# body is read as strict UTF-8, and JSON refuses raw control characters); a CSV cell as a NUL.
_JSON_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _unstorable(media: str, body: bytes, rows: list[Any], csv_lines: list[int] | None) -> None:
    """UnprocessableEntity for text no column can hold, anywhere in the rows (app.schema_types:
    a single body refuses it too). Only a body that may hold such text is searched."""
    if csv_lines is not None:
        if b"\x00" not in body:
            return
        found = [
            e for n, row in enumerate(rows) for e in unstorable_text(row, "rows", csv_lines[n])
        ]
    else:
        if _JSON_UNSTORABLE_ESCAPE.search(body) is None:
            return
        found = unstorable_text(rows, "body", "items")
    if found:
        raise UnstorableText(found)


_HEADER_TITLE = N_("The CSV's header row must name the study-log fields.")


def read_rows(
    media: str,
    body: bytes,
    required: frozenset[str] = REQUIRED_COLUMNS,
    header_title: str = _HEADER_TITLE,
) -> tuple[list[Any], list[int] | None]:
    """The rows of a request body of media type `media`, JSON (`{"items": [...]}`) or CSV, and
    for CSV the file line of each (else None); the body as a whole unreadable is 422, a JSON
    body nested too deeply for the parser 400 (app.limits refuses most before they get here),
    text no field takes (a NUL, a lone surrogate) anywhere 422 with a pointer to each.
    CPU-bound: the router runs it off the event loop. `required`: the columns a CSV header
    must name (`header_title` the problem's title when it does not): the study log's by
    default, another import's (app.online) otherwise."""
    csv_lines: list[int] | None = None
    try:
        if media == "text/csv":
            try:
                rows, csv_lines = rows_from_csv(body, required)
            except IncompleteHeader as exc:
                raise UnprocessableEntity(
                    header_title,
                    errors=[
                        ProblemFieldError(
                            pointer="/body", detail=str(exc), code="csv_header_incomplete"
                        )
                    ],
                ) from exc
        elif media == "application/json":
            rows = rows_from_json(body)
        else:
            raise UnsupportedMediaType()
    except RecursionError as exc:
        raise BadRequest(N_("The JSON body is nested too deeply.")) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnprocessableEntity(
            N_("The body could not be read."),
            errors=[ProblemFieldError(pointer="/body", detail=str(exc)[:200], code="unreadable")],
        ) from exc
    _unstorable(media, body, rows, csv_lines)
    return rows, csv_lines


INVALID_ROW = "invalid_row"


class RowError(ValueError):
    def __init__(self, field: str, detail: str, code: str = INVALID_ROW) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.code = code


def _line(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200 or not _LINE.fullmatch(value):
        raise ValueError(
            N_("one line of at most 200 characters, without control characters or outer spaces")
        )
    return value


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 2000 or not _TEXT.fullmatch(value):
        raise ValueError(N_("text of at most 2000 characters, without control characters"))
    return value


def _date(value: Any) -> date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(N_("a date as YYYY-MM-DD"))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(N_("a date as YYYY-MM-DD")) from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(_("a date between {low} and {high}").format(low=MIN_DATE, high=MAX_DATE))
    return day


def _decimal(value: Any) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise ValueError(N_('a decimal ≥ 0 with at most two places, e.g. "12.50"'))
    return Decimal(value)


_ZERO = Decimal(0)
_FIELD_SET = frozenset(FIELDS)
_UUID5_PREFIX = NAMESPACE.bytes


def _natural_id(natural: str) -> str:
    """The id of a row that names none: keyed by the data key (`SecretBox.natural_id`), so that
    nobody can compute another unit's ids and test, through the import's counts, whether a log
    exists."""
    return secret_box().natural_id(natural)


def legacy_natural_id(natural: str) -> str:
    """uuid.uuid5(NAMESPACE, natural), the id rows imported before keyed ids were given: a row
    imported then and sent again must still create nothing. As the text asyncpg's COPY takes
    (without building a UUID object: this runs once a row)."""
    digest = bytearray(
        hashlib.sha1(_UUID5_PREFIX + natural.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def check_row(raw: Any, cadres: dict[str, uuid.UUID], today: date | None = None) -> tuple[Any, ...]:
    """One row to the tuple COPY takes, or RowError naming the field ("" for the row). `today`
    (by default `local_today()`) bounds the end date (docs/rules.md rule 10), as for POST."""
    if not isinstance(raw, dict):
        raise RowError("", N_("each row is an object"))
    if not raw.keys() <= _FIELD_SET:
        if None in raw:  # a CSV line with more cells than the header
            raise RowError("", N_("more cells than the header row names"))
        raise RowError(
            sorted(k for k in raw if k not in _FIELD_SET)[0], N_("not a field of a study log")
        )
    field = "hr_id"
    try:
        hr_id = raw.get("hr_id")
        cadre_id = cadres.get(hr_id) if isinstance(hr_id, str) else None
        if cadre_id is None:
            raise ValueError(N_("no such cadre"))
        field = "kind"
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in _KINDS:
            raise ValueError(N_("not a study-log kind"))
        field = "title"
        title = _line(raw.get("title"))
        if not title:
            raise ValueError(N_("required"))
        field = "provider"
        provider = _line(raw.get("provider"))
        field = "note"
        note = _text(raw.get("note"))
        field = "start_date"
        start = _date(raw.get("start_date"))
        field = "end_date"
        end = _date(raw.get("end_date"))
        if end < start:
            raise ValueError(N_("before start_date"))
        rules.check_not_in_future(end, local_today() if today is None else today)
        field = "hours"
        hours = _decimal(raw.get("hours"))
        field = "days"
        days_value = raw.get("days")
        days = _ZERO if days_value is None or days_value == "" else _decimal(days_value)
        calendar_days = (end - start).days + 1
        if days > calendar_days:
            raise ValueError(N_("more than the calendar days"))
        field = "hours"
        if hours > 24 * calendar_days:
            raise ValueError(N_("more than 24 a calendar day"))
        field = "status"
        status = raw.get("status")
        if status is None or status == "":
            status = "approved"
        if not isinstance(status, str) or status not in _STATUSES:
            raise ValueError(N_("approved or pending"))
        field = "id"
        client_id = raw.get("id")
        if client_id is not None and client_id != "":
            try:
                log_id: uuid.UUID | str = uuid.UUID(str(client_id))
            except ValueError:
                raise ValueError(N_("not a UUID")) from None
        else:
            log_id = _natural_id(f"{cadre_id}|{kind}|{start}|{end}|{title}")
    except rules.EndsInFuture as exc:
        raise RowError(field, str(exc), exc.code) from None
    except (ValueError, TypeError) as exc:
        raise RowError(field, str(exc)) from None
    return (log_id, cadre_id, kind, title, provider, start, end, hours, days, status, note)


async def _not_imported_before(
    db_session: AsyncSession, good: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """The rows without a log under their legacy id (uuid5 of the natural key: what the import
    gave before ids were keyed). Only rows whose id is derived have one; their cadres are the
    caller's own, so this tells nothing of other units."""
    legacy: dict[str, tuple[Any, ...]] = {}
    for row in good:
        log_id, cadre_id, kind, title, _provider, start, end = row[:7]
        natural = f"{cadre_id}|{kind}|{start}|{end}|{title}"
        if isinstance(log_id, str) and log_id == _natural_id(natural):
            legacy[legacy_natural_id(natural)] = row
    if not legacy:
        return good
    taken = await study_log_repository.existing_ids(db_session, list(legacy))
    dropped = {id(legacy[str(log_id).replace("-", "")]) for log_id in taken}
    return [row for row in good if id(row) not in dropped]


async def import_study_logs(
    db_session: AsyncSession,
    rows: Iterable[Any],
    actor: Actor,
    *,
    dry_run: bool,
    csv_lines: list[int] | None = None,
) -> ImportResult:
    """`csv_lines`: the file line of each row, for CSV (pointers `/rows/LINE/field`); JSON rows
    are pointed at as `/body/items/N/field`."""
    started = datetime.now(UTC)
    rows = list(rows)
    result = ImportResult(dry_run=dry_run, rows=len(rows))
    # Only well-formed HR ids reach the database (a NUL or a lone surrogate cannot be sent to
    # it); the row check reports the others.
    hr_ids = {
        r["hr_id"]
        for r in rows
        if isinstance(r, dict) and isinstance(r.get("hr_id"), str) and _CODE.match(r["hr_id"])
    }
    cadres = await cadre_repository.readable_ids_by_hr_id(db_session, hr_ids, actor)
    good: list[tuple[Any, ...]] = []
    today = local_today()
    for n, raw in enumerate(rows):
        try:
            good.append(check_row(raw, cadres, today))
        except RowError as exc:
            where = ("rows", csv_lines[n]) if csv_lines is not None else ("body", "items", n)
            result.problems.append(
                RowProblem(
                    row=n,
                    pointer=json_pointer((*where, exc.field) if exc.field else where),
                    detail=_(exc.detail),
                    code=exc.code,
                )
            )
    result.rejected = len(result.problems)
    if good:
        # A dry run loads inside a savepoint and rolls only that back: the request's own
        # transaction (app.db) stays the one boundary.
        savepoint = await db_session.begin_nested() if dry_run else None
        fresh = await _not_imported_before(db_session, good)
        created = await study_logs.import_many(db_session, CHECKED_COLUMNS, fresh)
        result.created = len(created)
        result.already_imported = len(good) - len(created)
        if savepoint is not None:
            await savepoint.rollback()
    result.elapsed_seconds = (datetime.now(UTC) - started).total_seconds()
    return result
