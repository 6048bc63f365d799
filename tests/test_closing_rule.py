"""The pure rules a session's closing applies: the leave cap and its exceptions (docs/rules.md
rule 7, N6) and the end date of the logs it issues (rule 10). Figures computed by hand."""

from datetime import date
from decimal import Decimal as D

import pytest

from app.credit_policy.engine import close_outcome
from app.credit_policy.policy import CN_2023
from app.enums import EnrollmentStatus
from app.study_log.rules import EndsInFuture, check_not_in_future

COMPLETED, DROPPED_OUT = EnrollmentStatus.completed, EnrollmentStatus.dropped_out
REASON = "住院手术,经组织部批准"


@pytest.mark.parametrize(
    ("credit_hours", "days", "leave", "exception", "status", "hours", "earned_days", "log"),
    [
        # 35 h, 7 days: the cap is 35/7 = 5 h exactly.
        ("35", "7", "5", None, COMPLETED, D(30), D(6), True),
        ("35", "7", "5", REASON, COMPLETED, D(30), D(6), True),
        ("35", "7", "5.01", None, DROPPED_OUT, D(0), D(0), False),
        # 35 − 5.01 = 29.99 h; 7 × 29.99/35 = 5.998 days.
        ("35", "7", "5.01", REASON, COMPLETED, D("29.99"), D("5.998"), True),
        # worked example 4: 40 h, 5 days, cap 5.714… h. X: 4 h of leave, 36 h and 4.5 days.
        ("40", "5", "4", None, COMPLETED, D(36), D("4.5"), True),
        ("40", "5", "4", REASON, COMPLETED, D(36), D("4.5"), True),
        # Y: 6 h, withdrawn; with an exception 34 h and 5 × 34/40 = 4.25 days.
        ("40", "5", "6", None, DROPPED_OUT, D(0), D(0), False),
        ("40", "5", "6", REASON, COMPLETED, D(34), D("4.25"), True),
        # 20 of 40 h: half the class, half the days.
        ("40", "5", "20", REASON, COMPLETED, D(20), D("2.5"), True),
        # Leave for every hour: completes under the exception with nothing to credit, no log.
        ("40", "5", "40", None, DROPPED_OUT, D(0), D(0), False),
        ("40", "5", "40", REASON, COMPLETED, D(0), D(0), False),
        # No leave at all: the exception changes nothing.
        ("40", "5", "0", REASON, COMPLETED, D(40), D(5), True),
    ],
    ids=[
        "exactly-one-seventh",
        "exactly-one-seventh-with-exception",
        "just-above-one-seventh",
        "just-above-one-seventh-with-exception",
        "ex4-x",
        "ex4-x-with-exception",
        "ex4-y",
        "ex4-y-with-exception",
        "half-the-class-with-exception",
        "all-leave",
        "all-leave-with-exception",
        "no-leave-with-exception",
    ],
)
def test_leave_cap_and_exceptions(
    credit_hours: str,
    days: str,
    leave: str,
    exception: str | None,
    status: EnrollmentStatus,
    hours: D,
    earned_days: D,
    log: bool,
) -> None:
    outcome = close_outcome(D(credit_hours), D(days), D(leave), CN_2023, leave_exception=exception)
    assert (outcome.status, outcome.hours, outcome.days) == (status, hours, earned_days)
    assert outcome.issues_log is log


@pytest.mark.parametrize(
    ("leave", "hours", "earned_days", "log"),
    [
        # 40 h, 5 days, not centralised: no cap, whatever the leave (N6 speaks of 集中培训).
        ("6", D(34), D("4.25"), True),
        ("5.71", D("34.29"), D("4.28625"), True),
        ("39", D(1), D("0.125"), True),
        ("40", D(0), D(0), False),
        ("0", D(40), D(5), True),
    ],
    ids=["above-the-cap", "just-below-the-cap", "almost-all", "all-leave", "no-leave"],
)
def test_no_leave_cap_outside_centralised_classes(
    leave: str, hours: D, earned_days: D, log: bool
) -> None:
    outcome = close_outcome(D(40), D(5), D(leave), CN_2023, centralised=False)
    assert (outcome.status, outcome.hours, outcome.days) == (COMPLETED, hours, earned_days)
    assert outcome.issues_log is log
    assert "applies to centralised classes only" in outcome.explanation
    assert outcome.leave_cap is None


def test_an_exception_above_the_cap_is_explained_with_its_reason() -> None:
    outcome = close_outcome(D(40), D(5), D(6), CN_2023, leave_exception=REASON)
    assert "6 h of leave exceeds the leave cap 1/7 of 40 h = 5.71 h" in outcome.explanation
    assert f"the organiser granted an exception ({REASON})" in outcome.explanation
    assert "40 − 6 = 34 h" in outcome.explanation
    assert "5 × 34/40 = 4.25 days" in outcome.explanation


def test_all_leave_under_an_exception_explains_why_no_log() -> None:
    outcome = close_outcome(D(40), D(5), D(40), CN_2023, leave_exception=REASON)
    assert outcome.explanation.endswith("completed with nothing to credit: no study log")


def test_a_zero_hour_session_still_issues_its_days() -> None:
    outcome = close_outcome(D(0), D(2), D(0), CN_2023)
    assert (outcome.hours, outcome.days, outcome.issues_log) == (D(0), D(2), True)


@pytest.mark.parametrize(
    ("end", "today", "refused"),
    [
        (date(2025, 12, 31), date(2025, 12, 31), False),  # ending today is fine
        (date(2025, 12, 30), date(2025, 12, 31), False),
        (date(2026, 1, 1), date(2025, 12, 31), True),  # tomorrow, and a new year
        (date(2024, 2, 29), date(2024, 2, 28), True),
        (date(2024, 2, 29), date(2024, 2, 29), False),
    ],
)
def test_no_log_ends_after_today(end: date, today: date, refused: bool) -> None:
    if refused:
        with pytest.raises(EndsInFuture, match=f"ends on {end}, after today"):
            check_not_in_future(end, today)
    else:
        check_not_in_future(end, today)
