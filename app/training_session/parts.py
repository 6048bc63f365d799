"""A session's parts (课次): their list, edited as a whole, their class times and sign-in windows
(docs/rules.md, rule 12). The parts' credit hours add up to the session's once there are parts:
the list is replaced in one request, so no intermediate state breaks the sum."""

import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.catalogue import service as catalogue
from app.catalogue.models import Course, Teacher
from app.clock import LOCAL_TZ
from app.db import mapping_conflicts
from app.enums import DayPeriod, NotificationKind
from app.errors import ProblemFieldError
from app.i18n import _
from app.schema_types import quantize
from app.training_session import repository
from app.training_session.errors import (
    PartHasAttendance,
    PartOutsideDates,
    PartsHoursMismatch,
    SessionImmutable,
    SessionPartNotFound,
)
from app.training_session.models import SessionPart, TrainingSession
from app.training_session.schemas import (
    SessionCoursesReplace,
    SessionPartIn,
    SessionPartsReplace,
)
from app.training_session.service import FINAL_STATUSES, check_manages, notify_enrollees

# The period's class start and end when a part names none (local time, Asia/Shanghai).
DEFAULT_WINDOWS: dict[DayPeriod, tuple[time, time]] = {
    DayPeriod.morning: (time(8, 0), time(12, 0)),
    DayPeriod.afternoon: (time(14, 0), time(18, 0)),
    DayPeriod.evening: (time(19, 0), time(21, 30)),
}

# An attendance row refers to its part: removing a marked part is refused.
_CONFLICTS = {"fk_attendance_session_part_id_session_part": PartHasAttendance()}


def class_times(part: SessionPart) -> tuple[datetime, datetime]:
    """The class's start and end as instants: the part's day at its start and end local times.
    Lateness counts from the start; the class's length measures the minutes missed."""
    return (
        datetime.combine(part.part_date, part.start_time, LOCAL_TZ),
        datetime.combine(part.part_date, part.end_time, LOCAL_TZ),
    )


def class_minutes(part: SessionPart) -> int:
    start, end = class_times(part)
    return int((end - start).total_seconds()) // 60


def sign_in_window(part: SessionPart, opens_minutes_before: int) -> tuple[datetime, datetime]:
    """QR sign-in opens `opens_minutes_before` the class's start and closes at its end."""
    start, end = class_times(part)
    return start - timedelta(minutes=opens_minutes_before), end


async def list_parts(db_session: AsyncSession, ts: TrainingSession) -> Sequence[SessionPart]:
    return await repository.parts_of(db_session, ts.id)


async def courses_taught(db_session: AsyncSession, ts: TrainingSession) -> list[uuid.UUID]:
    """The catalogue courses a session teaches: its parts' courses, or its own `course_ids`
    when it has no parts (docs/rules.md rule 13: a course may grant a qualification)."""
    parts = await repository.parts_of(db_session, ts.id)
    if parts:
        return list(dict.fromkeys(p.course_id for p in parts if p.course_id is not None))
    return list(ts.course_ids)


async def get_part(
    db_session: AsyncSession, ts: TrainingSession, part_id: uuid.UUID
) -> SessionPart:
    part = await repository.get_part(db_session, ts.id, part_id)
    if part is None:
        raise SessionPartNotFound()
    return part


def _hhmm(value: str | None, default: time) -> time:
    return default if value is None else time.fromisoformat(value)


def _check_fits(parts: Sequence[SessionPartIn], ts: TrainingSession, credit_hours: Decimal) -> None:
    outside = [
        ProblemFieldError(
            pointer=f"/body/parts/{i}/part_date",
            detail=_("{day} is not between {start} and {end}").format(
                day=p.part_date, start=ts.start_date, end=ts.end_date
            ),
            code="outside_session",
        )
        for i, p in enumerate(parts)
        if not ts.start_date <= p.part_date <= ts.end_date
    ]
    if outside:
        raise PartOutsideDates(errors=outside)
    total = sum((p.credit_hours for p in parts), Decimal(0))
    if parts and total != credit_hours:
        raise PartsHoursMismatch(
            _("The parts add up to {total} hours; the session has {hours}.").format(
                total=quantize(total), hours=quantize(credit_hours)
            )
        )


async def _check_catalogue(
    db_session: AsyncSession, parts: Sequence[SessionPartIn], ts: TrainingSession
) -> None:
    """A part names only active catalogue entries the organiser may use (docs/rules.md,
    "Catalogue"). Kept parts are checked too, so a deactivated entry is not named again."""
    path = await repository.unit_path(db_session, ts.organiser_org_unit_id)
    assert path is not None  # a session's organiser exists (foreign key)
    await catalogue.check_usable(
        db_session, Course, [p.course_id for p in parts], path, "/body/parts/{}/course_id"
    )
    await catalogue.check_usable(
        db_session, Teacher, [p.teacher_id for p in parts], path, "/body/parts/{}/teacher_id"
    )


async def replace_parts(
    db_session: AsyncSession, ts: TrainingSession, data: SessionPartsReplace, actor: Actor
) -> Sequence[SessionPart]:
    """Replace the session's parts; `ts` must have been loaded FOR UPDATE. A part kept (same
    day and period) keeps its id and its attendance; the session's version moves on when
    anything changed, so a second editor's `If-Match` fails."""
    await check_manages(db_session, ts, actor)
    if ts.status in FINAL_STATUSES:
        raise SessionImmutable()
    _check_fits(data.parts, ts, ts.credit_hours)
    await _check_catalogue(db_session, data.parts, ts)
    existing = {(p.part_date, p.period): p for p in await repository.parts_of(db_session, ts.id)}
    changed = False
    for item in data.parts:
        start, end = DEFAULT_WINDOWS[item.period]
        values = {
            "credit_hours": item.credit_hours,
            "start_time": _hhmm(item.start_time, start),
            "end_time": _hhmm(item.end_time, end),
            "course_id": item.course_id,
            "teacher_id": item.teacher_id,
        }
        part = existing.pop((item.part_date, item.period), None)
        if part is None:
            db_session.add(
                SessionPart(
                    training_session_id=ts.id,
                    part_date=item.part_date,
                    period=item.period,
                    **values,
                )
            )
            changed = True
            continue
        for field, value in values.items():
            if getattr(part, field) != value:
                setattr(part, field, value)
                changed = True
    for gone in existing.values():
        await db_session.delete(gone)
        changed = True
    if changed:
        ts.updated_at = func.now()  # a new version of the session
    with mapping_conflicts(_CONFLICTS):
        await db_session.flush()
    await db_session.refresh(ts, ["updated_at", "version"])
    if changed:
        await notify_enrollees(db_session, ts, NotificationKind.session_changed)
    return await repository.parts_of(db_session, ts.id)


async def replace_courses(
    db_session: AsyncSession, ts: TrainingSession, data: SessionCoursesReplace, actor: Actor
) -> TrainingSession:
    """The session's courses listed directly (docs/rules.md, "Catalogue"); `ts` loaded FOR
    UPDATE. Useful before the parts exist; the parts name their own courses."""
    await check_manages(db_session, ts, actor)
    if ts.status in FINAL_STATUSES:
        raise SessionImmutable()
    path = await repository.unit_path(db_session, ts.organiser_org_unit_id)
    assert path is not None  # a session's organiser exists (foreign key)
    await catalogue.check_usable(db_session, Course, data.course_ids, path, "/body/course_ids/{}")
    if list(ts.course_ids) != data.course_ids:
        ts.course_ids = data.course_ids
        await db_session.flush()
        await db_session.refresh(ts)
    return ts
