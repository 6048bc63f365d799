"""Closing a centralised session: the leave cap and its exceptions (docs/rules.md rule 7, N6)."""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from app.credit_policy.engine.common import exact, fmt, to_decimal
from app.credit_policy.policy import Policy
from app.enums import EnrollmentStatus
from app.i18n import _


@dataclass(frozen=True, slots=True)
class ClosingOutcome:
    """`completed` with the study log to issue, or `dropped_out` (退学) with no credit."""

    status: EnrollmentStatus
    hours: Decimal
    """`credit_hours − leave_hours`; 0 when dropped out."""
    days: Decimal
    """`session_days × hours / credit_hours`, unrounded; 0 when dropped out."""
    leave_cap: Decimal | None
    """`credit_hours × the policy's leave fraction`, unrounded, for display; None where no cap
    applies (a session that is not centralised)."""
    explanation: str

    @property
    def completed(self) -> bool:
        return self.status is EnrollmentStatus.completed

    @property
    def issues_log(self) -> bool:
        """A completed trainee receives a study log, unless there is nothing to credit: a
        trainee excused (by an exception) for the whole class completes it with 0 hours and 0
        days, and a log of nothing would only pose as a recent class in the archive and in the
        roll-call's "longest since the last centralised training"."""
        return self.completed and (self.hours > 0 or self.days > 0)


def close_outcome(
    credit_hours: Decimal,
    session_days: Decimal,
    leave_hours: Decimal,
    policy: Policy,
    *,
    centralised: bool = True,
    leave_exception: str | None = None,
) -> ClosingOutcome:
    """docs/rules.md rule 7: leave above `credit_hours × leave_cap` (1/7) withdraws the trainee
    (退学), unless the organiser granted a leave exception (`leave_exception`, its reason: N6,
    art. 15 "原则上"); leave exactly at the cap completes. The comparison is exact (`leave × 7 >
    credit_hours`), never against a rounded 5.71. A completed trainee earns `credit_hours −
    leave_hours` (never below 0) and the same share of the days. A session of 0 credit hours
    gives its full days to whoever took no leave, as there is no hour to prorate by. The cap is
    the rule of centralised classes (N6, art. 15: "参加集中培训"): a trainee of another session
    (a lecture, an online class) is never withdrawn for leave, and earns what it attended."""
    hours, days, leave = exact(credit_hours), exact(session_days), exact(leave_hours)
    if hours < 0 or days < 0 or leave < 0:
        raise ValueError("credit hours, session days and leave hours must be ≥ 0")
    cap = policy.leave_cap
    limit = hours * Fraction(cap.numerator, cap.denominator)
    rule = _("leave cap {cap} of {hours} h = {limit} h (docs/rules.md rule 7)").format(
        cap=cap, hours=fmt(hours), limit=fmt(limit)
    )
    above_cap = centralised and leave * cap.denominator > hours * cap.numerator
    if above_cap and leave_exception is None:
        return ClosingOutcome(
            status=EnrollmentStatus.dropped_out,
            hours=Decimal(0),
            days=Decimal(0),
            leave_cap=to_decimal(limit),
            explanation=_(
                "{leave} h of leave exceeds the {rule}: withdrawn (退学), no credit"
            ).format(leave=fmt(leave), rule=rule),
        )
    earned = max(hours - leave, Fraction(0))
    earned_days = days if hours == 0 else days * earned / hours
    if above_cap:
        reading = _(
            "{leave} h of leave exceeds the {rule}, but the organiser granted an exception "
            "({exception})"
        ).format(leave=fmt(leave), rule=rule, exception=leave_exception)
    elif centralised:
        reading = _("{leave} h of leave is within the {rule}").format(leave=fmt(leave), rule=rule)
    else:
        reading = _(
            "{leave} h of leave; the leave cap applies to centralised classes only "
            "(docs/rules.md rule 7)"
        ).format(leave=fmt(leave))
    credit = _(
        "completed with {hours} − {leave} = {earned} h and {days} × "
        "{earned}/{hours} = {earned_days} days"
    ).format(
        hours=fmt(hours),
        leave=fmt(leave),
        earned=fmt(earned),
        days=fmt(days),
        earned_days=fmt(earned_days),
    )
    if earned == 0 and earned_days == 0:
        credit = _("completed with nothing to credit: no study log")
    return ClosingOutcome(
        status=EnrollmentStatus.completed,
        hours=to_decimal(earned),
        days=to_decimal(earned_days),
        leave_cap=to_decimal(limit) if centralised else None,
        explanation=_("{reading}: {credit}").format(reading=reading, credit=credit),
    )
