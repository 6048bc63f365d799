"""Assembling a cadre's archive: everything on record, in date order."""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.assessment.models import Assessment
from app.cadre import repository as cadres
from app.cadre.errors import CadreNotFound
from app.cadre.models import Cadre
from app.enrollment.models import Enrollment
from app.study_log.models import StudyLog
from app.training_session.models import TrainingSession


@dataclass(frozen=True)
class Archive:
    cadre: Cadre
    study_logs: list[StudyLog]
    enrollments: list[tuple[Enrollment, TrainingSession]]
    assessments: list[Assessment]


async def cadre_archive(db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor) -> Archive:
    cadre = await cadres.get(db_session, cadre_id, actor)
    if cadre is None:
        raise CadreNotFound()
    logs = (
        await db_session.scalars(
            select(StudyLog)
            .where(StudyLog.cadre_id == cadre.id)
            .order_by(StudyLog.start_date, StudyLog.id)
        )
    ).all()
    enrollments = (
        await db_session.execute(
            select(Enrollment, TrainingSession)
            .join(TrainingSession, TrainingSession.id == Enrollment.training_session_id)
            .where(Enrollment.cadre_id == cadre.id)
            .order_by(TrainingSession.start_date, Enrollment.id)
        )
    ).all()
    assessments = (
        await db_session.scalars(
            select(Assessment).where(Assessment.cadre_id == cadre.id).order_by(Assessment.year)
        )
    ).all()
    return Archive(
        cadre=cadre,
        study_logs=list(logs),
        enrollments=[(e, s) for e, s in enrollments],
        assessments=list(assessments),
    )


LOG_COLUMNS = (
    "hr_id",
    "name",
    "rank",
    "post_type",
    "start_date",
    "end_date",
    "kind",
    "title",
    "provider",
    "hours",
    "days",
    "status",
    "source",
    "training_session_id",
    "reviewed_at",
)


def log_row(cadre: Cadre, log: StudyLog) -> list[Any]:
    return [
        cadre.hr_id,
        cadre.name,
        cadre.rank.value,
        cadre.post_type.value,
        log.start_date.isoformat(),
        log.end_date.isoformat(),
        log.kind.value,
        log.title,
        log.provider,
        log.hours,
        log.days,
        log.status.value,
        log.source.value,
        str(log.training_session_id) if log.training_session_id else None,
        log.reviewed_at.isoformat() if log.reviewed_at else None,
    ]


ENROLLMENT_COLUMNS = (
    "session_title",
    "form",
    "centralised",
    "start_date",
    "end_date",
    "origin",
    "status",
    "leave_hours",
    "score",
)


def enrollment_row(enrollment: Enrollment, ts: TrainingSession) -> list[Any]:
    return [
        ts.title,
        ts.form.value,
        ts.centralised,
        ts.start_date.isoformat(),
        ts.end_date.isoformat(),
        enrollment.origin.value,
        enrollment.status.value,
        enrollment.leave_hours,
        enrollment.score,
    ]


ASSESSMENT_COLUMNS = (
    "year",
    "rating",
    "comment",
    "excellent_allowed",
    "override_reason",
    "annual_status",
    "annual_centralised_days",
    "annual_centralised_hours",
    "annual_counted_hours",
    "annual_credited_hours",
    "five_year_status",
)
# Figures of the snapshot's annual block, as frozen (docs/rules.md rule 5). A snapshot frozen
# before revision 2 has no centralised or counted hours: those cells stay empty.
_ANNUAL_FIGURES = ("centralised_days", "centralised_hours", "counted_hours", "credited_hours")


def _figure(value: object) -> Decimal | None:
    """A snapshot figure (a decimal string with two places) as a number for the spreadsheet."""
    return Decimal(value) if isinstance(value, str) else None


def assessment_row(assessment: Assessment) -> list[Any]:
    snapshot = assessment.training_snapshot
    annual = snapshot.get("annual") or {}
    five_year = snapshot.get("five_year") or {}
    return [
        assessment.year,
        assessment.rating.value,
        assessment.comment,
        snapshot.get("excellent_allowed"),
        assessment.override_reason,
        annual.get("status"),
        *(_figure(annual.get(name)) for name in _ANNUAL_FIGURES),
        five_year.get("status"),
    ]
