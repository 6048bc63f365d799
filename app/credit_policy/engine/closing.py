"""Closing a centralised session: the leave cap (SPEC §3 rule 7, N6)."""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from app.credit_policy.engine.common import exact, fmt, to_decimal
from app.credit_policy.policy import Policy
from app.enums import EnrollmentStatus


@dataclass(frozen=True, slots=True)
class ClosingOutcome:
    """`completed` with the study log to issue, or `dropped_out` (退学) with no credit."""

    status: EnrollmentStatus
    hours: Decimal
    """`credit_hours − leave_hours`; 0 when dropped out."""
    days: Decimal
    """`session_days × hours / credit_hours`, unrounded; 0 when dropped out."""
    leave_cap: Decimal
    """`credit_hours × the policy's leave fraction`, unrounded, for display."""
    explanation: str

    @property
    def completed(self) -> bool:
        return self.status is EnrollmentStatus.completed


def close_outcome(
    credit_hours: Decimal, session_days: Decimal, leave_hours: Decimal, policy: Policy
) -> ClosingOutcome:
    """SPEC §3 rule 7: leave above `credit_hours × leave_cap` (1/7) withdraws the trainee (退学);
    leave exactly at the cap completes. The comparison is exact (`leave × 7 > credit_hours`),
    never against a rounded 5.71. A session of 0 credit hours gives its full days to whoever
    took no leave, as there is no hour to prorate by."""
    hours, days, leave = exact(credit_hours), exact(session_days), exact(leave_hours)
    if hours < 0 or days < 0 or leave < 0:
        raise ValueError("credit hours, session days and leave hours must be ≥ 0")
    cap = policy.leave_cap
    limit = hours * Fraction(cap.numerator, cap.denominator)
    rule = f"leave cap {cap} of {fmt(hours)} h = {fmt(limit)} h (SPEC §3 rule 7)"
    if leave * cap.denominator > hours * cap.numerator:
        return ClosingOutcome(
            status=EnrollmentStatus.dropped_out,
            hours=Decimal(0),
            days=Decimal(0),
            leave_cap=to_decimal(limit),
            explanation=f"{fmt(leave)} h of leave exceeds the {rule}: withdrawn (退学), no credit",
        )
    earned = hours - leave
    earned_days = days if hours == 0 else days * earned / hours
    return ClosingOutcome(
        status=EnrollmentStatus.completed,
        hours=to_decimal(earned),
        days=to_decimal(earned_days),
        leave_cap=to_decimal(limit),
        explanation=(
            f"{fmt(leave)} h of leave is within the {rule}: completed with "
            f"{fmt(hours)} − {fmt(leave)} = {fmt(earned)} h and {fmt(days)} × {fmt(earned)}/"
            f"{fmt(hours)} = {fmt(earned_days)} days"
        ),
    )
