"""Rows are checked by hand-written code (a bulk path: pydantic per row would dominate), the
good ones copied into a temporary table and moved into `study_log` with one INSERT ... ON
CONFLICT DO NOTHING. Ids are the client's, or derived from the row's natural key (cadre, kind,
dates, title), so importing the same file twice creates nothing the second time."""

import csv
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import scope
from app.cadre.models import Cadre
from app.copy import copy_rows
from app.enums import StudyLogKind, StudyLogStatus
from app.schema_types import MAX_DATE, MIN_DATE
from app.security import Actor

MAX_ROWS = 50_000
NAMESPACE = uuid.UUID("6d1c3f64-2f5e-4f0b-9a71-2f3d8f0c1a77")
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
_DECIMAL = re.compile(r"^(?:0|[1-9][0-9]{0,4})(?:\.[0-9]{1,2})?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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


REQUIRED_COLUMNS = frozenset({"hr_id", "kind", "title", "start_date", "end_date", "hours"})


def rows_from_csv(body: bytes) -> list[dict[str, str]]:
    """The rows of a CSV whose header names the required columns (else ValueError)."""
    reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
    try:
        header = set(reader.fieldnames or ())
    except csv.Error:
        header = set()
    missing = REQUIRED_COLUMNS - header
    if missing:
        raise IncompleteHeader(f"the header row lacks the columns {sorted(missing)}")
    return list(reader)


def _text(value: Any, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit or _CONTROL.search(value):
        raise ValueError(f"text of at most {limit} characters, without control characters")
    return value


def _date(value: Any) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("a date as YYYY-MM-DD")
    day = date.fromisoformat(value)
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"a date between {MIN_DATE} and {MAX_DATE}")
    return day


def _decimal(value: Any, default: Decimal | None = None) -> Decimal:
    if (value is None or value == "") and default is not None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise ValueError('a decimal ≥ 0 with at most two places, e.g. "12.50"')
    return Decimal(value)


def _check(raw: Any, cadres: dict[str, uuid.UUID]) -> tuple[Any, ...]:
    """One row to the tuple COPY takes, or ValueError naming the field: 'field: message'."""
    if not isinstance(raw, dict):
        raise ValueError(": each row is an object")
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: not a field of a study log")

    def get(name: str, convert: Any, *args: Any) -> Any:
        try:
            return convert(raw.get(name), *args)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}: {exc}") from None

    hr_id = raw.get("hr_id")
    cadre_id = cadres.get(hr_id) if isinstance(hr_id, str) else None
    if cadre_id is None:
        raise ValueError("hr_id: no such cadre")
    kind_value = raw.get("kind")
    kind = _KINDS.get(kind_value) if isinstance(kind_value, str) else None
    if kind is None:
        raise ValueError("kind: not a study-log kind")
    title = get("title", _text, 200)
    if not title:
        raise ValueError("title: required")
    provider = get("provider", _text, 200)
    note = get("note", _text, 2000)
    start, end = get("start_date", _date), get("end_date", _date)
    if end < start:
        raise ValueError("end_date: before start_date")
    hours = get("hours", _decimal)
    days = get("days", _decimal, Decimal(0))
    calendar_days = (end - start).days + 1
    if days > calendar_days:
        raise ValueError("days: more than the calendar days")
    if hours > 24 * calendar_days:
        raise ValueError("hours: more than 24 a calendar day")
    status = raw.get("status") or StudyLogStatus.approved.value
    if not isinstance(status, str) or status not in _STATUSES:
        raise ValueError("status: approved or pending")
    client_id = raw.get("id")
    if client_id:
        try:
            log_id = uuid.UUID(str(client_id))
        except ValueError:
            raise ValueError("id: not a UUID") from None
    else:
        natural = f"{cadre_id}|{kind.value}|{start}|{end}|{title}"
        log_id = uuid.uuid5(NAMESPACE, natural)
    return (log_id, cadre_id, kind.value, title, provider, start, end, hours, days, status, note)


