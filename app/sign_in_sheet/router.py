import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.db import DbSession
from app.documents.spreadsheet import content_disposition
from app.enums import Language
from app.http import API_PREFIX, problems
from app.security import CurrentActor
from app.sign_in_sheet import service
from app.sign_in_sheet.schemas import MEDIA_TYPES, SheetFormat
from app.training_session.errors import NotSessionOrganiser, TrainingSessionNotFound

router = APIRouter(prefix=f"{API_PREFIX}/training-sessions", tags=["training sessions"])

_SHEET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The sign-in sheet (签到表): a PDF (A4, one row per trainee, one column "
        "per class part, the header row on every page) or an XLSX workbook, as an attachment "
        "(`Content-Disposition`), in the language of `lang` (`Content-Language`)",
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="..."; '
                "filename*=UTF-8''签到表-<title>.pdf (en: Sign-in sheet-<title>.pdf)",
                "schema": {"type": "string"},
            },
            "Content-Language": {
                "description": "The file's language: the `lang` asked for",
                "schema": {"type": "string"},
            },
        },
        "content": {
            MEDIA_TYPES[SheetFormat.pdf]: {"schema": {"type": "string", "format": "binary"}},
            MEDIA_TYPES[SheetFormat.xlsx]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get(
    "/{training_session_id}/sign-in-sheet",
    operation_id="getSignInSheet",
    response_class=Response,
    responses={**_SHEET_RESPONSES, **problems(TrainingSessionNotFound, NotSessionOrganiser)},
)
async def get_sign_in_sheet(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    format: Annotated[
        SheetFormat, Query(description="pdf (default: printable A4) or xlsx")
    ] = SheetFormat.pdf,
    lang: Annotated[
        Language,
        Query(description="The language of the sheet's words: zh-CN (default) or en"),
    ] = Language.zh_cn,
) -> Response:
    """签到表: the session's sign-in sheet, to print and sign, or to fill in a spreadsheet. One
    row per trainee holding a place (after closing: each who completed or dropped out), unit
    by unit; one column per class part (a session without parts: one column to sign). Text is
    set in an embedded Chinese font, so the PDF prints the same anywhere. For the session's
    organisers: an `admin` or an `org_admin` of the organising unit's tree (403 otherwise)."""
    sheet = await service.get_sign_in_sheet(db_session, training_session_id, actor, lang)
    # Rendering is CPU work (the PDF's font subset: about half a second for a class of 60,
    # bench/sign_in_sheet.py): in a worker thread, so the event loop serves others meanwhile.
    render = sheet.to_pdf if format is SheetFormat.pdf else sheet.to_xlsx
    body = await asyncio.to_thread(render)
    filename = sheet.filename(format.value)
    # The file's words are in `lang`, whatever Accept-Language says (app.i18n).
    headers = {
        "Content-Disposition": content_disposition(filename),
        "Content-Language": lang.value,
    }
    return Response(body, media_type=MEDIA_TYPES[format], headers=headers)
