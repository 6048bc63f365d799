"""Study logs: creation (plain or idempotent by client id) and the review workflow
pending → approved | rejected; pending | approved → voided (docs/rules.md rule 1: only approved
count)."""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadres
from app.cadre.service import referenced_cadre
from app.clock import local_today
from app.enums import Role, StudyLogKind, StudyLogSource, StudyLogStatus
from app.errors import FieldNotAllowed
from app.i18n import N_, _
from app.ids import new_id
from app.org_unit import service as org_unit_service
from app.pagination import PageParams, paginate
from app.schema_types import quantize
from app.study_log import repository, rules
from app.study_log.errors import (
    IdempotencyConflict,
    InvalidReviewTransition,
    StudyLogEndsInFuture,
    StudyLogNotFound,
)
from app.study_log.models import StudyLog
from app.study_log.schemas import ReviewAction, StudyLogCreate

_REVIEW_FROM: dict[StudyLogStatus, frozenset[StudyLogStatus]] = {
    StudyLogStatus.approved: frozenset({StudyLogStatus.pending}),
    StudyLogStatus.rejected: frozenset({StudyLogStatus.pending}),
    StudyLogStatus.voided: frozenset({StudyLogStatus.pending, StudyLogStatus.approved}),
}


def fingerprint(data: StudyLogCreate) -> str:
    """Hash of the body's meaning: `8` and `8.00` hours are the same request."""
    body: dict[str, Any] = data.model_dump(mode="json")
    body["hours"] = str(quantize(data.hours))
    body["days"] = str(quantize(data.days))
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def get_study_log(
    db_session: AsyncSession, study_log_id: uuid.UUID, actor: Actor
) -> StudyLog:
    found = await repository.get(db_session, study_log_id, actor)
    if found is None:
        raise StudyLogNotFound()
    return found


def _check_dates(data: StudyLogCreate) -> None:
    try:
        rules.check_not_in_future(data.end_date, local_today())
    except rules.EndsInFuture as exc:
        raise StudyLogEndsInFuture(str(exc)) from None


async def _check_cadre(db_session: AsyncSession, data: StudyLogCreate, actor: Actor) -> None:
    if actor.role == Role.cadre and data.status != StudyLogStatus.pending:
        raise FieldNotAllowed(
            N_("A cadre's own study logs start pending, for review."), pointer="/body/status"
        )
    await referenced_cadre(db_session, data.cadre_id, actor)


def _new_log(data: StudyLogCreate, **extra: Any) -> StudyLog:
    log = StudyLog(**data.model_dump(), source=StudyLogSource.manual, **extra)
    if data.status == StudyLogStatus.approved:
        log.reviewed_at = datetime.now(UTC)
    return log


@dataclass(frozen=True)
class SessionCredit:
    """What closing a session credits one trainee (docs/rules.md rule 7)."""

    cadre_id: uuid.UUID
    enrollment_id: uuid.UUID
    hours: Decimal
    days: Decimal


def issue_session_logs(
    db_session: AsyncSession,
    *,
    training_session_id: uuid.UUID,
    kind: StudyLogKind,
    title: str,
    provider: str | None,
    start_date: date,
    end_date: date,
    credits: list[SessionCredit],
) -> list[StudyLog]:
    """The approved logs a closed session issues to its completed trainees, added for the
    caller's one flush (one INSERT, one pass of the year-sum triggers)."""
    now = datetime.now(UTC)
    logs = [
        StudyLog(
            id=new_id(),
            cadre_id=credit.cadre_id,
            kind=kind,
            title=title,
            provider=provider,
            start_date=start_date,
            end_date=end_date,
            hours=credit.hours,
            days=credit.days,
            status=StudyLogStatus.approved,
            source=StudyLogSource.session,
            training_session_id=training_session_id,
            enrollment_id=credit.enrollment_id,
            reviewed_at=now,
            review_comment="issued by closing the session",
        )
        for credit in credits
    ]
    db_session.add_all(logs)
    return logs


async def create_study_log(
    db_session: AsyncSession, data: StudyLogCreate, actor: Actor
) -> StudyLog:
    _check_dates(data)
    await _check_cadre(db_session, data, actor)
    log = _new_log(data)
    db_session.add(log)
    await db_session.flush()
    return log


async def _check_visible(db_session: AsyncSession, log: StudyLog, actor: Actor) -> None:
    if await cadres.get(db_session, log.cadre_id, actor) is None:
        raise StudyLogNotFound()  # the id is taken outside the caller's scope: reveal nothing


async def put_study_log(
    db_session: AsyncSession, study_log_id: uuid.UUID, data: StudyLogCreate, actor: Actor
) -> tuple[StudyLog, bool]:
    """Create the log with the client's id, or replay: same body → the stored log, else 409.
    Concurrent identical PUTs serialise on the primary key: the loser sees the winner's row.

    Scope before uniqueness (issue 10): the log the path names, if it exists, must be the
    caller's to see (404 otherwise, as every out-of-scope path id answers), then the cadre the
    body names (422), and only then is the body compared (409)."""
    _check_dates(data)
    digest = fingerprint(data)
    existing = await repository.get(db_session, study_log_id)
    if existing is not None:
        await _check_visible(db_session, existing, actor)
    await _check_cadre(db_session, data, actor)
    if existing is None:
        log = _new_log(data, id=study_log_id, request_fingerprint=digest)
        # A concurrent twin waits for the first to commit, then loses quietly and is answered
        # from the winner's row below.
        inserted = await repository.insert_unless_taken(db_session, log)
        existing = await repository.get(db_session, study_log_id, refresh=True)
        assert existing is not None
        if inserted:
            return existing, True
        await _check_visible(db_session, existing, actor)  # a concurrent PUT's, elsewhere
    if existing.request_fingerprint != digest:
        raise IdempotencyConflict()
    return existing, False


async def review(
    db_session: AsyncSession, log: StudyLog, target: StudyLogStatus, action: ReviewAction | None
) -> StudyLog:
    if log.status == target:
        return log  # a retried review step changes nothing
    if log.status not in _REVIEW_FROM[target]:
        raise InvalidReviewTransition(
            _("{current} → {new} is not allowed.").format(
                current=log.status.value, new=target.value
            )
        )
    log.status = target
    log.reviewed_at = datetime.now(UTC)
    if action is not None and action.comment is not None:
        log.review_comment = action.comment
    await db_session.flush()
    return log


async def list_study_logs(
    db_session: AsyncSession,
    actor: Actor,
    page: PageParams,
    *,
    cadre_id: uuid.UUID | None,
    org_unit_id: uuid.UUID | None,
    kind: StudyLogKind | None,
    status: StudyLogStatus | None,
    year: int | None,
) -> tuple[list[StudyLog], str | None]:
    """A page of the logs the actor may see, filtered; 404 when `org_unit_id` is out of scope."""
    within = (
        await org_unit_service.get_org_unit(db_session, org_unit_id, actor) if org_unit_id else None
    )
    stmt = repository.list_query(
        actor, cadre_id=cadre_id, within=within, kind=kind, status=status, year=year
    )
    return await paginate(db_session, stmt, StudyLog.id, page)
