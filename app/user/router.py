import uuid

from fastapi import APIRouter, Response, status

from app.db import DbSession
from app.enums import Role
from app.errors import PreconditionFailed, UnprocessableEntity
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.pagination import Page, PageQuery, paginate
from app.security import CurrentActor
from app.user import repository, service
from app.user.errors import CadreAlreadyLinked, UsernameTaken, UserNotFound, UserReferenceNotFound
from app.user.models import User
from app.user.schemas import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"], route_class=IdempotentRoute)
me_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"], route_class=IdempotentRoute)


class UserPage(Page[UserRead]):
    pass


@router.get("", operation_id="listUsers")
async def list_users(
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    role: Role | None = None,
    active: bool | None = None,
) -> UserPage:
    items, next_cursor = await paginate(
        db_session, repository.list_query(role=role, active=active), User.id, page
    )
    return UserPage(items=[UserRead.model_validate(u) for u in items], next_cursor=next_cursor)


@router.post(
    "",
    operation_id="createUser",
    status_code=status.HTTP_201_CREATED,
    responses=problems(UsernameTaken, UserReferenceNotFound, CadreAlreadyLinked),
)
async def create_user(
    body: UserCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> UserRead:
    """Create a person or a machine client (`hr_system`: its username is the client id and its
    password the client secret)."""
    user = await service.create_user(db_session, body)
    set_etag(response, user.version)
    response.headers["Location"] = f"{API_PREFIX}/users/{user.id}"
    return UserRead.model_validate(user)


@router.get("/{user_id}", operation_id="getUser", responses=problems(UserNotFound))
async def get_user(
    user_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> UserRead:
    user = await service.get_user(db_session, user_id)
    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.patch(
    "/{user_id}",
    operation_id="updateUser",
    responses=problems(
        UserNotFound,
        UserReferenceNotFound,
        CadreAlreadyLinked,
        UnprocessableEntity,
        PreconditionFailed,
    ),
)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> UserRead:
    """Change role, binding, password or deactivate. A new password also lifts a lock-out."""
    user = await service.get_user(db_session, user_id)
    check_if_match(if_match, user.version)
    user = await service.update_user(db_session, user, body)
    set_etag(response, user.version)
    return UserRead.model_validate(user)


@me_router.get("/me", operation_id="getCurrentUser")
async def get_current_user(db_session: DbSession, actor: CurrentActor) -> UserRead:
    """The user the bearer token speaks for."""
    return UserRead.model_validate(await service.get_user(db_session, actor.user_id))