async def import_study_logs(
    db_session: AsyncSession, rows: Iterable[Any], actor: Actor, *, dry_run: bool, csv_rows: bool
) -> ImportResult:
    started = datetime.now(UTC)
    rows = list(rows)
    result = ImportResult(dry_run=dry_run, rows=len(rows))
    hr_ids = {
        r.get("hr_id") for r in rows if isinstance(r, dict) and isinstance(r.get("hr_id"), str)
    }
    cadres = {
        row[0]: row[1]
        for row in await db_session.execute(
            select(Cadre.hr_id, Cadre.id).where(Cadre.hr_id.in_(hr_ids), scope.cadres(actor))
        )
    }
    good: list[tuple[Any, ...]] = []
    for n, raw in enumerate(rows):
        try:
            good.append(_check(raw, cadres))
        except (ValueError, TypeError) as exc:
            name, _, detail = str(exc).partition(": ")
            where = f"/rows/{n + 2}" if csv_rows else f"/body/items/{n}"  # CSV: file line
            result.problems.append(
                RowProblem(
                    row=n,
                    pointer=f"{where}/{name}" if name else where,
                    detail=detail or str(exc),
                    code="invalid_row",
                )
            )
    result.rejected = len(result.problems)
    if good:
        # A dry run loads inside a savepoint and rolls only that back: the request's own
        # transaction (app.db) stays the one boundary.
        savepoint = await db_session.begin_nested() if dry_run else None
        created = await _load(db_session, good, actor)
        result.created = len(created)
        result.already_imported = len(good) - len(created)
        if savepoint is not None:
            await savepoint.rollback()
    result.elapsed_seconds = (datetime.now(UTC) - started).total_seconds()
    return result


async def _load(
    db_session: AsyncSession, good: list[tuple[Any, ...]], actor: Actor
) -> list[uuid.UUID]:
    await db_session.execute(
        text(
            "CREATE TEMP TABLE import_study_log (LIKE study_log INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    )
    now = datetime.now(UTC)
    await copy_rows(
        db_session,
        "import_study_log",
        (
            "id",
            "cadre_id",
            "kind",
            "title",
            "provider",
            "start_date",
            "end_date",
            "hours",
            "days",
            "status",
            "note",
            "source",
            "version",
            "reviewed_at",
        ),
        [(*row, "import", 1, now if row[9] == "approved" else None) for row in good],
    )
    actor_role = actor.role.value
    # One statement moves the rows and writes their audit rows and change events (a UUIDv7 made
    # in SQL keeps the audit trail's ids in time order).
    created = list(
        await db_session.scalars(
            text(
                """
                WITH ins AS (
                    INSERT INTO study_log SELECT * FROM import_study_log
                    ON CONFLICT (id) DO NOTHING RETURNING id
                ), audited AS (
                    INSERT INTO audit_event (id, actor_id, actor_username, actor_role,
                                             request_id, action, entity_type, entity_id, changes)
                    SELECT CAST(lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)
                                    ::bigint), 12, '0')
                                || '7' || substr(md5(random()::text || ins.id::text), 1, 3)
                                || '8' || substr(md5(random()::text || ins.id::text), 4, 15)
                                AS uuid),
                           :actor_id, :username, :role, :request_id, 'create', 'study_log',
                           ins.id, '{"source": "import"}'::jsonb
                    FROM ins
                ), fed AS (
                    INSERT INTO change_event (action, entity_type, entity_id, changes,
                                              request_id)
                    SELECT 'create', 'study_log', ins.id, '{"source": "import"}'::jsonb,
                           :request_id
                    FROM ins
                )
                SELECT id FROM ins
                """
            ),
            {
                "actor_id": actor.user_id,
                "username": actor.username,
                "role": actor_role,
                "request_id": db_session.info.get("request_id"),
            },
        )
    )
    # Dropped now, not only at commit: one transaction may import several times.
    await db_session.execute(text("DROP TABLE import_study_log"))
    return created
