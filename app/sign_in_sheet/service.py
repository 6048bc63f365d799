"""Building the sign-in sheet of a session for its organiser."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.attendance import service as attendance
from app.documents.sign_in_sheet import SheetPart, SheetRow, SignInSheet
from app.enum_labels import label
from app.enums import AttendanceMark, Language
from app.i18n import N_, gettext
from app.sign_in_sheet import repository
from app.training_session import parts as session_parts
from app.training_session import service as sessions
from app.training_session.models import TrainingSession


async def get_sign_in_sheet(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor, lang: Language
) -> SignInSheet:
    """The sheet of a session the actor organises: 404 when the session is not visible, 403
    when it is visible but organised outside the actor's tree."""
    ts = await sessions.get_training_session(db_session, training_session_id, actor)
    await sessions.check_manages(db_session, ts, actor)
    return await sheet_for_session(db_session, ts, actor, lang)


async def sheet_for_session(
    db_session: AsyncSession, ts: TrainingSession, actor: Actor, lang: Language
) -> SignInSheet:
    """The sheet's data: one row per trainee, one column per class part (its day and the
    period's label), read through the training_session and attendance domains. A cell shows
    the label of the trainee's recorded mark (出勤, 请假...), or stays blank to sign; leave
    without an approved request says so, as it counts as absent (docs/rules.md rule 12). A
    session without parts has one column for the whole session (blank, to sign)."""
    del actor  # the caller checked the actor organises the session
    parts = await session_parts.list_parts(db_session, ts)
    marks = await attendance.marks_of_session(db_session, ts) if parts else {}
    rows = [
        SheetRow(
            t.name,
            t.unit,
            [
                None if mark is None else _cell(mark, lang)
                for mark in (marks.get((t.enrollment_id, p.id)) for p in parts)
            ]
            or [None],
        )
        for t in await repository.trainees(db_session, ts.id)
    ]
    return SignInSheet(
        title=ts.title,
        organiser=await repository.unit_name(db_session, ts.organiser_org_unit_id),
        start_date=ts.start_date,
        end_date=ts.end_date,
        parts=[SheetPart(p.part_date, label(p.period, lang)) for p in parts],
        rows=rows,
        lang=lang,
    )


def _cell(recorded: attendance.RecordedMark, lang: Language) -> str:
    text = label(recorded.mark, lang)
    if recorded.mark == AttendanceMark.on_leave and not recorded.approved_leave:
        return gettext(N_("{mark} (not approved)"), lang).format(mark=text)
    return text
