"""The evaluation's pure rules (docs/rules.md, rule 14): the window and who may answer."""

from dataclasses import dataclass
from datetime import date, timedelta

from app.enums import EnrollmentStatus, EvaluationStatus, SessionStatus

# --- the window (docs/rules.md rule 14) ---------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """An evaluation's window: its status on a day, and its first and last days (None while
    it has no opening day: not opened early, session not closed)."""

    status: EvaluationStatus
    opens_on: date | None
    closes_on: date | None


def window(
    *,
    opens_on: date | None,
    session_closed_on: date | None,
    open_days: int,
    closed_early: bool,
    today: date,
) -> Window:
    """Opening day = `opens_on` (opened early) or else the day the session closed; last day =
    opening day + open_days − 1. `closed` once closed early or past the last day; `open` from
    the opening day; `scheduled` before it (or while there is none)."""
    first = opens_on if opens_on is not None else session_closed_on
    last = None if first is None else first + timedelta(days=open_days - 1)
    if closed_early or (last is not None and today > last):
        status = EvaluationStatus.closed
    elif first is not None and first <= today:
        status = EvaluationStatus.open
    else:
        status = EvaluationStatus.scheduled
    return Window(status=status, opens_on=first, closes_on=last)


def may_answer(
    *,
    enrollment_status: EnrollmentStatus,
    session_status: SessionStatus,
    opened_early: bool,
) -> bool:
    """A completed enrollment; or, while the session is not closed yet and the evaluation was
    opened early, an enrolled or confirmed one (the window's status is checked apart)."""
    if enrollment_status == EnrollmentStatus.completed:
        return True
    return (
        opened_early
        and session_status != SessionStatus.closed
        and enrollment_status in (EnrollmentStatus.enrolled, EnrollmentStatus.confirmed)
    )
