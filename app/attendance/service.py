"""Sign-in by class part (docs/rules.md rule 12): QR sign-in, the organiser's marks, leave
requests, and the leave a session's attendance computes for closing."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actor import Actor
from app.attendance import codes, repository, rules
from app.attendance.errors import (
    AlreadySignedIn,
    DeviceIdRequired,
    LeaveRequestDecided,
    LeaveRequestNotFound,
    NotEnrolled,
    OutsideWindow,
    PartNotOfSession,
    SessionNotInProgress,
    SignInCodeExpired,
    SignInCodeForged,
    SignInCodeMalformed,
)
from app.attendance.models import Attendance, LeaveRequest
from app.attendance.schemas import (
    AttendanceBulk,
    AttendanceMarkIn,
    LeaveRequestCreate,
)
from app.config import AttendanceSettings, Settings
from app.db import mapping_conflicts
from app.enrollment import repository as enrollments
from app.enrollment.closing import AttendanceLeave
from app.enrollment.models import Enrollment
from app.enums import (
    ACTIVE_ENROLLMENT_STATUSES,
    AttendanceMark,
    AttendanceMethod,
    LeaveRequestStatus,
)
from app.errors import ProblemFieldError
from app.i18n import _
from app.pagination import PageParams, paginate
from app.training_session import parts as part_service
from app.training_session import repository as sessions
from app.training_session.errors import NotSessionOrganiser, SessionPartNotFound
from app.training_session.models import SessionPart, TrainingSession
from app.training_session.service import FINAL_STATUSES, check_manages

_ONCE = {"uq_attendance_enrollment_id_session_part_id": AlreadySignedIn()}


def _check_in_progress(ts: TrainingSession) -> None:
    if ts.status in FINAL_STATUSES:
        raise SessionNotInProgress(_("The session is {status}.").format(status=ts.status.value))


# --- the rotating QR code ------------------------------------------------------------------


async def sign_in_code(
    db_session: AsyncSession,
    settings: Settings,
    ts: TrainingSession,
    part_id: uuid.UUID,
    actor: Actor,
) -> codes.SignInCode:
    await check_manages(db_session, ts, actor)
    _check_in_progress(ts)
    part = await part_service.get_part(db_session, ts, part_id)
    return codes.issue(
        settings.secret_key_value, part.id, clock.now(), settings.attendance.code_seconds
    )


def _verified_part_id(settings: Settings, code: str, now: datetime) -> uuid.UUID:
    try:
        return codes.verify(settings.secret_key_value, code, now, settings.attendance.code_seconds)
    except codes.CodeMalformed:
        raise SignInCodeMalformed() from None
    except codes.CodeForged:
        raise SignInCodeForged() from None
    except codes.CodeExpired:
        raise SignInCodeExpired() from None


async def _own_active_enrollment(
    db_session: AsyncSession, ts: TrainingSession, actor: Actor
) -> Enrollment:
    enrollment_id = (
        None
        if actor.cadre_id is None
        else await enrollments.id_of(db_session, ts.id, actor.cadre_id)
    )
    enrollment = (
        None if enrollment_id is None else await enrollments.get(db_session, enrollment_id, actor)
    )
    if enrollment is None or enrollment.status not in ACTIVE_ENROLLMENT_STATUSES:
        raise NotEnrolled()
    return enrollment


def _scan_mark(
    part: SessionPart, now: datetime, settings: AttendanceSettings
) -> tuple[AttendanceMark, int]:
    """Sign-in opens `sign_in_opens_minutes_before` the class's start and closes at its end.
    Present up to the start plus the grace; late after it, missing the minutes since the start
    (whole minutes, rounded down)."""
    opens, closes = part_service.sign_in_window(part, settings.sign_in_opens_minutes_before)
    if not opens <= now <= closes:
        raise OutsideWindow(
            _("The part's window is {start} to {end}.").format(
                start=opens.isoformat(), end=closes.isoformat()
            )
        )
    start, _end = part_service.class_times(part)
    late_by = max(0, int((now - start).total_seconds()) // 60)
    if late_by <= settings.grace_minutes:
        return AttendanceMark.present, 0
    return AttendanceMark.late, late_by


SHARED_DEVICE = "shared_device"


def _flag_shared_device(marks: Sequence[Attendance]) -> None:
    """Two or more trainees signed in to one part from one device: each is flagged (代签) with
    the reason code alone; the organiser finds the others by the part and the mark's device_id
    (no other trainee's id is written into a mark)."""
    if len({m.enrollment_id for m in marks}) < 2:
        return
    for mark in marks:
        mark.flag_reason = SHARED_DEVICE


async def scan(
    db_session: AsyncSession,
    settings: Settings,
    actor: Actor,
    code: str,
    device_id: str | None,
) -> Attendance:
    """A trainee's QR sign-in: the code names the part; the trainee's own active enrollment
    in the part's session is marked, once."""
    if not device_id:
        raise DeviceIdRequired()
    now = clock.now()
    part_id = _verified_part_id(settings, code, now)
    # The session row FOR SHARE first: a close (FOR UPDATE) in flight finishes before the scan
    # reads the session's status, so no mark is written after the close has counted the marks.
    found = await sessions.get_part_with_session(db_session, part_id, share_session=True)
    if found is None:  # a genuine code of a part removed since
        raise SessionPartNotFound()
    part, ts = found
    _check_in_progress(ts)
    enrollment = await _own_active_enrollment(db_session, ts, actor)
    mark, minutes = _scan_mark(part, now, settings.attendance)
    await repository.lock_part_device(db_session, part.id, device_id)
    if await repository.mark_of(db_session, enrollment.id, part.id) is not None:
        raise AlreadySignedIn()
    attendance = Attendance(
        enrollment_id=enrollment.id,
        session_part_id=part.id,
        mark=mark,
        method=AttendanceMethod.qr,
        marked_at=now,
        device_id=device_id,
        minutes_missed=minutes,
    )
    db_session.add(attendance)
    with mapping_conflicts(_ONCE):
        await db_session.flush()
    _flag_shared_device(await repository.qr_marks_from_device(db_session, part.id, device_id))
    await db_session.flush()
    return attendance


# --- the organiser's marks -------------------------------------------------------------------


def _apply(
    existing: Attendance | None,
    row: AttendanceMarkIn,
    now: datetime,
    device_id: str | None,
) -> tuple[Attendance, bool]:
    """The row's mark as a new or changed attendance; False when it was recorded already."""
    if existing is None:
        return (
            Attendance(
                enrollment_id=row.enrollment_id,
                session_part_id=row.session_part_id,
                mark=row.mark,
                method=row.method,
                marked_at=now,
                device_id=device_id,
                minutes_missed=row.minutes_missed,
            ),
            True,
        )
    if (existing.mark, existing.minutes_missed, existing.flag_reason) == (
        row.mark,
        row.minutes_missed,
        None,
    ):
        return existing, False
    existing.mark = row.mark
    existing.minutes_missed = row.minutes_missed
    existing.method = row.method
    existing.marked_at = now
    existing.device_id = device_id
    # An approved leave is the request's; a new mark by hand replaces it. The organiser's mark
    # settles a proxy flag (代签): it is cleared, the same mark confirmed or another one given.
    existing.leave_request_id = None
    existing.flag_reason = None
    return existing, True


RowResult = tuple[AttendanceMarkIn, Attendance | None, bool, str | None, str | None]


async def mark_bulk(
    db_session: AsyncSession,
    ts: TrainingSession,
    data: AttendanceBulk,
    actor: Actor,
    device_id: str | None,
) -> list[RowResult]:
    """The organiser marks by hand, by card or by import, many rows in one request; each row is
    answered on its own: (row, attendance, changed, problem code, detail)."""
    await check_manages(db_session, ts, actor)
    _check_in_progress(ts)
    active = {e.id for e in await enrollments.active_for_update(db_session, ts.id)}
    parts = {p.id for p in await sessions.parts_of(db_session, ts.id)}
    existing = {
        (m.enrollment_id, m.session_part_id): m
        for m in await repository.marks_of_session(db_session, ts.id)
    }
    now = clock.now()
    results: list[RowResult] = []
    for row in data.marks:
        if row.session_part_id not in parts:
            results.append((row, None, False, PartNotOfSession.code, str(PartNotOfSession.title)))
            continue
        if row.enrollment_id not in active:
            results.append((row, None, False, NotEnrolled.code, str(NotEnrolled.title)))
            continue
        key = (row.enrollment_id, row.session_part_id)
        attendance, changed = _apply(existing.get(key), row, now, device_id)
        if key not in existing:
            db_session.add(attendance)
            existing[key] = attendance
        results.append((row, attendance, changed, None, None))
    await db_session.flush()
    return results


async def list_attendance(
    db_session: AsyncSession,
    ts: TrainingSession,
    actor: Actor,
    page: PageParams,
    *,
    session_part_id: uuid.UUID | None,
    enrollment_id: uuid.UUID | None,
    flagged: bool | None,
) -> tuple[list[Attendance], str | None, bool]:
    """The marks the actor sees, and whether it is the session's organiser: only the organiser
    sees the proxy flags (代签) and filters by them (403 for anyone else)."""
    organiser = await sessions.is_managed(db_session, ts.id, actor)
    if flagged is not None and not organiser:
        raise NotSessionOrganiser()
    stmt = repository.of_session(
        ts.id,
        actor,
        session_part_id=session_part_id,
        enrollment_id=enrollment_id,
        flagged=flagged,
    )
    items, next_cursor = await paginate(db_session, stmt, Attendance.id, page)
    return items, next_cursor, organiser


@dataclass(frozen=True)
class RecordedMark:
    """A mark as the documents show it: `on_leave` without an approved request counts as absent
    (docs/rules.md rule 12), so a sheet must tell the two apart."""

    mark: AttendanceMark
    approved_leave: bool


async def marks_of_session(
    db_session: AsyncSession, ts: TrainingSession
) -> dict[tuple[uuid.UUID, uuid.UUID], RecordedMark]:
    """Every recorded mark of the session by (enrollment, part): a read for the documents that
    show attendance (the sign-in sheet); the caller has checked the actor may see the session."""
    return {
        (m.enrollment_id, m.session_part_id): RecordedMark(
            m.mark, approved_leave=m.leave_request_id is not None
        )
        for m in await repository.marks_of_session(db_session, ts.id)
    }


# --- leave requests --------------------------------------------------------------------------


async def request_leave(
    db_session: AsyncSession, enrollment: Enrollment, data: LeaveRequestCreate
) -> LeaveRequest:
    """The trainee asks leave for parts of its session (请假)."""
    ts = await sessions.get(db_session, enrollment.training_session_id)
    assert ts is not None  # FK
    _check_in_progress(ts)
    if enrollment.status not in ACTIVE_ENROLLMENT_STATUSES:
        raise NotEnrolled()
    parts = {p.id for p in await sessions.parts_of(db_session, ts.id)}
    strangers = [i for i, p in enumerate(data.session_part_ids) if p not in parts]
    if strangers:
        raise PartNotOfSession(
            errors=[
                ProblemFieldError(
                    pointer=f"/body/session_part_ids/{i}",
                    detail=_("not a part of the session"),
                    code="not_found",
                )
                for i in strangers
            ]
        )
    request = LeaveRequest(
        enrollment_id=enrollment.id,
        session_part_ids=list(data.session_part_ids),
        reason=data.reason,
        status=LeaveRequestStatus.pending,
    )
    db_session.add(request)
    await db_session.flush()
    return request


async def get_leave_request(
    db_session: AsyncSession, leave_request_id: uuid.UUID, actor: Actor, *, for_update: bool = False
) -> LeaveRequest:
    found = await repository.get_leave_request(
        db_session, leave_request_id, actor, for_update=for_update
    )
    if found is None:
        raise LeaveRequestNotFound()
    return found


async def _decidable(
    db_session: AsyncSession, request: LeaveRequest, actor: Actor
) -> tuple[Enrollment, TrainingSession]:
    enrollment = await enrollments.get(db_session, request.enrollment_id, actor)
    assert enrollment is not None  # the request is visible through it
    ts = await sessions.get(db_session, enrollment.training_session_id, for_update=True)
    assert ts is not None
    await check_manages(db_session, ts, actor)
    _check_in_progress(ts)
    if request.status != LeaveRequestStatus.pending:
        raise LeaveRequestDecided(_("The request is {status}.").format(status=request.status.value))
    return enrollment, ts


async def approve_leave(
    db_session: AsyncSession, request: LeaveRequest, actor: Actor, device_id: str | None
) -> LeaveRequest:
    """Approved leave marks each requested part `on_leave`, naming the request (rule 12)."""
    enrollment, ts = await _decidable(db_session, request, actor)
    if enrollment.status not in ACTIVE_ENROLLMENT_STATUSES:
        raise NotEnrolled()  # withdrawn since the request: nothing to mark
    now = clock.now()
    request.status = LeaveRequestStatus.approved
    request.decided_at = now
    # A part removed since the request (the parts were replaced) is no longer to mark.
    current = {p.id for p in await sessions.parts_of(db_session, ts.id)}
    for part_id in (p for p in request.session_part_ids if p in current):
        existing = await repository.mark_of(db_session, enrollment.id, part_id)
        if existing is None:
            existing = Attendance(
                enrollment_id=enrollment.id, session_part_id=part_id, device_id=device_id
            )
            db_session.add(existing)
        existing.mark = AttendanceMark.on_leave
        existing.method = AttendanceMethod.manual
        existing.minutes_missed = 0
        existing.marked_at = now
        existing.leave_request_id = request.id
        existing.flag_reason = None
    await db_session.flush()
    return request


async def refuse_leave(
    db_session: AsyncSession, request: LeaveRequest, reason: str, actor: Actor
) -> LeaveRequest:
    await _decidable(db_session, request, actor)
    request.status = LeaveRequestStatus.refused
    request.decision_reason = reason
    request.decided_at = clock.now()
    await db_session.flush()
    return request


async def list_leave_requests(
    db_session: AsyncSession,
    ts: TrainingSession,
    actor: Actor,
    status: LeaveRequestStatus | None,
    page: PageParams,
) -> tuple[list[LeaveRequest], str | None]:
    stmt = repository.leave_requests_of_session(ts.id, actor, status)
    return await paginate(db_session, stmt, LeaveRequest.id, page)


# --- the leave a session's attendance computes -----------------------------------------------


async def session_leave(db_session: AsyncSession, ts: TrainingSession) -> AttendanceLeave | None:
    """docs/rules.md rule 12: each active enrollment's leave from its marks; None for a session
    without parts (its leave is typed)."""
    parts = await sessions.parts_of(db_session, ts.id)
    if not parts:
        return None
    # `ts` is held FOR UPDATE by the caller, and every writer of marks takes the session row
    # (scans FOR SHARE, the others FOR UPDATE); the enrollments are locked before the marks are
    # read all the same, so the marks read are the last ones.
    active = await enrollments.active_for_update(db_session, ts.id)
    marks = {
        (m.enrollment_id, m.session_part_id): m
        for m in await repository.marks_of_session(db_session, ts.id)
    }
    minutes = {p.id: part_service.class_minutes(p) for p in parts}
    leave_of: dict[uuid.UUID, Decimal] = {}
    unmarked = 0
    for enrollment in active:
        breakdown = rules.leave_of(
            _part_attendance(p, minutes[p.id], marks.get((enrollment.id, p.id))) for p in parts
        )
        leave_of[enrollment.id] = breakdown.total
        unmarked += breakdown.unmarked
    return AttendanceLeave(leave_of=leave_of, unmarked=unmarked)


def _part_attendance(
    part: SessionPart, class_minutes: int, mark: Attendance | None
) -> rules.PartAttendance:
    return rules.PartAttendance(
        credit_hours=part.credit_hours,
        class_minutes=class_minutes,
        mark=None if mark is None else mark.mark,
        minutes_missed=0 if mark is None else mark.minutes_missed,
        leave_approved=mark is not None and mark.leave_request_id is not None,
    )
