"""Every query of the online academies (docs/rules.md, "Online academies"). Platforms are read
by every role allowed the operation (they are the province's, not a unit's); learners and
records are reached through their cadres, whose scope the cadre repository states."""

import uuid
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    RowMapping,
    Select,
    String,
    and_,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.attendance.models import Attendance
from app.cadre import repository as cadre_repository
from app.cadre.models import Cadre
from app.clock import LOCAL_TZ
from app.db import any_of
from app.enrollment.models import Enrollment
from app.enums import (
    AttendanceMark,
    EnrollmentStatus,
    SessionStatus,
    StudyLogKind,
    StudyLogStatus,
)
from app.ids import new_id
from app.online.models import OnlineLearner, OnlinePlatform, OnlineRecord
from app.online.plausibility import ClassWindow, Watch
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree
from app.study_log.models import StudyLog
from app.training_session.models import SessionPart, TrainingSession


async def get_platform(
    db_session: AsyncSession, platform_id: uuid.UUID, *, for_update: bool = False
) -> OnlinePlatform | None:
    stmt = select(OnlinePlatform).where(OnlinePlatform.id == platform_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def platform_by_code(db_session: AsyncSession, code: str) -> OnlinePlatform | None:
    stmt = select(OnlinePlatform).where(OnlinePlatform.code == code)
    return (await db_session.scalars(stmt)).one_or_none()


def platforms(*, active: bool | None) -> Select[OnlinePlatform]:
    stmt = select(OnlinePlatform)
    if active is not None:
        stmt = stmt.where(OnlinePlatform.active.is_(active))
    return stmt


async def get_learner(
    db_session: AsyncSession, platform_id: uuid.UUID, learner_id: str, *, for_update: bool = False
) -> OnlineLearner | None:
    stmt = select(OnlineLearner).where(
        OnlineLearner.platform_id == platform_id, OnlineLearner.learner_id == learner_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def learners(
    db_session: AsyncSession, platform_id: uuid.UUID, learner_ids: Collection[str]
) -> dict[str, tuple[uuid.UUID, str]]:
    """The cadre of each of these accounts the platform knows, and who matched it
    (`matched_by`); scope is the caller's: the cadres are checked visible afterwards."""
    stmt = select(OnlineLearner.learner_id, OnlineLearner.cadre_id, OnlineLearner.matched_by).where(
        OnlineLearner.platform_id == platform_id,
        any_of(OnlineLearner.learner_id, list(learner_ids)),
    )
    return {
        row.learner_id: (row.cadre_id, row.matched_by) for row in await db_session.execute(stmt)
    }


async def learn(
    db_session: AsyncSession, platform_id: uuid.UUID, matched: dict[str, uuid.UUID]
) -> None:
    """Record accounts matched by ID number (`matched_by` `id_number`). An account an org_admin
    matched is re-pointed (an ID-number match overrides it); one matched by ID number or by an
    admin is left alone (a concurrent import matched it too)."""
    if not matched:
        return
    # Arrays, not one parameter a value: an import may teach tens of thousands of accounts.
    await db_session.execute(
        text(
            "INSERT INTO online_learner "
            "(id, version, platform_id, learner_id, cadre_id, matched_by) "
            "SELECT i, 1, :platform_id, l, c, 'id_number' FROM unnest(CAST(:ids AS uuid[]), "
            "CAST(:learner_ids AS varchar[]), CAST(:cadre_ids AS uuid[])) AS t(i, l, c) "
            "ON CONFLICT (platform_id, learner_id) DO UPDATE SET cadre_id = EXCLUDED.cadre_id, "
            "matched_by = 'id_number', version = online_learner.version + 1, updated_at = now() "
            "WHERE online_learner.matched_by = 'org_admin'"
        ),
        {
            "platform_id": platform_id,
            "ids": [new_id() for _ in matched],
            "learner_ids": list(matched),
            "cadre_ids": list(matched.values()),
        },
    )


async def imported_external_ids(
    db_session: AsyncSession, platform_id: uuid.UUID, external_ids: Collection[str]
) -> set[str]:
    """Those of the platform's record ids imported before."""
    stmt = select(OnlineRecord.external_id).where(
        OnlineRecord.platform_id == platform_id,
        any_of(OnlineRecord.external_id, list(external_ids)),
    )
    return set((await db_session.scalars(stmt)).all())


# --- the plausibility checks' context (docs/rules.md "Plausibility flags") --------------------

ATTENDING = (EnrollmentStatus.enrolled, EnrollmentStatus.confirmed, EnrollmentStatus.completed)
"""The enrollments whose cadre attends (or attended) the class."""
MISSED = (AttendanceMark.absent, AttendanceMark.on_leave)
"""A part the cadre was marked absent or on leave for is not a part it attended."""


async def stored_watches(
    db_session: AsyncSession,
    first: date,
    last: date,
    cadre_ids: Collection[uuid.UUID],
    ips: Collection[str],
    devices: Collection[str],
) -> list[Watch]:
    """Stored online records dated `first - 1` to `last` (the day before: a record may run past
    midnight) of these cadres, or from these IP addresses or devices; voided logs' records do not
    count. One statement, through the (kind, start_date) index of study_log."""
    ip = func.host(OnlineRecord.ip, type_=String)
    source = [any_of(OnlineRecord.cadre_id, list(cadre_ids))]
    if ips:
        source.append(any_of(ip, list(ips)))
    if devices:
        source.append(any_of(OnlineRecord.device, list(devices)))
    stmt = (
        select(
            OnlineRecord.id,
            OnlineRecord.cadre_id,
            OnlineRecord.minutes,
            OnlineRecord.started_at,
            OnlineRecord.ended_at,
            ip.label("ip"),
            OnlineRecord.device,
            StudyLog.start_date,
        )
        .join(StudyLog, StudyLog.id == OnlineRecord.study_log_id)
        .where(
            StudyLog.kind == StudyLogKind.online_course,
            StudyLog.start_date.between(first - timedelta(days=1), last),
            StudyLog.status != StudyLogStatus.voided,
            or_(*source),
        )
    )
    rows = await db_session.execute(stmt)
    return [
        Watch(
            key=row.id,
            cadre_id=row.cadre_id,
            day=row.start_date,
            minutes=row.minutes,
            started_at=row.started_at,
            ended_at=row.ended_at,
            ip=row.ip,
            device=row.device,
        )
        for row in rows
    ]


def _at(day: date, clock: time = time(0)) -> datetime:
    return datetime.combine(day, clock, LOCAL_TZ)


async def class_windows(
    db_session: AsyncSession,
    first: date,
    last: date,
    cadre_ids: Collection[uuid.UUID],
    centralised_kinds: Collection[StudyLogKind],
) -> list[ClassWindow]:
    """The centralised classes (脱产) these cadres attend or attended between `first` and
    `last`: the windows of the parts they did not miss where the class has parts, else its
    whole days; and the whole days of centralised logs no session issued (a class outside the
    service). Three statements."""
    attending = and_(
        Enrollment.training_session_id == TrainingSession.id,
        any_of(Enrollment.cadre_id, list(cadre_ids)),
        any_of(Enrollment.status, list(ATTENDING)),
    )
    in_range = and_(
        TrainingSession.centralised.is_(True),
        TrainingSession.status != SessionStatus.cancelled,
        TrainingSession.start_date <= last,
        TrainingSession.end_date >= first,
    )
    has_parts = exists().where(SessionPart.training_session_id == TrainingSession.id)
    missed = exists().where(
        Attendance.enrollment_id == Enrollment.id,
        Attendance.session_part_id == SessionPart.id,
        any_of(Attendance.mark, list(MISSED)),
    )
    parts = (
        select(
            Enrollment.cadre_id,
            TrainingSession.id,
            TrainingSession.title,
            SessionPart.part_date,
            SessionPart.start_time,
            SessionPart.end_time,
        )
        .join(Enrollment, attending)
        .join(SessionPart, SessionPart.training_session_id == TrainingSession.id)
        .where(in_range, SessionPart.part_date.between(first, last), ~missed)
    )
    windows = [
        ClassWindow(
            cadre_id=row.cadre_id,
            starts_at=_at(row.part_date, row.start_time),
            ends_at=_at(row.part_date, row.end_time),
            title=row.title,
            training_session_id=row.id,
        )
        for row in await db_session.execute(parts)
    ]
    whole = (
        select(
            Enrollment.cadre_id,
            TrainingSession.id,
            TrainingSession.title,
            TrainingSession.start_date,
            TrainingSession.end_date,
        )
        .join(Enrollment, attending)
        .where(in_range, ~has_parts)
    )
    windows += [
        ClassWindow(
            cadre_id=row.cadre_id,
            starts_at=_at(row.start_date),
            ends_at=_at(row.end_date + timedelta(days=1)),
            title=row.title,
            training_session_id=row.id,
        )
        for row in await db_session.execute(whole)
    ]
    logs = select(
        StudyLog.id, StudyLog.cadre_id, StudyLog.title, StudyLog.start_date, StudyLog.end_date
    ).where(
        any_of(StudyLog.cadre_id, list(cadre_ids)),
        any_of(StudyLog.kind, list(centralised_kinds)),
        StudyLog.training_session_id.is_(None),
        any_of(StudyLog.status, [StudyLogStatus.approved, StudyLogStatus.pending]),
        StudyLog.start_date <= last,
        StudyLog.end_date >= first,
    )
    windows += [
        ClassWindow(
            cadre_id=row.cadre_id,
            starts_at=_at(row.start_date),
            ends_at=_at(row.end_date + timedelta(days=1)),
            title=row.title,
            study_log_id=row.id,
        )
        for row in await db_session.execute(logs)
    ]
    return windows


# --- the anomalies report (docs/rules.md "Plausibility flags") ----------------------------------


def _flagged_in(root_path: str, year: int) -> Select[Any]:
    """Flagged records of the year (their log's start date) of cadres in the subtree."""
    return (
        select(OnlineRecord.id)
        .join(StudyLog, StudyLog.id == OnlineRecord.study_log_id)
        .join(Cadre, Cadre.id == OnlineRecord.cadre_id)
        .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
        .where(
            in_subtree(root_path),
            StudyLog.start_date.between(date(year, 1, 1), date(year, 12, 31)),
            OnlineRecord.flags != text("'[]'::jsonb"),
        )
    )


async def anomaly_counts(
    db_session: AsyncSession, root_path: str, year: int
) -> list[tuple[OrgUnit, int, dict[str, int]]]:
    """Per unit of the subtree with flagged records (its own cadres'): the flagged records and
    the flags per rule, in tree order. Two grouped statements."""
    flagged = _flagged_in(root_path, year).add_columns(OrgUnit.id.label("org_unit_id")).subquery()
    records = {
        row.org_unit_id: row.n
        for row in await db_session.execute(
            select(flagged.c.org_unit_id, func.count().label("n")).group_by(flagged.c.org_unit_id)
        )
    }
    rule = (
        func.jsonb_array_elements(OnlineRecord.flags)
        .table_valued(column("value", JSONB))
        .render_derived()
    )
    # The key as a literal: a bound parameter would be rendered twice, and GROUP BY would not
    # recognise the select's expression.
    rule_name = rule.c.value.op("->>")(literal_column("'rule'"))
    per_rule = (
        _flagged_in(root_path, year)
        .with_only_columns(OrgUnit.id, rule_name, func.count())
        .join(rule, literal_column("true"))
        .group_by(OrgUnit.id, rule_name)
    )
    rules: dict[uuid.UUID, dict[str, int]] = {}
    for unit_id, name, n in await db_session.execute(per_rule):
        rules.setdefault(unit_id, {})[name] = n
    units = await db_session.scalars(
        select(OrgUnit).where(any_of(OrgUnit.id, list(records))).order_by(OrgUnit.path)
    )
    return [(unit, records[unit.id], rules.get(unit.id, {})) for unit in units]


async def flagged_records(
    db_session: AsyncSession, root_path: str, year: int, top: int
) -> list[RowMapping]:
    """The first `top` flagged records of the year in the subtree, latest first."""
    stmt = (
        _flagged_in(root_path, year)
        .join(OnlinePlatform, OnlinePlatform.id == OnlineRecord.platform_id)
        .with_only_columns(
            OnlineRecord.id,
            OnlineRecord.external_id,
            OnlineRecord.cadre_id,
            Cadre.name.label("cadre_name"),
            Cadre.org_unit_id,
            OnlinePlatform.code.label("platform_code"),
            OnlineRecord.course_title,
            OnlineRecord.minutes,
            OnlineRecord.course_minutes,
            OnlineRecord.started_at,
            OnlineRecord.ended_at,
            OnlineRecord.study_log_id,
            StudyLog.status.label("study_log_status"),
            StudyLog.start_date,
            OnlineRecord.flags,
        )
        .order_by(StudyLog.start_date.desc(), OnlineRecord.started_at.desc(), OnlineRecord.id)
        .limit(top)
    )
    return list((await db_session.execute(stmt)).mappings())


async def flagged_total(db_session: AsyncSession, root_path: str, year: int) -> int:
    stmt = select(func.count()).select_from(_flagged_in(root_path, year).subquery())
    return int((await db_session.scalar(stmt)) or 0)


async def stored_flags_in_scope(
    db_session: AsyncSession, record_ids: Collection[uuid.UUID], actor: Actor
) -> dict[uuid.UUID, tuple[uuid.UUID, list[dict[str, Any]]]]:
    """Each stored record's log id and flags, of the records of cadres the actor may see."""
    if not record_ids:
        return {}
    stmt = select(OnlineRecord.id, OnlineRecord.study_log_id, OnlineRecord.flags).where(
        OnlineRecord.id.in_(list(record_ids)),
        cadre_repository.of_readable_cadre(OnlineRecord.cadre_id, actor),
    )
    return {row.id: (row.study_log_id, list(row.flags)) for row in await db_session.execute(stmt)}
