"""The reminder job, `python -m app.cli remind [--on YYYY-MM-DD]` (docs/notifications.md): the
reminders of a day, each rule one set-based statement (the at-risk rule one query of the
compliance figures per requirement, computed in the database). Idempotent: every reminder has
a `dedupe_key` of cadre (or enrollment), rule, subject — and the period, for the repeated rule — and
a key already written adds nothing, so running the job twice on a day adds nothing."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.compliance import repository as compliance_figures
from app.compliance import service as compliance
from app.config import Settings
from app.credit_policy.errors import NoPolicyForDate
from app.credit_policy.policy import Policy
from app.enums import NotificationKind, Requirement
from app.notification import service as notifications

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class RemindResult:
    on: date
    # rule → notifications written (0: none new, or all written already)
    written: Mapping[NotificationKind, int]
    # A requirement skipped because no credit policy is in force on its day.
    skipped: tuple[Requirement, ...] = ()


def _required(policy: Policy, requirement: Requirement) -> tuple[Decimal | None, Decimal | None]:
    if requirement == Requirement.five_year:
        return policy.five_year_required_days, policy.five_year_required_hours
    return policy.annual_required_days, policy.annual_required_hours


def _done(row: compliance_figures.CadreFigures, requirement: Requirement) -> tuple[Decimal, ...]:
    if requirement == Requirement.five_year:
        return row.five_year_days, row.five_year_hours
    return row.annual_centralised_days, row.annual_counted_hours


def at_risk_period(today: date, every_days: int) -> date:
    """The first day of the period of `every_days` days that holds `today`, periods counted from
    1970-01-01: the at-risk reminder's key, so a cadre is told once a period, whichever day of
    it the job first runs (docs/rules.md, "Requirement at risk")."""
    since = (today - _EPOCH).days
    return _EPOCH + timedelta(days=since - since % every_days)


async def _at_risk(
    db_session: AsyncSession, period: date, requirement: Requirement, as_of: date
) -> int:
    """Notify every cadre short of `requirement` on `as_of`, keyed by cadre, requirement and
    the reminder period that starts on `period`."""
    policy, rows = await compliance.short_of(db_session, requirement, as_of)
    days_required, hours_required = _required(policy, requirement)
    notices: list[Mapping[str, object]] = []
    for row in rows:
        days_done, hours_done = _done(row, requirement)
        status = row.five_year_status if requirement == Requirement.five_year else row.annual_status
        notices.append(
            {
                "cadre_id": row.cadre_id,
                "kind": NotificationKind.requirement_at_risk,
                "params": {
                    "requirement": requirement.value,
                    "evaluated_on": as_of,
                    "status": status.value,
                    "days_done": days_done,
                    "days_required": days_required,
                    "hours_done": hours_done,
                    "hours_required": hours_required,
                },
                "dedupe_key": f"requirement_at_risk:{row.cadre_id}:{requirement.value}:{period}",
            }
        )
    return await notifications.notify_many(db_session, notices)


async def remind(db_session: AsyncSession, settings: Settings, today: date) -> RemindResult:
    """Write the reminders of `today` (docs/notifications.md, docs/rules.md "Requirement at
    risk")."""
    notify = settings.notify
    written = {
        NotificationKind.session_starting: await notifications.remind_session_starting(
            db_session, today, notify.days_before_start
        ),
        NotificationKind.evaluation_opened: await notifications.remind_evaluation_open(
            db_session, today
        ),
        NotificationKind.qualification_expiring: (
            await notifications.remind_qualification_expiring(
                db_session, today, settings.qualification.expiring_days
            )
        ),
    }
    at_risk = 0
    skipped: list[Requirement] = []
    checks = [(Requirement.five_year, today + timedelta(days=notify.at_risk_days))]
    if (date(today.year, 12, 31) - today).days < notify.annual_at_risk_days:
        checks.append((Requirement.annual, today))
    for requirement, as_of in checks:
        try:
            at_risk += await _at_risk(
                db_session, at_risk_period(today, notify.at_risk_every_days), requirement, as_of
            )
        except NoPolicyForDate:
            skipped.append(requirement)
    written[NotificationKind.requirement_at_risk] = at_risk
    return RemindResult(on=today, written=written, skipped=tuple(skipped))
