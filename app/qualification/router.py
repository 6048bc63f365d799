import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.cadre.errors import CadreNotFound
from app.catalogue.errors import ReferencedCourseNotFound
from app.clock import local_today
from app.db import DbSession, ReadSession
from app.http import API_PREFIX, AppSettings, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.qualification import service
from app.qualification.errors import (
    AlreadyRevoked,
    NotQualificationManager,
    QualificationExists,
    QualificationNotFound,
    QualificationTypeExists,
    QualificationTypeNotFound,
)
from app.qualification.models import CadreQualification
from app.qualification.schemas import (
    CadreQualificationCreate,
    CadreQualificationList,
    CadreQualificationRead,
    QualificationReportRead,
    QualificationReportRow,
    QualificationRevoke,
    QualificationTypeCreate,
    QualificationTypeList,
    QualificationTypeRead,
)
from app.schema_types import LocalDate
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}", tags=["qualifications"], route_class=IdempotentRoute)


def _read(
    held: CadreQualification, settings: AppSettings, on: LocalDate | None = None
) -> CadreQualificationRead:
    read = CadreQualificationRead.model_validate(
        {
            **{c: getattr(held, c) for c in CadreQualificationRead.model_fields if c != "status"},
            "status": service.status_of(
                held, on or local_today(), settings.qualification.expiring_days
            ),
        }
    )
    return read


@router.post(
    "/qualification-types",
    operation_id="createQualificationType",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        ReferencedOrgUnitNotFound,
        ReferencedCourseNotFound,
        NotQualificationManager,
        QualificationTypeExists,
    ),
)
async def create_qualification_type(
    body: QualificationTypeCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> QualificationTypeRead:
    """A qualification type (持证上岗, docs/rules.md rule 13) owned by a unit: in force in its
    subtree, valid `validity_years`, required of the cadres matching every non-empty list, and
    granted by completing a session of a `granting_forms` form or one that teaches a
    `granting_course_ids` catalogue course. Admins, and org_admins for their subtree."""
    qtype = await service.create_type(db_session, actor, body)
    set_etag(response, qtype.version)
    return QualificationTypeRead.model_validate(qtype)


@router.get("/qualification-types", operation_id="listQualificationTypes")
async def list_qualification_types(
    db_session: DbSession, actor: CurrentActor
) -> QualificationTypeList:
    """The qualification types the caller may see: all for admin, hr_system and auditor; those
    owned in its subtree for an org_admin."""
    types = await service.list_types(db_session, actor)
    return QualificationTypeList(items=[QualificationTypeRead.model_validate(t) for t in types])


@router.get(
    "/cadres/{cadre_id}/qualifications",
    operation_id="listCadreQualifications",
    responses=problems(CadreNotFound),
)
async def list_cadre_qualifications(
    cadre_id: uuid.UUID,
    db_session: ReadSession,
    actor: CurrentActor,
    settings: AppSettings,
    on: Annotated[LocalDate | None, Query(description="Status on this day; default today")] = None,
) -> CadreQualificationList:
    """A cadre's qualifications, the latest `valid_until` first, each with its status on `on`
    (docs/rules.md rule 13)."""
    cadre = await service.readable_cadre(db_session, actor, cadre_id)
    held = await service.held_by(db_session, cadre)
    return CadreQualificationList(items=[_read(h, settings, on) for h in held])


@router.post(
    "/cadres/{cadre_id}/qualifications",
    operation_id="recordCadreQualification",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        CadreNotFound, QualificationTypeNotFound, NotQualificationManager, QualificationExists
    ),
)
async def record_cadre_qualification(
    cadre_id: uuid.UUID,
    body: CadreQualificationCreate,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    response: Response,
) -> CadreQualificationRead:
    """Record a qualification by hand, with the evidence it rests on; `valid_until` follows
    from the type's validity (rule 13)."""
    held = await service.record_for(db_session, actor, cadre_id, body)
    set_etag(response, held.version)
    return _read(held, settings)


@router.post(
    "/cadre-qualifications/{cadre_qualification_id}/revoke",
    operation_id="revokeCadreQualification",
    responses=problems(QualificationNotFound, NotQualificationManager, AlreadyRevoked),
)
async def revoke_cadre_qualification(
    cadre_qualification_id: uuid.UUID,
    body: QualificationRevoke,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    response: Response,
) -> CadreQualificationRead:
    """Revoke a qualification, with the reason: it is `revoked` from then on, whatever the day."""
    held = await service.revoke_held(db_session, actor, cadre_qualification_id, body.reason)
    set_etag(response, held.version)
    return _read(held, settings)


report_router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])


def _row(row: service.ReportRow) -> QualificationReportRow:
    held = row.required.held
    return QualificationReportRow(
        cadre_id=row.cadre.id,
        hr_id=row.cadre.hr_id,
        name=row.cadre.name,
        org_unit_id=row.cadre.org_unit_id,
        post_type=row.cadre.post_type,
        rank=row.cadre.rank,
        qualification_type_id=row.required.qualification_type.id,
        qualification_name=row.required.qualification_type.name,
        status=row.required.status,
        valid_until=held.valid_until if held else None,
    )


@report_router.get(
    "/qualifications",
    operation_id="getQualificationReport",
    responses=problems(OrgUnitNotFound),
)
async def get_qualification_report(
    db_session: ReadSession,
    actor: CurrentActor,
    settings: AppSettings,
    org_unit_id: Annotated[uuid.UUID, Query(description="The unit; its whole subtree is read")],
    on: Annotated[LocalDate | None, Query(description="The day; default today")] = None,
    within_days: Annotated[
        int | None,
        Query(ge=0, le=3660, description="Default: APP_QUALIFICATION__EXPIRING_DAYS"),
    ] = None,
) -> QualificationReportRead:
    """持证上岗 in a unit's subtree (docs/rules.md rule 13): the active cadres whose post or unit
    requires a qualification they do not hold `valid` or `expiring` on `on` (`missing`), and
    those whose qualification ends within `within_days` days (`expiring`). 404 outside the
    caller's subtree."""
    day = on or local_today()
    window = settings.qualification.expiring_days if within_days is None else within_days
    unit = await service.readable_unit(db_session, actor, org_unit_id)
    missing, expiring = await service.unit_report(
        db_session, unit.path, day, window, settings.qualification.expiring_days
    )
    return QualificationReportRead(
        org_unit_id=unit.id,
        on=day,
        within_days=window,
        missing=[_row(r) for r in missing],
        expiring=[_row(r) for r in expiring],
    )
