"""Qualifications with validity, 持证上岗 (docs/rules.md rule 13): types, held qualifications,
granting on completion, revocation, and the status of each required qualification."""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadre_repository
from app.cadre.errors import CadreNotFound
from app.cadre.models import Cadre
from app.catalogue import service as catalogue
from app.catalogue.models import Course
from app.clock import now
from app.db import flush_mapping_conflicts
from app.enums import QualificationStatus, Role, TrainingForm
from app.org_unit import repository as org_unit_repository
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_ids
from app.qualification import repository, rules
from app.qualification.errors import (
    AlreadyRevoked,
    NotQualificationManager,
    QualificationExists,
    QualificationNotFound,
    QualificationTypeExists,
    QualificationTypeNotFound,
)
from app.qualification.models import CadreQualification, QualificationType
from app.qualification.schemas import (
    CadreQualificationCreate,
    QualificationTypeCreate,
    RequiredQualificationRead,
)

_HELD_UNIQUE = "uq_cadre_qualification_held"


@dataclass(frozen=True)
class RequiredQualification:
    """One qualification a cadre's post or unit requires, and the best one held on a day."""

    qualification_type: QualificationType
    held: CadreQualification | None
    status: QualificationStatus | None

    @property
    def covered(self) -> bool:
        return rules.counts_as_held(self.status)


def check_manages(actor: Actor, org_path: str) -> None:
    """An admin, or an org_admin whose subtree holds the unit at `org_path`."""
    if actor.role == Role.admin:
        return
    if (
        actor.role != Role.org_admin
        or actor.org_path is None
        or not org_path.startswith(actor.org_path)
    ):
        raise NotQualificationManager()


def status_of(
    held: CadreQualification, day: dt.date, expiring_days: int
) -> QualificationStatus | None:
    return rules.status_on(
        day,
        valid_from=held.valid_from,
        valid_until=held.valid_until,
        revoked=held.revoked_at is not None,
        expiring_days=expiring_days,
    )


def _best(
    held: Sequence[CadreQualification], day: dt.date, expiring_days: int
) -> tuple[CadreQualification | None, QualificationStatus | None]:
    """The qualification that speaks for the cadre on `day`: a covering one with the latest
    `valid_until`, else the latest of the others (expired, revoked, or not yet begun)."""
    if not held:
        return None, None
    ranked = sorted(
        held,
        key=lambda h: (rules.counts_as_held(status_of(h, day, expiring_days)), h.valid_until),
        reverse=True,
    )
    return ranked[0], status_of(ranked[0], day, expiring_days)


async def _cadre_path(db_session: AsyncSession, cadre: Cadre) -> str:
    unit = await org_unit_repository.get(db_session, cadre.org_unit_id)
    assert unit is not None  # a cadre's unit is a foreign key
    return unit.path


def _new(
    cadre_id: uuid.UUID,
    qtype: QualificationType,
    valid_from: dt.date,
    evidence: str,
    form: TrainingForm | None,
    certificate_id: uuid.UUID | None = None,
) -> CadreQualification:
    return CadreQualification(
        cadre_id=cadre_id,
        qualification_type_id=qtype.id,
        valid_from=valid_from,
        valid_until=rules.valid_until(valid_from, qtype.validity_years),
        evidence=evidence,
        granted_by_form=form,
        certificate_id=certificate_id,
    )


@dataclass(frozen=True)
class Completion:
    """A trainee who completed a session, the certificate it earned, and the evidence text."""

    cadre_id: uuid.UUID
    certificate_id: uuid.UUID | None
    evidence: str


async def grant_for_session(
    db_session: AsyncSession,
    *,
    form: TrainingForm,
    course_ids: Sequence[uuid.UUID],
    completed_on: dt.date,
    completions: Sequence[Completion],
) -> list[CadreQualification]:
    """Grant each completed trainee every type in force at its unit (owned by the unit or one
    above) that lists the session's `form` or one of the `course_ids` it taught, valid from
    `completed_on`, tied to the trainee's certificate (rule 13). Called once per close: three
    queries and one INSERT whatever the class size. A type already held from that day is not
    granted twice."""
    if not completions:
        return []
    cadre_ids = [c.cadre_id for c in completions]
    paths = await repository.unit_paths_of(db_session, cadre_ids)
    units_of = {cadre_id: path_ids(path) for cadre_id, path in paths.items()}
    all_units = list(dict.fromkeys(u for units in units_of.values() for u in units))
    types = await repository.types_granting(db_session, all_units, form, course_ids)
    if not types:
        return []
    already = await repository.held_from(db_session, cadre_ids, completed_on)
    granted = [
        _new(done.cadre_id, qtype, completed_on, done.evidence, form, done.certificate_id)
        for done in completions
        for qtype in types
        if qtype.org_unit_id in units_of.get(done.cadre_id, [])
        and (done.cadre_id, qtype.id) not in already
    ]
    return list(await repository.insert_granted(db_session, granted))


