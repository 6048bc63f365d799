"""docs/rules.md rule 12: leave computed from attendance, by hand. Every figure below is worked
out in the comment beside it."""

from decimal import Decimal

import pytest

from app.attendance.rules import LeaveBreakdown, PartAttendance, leave_of, missed_hours
from app.credit_policy import engine
from app.credit_policy.policy import CHUZHOU_2007
from app.enums import AttendanceMark, EnrollmentStatus

D = Decimal
P, L, E, A, LV = (
    AttendanceMark.present,
    AttendanceMark.late,
    AttendanceMark.left_early,
    AttendanceMark.absent,
    AttendanceMark.on_leave,
)


def part(
    mark: AttendanceMark | None,
    hours: str = "4",
    class_minutes: int = 240,
    missed: int = 0,
    approved: bool = False,
) -> PartAttendance:
    """`class_minutes`: the class's start to its end (08:00–12:00 is 240), not the sign-in
    window, which opens earlier."""
    return PartAttendance(D(hours), class_minutes, mark, missed, approved)


@pytest.mark.parametrize(
    ("parts", "absent", "approved", "partial", "unmarked"),
    [
        # all present: no leave
        ([part(P), part(P)], "0", "0", "0", 0),
        # one absent 4 h part
        ([part(P), part(A)], "4", "0", "0", 0),
        # approved leave 4 h + absent 2 h evening (19:00–21:30, a 150-minute class)
        ([part(LV, approved=True), part(A, "2", 150)], "2", "4", "0", 0),
        # unapproved leave counts as absence
        ([part(LV), part(P)], "4", "0", "0", 0),
        # 30 min late to a 4 h / 240 min morning: 4 × 30 / 240 = 0.5 h
        ([part(L, missed=30)], "0", "0", "0.5", 0),
        # left 35 min early: 4 × 35 / 240 = 0.58333… → rounded down to 0.58 h
        ([part(E, missed=35)], "0", "0", "0.58", 0),
        # 2.5 h evening, a 150 min class, 20 min late: 2.5 × 20 / 150 = 0.33333… → 0.33
        ([part(L, "2.5", 150, 20)], "0", "0", "0.33", 0),
        # late by more than the class counts the whole part, never more: 4 h
        ([part(L, missed=300)], "0", "0", "4", 0),
        # unmarked parts count nothing, and are counted
        ([part(None), part(None), part(A)], "4", "0", "0", 2),
        # late 0 minutes: nothing missed
        ([part(L, missed=0)], "0", "0", "0", 0),
        # 4 h morning 08:00–12:00 (sign-in from 07:30), 20 min late: 4 × 20 / 240 = 0.3333… →
        # 0.33 h (the class's 240 minutes, not a sign-in window's)
        ([part(L, missed=20)], "0", "0", "0.33", 0),
        # 4 h afternoon 14:00–17:00 (a 180-minute class), left 45 min early: 4 × 45 / 180 = 1 h
        ([part(E, "4", 180, 45)], "0", "0", "1", 0),
    ],
)
def test_leave_of(
    parts: list[PartAttendance], absent: str, approved: str, partial: str, unmarked: int
) -> None:
    got = leave_of(parts)
    assert got == LeaveBreakdown(D(absent), D(approved), D(partial), unmarked)
    assert got.total == D(absent) + D(approved) + D(partial)


def test_missed_hours_rounds_down_to_the_hundredth() -> None:
    # 4 × 1 / 240 = 0.016666… → 0.01; 4 × 3 / 240 = 0.05 exactly
    assert missed_hours(D(4), 240, 1) == D("0.01")
    assert missed_hours(D(4), 240, 3) == D("0.05")
    assert missed_hours(D(4), 0, 30) == 0


@pytest.mark.parametrize(
    ("parts", "status", "hours"),
    [
        # 14 h session, cap 14 / 7 = 2 h. Absent from the 2 h evening: exactly 1/7 → completes, 12 h
        ([part(P), part(P), part(P), part(A, "2", 150)], EnrollmentStatus.completed, "12"),
        # Absent 2 h + 1 minute late at a 4 h morning: 2 + 4 × 1 / 240 → 2 + 0.01 = 2.01 > 2
        (
            [part(L, missed=1), part(P), part(P), part(A, "2", 150)],
            EnrollmentStatus.dropped_out,
            "0",
        ),
        # 29 minutes late at a 4 h morning: 0.48 h; 13.52 h earned
        (
            [part(L, missed=29), part(P), part(P), part(P, "2", 150)],
            EnrollmentStatus.completed,
            "13.52",
        ),
        # Approved leave for a 4 h part: 4 > 2 → withdrawn (leave is leave, approved or not)
        (
            [part(LV, approved=True), part(P), part(P), part(P, "2", 150)],
            EnrollmentStatus.dropped_out,
            "0",
        ),
    ],
)
def test_computed_leave_under_the_one_seventh_rule(
    parts: list[PartAttendance], status: EnrollmentStatus, hours: str
) -> None:
    leave = leave_of(parts).total
    outcome = engine.close_outcome(D(14), D(2), leave, CHUZHOU_2007, centralised=True)
    assert (outcome.status, outcome.hours) == (status, D(hours))
