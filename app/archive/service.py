"""Assembling a cadre's archive (everything on record, in date order) and its files, and a
unit's year export. The records come from the repositories of the domains that own them."""

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.actor import Actor
from app.archive import formats, unit_export
from app.archive.formats import UnitExportFormat
from app.assessment import repository as assessments
from app.assessment.models import Assessment
from app.cadre import repository as cadres
from app.cadre.errors import CadreNotFound
from app.cadre.models import Cadre
from app.compliance import service as compliance_service
from app.credit_policy import service as policy_service
from app.credit_policy.policy import Policy
from app.enrollment import repository as enrollments
from app.enrollment.models import Enrollment
from app.org_unit.models import OrgUnit
from app.study_log import repository as study_logs
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
    return Archive(
        cadre=cadre,
        study_logs=await study_logs.of_cadre(db_session, cadre.id),
        enrollments=await enrollments.of_cadre_with_sessions(db_session, cadre.id),
        assessments=await assessments.of_cadre(db_session, cadre.id),
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


def archive_csv(archive: Archive) -> str:
    """The study logs as CSV for Excel (UTF-8 with BOM)."""
    lines = [formats.BOM + formats.csv_line(LOG_COLUMNS)]
    lines += [formats.csv_line(log_row(archive.cadre, log)) for log in archive.study_logs]
    return "".join(lines)


def archive_xlsx(archive: Archive) -> bytes:
    """A workbook with the study logs, the enrollments and the assessments."""
    return formats.xlsx_bytes(
        [
            ("study_logs", LOG_COLUMNS, (log_row(archive.cadre, x) for x in archive.study_logs)),
            (
                "enrollments",
                ENROLLMENT_COLUMNS,
                (enrollment_row(e, s) for e, s in archive.enrollments),
            ),
            ("assessments", ASSESSMENT_COLUMNS, (assessment_row(a) for a in archive.assessments)),
        ]
    )


@dataclass(frozen=True)
class UnitExportPlan:
    """What a unit's year export is evaluated under: the year's evaluation day and the policy
    in force then."""

    root_path: str
    year: int
    as_of: date
    policy: Policy


async def plan_unit_export(db_session: AsyncSession, root: OrgUnit, year: int) -> UnitExportPlan:
    """Settle the day and the policy (their errors are the request's: FutureYear,
    NoPolicyForDate)."""
    as_of = compliance_service.evaluation_day(year)
    policy = await policy_service.policy_on(db_session, as_of)
    return UnitExportPlan(root.path, year, as_of, policy)


async def export_unit(
    db_session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    root: OrgUnit,
    year: int,
    format: UnitExportFormat,
) -> AsyncIterator[bytes]:
    """The unit's year export, evaluated on the year's evaluation day under the policy in force
    then. The day and the policy are settled now, on the request's session, and the first
    chunk (the header with the first rows: the query has answered) is read before this returns,
    so a failure until then (a statement timeout, the database gone) is a problem+json answer,
    never a 200 with a cut body. A failure after the first byte aborts the connection: the
    stream never ends cleanly on a partial file (docs/exports.md)."""
    plan = await plan_unit_export(db_session, root, year)
    # The request only read: its session ends here, so the export's own (which outlives the
    # endpoint) is the only connection this request holds from now on.
    await db_session.close()
    stream = unit_export.chunks(
        sessionmaker, plan.root_path, plan.year, plan.as_of, plan.policy, format
    )
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        first = b""
    return _then(first, stream)


async def _then(first: bytes, rest: AsyncGenerator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()  # a client gone mid-way: the export's connection goes back now
