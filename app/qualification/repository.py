"""Every query of the qualification domain, and its scope statements."""

import uuid
from collections.abc import Sequence

from sqlalchemy import ARRAY, ColumnElement, Uuid, any_, cast, false, func, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre.models import Cadre
from app.enums import CadreStatus, Role, TrainingForm
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree, path_ids, subtree_ids
from app.qualification.models import CadreQualification, QualificationType


def managed(actor: Actor) -> ColumnElement[bool]:
    """Types the actor may read and manage: all for an admin (and read for the whole-tree
    roles), those owned in its subtree for an org_admin, none otherwise."""
    if actor.whole_tree:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return QualificationType.org_unit_id.in_(subtree_ids(actor.org_path))


async def get_type(
    db_session: AsyncSession, qualification_type_id: uuid.UUID, actor: Actor | None = None
) -> QualificationType | None:
    stmt = select(QualificationType).where(QualificationType.id == qualification_type_id)
    if actor is not None:
        stmt = stmt.where(managed(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def list_types(db_session: AsyncSession, actor: Actor) -> Sequence[QualificationType]:
    stmt = select(QualificationType).where(managed(actor)).order_by(QualificationType.name)
    return (await db_session.scalars(stmt)).all()


async def in_force_with_held(
    db_session: AsyncSession, org_unit_id: uuid.UUID, cadre_id: uuid.UUID
) -> tuple[str, list[tuple[QualificationType, list[CadreQualification]]]]:
    """In one round trip: the path of the unit at `org_unit_id`, the types in force there (owned
    by it or an ancestor) and, per type, what the cadre holds of it (the latest `valid_until`
    first)."""
    ancestors = cast(func.string_to_array(func.btrim(OrgUnit.path, "/"), "/"), ARRAY(Uuid))
    stmt = (
        select(OrgUnit.path, QualificationType, CadreQualification)
        .select_from(OrgUnit)
        .outerjoin(QualificationType, QualificationType.org_unit_id == any_(ancestors))
        .outerjoin(
            CadreQualification,
            (CadreQualification.qualification_type_id == QualificationType.id)
            & (CadreQualification.cadre_id == cadre_id),
        )
        .where(OrgUnit.id == org_unit_id)
        .order_by(
            QualificationType.name,
            QualificationType.id,
            CadreQualification.valid_until.desc(),
            CadreQualification.id,
        )
    )
    rows = (await db_session.execute(stmt)).all()
    types: dict[uuid.UUID, tuple[QualificationType, list[CadreQualification]]] = {}
    for _path, qtype, held in rows:
        if qtype is None:
            continue
        entry = types.setdefault(qtype.id, (qtype, []))
        if held is not None:
            entry[1].append(held)
    return rows[0][0], list(types.values())


async def types_granting(
    db_session: AsyncSession,
    unit_ids: Sequence[uuid.UUID],
    form: TrainingForm,
    course_ids: Sequence[uuid.UUID],
) -> Sequence[QualificationType]:
    """Types owned by any of `unit_ids` that list `form` or one of `course_ids` (one query)."""
    grants = QualificationType.granting_forms.contains([str(form)])
    if course_ids:
        grants = grants | QualificationType.granting_course_ids.overlap(list(course_ids))
    stmt = (
        select(QualificationType)
        .where(QualificationType.org_unit_id.in_(unit_ids), grants)
        .order_by(QualificationType.name, QualificationType.id)
    )
    return (await db_session.scalars(stmt)).all()


async def unit_paths_of(
    db_session: AsyncSession, cadre_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each cadre's unit path, in one query."""
    stmt = (
        select(Cadre.id, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
        .where(Cadre.id.in_(cadre_ids))
    )
    return {row.id: row.path for row in await db_session.execute(stmt)}


async def held_from(
    db_session: AsyncSession, cadre_ids: Sequence[uuid.UUID], valid_from: object
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(cadre, type) pairs these cadres already hold from `valid_from`, in one query."""
    stmt = select(CadreQualification.cadre_id, CadreQualification.qualification_type_id).where(
        CadreQualification.cadre_id.in_(cadre_ids), CadreQualification.valid_from == valid_from
    )
    return {(cadre_id, type_id) for cadre_id, type_id in await db_session.execute(stmt)}


_ROWS_PER_INSERT = 2_000


async def insert_granted(
    db_session: AsyncSession, rows: Sequence[CadreQualification]
) -> Sequence[CadreQualification]:
    """Insert granted qualifications (one statement per 2,000). A row a concurrent close committed
    first for the same cadre, type and day (the held uniqueness) is skipped, not an error:
    two classes of one form ending the same day grant the type once."""
    if not rows:
        return []
    columns = (
        "id",
        "version",
        "cadre_id",
        "qualification_type_id",
        "valid_from",
        "valid_until",
        "evidence",
        "granted_by_form",
        "certificate_id",
    )
    values = [
        {
            **{column: getattr(row, column) for column in columns[2:]},
            "id": new_id(),
            "version": 1,
        }
        for row in rows
    ]
    inserted: list[CadreQualification] = []
    # asyncpg binds at most 32,767 parameters a statement: nine a row, so a large class's grants
    # go in chunks (one statement for any class of up to _ROWS_PER_INSERT grants).
    for start in range(0, len(values), _ROWS_PER_INSERT):
        stmt = (
            insert(CadreQualification)
            .values(values[start : start + _ROWS_PER_INSERT])
            .on_conflict_do_nothing(constraint="uq_cadre_qualification_held")
            .returning(CadreQualification)
        )
        inserted.extend((await db_session.scalars(stmt)).all())
    return inserted


async def held(
    db_session: AsyncSession, cadre_ids: Sequence[uuid.UUID]
) -> Sequence[CadreQualification]:
    """The qualifications of these cadres, the latest `valid_until` first."""
    stmt = (
        select(CadreQualification)
        .where(CadreQualification.cadre_id.in_(cadre_ids))
        .order_by(
            CadreQualification.cadre_id,
            CadreQualification.valid_until.desc(),
            CadreQualification.id,
        )
    )
    return (await db_session.scalars(stmt)).all()


async def get_held(
    db_session: AsyncSession, cadre_qualification_id: uuid.UUID, *, for_update: bool = False
) -> CadreQualification | None:
    stmt = select(CadreQualification).where(CadreQualification.id == cadre_qualification_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def find_held(
    db_session: AsyncSession,
    cadre_id: uuid.UUID,
    qualification_type_id: uuid.UUID,
    valid_from: object,
) -> CadreQualification | None:
    stmt = select(CadreQualification).where(
        CadreQualification.cadre_id == cadre_id,
        CadreQualification.qualification_type_id == qualification_type_id,
        CadreQualification.valid_from == valid_from,
    )
    return (await db_session.scalars(stmt)).one_or_none()


async def type_named(
    db_session: AsyncSession, org_unit_id: uuid.UUID, name: str
) -> QualificationType | None:
    stmt = select(QualificationType).where(
        QualificationType.org_unit_id == org_unit_id, QualificationType.name == name
    )
    return (await db_session.scalars(stmt)).one_or_none()


async def active_cadres_in_subtree(db_session: AsyncSession, path: str) -> list[tuple[Cadre, str]]:
    """The active cadres of a unit's whole subtree, with their unit's path, by unit and name."""
    stmt = (
        select(Cadre, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
        .where(in_subtree(path), Cadre.status == CadreStatus.active)
        .order_by(OrgUnit.path, Cadre.name, Cadre.id)
    )
    return [(cadre, unit_path) for cadre, unit_path in await db_session.execute(stmt)]


async def types_owned_around(db_session: AsyncSession, path: str) -> Sequence[QualificationType]:
    """Types that may be in force somewhere in the subtree at `path`: owned by its unit, an
    ancestor or a descendant."""
    stmt = (
        select(QualificationType)
        .where(
            QualificationType.org_unit_id.in_(path_ids(path))
            | QualificationType.org_unit_id.in_(subtree_ids(path))
        )
        .order_by(QualificationType.name, QualificationType.id)
    )
    return (await db_session.scalars(stmt)).all()
