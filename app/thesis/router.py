import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from app.cadre.errors import ReferencedCadreNotFound
from app.db import DbSession, ReadSession
from app.documents.spreadsheet import content_disposition
from app.documents.thesis_collection import collection_docx, collection_pdf
from app.enums import Language, ThesisGrade, ThesisKind
from app.errors import PreconditionFailed
from app.http import API_PREFIX, AppSettings, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import PageQuery
from app.security import CurrentActor
from app.thesis import service
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
from app.thesis.repository import ThesisFilter
from app.thesis.schemas import (
    MEDIA_TYPES,
    CollectionFormat,
    ThesisCreate,
    ThesisGradeSet,
    ThesisPage,
    ThesisRead,
    ThesisUpdate,
)
from app.training_session.errors import TrainingSessionNotFound

router = APIRouter(prefix=API_PREFIX, tags=["theses"], route_class=IdempotentRoute)

SessionQuery = Annotated[uuid.UUID | None, Query(description="Handed in with this session")]
UnitQuery = Annotated[uuid.UUID | None, Query(description="By cadres of this unit or its subtree")]
YearQuery = Annotated[
    int | None,
    Query(
        ge=1900,
        le=2199,
        description="The year its session ended, or its study log ended (handed in alone)",
    ),
]
KindQuery = Annotated[ThesisKind | None, Query(description="thesis (调研文章) or reflection")]

_COLLECTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The 论文汇编: a cover, a table of contents, then each excellent text on "
        "a page of its own, as an attachment (`Content-Disposition`), in the language of "
        "`lang` (`Content-Language`)",
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename*=UTF-8''<title>.pdf (or .docx)",
                "schema": {"type": "string"},
            },
            "Content-Language": {
                "description": "The file's language: the `lang` asked for",
                "schema": {"type": "string"},
            },
        },
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in MEDIA_TYPES.values()
        },
    }
}


# Not /theses/collection: that path would also match /theses/{thesis_id}, so a PATCH or PUT sent
# to it would answer 422 for a bad id instead of 405 for a method the path lacks.
@router.get(
    "/thesis-collection",
    operation_id="getThesisCollection",
    response_class=Response,
    responses={
        **_COLLECTION_RESPONSES,
        **problems(TrainingSessionNotFound, OrgUnitNotFound, CollectionEmpty, CollectionTooLarge),
    },
)
async def get_thesis_collection(
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    training_session_id: SessionQuery = None,
    year: YearQuery = None,
    org_unit_id: UnitQuery = None,
    kind: KindQuery = None,
    format: Annotated[
        CollectionFormat, Query(description="pdf (default) or docx")
    ] = CollectionFormat.pdf,
    lang: Annotated[
        Language, Query(description="The language of the document's words: zh-CN (default) or en")
    ] = Language.zh_cn,
) -> Response:
    """论文汇编 (docs/rules.md, "Theses and reflections"): the excellent (`优秀`) texts of a
    session (`training_session_id`), or of a `year` (of a unit's subtree with `org_unit_id`),
    that the caller may read, as one PDF or DOCX: a cover, a table of contents with page
    numbers, then each text on a new page with its title, author, unit and kind, sorted by
    unit, then author. None: 404 `thesis.collection_empty`; more than
    `APP_THESIS__COLLECTION_MAX`: 409 `thesis.collection_too_large`."""
    where = await service.resolve_filter(
        db_session,
        actor,
        org_unit_id,
        ThesisFilter(training_session_id=training_session_id, year=year, kind=kind),
    )
    collection = await service.collection(
        db_session, actor, where, lang, settings.thesis.collection_max
    )
    render = collection_pdf if format is CollectionFormat.pdf else collection_docx
    # CPU work (the font subset, the layout): in a worker thread, as the sign-in sheet.
    body = await asyncio.to_thread(render, collection)
    headers = {
        "Content-Disposition": content_disposition(f"{collection.title}.{format.value}"),
        "Content-Language": lang.value,
    }
    return Response(body, media_type=MEDIA_TYPES[format], headers=headers)


