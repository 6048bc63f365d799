"""Authentication and authorisation, in one place.

Every API operation is reached through `authorize`: it authenticates the bearer token, loads the
actor, and checks the operation against `PERMISSIONS` — an operation missing from the table is
refused (deny by default). What an actor may see inside an operation (its org subtree, its own
records) is a statement each domain's repository builds from the actor (for example
`app.cadre.repository.readable`).
"""

import asyncio
from typing import Annotated, Any, Protocol, cast

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.openapi.models import OAuthFlowClientCredentials
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.auth.principals import PrincipalCache
from app.auth.rate_limit import RateLimiter
from app.auth.tokens import InvalidToken, Subject, verify
from app.config import Settings
from app.db import DbSession, attribute
from app.enums import Role
from app.errors import Forbidden, Unauthorized
from app.http import AppSettings
from app.i18n import N_, _

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 (a URL, not a secret)


class _Bearer(OAuth2PasswordBearer):
    """A bearer token from the token endpoint, whose contract declares both grants that issue
    one: `password` (people; it also takes `refresh_token`) and `clientCredentials` (machine
    clients, which get no refresh token)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        flows = cast(OAuth2Model, self.model).flows
        flows.clientCredentials = OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes={})


bearer = _Bearer(
    tokenUrl=TOKEN_URL,
    refreshUrl=TOKEN_URL,
    auto_error=False,
    scheme_name="OAuth2",
    description="Bearer access token from `POST /api/v1/auth/token` (password grant for people, "
    "client_credentials for machine clients; refresh_token to renew a person's)",
)

ALL = frozenset(Role)
STAFF = frozenset({Role.admin, Role.org_admin})
READERS = frozenset({Role.admin, Role.org_admin, Role.hr_system, Role.auditor})
MASTER_DATA = frozenset({Role.admin, Role.org_admin, Role.hr_system})
HR_INTEGRATION = frozenset({Role.admin, Role.hr_system})
EVALUATION_READERS = frozenset({Role.admin, Role.org_admin, Role.auditor})

# operationId → roles allowed to call it. Object scope is decided separately, in the repositories.
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
    "reviewEnrollment": STAFF,
    "nominateCadres": STAFF,
    "getSessionAudience": ALL,
    "setSessionAudience": STAFF,
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
    # export jobs: the unit archive written in the background, for the same readers
    "createExport": READERS,
    "listExports": READERS,
    "getExport": READERS,
    "getExportFile": READERS,
    # webhooks: optional push of the change feed, managed by the HR system or an admin
    "listWebhooks": HR_INTEGRATION,
    "createWebhook": HR_INTEGRATION,
    "getWebhook": HR_INTEGRATION,
    "updateWebhook": HR_INTEGRATION,
    "deleteWebhook": HR_INTEGRATION,
    "rotateWebhookSecret": HR_INTEGRATION,
    "listWebhookDeliveries": HR_INTEGRATION,
    # annual training plans: drafted by a unit, approved by the unit above (docs/rules.md)
    "listTrainingPlans": READERS,
    "getTrainingPlan": READERS,
    "createTrainingPlan": STAFF,
    "addTrainingPlanItem": STAFF,
    "updateTrainingPlanItem": STAFF,
    "deleteTrainingPlanItem": STAFF,
    "submitTrainingPlan": STAFF,
    "approveTrainingPlan": STAFF,
    "returnTrainingPlan": STAFF,
    "getPlanFulfilmentReport": READERS,
    # the words for enum values, for every client
    "getLabels": ALL,
    # sign-in by class part (docs/rules.md rule 12): the organiser's parts, codes and marks;
    # the trainee's scan and leave requests
    "listSessionParts": ALL,
    "replaceSessionParts": STAFF,
    "getSignInCode": STAFF,
    "scanSignInCode": frozenset({Role.cadre}),
    "markAttendance": STAFF,
    "listSessionAttendance": ALL,
    "requestLeave": STAFF | {Role.cadre},
    "listLeaveRequests": ALL,
    "getLeaveRequest": ALL,
    "approveLeaveRequest": STAFF,
    "refuseLeaveRequest": STAFF,
    # the sign-in sheet of a session, for its organisers
    "getSignInSheet": STAFF,
    # certificates (结业证书): verifyCertificate is public (no token)
    "listSessionCertificates": STAFF,
    "listCadreCertificates": ALL,
    "getCertificatePdf": ALL,
    "getSessionCertificatesZip": STAFF,
    # qualifications with validity, 持证上岗 (docs/rules.md rule 13)
    "createQualificationType": STAFF,
    "listQualificationTypes": READERS,
    "listCadreQualifications": ALL,
    "recordCadreQualification": STAFF,
    "revokeCadreQualification": STAFF,
    "getQualificationReport": READERS,
    # the course and teacher catalogue (docs/rules.md, "Catalogue"); cadres see none
    "listTeachers": READERS,
    "createTeacher": STAFF,
    "getTeacher": READERS,
    "updateTeacher": STAFF,
    "listCourses": READERS,
    "createCourse": STAFF,
    "getCourse": READERS,
    "updateCourse": STAFF,
    "listSessionCourses": READERS,
    "replaceSessionCourses": STAFF,
    # theses and reflections (docs/rules.md, "Theses and reflections"): personal writing, so
    # not for hr_system
    "submitThesis": STAFF | {Role.cadre},
    "listTheses": STAFF | {Role.auditor, Role.cadre},
    "getThesis": STAFF | {Role.auditor, Role.cadre},
    "updateThesis": STAFF | {Role.cadre},
    "gradeThesis": STAFF,
    "getThesisCollection": STAFF | {Role.auditor},
    # anonymous evaluation (docs/evaluation.md, docs/rules.md rule 14)
    "createEvaluationForm": STAFF,
    "listEvaluationForms": READERS,
    "getEvaluationForm": READERS,
    "createEvaluationFormRevision": STAFF,
    "updateEvaluationForm": STAFF,
    "attachSessionEvaluation": STAFF,
    "closeSessionEvaluation": STAFF,
    "getSessionEvaluation": ALL,
    "answerSessionEvaluation": frozenset({Role.cadre}),
    # evaluation reports (docs/rules.md rule 14): figures for the organisers, admins and
    # auditors; comments for the organisers and admins only; never cadres or the HR system
    "getSessionEvaluationReport": EVALUATION_READERS,
    "listSessionEvaluationComments": STAFF,
    "getEvaluationReport": EVALUATION_READERS,
    "getTeacherReviewReport": EVALUATION_READERS,
    # calendars (docs/calendars.md): a session's file for whoever reads it; the private feed is
    # the cadre's own (getCalendarFeedFile is public: the secret address is the key)
    "getSessionCalendar": ALL,
    "getCalendarFeed": frozenset({Role.cadre}),
    "createCalendarFeed": frozenset({Role.cadre}),
    "deleteCalendarFeed": frozenset({Role.cadre}),
    # the promotion check (docs/rules.md rule 15): as the compliance read it recombines
    "getCadrePromotionCheck": ALL,
    # online academies (docs/rules.md, "Online academies"): platforms are the admin's; an
    # org_admin matches its cadres' accounts and imports for them
    "listOnlinePlatforms": READERS,
    "getOnlinePlatform": READERS,
    "createOnlinePlatform": frozenset({Role.admin}),
    "updateOnlinePlatform": frozenset({Role.admin}),
    "putOnlineLearner": STAFF,
    "importOnlineRecords": MASTER_DATA,
    # online academies: the 刷课 checks' report (docs/rules.md, "Plausibility flags")
    "getOnlineAnomaliesReport": STAFF | {Role.auditor},
    # a cadre's own notifications (docs/notifications.md)
    "listMyNotifications": frozenset({Role.cadre}),
    "markMyNotificationRead": frozenset({Role.cadre}),
    "markAllMyNotificationsRead": frozenset({Role.cadre}),
    # the unit scorecard (目标责任制, docs/rules.md, "Unit scorecard"): targets set by the unit's
    # administrators; the scores read by them, admins and auditors, not the HR system
    "getUnitTarget": READERS,
    "setUnitTarget": STAFF,
    "getUnitScorecard": EVALUATION_READERS,
    "getUnitScorecardXlsx": EVALUATION_READERS,
    # calendars: an administrator revokes a cadre's feed (docs/calendars.md), in its scope
    "revokeCadreCalendarFeed": STAFF,
}


class ActorLoader(Protocol):
    """Loads the actor a valid token speaks for; None for an unknown or deactivated user, or a
    token older than the user's token version. The user domain provides it
    (`app.user.repository.active_actor`), wired in by `app.main`, so this module depends on no
    domain."""

    async def __call__(self, db_session: AsyncSession, subject: Subject, /) -> Actor | None: ...


async def actor_loader(request: Request) -> ActorLoader:
    loader: ActorLoader = request.app.state.actor_loader
    return loader


def _challenge(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": 'Bearer realm="cadre-training"'})


async def _subject(settings: Settings, cache: PrincipalCache, token: str) -> Subject:
    subject = cache.subject(token)
    if subject is not None:
        return subject
    try:
        if settings.auth.oidc_jwks_url:
            # The JWKS may have to be fetched (blocking I/O): not on the event loop.
            subject = await asyncio.to_thread(verify, settings, token)
        else:
            subject = verify(settings, token)
    except InvalidToken as exc:
        raise _challenge(N_("The access token is invalid or has expired.")) from exc
    cache.keep_subject(token, subject, subject.expires_at)
    return subject


async def _load_actor(
    db_session: DbSession,
    settings: Settings,
    loader: ActorLoader,
    cache: PrincipalCache,
    token: str,
) -> Actor:
    subject = await _subject(settings, cache, token)
    actor = cache.actor(subject)
    if actor is None:
        generation = cache.generation
        actor = await loader(db_session, subject)
        if actor is None:
            raise _challenge(
                N_("The access token's user is unknown or deactivated, or it was revoked.")
            )
        cache.keep_actor(subject, actor, generation)
    if subject.user_id is None and actor.role not in settings.auth.oidc_roles:
        raise _challenge(N_("This role signs in with the service's own tokens only."))
    return actor


async def authorize(
    request: Request,
    db_session: DbSession,
    settings: AppSettings,
    loader: Annotated[ActorLoader, Depends(actor_loader)],
    token: Annotated[str | None, Depends(bearer)],
) -> Actor:
    if not token:
        raise _challenge(N_("Send `Authorization: Bearer <token>`."))
    cache: PrincipalCache = request.app.state.principals
    actor = await _load_actor(db_session, settings, loader, cache, token)
    route = request.scope.get("route")
    operation_id = getattr(route, "operation_id", None)
    allowed = PERMISSIONS.get(operation_id or "", frozenset())
    if actor.role not in allowed:
        raise Forbidden(
            _("The {role} role may not use this operation.").format(role=actor.role.value)
        )
    if request.method not in ("GET", "HEAD"):
        limiter: RateLimiter = request.app.state.write_limiter
        limiter.check(f"user:{actor.user_id}")
    await attribute(
        db_session,
        request_id=getattr(request.state, "request_id", None),
        client_request_id=getattr(request.state, "client_request_id", None),
        actor=actor,
        # A read sends it only if it comes to write (app.db.attribute).
        lazy=request.method in ("GET", "HEAD"),
    )
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Security(authorize)]
