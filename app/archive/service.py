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
from app.archive import columns, formats, unit_export
from app.archive.columns import Column
from app.archive.formats import UnitExportFormat
from app.assessment import repository as assessments
from app.assessment.models import Assessment
from app.cadre import repository as cadres
from app.cadre.errors import CadreNotFound
from app.cadre.models import Cadre
from app.compliance import service as compliance_service
from app.credit_policy import service as policy_service
from app.credit_policy.engine.common import RequirementStatus
from app.credit_policy.policy import Policy
from app.enrollment import repository as enrollments
from app.enrollment.models import Enrollment
from app.enums import (
    AssessmentRating,
    EnrollmentOrigin,
    EnrollmentStatus,
    Language,
    PostType,
    Rank,
    StudyLogKind,
    StudyLogSource,
    StudyLogStatus,
    TrainingForm,
)
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


# Each file's columns: the English name (the `?lang=en` header), the Chinese header, the enum
# whose labels its values are shown as.
LOG_COLUMNS = (
    Column("hr_id", "人事编号"),
    Column("name", "姓名"),
    Column("rank", "职务层次", Rank),
    Column("post_type", "职务类别", PostType),
    Column("start_date", "开始日期"),
    Column("end_date", "结束日期"),
    Column("kind", "学习形式", StudyLogKind),
    Column("title", "培训名称"),
    Column("provider", "举办单位"),
    Column("hours", "学时"),
    Column("days", "天数"),
    Column("status", "审核状态", StudyLogStatus),
    Column("source", "来源", StudyLogSource),
    Column("training_session_id", "培训班编号"),
    Column("reviewed_at", "审核时间"),
)


def log_row(cadre: Cadre, log: StudyLog) -> list[Any]:
    return [
        cadre.hr_id,
        cadre.name,
        cadre.rank.value,
        cadre.post_type.value,
        log.start_date,
        log.end_date,
        log.kind.value,
        log.title,
        log.provider,
        log.hours,
        log.days,
        log.status.value,
        log.source.value,
        str(log.training_session_id) if log.training_session_id else None,
        log.reviewed_at,
    ]


ENROLLMENT_COLUMNS = (
    Column("session_title", "培训班名称"),
    Column("form", "培训形式", TrainingForm),
    Column("centralised", "是否集中培训"),
    Column("start_date", "开始日期"),
    Column("end_date", "结束日期"),
    Column("origin", "报名方式", EnrollmentOrigin),
    Column("status", "报名状态", EnrollmentStatus),
    Column("leave_hours", "请假学时"),
    Column("score", "成绩"),
)


def enrollment_row(enrollment: Enrollment, ts: TrainingSession) -> list[Any]:
    return [
        ts.title,
        ts.form.value,
        ts.centralised,
        ts.start_date,
        ts.end_date,
        enrollment.origin.value,
        enrollment.status.value,
        enrollment.leave_hours,
        enrollment.score,
    ]


ASSESSMENT_COLUMNS = (
    Column("year", "年度"),
    Column("rating", "考核等次", AssessmentRating),
    Column("comment", "评语"),
    Column("excellent_allowed", "可评优秀"),
    Column("override_reason", "调整理由"),
    Column("annual_status", "年度学时达标情况", RequirementStatus),
    Column("annual_centralised_days", "年度集中培训天数"),
    Column("annual_centralised_hours", "年度集中培训学时"),
    Column("annual_counted_hours", "年度计入学时"),
    Column("annual_credited_hours", "年度认定学时"),
    Column("five_year_status", "五年达标情况", RequirementStatus),
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


# sheet titles: (zh-CN, en)
_SHEETS = {
    "study_logs": ("学习记录", "study_logs"),
    "enrollments": ("参训记录", "enrollments"),
    "assessments": ("年度考核", "assessments"),
}


def archive_csv(archive: Archive, lang: Language = Language.zh_cn) -> str:
    """The study logs as CSV for Excel (UTF-8 with BOM)."""
    labelled = columns.Labeller(LOG_COLUMNS, lang)
    lines = [formats.BOM + formats.csv_line(columns.header(LOG_COLUMNS, lang))]
    lines += [formats.csv_line(labelled(log_row(archive.cadre, log))) for log in archive.study_logs]
    return "".join(lines)


def archive_xlsx(archive: Archive, lang: Language = Language.zh_cn) -> bytes:
    """A workbook with the study logs, the enrollments and the assessments."""
    tables: list[tuple[str, tuple[Column, ...], list[list[Any]]]] = [
        ("study_logs", LOG_COLUMNS, [log_row(archive.cadre, x) for x in archive.study_logs]),
        ("enrollments", ENROLLMENT_COLUMNS, [enrollment_row(e, s) for e, s in archive.enrollments]),
        ("assessments", ASSESSMENT_COLUMNS, [assessment_row(a) for a in archive.assessments]),
    ]
    index = 0 if lang is Language.zh_cn else 1
    sheets = []
    for name, cols, rows in tables:
        labelled = columns.Labeller(cols, lang)
        sheets.append(
            (_SHEETS[name][index], columns.header(cols, lang), [labelled(row) for row in rows])
        )
    return formats.xlsx_bytes(sheets)


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
    lang: Language = Language.zh_cn,
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
        sessionmaker, plan.root_path, plan.year, plan.as_of, plan.policy, format, lang
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
