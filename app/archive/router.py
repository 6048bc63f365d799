import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.archive import formats, service
from app.archive.formats import ExportFormat, UnitExportFormat
from app.archive.schemas import ArchiveEnrollment, ArchiveRead
from app.assessment.schemas import AssessmentRead
from app.cadre.errors import CadreNotFound
from app.cadre.service import to_read
from app.clock import local_today
from app.compliance.errors import FutureYear
from app.credit_policy.errors import NoPolicyForDate
from app.db import DbSession, ReadSession, read_sessionmaker
from app.enrollment.schemas import EnrollmentRead
from app.enums import Language
from app.http import API_PREFIX, PrimedStreamingResponse, problems
from app.org_unit import service as org_unit_service
from app.org_unit.errors import OrgUnitNotFound
from app.security import CurrentActor
from app.study_log.schemas import StudyLogRead
from app.training_session.schemas import TrainingSessionRead

router = APIRouter(prefix=f"{API_PREFIX}/cadres", tags=["archives"])

LangQuery = Annotated[
    Language,
    Query(
        description="The language of a CSV or XLSX file's headers and of its enum values "
        "(the labels of `GET /api/v1/meta/labels`): zh-CN (default) or en"
    ),
]


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The archive: JSON, or a CSV of the study logs (UTF-8 with BOM), or an "
        "XLSX workbook with study logs, enrollments and assessments",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            formats.MEDIA_TYPES[ExportFormat.xlsx]: {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}


@router.get(
    "/{cadre_id}/archive",
    operation_id="getCadreArchive",
    response_model=ArchiveRead,
    responses={**_FILE_RESPONSES, **problems(CadreNotFound)},
)
async def get_cadre_archive(
    cadre_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    format: Annotated[ExportFormat, Query(description="json (default), csv or xlsx")] = (
        ExportFormat.json
    ),
    lang: LangQuery = Language.zh_cn,
) -> ArchiveRead | Response:
    """培训档案: the cadre's complete, ordered training record — study logs by date, the
    sessions it was enrolled in, its annual assessments."""
    archive = await service.cadre_archive(db_session, cadre_id, actor)
    cadre = to_read(archive.cadre, actor)
    if format is ExportFormat.json:
        return ArchiveRead(
            cadre=cadre,
            study_logs=[StudyLogRead.model_validate(log) for log in archive.study_logs],
            enrollments=[
                ArchiveEnrollment(
                    enrollment=EnrollmentRead.model_validate(e),
                    training_session=TrainingSessionRead.model_validate(s),
                )
                for e, s in archive.enrollments
            ],
            assessments=[AssessmentRead.model_validate(a) for a in archive.assessments],
        )
    filename = f"培训档案-{cadre.name}-{cadre.hr_id}.{format.value}"
    # The file's words are in `lang`, whatever Accept-Language says (app.i18n).
    headers = {
        "Content-Disposition": formats.content_disposition(filename),
        "Content-Language": lang.value,
    }
    body = (
        service.archive_csv(archive, lang)
        if format is ExportFormat.csv
        else service.archive_xlsx(archive, lang)
    )
    return Response(body, media_type=formats.MEDIA_TYPES[format], headers=headers)


unit_router = APIRouter(prefix=f"{API_PREFIX}/org-units", tags=["archives"])

_UNIT_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One row per cadre and study log of the year (a cadre without logs: one "
        "row), with the cadre's compliance figures on the evaluation day",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            formats.MEDIA_TYPES[ExportFormat.xlsx]: {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}


@unit_router.get(
    "/{org_unit_id}/archive",
    operation_id="exportOrgUnitArchive",
    response_class=StreamingResponse,
    responses={
        **_UNIT_FILE_RESPONSES,
        **problems(OrgUnitNotFound, NoPolicyForDate, FutureYear),
    },
)
async def export_org_unit_archive(
    org_unit_id: uuid.UUID,
    request: Request,
    db_session: ReadSession,
    actor: CurrentActor,
    year: Annotated[int | None, Query(ge=1900, le=2199, description="Default: this year")] = None,
    format: Annotated[UnitExportFormat, Query(description="csv (default) or xlsx")] = (
        UnitExportFormat.csv
    ),
    lang: LangQuery = Language.zh_cn,
) -> StreamingResponse:
    """The archives and compliance of every cadre of the unit and its subtree for one year,
    streamed (constant memory). The first rows are read before the answer starts: a database
    fault until then answers 503 with Retry-After, not a 200 cut short. CSV is UTF-8 with BOM
    for Excel; cells Excel would read as formulas are defused."""
    root = await org_unit_service.get_org_unit(db_session, org_unit_id, actor)
    year = year or local_today().year
    chunks = await service.export_unit(
        db_session, read_sessionmaker(request), root, year, format, lang
    )
    filename = f"培训档案-{root.name}-{year}.{format.value}"
    return PrimedStreamingResponse(
        chunks,
        media_type=formats.MEDIA_TYPES[ExportFormat(format.value)],
        headers={
            "Content-Disposition": formats.content_disposition(filename),
            "Content-Language": lang.value,
        },
    )
