"""Online academies (docs/rules.md, "Online academies"): platforms are managed by admins;
learner accounts are matched to cadres; a platform's records become `online_course` study logs.

The import is a pipeline of named steps: read the platform, parse the rows (`rules.parse_row`),
match learners (`_match`), convert (`_convert`), flag (`plausibility.flag_all`, once a batch),
write (`_write`: learned accounts, the logs through `app.study_log.bulk`, the records through
`app.online.bulk`, each one COPY and one INSERT ... ON CONFLICT DO NOTHING)."""

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadre_repository
from app.cadre.lookups import IdNumberLookups
from app.clock import local_today
from app.copy import jsonb
from app.db import flush_mapping_conflicts
from app.enums import Role, StudyLogKind, StudyLogStatus
from app.errors import ProblemFieldError, json_pointer
from app.i18n import N_, _
from app.ids import new_id
from app.imports.service import ImportResult, RowProblem
from app.online import bulk, checks, plausibility, repository, rules
from app.online.errors import (
    LearnerMatchedByIdNumber,
    NotLearnerManager,
    PlatformCodeTaken,
    PlatformInactive,
    PlatformNotFound,
    ReferencedCadreNotFound,
)
from app.online.models import OnlineLearner, OnlinePlatform
from app.online.plausibility import Converted, Flag
from app.online.schemas import Conversion, OnlinePlatformCreate, OnlinePlatformUpdate
from app.pagination import PageParams, paginate
from app.personal_data import secret_box
from app.study_log import bulk as study_logs
from app.study_log.rules import EndsInFuture, check_not_in_future

_CODE_UNIQUE = "uq_online_platform_code"


# --- platforms --------------------------------------------------------------------------------


def _stored(conversion: Conversion) -> dict[str, Any]:
    """The JSON kept in `online_platform.conversion`: decimals as exact strings."""
    return {
        "bands": [{"min_minutes": b.min_minutes, "hours": str(b.hours)} for b in conversion.bands],
        "test_bonus_hours": str(conversion.test_bonus_hours),
    }


async def get_platform(
    db_session: AsyncSession, platform_id: uuid.UUID, *, for_update: bool = False
) -> OnlinePlatform:
    platform = await repository.get_platform(db_session, platform_id, for_update=for_update)
    if platform is None:
        raise PlatformNotFound()
    return platform


async def list_platforms(
    db_session: AsyncSession, page: PageParams, *, active: bool | None
) -> tuple[list[OnlinePlatform], str | None]:
    return await paginate(db_session, repository.platforms(active=active), OnlinePlatform.id, page)


async def create_platform(db_session: AsyncSession, data: OnlinePlatformCreate) -> OnlinePlatform:
    platform = OnlinePlatform(
        code=data.code, name=data.name, conversion=_stored(data.conversion), active=True
    )
    db_session.add(platform)
    await flush_mapping_conflicts(db_session, {_CODE_UNIQUE: PlatformCodeTaken()})
    return platform


async def update_platform(
    db_session: AsyncSession, platform: OnlinePlatform, data: OnlinePlatformUpdate
) -> OnlinePlatform:
    if data.name is not None:
        platform.name = data.name
    if data.conversion is not None:
        platform.conversion = _stored(data.conversion)
    if data.active is not None:
        platform.active = data.active
    await db_session.flush()
    await db_session.refresh(platform)
    return platform


# --- learners ---------------------------------------------------------------------------------


async def put_learner(
    db_session: AsyncSession,
    platform_id: uuid.UUID,
    learner_id: str,
    cadre_id: uuid.UUID,
    actor: Actor,
) -> OnlineLearner:
    """Match a platform's account to a cadre the actor may see (an org_admin: of its subtree);
    an account matched to a cadre the actor may not see stays as it is (403), and an org_admin
    may not re-point an account an ID number matched (409). `matched_by` records who did it."""
    await get_platform(db_session, platform_id)
    if not await cadre_repository.in_scope(db_session, [cadre_id], actor):
        raise ReferencedCadreNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/cadre_id", detail=N_("no such cadre"), code="not_found"
                )
            ]
        )
    matched_by = "admin" if actor.role is Role.admin else "org_admin"
    learner = await repository.get_learner(db_session, platform_id, learner_id, for_update=True)
    if learner is None:
        learner = OnlineLearner(
            platform_id=platform_id,
            learner_id=learner_id,
            cadre_id=cadre_id,
            matched_by=matched_by,
        )
        db_session.add(learner)
    elif learner.cadre_id != cadre_id:
        if not await cadre_repository.in_scope(db_session, [learner.cadre_id], actor):
            raise NotLearnerManager()
        if learner.matched_by == "id_number" and matched_by != "admin":
            raise LearnerMatchedByIdNumber()
        learner.cadre_id = cadre_id
        learner.matched_by = matched_by
    await db_session.flush()
    await db_session.refresh(learner)
    return learner


