"""Theses and reflections (调研文章 / 学习心得, docs/rules.md "Theses and reflections"): handing
in, editing until graded, grading, and the 论文汇编 of the excellent ones."""

import uuid
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadres
from app.cadre import service as cadre_service
from app.cadre.models import Cadre
from app.clock import now
from app.db import flush_mapping_conflicts
from app.documents.thesis_collection import Collection, CollectionEntry, CollectionWords
from app.enrollment import repository as enrollments
from app.enum_labels import label
from app.enums import EnrollmentStatus, Language, Role, StudyLogKind, StudyLogStatus, ThesisKind
from app.errors import ProblemFieldError, UnprocessableEntity
from app.i18n import N_, gettext
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import PageParams, paginate
from app.study_log import repository as study_logs
from app.thesis import repository
from app.thesis.errors import (
    AlreadyGraded,
    CollectionEmpty,
    CollectionTooLarge,
    NotEnrolled,
    NotThesisAuthor,
    NotThesisGrader,
    NotThesisLog,
    ThesisExists,
    ThesisNotFound,
    ThesisSubjectNotFound,
)
from app.thesis.models import Thesis
from app.thesis.repository import ThesisFilter
from app.thesis.schemas import ThesisCreate, ThesisGradeSet, ThesisUpdate
from app.training_session import repository as sessions
from app.training_session import service as session_service

# A cadre who holds (or held, to the end) a place in the session hands in with it; one on the
# waitlist, nominated, withdrawn, dropped out or refused does not.
HANDS_IN = frozenset(
    {EnrollmentStatus.enrolled, EnrollmentStatus.confirmed, EnrollmentStatus.completed}
)
_UNIQUE = {
    "uq_thesis_session_cadre_kind": ThesisExists(),
    "uq_thesis_study_log_id": ThesisExists(),
}


def _missing(field: str) -> ThesisSubjectNotFound:
    return ThesisSubjectNotFound(
        errors=[
            ProblemFieldError(pointer=f"/body/{field}", detail=N_("not found"), code="not_found")
        ]
    )


async def get_thesis(
    db_session: AsyncSession, thesis_id: uuid.UUID, actor: Actor, *, for_update: bool = False
) -> Thesis:
    found = await repository.get(db_session, thesis_id, actor, for_update=for_update)
    if found is None:
        raise ThesisNotFound()
    return found


async def _author(db_session: AsyncSession, data: ThesisCreate, actor: Actor) -> Cadre:
    """A cadre hands in its own text; staff a cadre's paper, naming the cadre."""
    if data.cadre_id is None:
        if actor.role != Role.cadre or actor.cadre_id is None:
            raise UnprocessableEntity(
                N_("Name the cadre whose text this is (cadre_id)."),
                errors=[
                    ProblemFieldError(
                        pointer="/body/cadre_id",
                        detail=N_("required unless a cadre hands in its own"),
                        code="value_error",
                    )
                ],
            )
        cadre_id = actor.cadre_id
    else:
        cadre_id = data.cadre_id
    return await cadre_service.referenced_cadre(db_session, cadre_id, actor)


async def _check_session(
    db_session: AsyncSession, cadre: Cadre, training_session_id: uuid.UUID, actor: Actor
) -> None:
    enrollment = await enrollments.of_cadre_in_session(db_session, training_session_id, cadre.id)
    if enrollment is None:
        # A session the caller can see is there, the cadre just has no place in it.
        if await sessions.get(db_session, training_session_id, actor) is None:
            raise _missing("training_session_id")
        raise NotEnrolled()
    if enrollment.status not in HANDS_IN:
        raise NotEnrolled()


async def _check_log(
    db_session: AsyncSession, cadre: Cadre, study_log_id: uuid.UUID, actor: Actor
) -> None:
    log = await study_logs.get(db_session, study_log_id, actor)
    if log is None:
        raise _missing("study_log_id")
    if (
        log.cadre_id != cadre.id
        or log.kind != StudyLogKind.thesis
        or log.status == StudyLogStatus.voided
    ):
        raise NotThesisLog()


async def submit(db_session: AsyncSession, data: ThesisCreate, actor: Actor) -> Thesis:
    cadre = await _author(db_session, data, actor)
    if data.training_session_id is not None:
        await _check_session(db_session, cadre, data.training_session_id, actor)
    else:
        assert data.study_log_id is not None  # the schema: exactly one
        await _check_log(db_session, cadre, data.study_log_id, actor)
    if await repository.taken(
        db_session, cadre.id, data.kind, data.training_session_id, data.study_log_id
    ):
        raise ThesisExists()
    thesis = Thesis(
        cadre_id=cadre.id,
        kind=data.kind,
        title=data.title,
        body=data.body,
        training_session_id=data.training_session_id,
        study_log_id=data.study_log_id,
        submitted_at=now(),
    )
    db_session.add(thesis)
    # a concurrent twin loses at the unique constraint: the same 409, never a 500
    await flush_mapping_conflicts(db_session, _UNIQUE)
    return thesis


