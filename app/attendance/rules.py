"""Leave computed from attendance (docs/rules.md rule 12): pure functions, no I/O.

For a session with parts, an enrollment's leave is
- the credit hours of every part marked `absent`;
- the credit hours of every part marked `on_leave`: approved leave counts as leave, unapproved
  leave as absence (the same hours; the breakdown keeps them apart);
- for `late` and `left_early`, the part's credit hours pro rata of the minutes missed over the
  class's minutes (its start to its end): hours × min(missed, class minutes) / class minutes,
  rounded down to the hundredth of an hour (in the trainee's favour; the enrollment keeps
  leave with two places, so the leave that decides is the one recorded);
- nothing for `present` or an unmarked part.
The sum is exact: every term has at most two decimal places."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from app.enums import AttendanceMark

ZERO = Decimal(0)
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class PartAttendance:
    """One enrollment's attendance at one part."""

    credit_hours: Decimal
    class_minutes: int  # the class's start to its end
    mark: AttendanceMark | None  # None: not marked
    minutes_missed: int = 0
    leave_approved: bool = False


@dataclass(frozen=True)
class LeaveBreakdown:
    absent: Decimal  # absent parts, and unapproved leave
    approved_leave: Decimal
    partial: Decimal  # late arrival and early leaving, pro rata
    unmarked: int

    @property
    def total(self) -> Decimal:
        return self.absent + self.approved_leave + self.partial


def missed_hours(credit_hours: Decimal, class_minutes: int, minutes_missed: int) -> Decimal:
    """The part's hours pro rata of the minutes missed over the class's minutes, never more
    than the part, rounded down to the hundredth of an hour."""
    if class_minutes <= 0 or minutes_missed <= 0:
        return ZERO
    share = credit_hours * min(minutes_missed, class_minutes) / class_minutes
    return share.quantize(HUNDREDTH, rounding=ROUND_DOWN)


def leave_of(parts: Iterable[PartAttendance]) -> LeaveBreakdown:
    absent = approved = partial = ZERO
    unmarked = 0
    for part in parts:
        match part.mark:
            case None:
                unmarked += 1
            case AttendanceMark.absent:
                absent += part.credit_hours
            case AttendanceMark.on_leave if part.leave_approved:
                approved += part.credit_hours
            case AttendanceMark.on_leave:
                absent += part.credit_hours
            case AttendanceMark.late | AttendanceMark.left_early:
                partial += missed_hours(part.credit_hours, part.class_minutes, part.minutes_missed)
            case AttendanceMark.present:
                pass
    return LeaveBreakdown(
        absent=absent, approved_leave=approved, partial=partial, unmarked=unmarked
    )