@router.post(
    "/theses",
    operation_id="submitThesis",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        ReferencedCadreNotFound,
        ThesisSubjectNotFound,
        NotEnrolled,
        NotThesisLog,
        ThesisExists,
    ),
)
async def submit_thesis(
    body: ThesisCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> ThesisRead:
    """Hand in a thesis (调研文章) or reflection (学习心得): with a session the cadre holds a
    place in (`enrolled`, `confirmed` or `completed`), or alone with the cadre's own study log
    of kind `thesis` (not voided). A cadre hands in its own (`cadre_id` left out); an org_admin
    a paper of a cadre of its subtree, an admin anyone's. One of a kind per cadre and session,
    one per study log (409 `thesis.exists`)."""
    thesis = await service.submit(db_session, body, actor)
    set_etag(response, thesis.version)
    response.headers["Location"] = f"{API_PREFIX}/theses/{thesis.id}"
    return ThesisRead.model_validate(thesis)


@router.get("/theses", operation_id="listTheses", responses=problems(OrgUnitNotFound))
async def list_theses(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    training_session_id: SessionQuery = None,
    cadre_id: Annotated[uuid.UUID | None, Query(description="By this cadre")] = None,
    org_unit_id: UnitQuery = None,
    year: YearQuery = None,
    grade: Annotated[ThesisGrade | None, Query(description="Graded so")] = None,
    kind: KindQuery = None,
) -> ThesisPage:
    """The theses the caller may read: a cadre its own; an org_admin those of its subtree's
    cadres and those handed in with the sessions its subtree organises; admin and auditor
    all."""
    where = await service.resolve_filter(
        db_session,
        actor,
        org_unit_id,
        ThesisFilter(
            training_session_id=training_session_id,
            cadre_id=cadre_id,
            year=year,
            grade=grade,
            kind=kind,
        ),
    )
    items, next_cursor = await service.list_theses(db_session, actor, where, page)
    return ThesisPage(items=[ThesisRead.model_validate(t) for t in items], next_cursor=next_cursor)


@router.get("/theses/{thesis_id}", operation_id="getThesis", responses=problems(ThesisNotFound))
async def get_thesis(
    thesis_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> ThesisRead:
    """One thesis and its `ETag`; 404 outside the caller's scope."""
    thesis = await service.get_thesis(db_session, thesis_id, actor)
    set_etag(response, thesis.version)
    return ThesisRead.model_validate(thesis)


@router.patch(
    "/theses/{thesis_id}",
    operation_id="updateThesis",
    responses=problems(ThesisNotFound, NotThesisAuthor, AlreadyGraded, PreconditionFailed),
)
async def update_thesis(
    thesis_id: uuid.UUID,
    body: ThesisUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> ThesisRead:
    """Change the title or the text (`If-Match`: its ETag) until it is graded (409
    `thesis.already_graded` after): the cadre itself, an org_admin of the cadre's unit, an
    admin."""
    thesis = await service.get_thesis(db_session, thesis_id, actor, for_update=True)
    check_if_match(if_match, thesis.version)
    thesis = await service.update(db_session, thesis, body, actor)
    set_etag(response, thesis.version)
    return ThesisRead.model_validate(thesis)


@router.put(
    "/theses/{thesis_id}/grade",
    operation_id="gradeThesis",
    responses=problems(ThesisNotFound, NotThesisGrader, PreconditionFailed),
)
async def grade_thesis(
    thesis_id: uuid.UUID,
    body: ThesisGradeSet,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> ThesisRead:
    """Grade it 优秀 (`excellent`), 合格 (`pass`) or 不合格 (`fail`), with a comment for the
    author; grading again replaces the grade (each change is in the audit trail). The session's
    organiser (an org_admin of the organising unit's subtree) or an admin; a thesis handed in
    alone, an org_admin of the cadre's unit."""
    thesis = await service.get_thesis(db_session, thesis_id, actor, for_update=True)
    check_if_match(if_match, thesis.version)
    thesis = await service.grade(db_session, thesis, body, actor)
    set_etag(response, thesis.version)
    return ThesisRead.model_validate(thesis)
