import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import TypeAdapter

from app.db import DbSession
from app.enums import NotificationKind
from app.http import API_PREFIX, problems
from app.idempotency.route import IdempotentRoute
from app.notification import service
from app.notification.errors import NotificationNotFound
from app.notification.models import Notification
from app.notification.schemas import NotificationPage, NotificationRead, ReadAllResult
from app.notification.texts import render
from app.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.security import CurrentActor

router = APIRouter(
    prefix=f"{API_PREFIX}/me/notifications", tags=["notifications"], route_class=IdempotentRoute
)

_READ: TypeAdapter[NotificationRead] = TypeAdapter(NotificationRead)


def _read(notification: Notification) -> NotificationRead:
    title, body = render(notification.kind, notification.params)
    return _READ.validate_python(
        {
            "id": notification.id,
            "kind": notification.kind,
            "cadre_id": notification.cadre_id,
            "training_session_id": notification.training_session_id,
            "enrollment_id": notification.enrollment_id,
            "cadre_qualification_id": notification.cadre_qualification_id,
            "params": notification.params,
            "title": title,
            "body": body,
            "created_at": notification.created_at,
            "read_at": notification.read_at,
        }
    )


@router.get("", operation_id="listMyNotifications")
async def list_my_notifications(
    db_session: DbSession,
    actor: CurrentActor,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
    kind: Annotated[NotificationKind | None, Query(description="Only of this kind")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]*$",
            description="Opaque cursor from a previous page's `next_cursor`",
        ),
    ] = None,
) -> NotificationPage:
    """The caller's notifications (role cadre only; docs/notifications.md): unread first, then
    newest first, each with its `title` and `body` in the request's language (from its `kind`
    and `params`), and the count of unread ones."""
    found = await service.list_mine(
        db_session, actor, unread_only=unread, kind=kind, limit=limit, cursor=cursor or None
    )
    return NotificationPage(
        items=[_read(n) for n in found.items],
        next_cursor=found.next_cursor,
        unread_count=found.unread_count,
    )


@router.post("/read-all", operation_id="markAllMyNotificationsRead", responses=problems())
async def mark_all_my_notifications_read(
    db_session: DbSession, actor: CurrentActor
) -> ReadAllResult:
    """Mark every unread notification of the caller read."""
    return ReadAllResult(marked=await service.mark_all_read(db_session, actor))


@router.post(
    "/{notification_id}/read",
    operation_id="markMyNotificationRead",
    responses=problems(NotificationNotFound),
)
async def mark_my_notification_read(
    notification_id: uuid.UUID, db_session: DbSession, actor: CurrentActor
) -> NotificationRead:
    """Mark one of the caller's notifications read (marking it again changes nothing); 404 for
    one that is not the caller's."""
    return _read(await service.mark_read(db_session, notification_id, actor))