# --- the import -------------------------------------------------------------------------------


@dataclass
class OnlineImportResult(ImportResult):
    flagged: int = 0
    notices: list[RowProblem] = field(default_factory=list)


@dataclass
class _Batch:
    """The rows on their way: problems by row, good rows parsed, matched and converted."""

    result: OnlineImportResult
    csv_lines: list[int] | None
    parsed: dict[int, rules.ParsedRow] = field(default_factory=dict)
    cadres: dict[int, uuid.UUID] = field(default_factory=dict)
    learned: dict[str, uuid.UUID] = field(default_factory=dict)
    converted: list[Converted] = field(default_factory=list)

    def _problem(self, n: int, error: rules.RowError) -> RowProblem:
        where = ("rows", self.csv_lines[n]) if self.csv_lines is not None else ("body", "items", n)
        return RowProblem(
            row=n,
            pointer=json_pointer((*where, error.field) if error.field else where),
            detail=_(error.detail),
            code=error.code,
        )

    def reject(self, n: int, error: rules.RowError) -> None:
        self.result.problems.append(self._problem(n, error))
        self.parsed.pop(n, None)

    def notice(self, n: int, note: rules.RowError) -> None:
        """Something to say about a row that is imported all the same."""
        self.result.notices.append(self._problem(n, note))


def _log_id(platform_id: uuid.UUID, external_id: str) -> str:
    """A record's log id, derived from the record's key under the data key: importing the same
    record again creates nothing, and nobody can compute another unit's log ids."""
    return secret_box().natural_id(f"online|{platform_id}|{external_id}")


async def _platform_for_import(db_session: AsyncSession, code: str) -> OnlinePlatform:
    platform = await repository.platform_by_code(db_session, code)
    if platform is None:
        raise PlatformNotFound()
    if not platform.active:
        raise PlatformInactive()
    return platform


def _parse(batch: _Batch, rows: list[Any]) -> None:
    seen: set[str] = set()
    for n, raw in enumerate(rows):
        try:
            row = rules.parse_row(raw)
            if row.external_id in seen:
                raise rules.RowError(
                    "external_id", N_("the same record twice in one import"), "duplicate_record"
                )
        except rules.RowError as exc:
            batch.reject(n, exc)
            continue
        seen.add(row.external_id)
        batch.parsed[n] = row


async def _match(
    db_session: AsyncSession,
    batch: _Batch,
    platform: OnlinePlatform,
    actor: Actor,
    lookups: IdNumberLookups,
) -> None:
    """Each row's cadre: the account's, if the platform knows it and the actor may see its
    cadre; else the ID number's (admin and hr_system only, one lookup a request), which
    teaches the platform the account."""
    rows = batch.parsed
    known = await repository.learners(
        db_session, platform.id, {r.learner_id for r in rows.values()}
    )
    visible = await cadre_repository.in_scope(
        db_session, {cadre_id for cadre_id, _by in known.values()}, actor
    )
    numbers = {r.id_number for r in rows.values() if r.id_number is not None}
    by_number: dict[str, uuid.UUID] = {}
    if numbers and actor.sees_id_numbers:
        lookups.search(actor)
        by_number = await cadre_repository.readable_ids_by_id_number(db_session, numbers, actor)
    for n, row in list(rows.items()):
        try:
            batch.cadres[n], rematched = _cadre_of(
                row, known, visible, by_number, batch.learned, actor
            )
        except rules.RowError as exc:
            batch.reject(n, exc)
            continue
        if rematched:
            batch.notice(
                n,
                rules.RowError(
                    "id_number",
                    N_(
                        "the account was matched to another cadre by an org admin: "
                        "its ID number matches it to this cadre now"
                    ),
                    "learner_rematched",
                ),
            )