async def grant_from_completion(
    db_session: AsyncSession,
    cadre_id: uuid.UUID,
    form: TrainingForm,
    completed_on: dt.date,
    evidence: str,
    *,
    course_ids: Sequence[uuid.UUID] = (),
    certificate_id: uuid.UUID | None = None,
) -> list[CadreQualification]:
    """One trainee's completion: `grant_for_session` for a class of one."""
    if await cadre_repository.get(db_session, cadre_id) is None:
        raise QualificationNotFound()
    return await grant_for_session(
        db_session,
        form=form,
        course_ids=course_ids,
        completed_on=completed_on,
        completions=[Completion(cadre_id, certificate_id, evidence)],
    )


async def record(
    db_session: AsyncSession,
    actor: Actor,
    cadre: Cadre,
    qtype: QualificationType,
    valid_from: dt.date,
    evidence: str,
) -> CadreQualification:
    """Record a qualification by hand, with the evidence it rests on."""
    check_manages(actor, await _cadre_path(db_session, cadre))
    if await repository.find_held(db_session, cadre.id, qtype.id, valid_from) is not None:
        raise QualificationExists()
    held = _new(cadre.id, qtype, valid_from, evidence, None)
    db_session.add(held)
    # a concurrent duplicate loses at the unique constraint: the same 409, never a 500
    await flush_mapping_conflicts(db_session, {_HELD_UNIQUE: QualificationExists()})
    return held


async def revoke(
    db_session: AsyncSession, actor: Actor, held: CadreQualification, cadre: Cadre, reason: str
) -> CadreQualification:
    check_manages(actor, await _cadre_path(db_session, cadre))
    if held.revoked_at is not None:
        raise AlreadyRevoked()
    held.revoked_at = now()
    held.revoke_reason = reason
    await db_session.flush()
    return held


async def required_of(
    db_session: AsyncSession, cadre: Cadre, day: dt.date, expiring_days: int
) -> list[RequiredQualification]:
    """Each qualification the cadre's post or unit requires, with the one held and its status
    on `day` (the compliance view's `qualifications` block)."""
    # One round trip: the compliance read runs this on every request.
    path, in_force = await repository.in_force_with_held(db_session, cadre.org_unit_id, cadre.id)
    unit_ids = path_ids(path)
    answer = []
    for qtype, held in in_force:
        if _requires(qtype, cadre, unit_ids):
            best, status = _best(held, day, expiring_days)
            answer.append(RequiredQualification(qtype, best, status))
    return answer


async def create_type(
    db_session: AsyncSession, actor: Actor, data: QualificationTypeCreate
) -> QualificationType:
    unit = await org_unit_repository.get(db_session, data.org_unit_id, actor)
    if unit is None:
        raise ReferencedOrgUnitNotFound()
    check_manages(actor, unit.path)
    await catalogue.check_usable(
        db_session, Course, data.granting_course_ids, unit.path, "/body/granting_course_ids/{}"
    )
    if await repository.type_named(db_session, data.org_unit_id, data.name) is not None:
        raise QualificationTypeExists()
    qtype = QualificationType(
        org_unit_id=data.org_unit_id,
        name=data.name,
        validity_years=data.validity_years,
        required_post_types=[str(p) for p in data.required_post_types],
        required_ranks=[str(r) for r in data.required_ranks],
        required_org_unit_ids=data.required_org_unit_ids,
        granting_forms=[str(f) for f in data.granting_forms],
        granting_course_ids=data.granting_course_ids,
    )
    db_session.add(qtype)
    await flush_mapping_conflicts(
        db_session, {"uq_qualification_type_org_unit_id_name": QualificationTypeExists()}
    )
    return qtype


