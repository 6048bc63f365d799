"""The evaluation window and who may answer (docs/rules.md rule 14): pure rules, hand dates."""

from datetime import date

import pytest

from app.enums import EnrollmentStatus, EvaluationStatus, SessionStatus
from app.evaluation.rules import may_answer, window

D = date.fromisoformat
S, OPEN, C = EvaluationStatus.scheduled, EvaluationStatus.open, EvaluationStatus.closed

# opens_on (early), session closed_on, open_days, closed early, today → status, first, last
WINDOWS = [
    # not opened early, session not closed: nothing known yet
    (None, None, 14, False, "2026-11-05", S, None, None),
    # the rule's worked example: closed 2026-11-09, 14 days → 11-09 … 11-22
    (None, "2026-11-09", 14, False, "2026-11-08", S, "2026-11-09", "2026-11-22"),
    (None, "2026-11-09", 14, False, "2026-11-09", OPEN, "2026-11-09", "2026-11-22"),
    (None, "2026-11-09", 14, False, "2026-11-22", OPEN, "2026-11-09", "2026-11-22"),
    (None, "2026-11-09", 14, False, "2026-11-23", C, "2026-11-09", "2026-11-22"),
    # opened early on 11-05: the window runs from then, whatever day the session closes
    ("2026-11-05", None, 14, False, "2026-11-04", S, "2026-11-05", "2026-11-18"),
    ("2026-11-05", None, 14, False, "2026-11-05", OPEN, "2026-11-05", "2026-11-18"),
    ("2026-11-05", "2026-11-09", 14, False, "2026-11-18", OPEN, "2026-11-05", "2026-11-18"),
    ("2026-11-05", "2026-11-09", 14, False, "2026-11-19", C, "2026-11-05", "2026-11-18"),
    # one day: open on that day only
    (None, "2026-12-31", 1, False, "2026-12-31", OPEN, "2026-12-31", "2026-12-31"),
    (None, "2026-12-31", 1, False, "2027-01-01", C, "2026-12-31", "2026-12-31"),
    # across a leap day
    (None, "2028-02-20", 14, False, "2028-03-04", OPEN, "2028-02-20", "2028-03-04"),
    (None, "2028-02-20", 14, False, "2028-03-05", C, "2028-02-20", "2028-03-04"),
    # closed early by the organiser: closed whatever the day, even before it opened
    (None, "2026-11-09", 14, True, "2026-11-10", C, "2026-11-09", "2026-11-22"),
    (None, None, 14, True, "2026-11-01", C, None, None),
    ("2026-11-05", None, 14, True, "2026-11-04", C, "2026-11-05", "2026-11-18"),
]


@pytest.mark.parametrize(
    ("opens_on", "closed_on", "days", "closed_early", "today", "status", "first", "last"),
    WINDOWS,
)
def test_window(
    opens_on: str | None,
    closed_on: str | None,
    days: int,
    closed_early: bool,
    today: str,
    status: EvaluationStatus,
    first: str | None,
    last: str | None,
) -> None:
    got = window(
        opens_on=None if opens_on is None else D(opens_on),
        session_closed_on=None if closed_on is None else D(closed_on),
        open_days=days,
        closed_early=closed_early,
        today=D(today),
    )
    assert got.status == status
    assert got.opens_on == (None if first is None else D(first))
    assert got.closes_on == (None if last is None else D(last))


E = EnrollmentStatus
# enrollment status, session status, opened early → may answer
ELIGIBLE = [
    (E.completed, SessionStatus.closed, False, True),
    (E.completed, SessionStatus.closed, True, True),
    (E.enrolled, SessionStatus.closed, True, False),  # not completed at the close
    (E.enrolled, SessionStatus.running, True, True),  # opened early, before the close
    (E.confirmed, SessionStatus.open, True, True),
    (E.enrolled, SessionStatus.running, False, False),  # not opened early: wait for the close
    (E.dropped_out, SessionStatus.closed, False, False),
    (E.withdrawn, SessionStatus.running, True, False),
    (E.waitlisted, SessionStatus.running, True, False),
    (E.nominated, SessionStatus.running, True, False),
    (E.rejected, SessionStatus.closed, False, False),
]


@pytest.mark.parametrize(("enrollment", "session", "early", "expected"), ELIGIBLE)
def test_who_may_answer(
    enrollment: EnrollmentStatus, session: SessionStatus, early: bool, expected: bool
) -> None:
    assert (
        may_answer(enrollment_status=enrollment, session_status=session, opened_early=early)
        is expected
    )


def test_every_enrollment_status_is_decided() -> None:
    """Only completed (and, opened early, enrolled/confirmed) ever answer."""
    allowed = {
        s
        for s in EnrollmentStatus
        for session in SessionStatus
        for early in (False, True)
        if may_answer(enrollment_status=s, session_status=session, opened_early=early)
    }
    assert allowed == {E.completed, E.enrolled, E.confirmed}
