"""Authentication and authorisation, in one place.

Every API operation is reached through `authorize`: it authenticates the bearer token, loads the
actor, and checks the operation against `PERMISSIONS` — an operation missing from the table is
refused (deny by default). What an actor may see inside an operation (its org subtree, its own
records) is applied by the repositories through `app.scope`.
"""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select

from app.audit.service import attribute
from app.auth.rate_limit import RateLimiter
from app.auth.tokens import InvalidToken, verify
from app.cadre.models import Cadre
from app.config import Settings
from app.db import DbSession
from app.enums import Role
from app.errors import Forbidden, Unauthorized
from app.org_unit.models import OrgUnit
from app.user.models import User

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 (a URL, not a secret)

bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    scheme_name="OAuth2",
    description="Bearer access token from `POST /api/v1/auth/token` (password grant for people, "
    "client_credentials for machine clients)",
)

ALL = frozenset(Role)
STAFF = frozenset({Role.admin, Role.org_admin})
READERS = frozenset({Role.admin, Role.org_admin, Role.hr_system, Role.auditor})
MASTER_DATA = frozenset({Role.admin, Role.org_admin, Role.hr_system})
HR_INTEGRATION = frozenset({Role.admin, Role.hr_system})

# operationId → roles allowed to call it. Object scope is decided separately (app.scope).
PERMISSIONS: dict[str, frozenset[Role]] = {
    # org units and cadres: master data, also synced by the HR system
    "listOrgUnits": ALL,
    "getOrgUnit": ALL,
    "createOrgUnit": MASTER_DATA,
    "updateOrgUnit": MASTER_DATA,
    "listCadres": ALL,
    "getCadre": ALL,
    "getCadreByHrId": ALL,
    "createCadre": MASTER_DATA,
    "updateCadre": MASTER_DATA,
    "upsertCadreByHrId": MASTER_DATA,
    "deactivateCadre": MASTER_DATA,
    # training sessions and enrollments: the training offices
    "listTrainingSessions": ALL,
    "getTrainingSession": ALL,
    "createTrainingSession": STAFF,
    "updateTrainingSession": STAFF,
    "closeTrainingSession": STAFF,
    "listSessionEnrollments": ALL,
    "enrollCadre": STAFF | {Role.cadre},
    "getEnrollment": ALL,
    "updateEnrollment": STAFF,
    # study logs: cadres submit their own, the offices review
    "listStudyLogs": ALL,
    "getStudyLog": ALL,
    "createStudyLog": STAFF | {Role.cadre},
    "putStudyLog": STAFF | {Role.cadre},
    "approveStudyLog": STAFF,
    "rejectStudyLog": STAFF,
    "voidStudyLog": STAFF,
    # assessments
    "listAssessments": ALL,
    "getAssessment": ALL,
    "createAssessment": STAFF,
    "updateAssessment": STAFF,
    # users and the audit trail
    "listUsers": frozenset({Role.admin}),
    "getUser": frozenset({Role.admin}),
    "createUser": frozenset({Role.admin}),
    "updateUser": frozenset({Role.admin}),
    "listAuditEvents": frozenset({Role.admin, Role.auditor}),
    "getCurrentUser": ALL,
    # credit policies and the figures computed under them
    "listCreditPolicies": ALL,
    "createCreditPolicy": frozenset({Role.admin}),
    "getCadreCredits": ALL,
    "getCadreCompliance": ALL,
    "getComplianceReport": READERS,
    "getRollCallReport": READERS,
    "listChanges": frozenset({Role.admin, Role.hr_system, Role.auditor}),
    "getCadreArchive": ALL,
    "syncCadres": frozenset({Role.admin, Role.hr_system}),
    "syncOrgUnits": frozenset({Role.admin, Role.hr_system}),
    "importStudyLogs": frozenset({Role.admin, Role.org_admin, Role.hr_system}),
    "exportOrgUnitArchive": READERS,
    # webhooks: optional push of the change feed, managed by the HR system or an admin
    "listWebhooks": HR_INTEGRATION,
    "createWebhook": HR_INTEGRATION,
    "getWebhook": HR_INTEGRATION,
    "updateWebhook": HR_INTEGRATION,
    "deleteWebhook": HR_INTEGRATION,
    "rotateWebhookSecret": HR_INTEGRATION,
    "listWebhookDeliveries": HR_INTEGRATION,
}

# Roles that see every org unit; the others are limited to a subtree or to their own records.
WHOLE_TREE = frozenset({Role.admin, Role.hr_system, Role.auditor})
# Roles that see resident ID numbers whole (everyone else gets them masked).
SEES_ID_NUMBERS = frozenset({Role.admin, Role.hr_system})


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    username: str
    role: Role
    # org_admin: the unit it administers, with its materialised path (its subtree).
    # cadre: its own cadre record and that cadre's unit path (own unit and its ancestors).
    org_unit_id: uuid.UUID | None = None
    org_path: str | None = None
    cadre_id: uuid.UUID | None = None

    @property
    def whole_tree(self) -> bool:
        return self.role in WHOLE_TREE

    @property
    def sees_id_numbers(self) -> bool:
        return self.role in SEES_ID_NUMBERS

    @property
    def audit_label(self) -> str:
        return f"{self.role.value}:{self.username}"


def _challenge(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": 'Bearer realm="cadre-training"'})


async def _load_actor(db_session: DbSession, settings: Settings, token: str) -> Actor:
    try:
        if settings.auth.oidc_jwks_url:
            # The JWKS may have to be fetched (blocking I/O): not on the event loop.
            subject = await asyncio.to_thread(verify, settings, token)
        else:
            subject = verify(settings, token)
    except InvalidToken as exc:
        raise _challenge("The access token is invalid or has expired.") from exc
    if subject.user_id is not None:
        user = await db_session.get(User, subject.user_id)
    else:
        user = (
            await db_session.scalars(select(User).where(User.username == subject.username))
        ).one_or_none()
    if user is None or not user.active:
        raise _challenge("The access token's user is unknown or deactivated.")
    if subject.user_id is None and user.role not in settings.auth.oidc_roles:
        raise _challenge("This role signs in with the service's own tokens only.")
    org_path = None
    if user.role == Role.org_admin and user.org_unit_id is not None:
        org_path = await db_session.scalar(
            select(OrgUnit.path).where(OrgUnit.id == user.org_unit_id)
        )
    elif user.role == Role.cadre and user.cadre_id is not None:
        org_path = await db_session.scalar(
            select(OrgUnit.path)
            .join(Cadre, Cadre.org_unit_id == OrgUnit.id)
            .where(Cadre.id == user.cadre_id)
        )
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        org_unit_id=user.org_unit_id,
        org_path=org_path,
        cadre_id=user.cadre_id,
    )


async def authorize(
    request: Request,
    db_session: DbSession,
    token: Annotated[str | None, Depends(bearer)],
) -> Actor:
    if not token:
        raise _challenge("Send `Authorization: Bearer <token>`.")
    settings: Settings = request.app.state.settings
    actor = await _load_actor(db_session, settings, token)
    route = request.scope.get("route")
    operation_id = getattr(route, "operation_id", None)
    allowed = PERMISSIONS.get(operation_id or "", frozenset())
    if actor.role not in allowed:
        raise Forbidden(f"The {actor.role.value} role may not use this operation.")
    if request.method not in ("GET", "HEAD"):
        limiter: RateLimiter = request.app.state.write_limiter
        limiter.check(f"user:{actor.user_id}")
    await attribute(db_session, request_id=getattr(request.state, "request_id", None), actor=actor)
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Security(authorize)]