async def list_types(db_session: AsyncSession, actor: Actor) -> Sequence[QualificationType]:
    return await repository.list_types(db_session, actor)


async def readable_cadre(db_session: AsyncSession, actor: Actor, cadre_id: uuid.UUID) -> Cadre:
    cadre = await cadre_repository.get(db_session, cadre_id, actor)
    if cadre is None:
        raise CadreNotFound()
    return cadre


async def held_by(db_session: AsyncSession, cadre: Cadre) -> Sequence[CadreQualification]:
    return await repository.held(db_session, [cadre.id])


async def record_for(
    db_session: AsyncSession, actor: Actor, cadre_id: uuid.UUID, data: CadreQualificationCreate
) -> CadreQualification:
    cadre = await readable_cadre(db_session, actor, cadre_id)
    qtype = await repository.get_type(db_session, data.qualification_type_id)
    # A type applies where its unit's tree holds the cadre (rule 13): another unit's type is
    # as unknown as a missing one.
    if qtype is None or qtype.org_unit_id not in path_ids(await _cadre_path(db_session, cadre)):
        raise QualificationTypeNotFound()
    return await record(db_session, actor, cadre, qtype, data.valid_from, data.evidence)


async def revoke_held(
    db_session: AsyncSession, actor: Actor, cadre_qualification_id: uuid.UUID, reason: str
) -> CadreQualification:
    held = await repository.get_held(db_session, cadre_qualification_id, for_update=True)
    if held is None:
        raise QualificationNotFound()
    cadre = await cadre_repository.get(db_session, held.cadre_id, actor)
    if cadre is None:
        raise QualificationNotFound()
    return await revoke(db_session, actor, held, cadre, reason)


def required_read(required: Sequence[RequiredQualification]) -> list[RequiredQualificationRead]:
    return [
        RequiredQualificationRead(
            qualification_type_id=r.qualification_type.id,
            name=r.qualification_type.name,
            held=r.covered,
            status=r.status,
            valid_until=r.held.valid_until if r.held else None,
            cadre_qualification_id=r.held.id if r.held else None,
        )
        for r in required
    ]


@dataclass(frozen=True)
class ReportRow:
    cadre: Cadre
    required: RequiredQualification


async def unit_report(
    db_session: AsyncSession, root_path: str, day: dt.date, within_days: int, expiring_days: int
) -> tuple[list[ReportRow], list[ReportRow]]:
    """Who holds a post without a valid qualification, and who is expiring within
    `within_days` of `day`, in the subtree at `root_path` (rule 13)."""
    cadres = await repository.active_cadres_in_subtree(db_session, root_path)
    types = await repository.types_owned_around(db_session, root_path)
    held = await repository.held(db_session, [c.id for c, _ in cadres])
    held_by_cadre: dict[uuid.UUID, list[CadreQualification]] = {}
    for h in held:
        held_by_cadre.setdefault(h.cadre_id, []).append(h)
    missing: list[ReportRow] = []
    expiring: list[ReportRow] = []
    for cadre, path in cadres:
        unit_ids = path_ids(path)
        for qtype in types:
            if qtype.org_unit_id not in unit_ids or not _requires(qtype, cadre, unit_ids):
                continue
            best, status = _best(
                [h for h in held_by_cadre.get(cadre.id, []) if h.qualification_type_id == qtype.id],
                day,
                expiring_days,
            )
            row = ReportRow(cadre, RequiredQualification(qtype, best, status))
            if not rules.counts_as_held(status):
                missing.append(row)
            elif best is not None and (best.valid_until - day).days < within_days:
                expiring.append(row)
    return missing, expiring


def _requires(qtype: QualificationType, cadre: Cadre, unit_ids: Sequence[uuid.UUID]) -> bool:
    return rules.requires(
        required_post_types=qtype.required_post_types,
        required_ranks=qtype.required_ranks,
        required_org_unit_ids=qtype.required_org_unit_ids,
        post_type=str(cadre.post_type),
        rank=str(cadre.rank),
        unit_path_ids=unit_ids,
    )


async def readable_unit(db_session: AsyncSession, actor: Actor, org_unit_id: uuid.UUID) -> OrgUnit:
    unit = await org_unit_repository.get(db_session, org_unit_id, actor)
    if unit is None:
        raise OrgUnitNotFound()
    return unit
