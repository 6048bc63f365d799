"""Every query of the thesis domain (docs/rules.md, "Theses and reflections"), and its scope."""

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, extract, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadres
from app.cadre.models import Cadre
from app.enums import Role, ThesisGrade, ThesisKind
from app.org_unit.models import OrgUnit
from app.study_log.models import StudyLog
from app.thesis.models import Thesis
from app.training_session import repository as sessions
from app.training_session.models import TrainingSession


def readable(actor: Actor) -> ColumnElement[bool]:
    """A cadre reads its own; an org_admin those of the cadres of its subtree and those handed
    in with the sessions its subtree organises (the organiser grades them); the whole-tree
    roles all."""
    if actor.whole_tree:
        return true()
    if actor.role == Role.cadre:
        return Thesis.cadre_id == actor.cadre_id if actor.cadre_id else false()
    if actor.role != Role.org_admin:
        return false()
    return or_(
        cadres.of_readable_cadre(Thesis.cadre_id, actor),
        Thesis.training_session_id.in_(sessions.managed_ids(actor)),
    )


async def get(
    db_session: AsyncSession, thesis_id: uuid.UUID, actor: Actor, *, for_update: bool = False
) -> Thesis | None:
    stmt = select(Thesis).where(Thesis.id == thesis_id, readable(actor))
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def taken(
    db_session: AsyncSession,
    cadre_id: uuid.UUID,
    kind: ThesisKind,
    training_session_id: uuid.UUID | None,
    study_log_id: uuid.UUID | None,
) -> bool:
    """The cadre has a thesis of the kind for the session, or one for the study log."""
    where: ColumnElement[bool]
    if training_session_id is not None:
        where = (
            (Thesis.training_session_id == training_session_id)
            & (Thesis.cadre_id == cadre_id)
            & (Thesis.kind == kind)
        )
    else:
        where = Thesis.study_log_id == study_log_id
    return (await db_session.scalar(select(Thesis.id).where(where).limit(1))) is not None


@dataclass(frozen=True)
class ThesisFilter:
    training_session_id: uuid.UUID | None = None
    cadre_id: uuid.UUID | None = None
    unit_path: str | None = None
    year: int | None = None
    grade: ThesisGrade | None = None
    kind: ThesisKind | None = None


def _end_date() -> ColumnElement[object]:
    return func.coalesce(TrainingSession.end_date, StudyLog.end_date)


def list_query(actor: Actor, where: ThesisFilter) -> Select[Thesis]:
    stmt = select(Thesis).where(readable(actor))
    if where.training_session_id is not None:
        stmt = stmt.where(Thesis.training_session_id == where.training_session_id)
    if where.cadre_id is not None:
        stmt = stmt.where(Thesis.cadre_id == where.cadre_id)
    if where.unit_path is not None:
        stmt = stmt.where(Thesis.cadre_id.in_(cadres.ids_in_subtree(where.unit_path)))
    if where.grade is not None:
        stmt = stmt.where(Thesis.grade == where.grade)
    if where.kind is not None:
        stmt = stmt.where(Thesis.kind == where.kind)
    if where.year is not None:
        stmt = (
            stmt.outerjoin(TrainingSession, TrainingSession.id == Thesis.training_session_id)
            .outerjoin(StudyLog, StudyLog.id == Thesis.study_log_id)
            .where(extract("year", _end_date()) == where.year)
        )
    return stmt


@dataclass(frozen=True)
class CollectionRow:
    thesis: Thesis
    author: str
    unit: str


async def excellent(
    db_session: AsyncSession, actor: Actor, where: ThesisFilter, limit: int
) -> list[CollectionRow]:
    """The readable excellent theses matching `where`, by the author's unit, then the author,
    then the title: at most `limit`."""
    stmt = (
        list_query(actor, ThesisFilter(**{**where.__dict__, "grade": ThesisGrade.excellent}))
        .add_columns(Cadre.name, OrgUnit.name)
        .join(Cadre, Cadre.id == Thesis.cadre_id)
        .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
        .order_by(OrgUnit.name, Cadre.name, Thesis.title, Thesis.id)
        .limit(limit)
    )
    rows = await db_session.execute(stmt)
    return [CollectionRow(thesis, author, unit) for thesis, author, unit in rows]
