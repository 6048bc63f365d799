"""Every query of the attendance domain; scope is a statement built here (an attendance row or a
leave request is visible to whoever sees its enrollment)."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.attendance.models import Attendance, LeaveRequest
from app.enrollment import repository as enrollments
from app.enrollment.models import Enrollment
from app.enums import AttendanceMethod, LeaveRequestStatus
from app.training_session import repository as sessions
from app.training_session.models import SessionPart


async def mark_of(
    db_session: AsyncSession, enrollment_id: uuid.UUID, part_id: uuid.UUID
) -> Attendance | None:
    return (
        await db_session.scalars(
            select(Attendance).where(
                Attendance.enrollment_id == enrollment_id, Attendance.session_part_id == part_id
            )
        )
    ).one_or_none()


async def marks_of_session(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> Sequence[Attendance]:
    return (
        await db_session.scalars(
            select(Attendance)
            .join(SessionPart, SessionPart.id == Attendance.session_part_id)
            .where(SessionPart.training_session_id == training_session_id)
        )
    ).all()


async def lock_part_device(db_session: AsyncSession, part_id: uuid.UUID, device_id: str) -> None:
    """QR sign-ins to one part from one device take turns until their transactions end, so the
    second always sees the first and the proxy flag (代签) holds under concurrent scans."""
    key = func.hashtextextended(f"attendance-scan:{part_id}:{device_id}", 0)
    await db_session.execute(select(func.pg_advisory_xact_lock(key)))


async def qr_marks_from_device(
    db_session: AsyncSession, part_id: uuid.UUID, device_id: str
) -> Sequence[Attendance]:
    """The part's QR sign-ins from one device, oldest first."""
    return (
        await db_session.scalars(
            select(Attendance)
            .where(
                Attendance.session_part_id == part_id,
                Attendance.device_id == device_id,
                Attendance.method == AttendanceMethod.qr,
            )
            .order_by(Attendance.marked_at, Attendance.id)
        )
    ).all()


def of_session(
    training_session_id: uuid.UUID,
    actor: Actor,
    *,
    session_part_id: uuid.UUID | None,
    enrollment_id: uuid.UUID | None,
    flagged: bool | None,
) -> Select[Attendance]:
    stmt = (
        select(Attendance)
        .join(SessionPart, SessionPart.id == Attendance.session_part_id)
        .join(Enrollment, Enrollment.id == Attendance.enrollment_id)
        .where(SessionPart.training_session_id == training_session_id, enrollments.visible(actor))
    )
    if session_part_id is not None:
        stmt = stmt.where(Attendance.session_part_id == session_part_id)
    if enrollment_id is not None:
        stmt = stmt.where(Attendance.enrollment_id == enrollment_id)
    if flagged is not None:
        # The proxy flags (代签) are the organiser's: the filter reaches only its sessions (the
        # service refuses it to anyone else before it gets here).
        stmt = stmt.where(
            SessionPart.training_session_id.in_(sessions.managed_ids(actor)),
            Attendance.flag_reason.is_not(None) if flagged else Attendance.flag_reason.is_(None),
        )
    return stmt


async def get_leave_request(
    db_session: AsyncSession, leave_request_id: uuid.UUID, actor: Actor, *, for_update: bool = False
) -> LeaveRequest | None:
    stmt = (
        select(LeaveRequest)
        .join(Enrollment, Enrollment.id == LeaveRequest.enrollment_id)
        .where(LeaveRequest.id == leave_request_id, enrollments.visible(actor))
    )
    if for_update:
        stmt = stmt.with_for_update(of=LeaveRequest)
    return (await db_session.scalars(stmt)).one_or_none()


def leave_requests_of_session(
    training_session_id: uuid.UUID, actor: Actor, status: LeaveRequestStatus | None
) -> Select[LeaveRequest]:
    stmt = (
        select(LeaveRequest)
        .join(Enrollment, Enrollment.id == LeaveRequest.enrollment_id)
        .where(Enrollment.training_session_id == training_session_id, enrollments.visible(actor))
    )
    if status is not None:
        stmt = stmt.where(LeaveRequest.status == status)
    return stmt