async def _check_author(db_session: AsyncSession, thesis: Thesis, actor: Actor) -> None:
    """The cadre itself, an admin, or an org_admin whose subtree holds the cadre (who may hand
    in its paper); an organiser who only grades does not edit."""
    if actor.role == Role.admin:
        return
    if actor.role == Role.cadre and actor.cadre_id == thesis.cadre_id:
        return
    if actor.role == Role.org_admin and await cadres.get(db_session, thesis.cadre_id, actor):
        return
    raise NotThesisAuthor()


async def update(
    db_session: AsyncSession, thesis: Thesis, data: ThesisUpdate, actor: Actor
) -> Thesis:
    await _check_author(db_session, thesis, actor)
    if thesis.grade is not None:
        raise AlreadyGraded()
    if data.title is not None:
        thesis.title = data.title
    if data.body is not None:
        thesis.body = data.body
    await db_session.flush()
    await db_session.refresh(thesis)
    return thesis


async def _check_grader(db_session: AsyncSession, thesis: Thesis, actor: Actor) -> None:
    """The session's organiser grades (an org_admin of the organising unit's subtree); a thesis
    handed in alone, an org_admin of the cadre's unit; an admin any."""
    if actor.role == Role.admin:
        return
    if actor.role == Role.org_admin:
        if thesis.training_session_id is not None:
            if await sessions.is_managed(db_session, thesis.training_session_id, actor):
                return
        elif await cadres.get(db_session, thesis.cadre_id, actor) is not None:
            return
    raise NotThesisGrader()


async def grade(
    db_session: AsyncSession, thesis: Thesis, data: ThesisGradeSet, actor: Actor
) -> Thesis:
    """Grade, or grade again (each change is in the audit trail)."""
    await _check_grader(db_session, thesis, actor)
    thesis.grade = data.grade
    thesis.grade_comment = data.comment
    thesis.graded_at = now()
    await db_session.flush()
    await db_session.refresh(thesis)
    return thesis


async def resolve_filter(
    db_session: AsyncSession, actor: Actor, org_unit_id: uuid.UUID | None, where: ThesisFilter
) -> ThesisFilter:
    """`where` with the subtree of `org_unit_id` (404 outside the caller's scope)."""
    if org_unit_id is None:
        return where
    unit = await org_units.get(db_session, org_unit_id, actor)
    if unit is None:
        raise OrgUnitNotFound()
    return replace(where, unit_path=unit.path)


async def list_theses(
    db_session: AsyncSession, actor: Actor, where: ThesisFilter, page: PageParams
) -> tuple[list[Thesis], str | None]:
    return await paginate(db_session, repository.list_query(actor, where), Thesis.id, page)


# The cover's title, by what is collected (a kind, or both) and whether of a session or a year.
_TITLES = {
    (ThesisKind.thesis, True): N_("{session}: excellent theses"),
    (ThesisKind.reflection, True): N_("{session}: excellent reflections"),
    (None, True): N_("{session}: excellent theses and reflections"),
    (ThesisKind.thesis, False): N_("{year}: excellent theses"),
    (ThesisKind.reflection, False): N_("{year}: excellent reflections"),
    (None, False): N_("{year}: excellent theses and reflections"),
}


def _scope_missing() -> UnprocessableEntity:
    return UnprocessableEntity(
        N_("Name a training_session_id, or a year (with an org_unit_id if you like)."),
        errors=[
            ProblemFieldError(
                pointer="/query/training_session_id",
                detail=N_("training_session_id or year is required"),
                code="value_error",
            )
        ],
    )


async def collection(
    db_session: AsyncSession,
    actor: Actor,
    where: ThesisFilter,
    lang: Language,
    maximum: int,
) -> Collection:
    """The 论文汇编 of the excellent theses of a session, or of a year (of a unit's subtree):
    what the document shows, in `lang`."""
    if where.training_session_id is not None:
        ts = await session_service.get_training_session(
            db_session, where.training_session_id, actor
        )
        template = _TITLES[(where.kind, True)]
        title = gettext(template, lang).format(session=ts.title, year=where.year)
    elif where.year is not None:
        template = _TITLES[(where.kind, False)]
        title = gettext(template, lang).format(year=where.year)
    else:
        raise _scope_missing()
    rows = await repository.excellent(db_session, actor, where, maximum + 1)
    if not rows:
        raise CollectionEmpty()
    if len(rows) > maximum:
        raise CollectionTooLarge(
            gettext(N_("More than {maximum} excellent theses match."), lang).format(maximum=maximum)
        )
    return Collection(
        title=title,
        entries=[
            CollectionEntry(
                title=row.thesis.title,
                author=row.author,
                unit=row.unit,
                kind=label(row.thesis.kind, lang),
                body=row.thesis.body,
            )
            for row in rows
        ],
        words=CollectionWords(
            contents=gettext(N_("Contents"), lang),
            author=gettext(N_("Author"), lang),
            unit=gettext(N_("Unit"), lang),
            kind=gettext(N_("Kind"), lang),
            page=gettext(N_("Page {page}"), lang),
            count=gettext(N_("{count} texts"), lang),
        ),
    )