def _cadre_of(
    row: rules.ParsedRow,
    known: dict[str, tuple[uuid.UUID, str]],
    visible: set[uuid.UUID],
    by_number: dict[str, uuid.UUID],
    learned: dict[str, uuid.UUID],
    actor: Actor,
) -> tuple[uuid.UUID, bool]:
    """The row's cadre, and whether its ID number re-pointed an org_admin's mapping of the
    account to another cadre (`learner_rematched`)."""
    # An account learned in this request was matched by the actor's own lookup, and overrides
    # an org_admin's mapping of it.
    stored, matched_by = known.get(row.learner_id, (None, None))
    account = learned.get(row.learner_id) or stored
    if row.id_number is None:
        if account is None or (account not in visible and row.learner_id not in learned):
            raise rules.RowError(
                "learner_id", N_("no cadre of yours is matched to this account"), "unknown_learner"
            )
        return account, False
    if not actor.sees_id_numbers:
        raise rules.RowError(
            "id_number",
            N_("only admin and hr_system match learners by ID number"),
            "id_number_forbidden",
        )
    cadre_id = by_number.get(row.id_number)
    if cadre_id is None:
        raise rules.RowError("id_number", N_("no such cadre"), "unknown_cadre")
    if account is not None and account != cadre_id:
        if row.learner_id in learned or matched_by != "org_admin":
            raise rules.RowError(
                "id_number",
                N_("the account is matched to another cadre"),
                "learner_mismatch",
            )
        # An ID number overrides an org_admin's mapping (`learner_rematched`).
        learned[row.learner_id] = cadre_id
        return cadre_id, True
    if account is None or (row.learner_id not in learned and matched_by == "org_admin"):
        # Learned, or an org_admin's mapping confirmed by the ID number: it is an ID-number
        # match from now on.
        learned[row.learner_id] = cadre_id
    return cadre_id, False


def _convert(batch: _Batch, platform: OnlinePlatform, today: date) -> None:
    table = rules.ConversionTable.of(platform.conversion)
    for n, row in list(batch.parsed.items()):
        minutes = rules.credited_minutes(row.minutes, row.course_minutes)
        hours = rules.convert(table, minutes, test_passed=row.test_passed)
        try:
            # Below the lowest band earns nothing, whatever the test (docs/rules.md).
            if rules.band_hours(table, minutes) <= 0:
                raise rules.RowError(
                    "minutes", N_("too short for the platform's conversion"), "earns_nothing"
                )
            try:
                check_not_in_future(row.end_date, today)
            except EndsInFuture as exc:
                raise rules.RowError(row.end_field, str(exc), exc.code) from None
        except rules.RowError as exc:
            batch.reject(n, exc)
            continue
        batch.converted.append(
            Converted(
                row=n,
                external_id=row.external_id,
                cadre_id=batch.cadres[n],
                learner_id=row.learner_id,
                course_code=row.course_code,
                course_title=row.course_title,
                course_minutes=row.course_minutes,
                minutes=row.minutes,
                completed=True,
                test_passed=row.test_passed,
                started_at=row.started_at,
                ended_at=row.ended_at,
                ip=row.ip,
                device=row.device,
                hours=hours,
                start_date=row.start_date,
                end_date=row.end_date,
            )
        )


# The study_log columns of the tuples `_write` gives app.study_log.bulk.
LOG_COLUMNS = (
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
    "review_comment",
)


async def _write(
    db_session: AsyncSession,
    platform: OnlinePlatform,
    fresh: list[Converted],
    flags: dict[int, list[Flag]],
) -> int:
    """The logs and their records; returns how many records were created."""
    logs: list[tuple[Any, ...]] = []
    records: list[tuple[Any, ...]] = []
    for k, item in enumerate(fresh):
        found = flags.get(k, [])
        log_id = _log_id(platform.id, item.external_id)
        status = StudyLogStatus.pending if found else StudyLogStatus.approved
        logs.append(
            (
                log_id,
                item.cadre_id,
                StudyLogKind.online_course.value,
                item.course_title,
                platform.name,
                item.start_date,
                item.end_date,
                item.hours,
                0,
                status.value,
                None,
                plausibility.describe(found)[:2000] if found else None,
            )
        )
        records.append(
            (
                new_id(),
                platform.id,
                item.external_id,
                item.cadre_id,
                item.learner_id,
                item.course_code,
                item.course_title,
                item.course_minutes,
                item.minutes,
                item.completed,
                item.test_passed,
                item.started_at,
                item.ended_at,
                item.ip,
                item.device,
                item.hours,
                log_id,
                jsonb([f.as_json() for f in found]),
            )
        )
    created_logs = {
        str(i).replace("-", "") for i in await study_logs.import_many(db_session, LOG_COLUMNS, logs)
    }
    # A log that existed already (a concurrent import of the same record) keeps its record.
    return await bulk.insert_records(
        db_session, [r for r in records if r[16].replace("-", "") in created_logs]
    )


def _flag_key(flag: dict[str, Any]) -> tuple[Any, ...]:
    """What one flag is about: the same rule on the same day (and source) is one finding, whose
    evidence may have grown since."""
    evidence = flag.get("evidence") or {}
    return (
        flag.get("rule"),
        evidence.get("day"),
        evidence.get("source_kind"),
        evidence.get("source"),
    )


async def _flag_stored(
    db_session: AsyncSession, found: dict[uuid.UUID, list[Flag]], actor: Actor
) -> None:
    """The stored records of a group this batch pushed over a threshold (docs/rules.md
    "Plausibility flags"): their new flags are added to `online_record.flags`, and their logs,
    if still approved as the import wrote them, are put back to `pending` with the reasons
    through the study-log domain (`app.study_log.bulk.hold_for_review`). Only the records of
    cadres the importer may see: an org_admin's import counts another unit's records as
    evidence but does not hold that unit's logs (its own import, or an admin's, does)."""
    if not found:
        return
    stored = await repository.stored_flags_in_scope(db_session, found, actor)
    new_flags: dict[uuid.UUID, str] = {}
    reasons: dict[uuid.UUID, str] = {}
    for record_id, flags in found.items():
        if record_id not in stored:
            continue
        log_id, kept = stored[record_id]
        known = {_flag_key(f) for f in kept}
        added = [f for f in flags if _flag_key(f.as_json()) not in known]
        if not added:
            continue
        new_flags[record_id] = jsonb([*kept, *(f.as_json() for f in added)])
        reasons[log_id] = plausibility.describe(added)
    await bulk.set_flags(db_session, new_flags)
    await study_logs.hold_for_review(db_session, reasons)


async def import_online_records(
    db_session: AsyncSession,
    platform_code: str,
    rows: Iterable[Any],
    actor: Actor,
    lookups: IdNumberLookups,
    *,
    dry_run: bool,
    csv_lines: list[int] | None = None,
) -> OnlineImportResult:
    """`csv_lines`: the file line of each row, for CSV (pointers `/rows/LINE/field`); JSON rows
    are pointed at as `/body/items/N/field`."""
    started = datetime.now(UTC)
    platform = await _platform_for_import(db_session, platform_code)
    rows = list(rows)
    batch = _Batch(OnlineImportResult(dry_run=dry_run, rows=len(rows)), csv_lines)
    _parse(batch, rows)
    await _match(db_session, batch, platform, actor, lookups)
    _convert(batch, platform, local_today())
    result = batch.result
    result.problems.sort(key=lambda p: p.row)
    result.rejected = len(result.problems)
    savepoint = await db_session.begin_nested() if dry_run else None
    await repository.learn(db_session, platform.id, batch.learned)
    if batch.converted:
        before = await repository.imported_external_ids(
            db_session, platform.id, [c.external_id for c in batch.converted]
        )
        fresh = [c for c in batch.converted if c.external_id not in before]
        context = await checks.plausibility_context(db_session, platform.id, fresh)
        # CPU-bound pure Python: off the event loop, so one import never stalls other requests.
        flags, stored = await asyncio.to_thread(plausibility.flag_all, fresh, context)
        result.created = await _write(db_session, platform, fresh, flags)
        await _flag_stored(db_session, stored, actor)
        result.already_imported = len(batch.converted) - result.created
        result.flagged = sum(1 for k in range(len(fresh)) if flags.get(k))
    if savepoint is not None:
        await savepoint.rollback()
    result.elapsed_seconds = (datetime.now(UTC) - started).total_seconds()
    return result
