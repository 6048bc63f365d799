"""The evaluation's pure rules (docs/rules.md, rule 14): the window and who may answer."""

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

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


# ---------------------------------------------------------------------------------------------
# Rule 14, the figures: means per indicator, weighted scores, 满意率, suppression of small
# groups, and the teacher review flag. Exact fractions throughout; rounding (half up) only when
# a figure is shown (docs/rules.md, "Conventions").

# An answer at or above this weighted score is satisfied (满意).
SATISFIED_AT = Fraction(4)
SCORE_PLACES = 2
RATE_PLACES = 4


def round_half_up(value: Fraction, places: int) -> Decimal:
    """`value` shown with `places` decimals, half up (四舍五入), from its exact value."""
    scale = 10**places
    sign = -1 if value < 0 else 1
    units = (abs(value) * scale + Fraction(1, 2)).__floor__()
    return (Decimal(sign * units) / Decimal(scale)).quantize(Decimal(1).scaleb(-places))


def answer_score(scores: Sequence[int], weights: Sequence[Decimal]) -> Fraction:
    """An answer's weighted score: Σ weight_i × score_i / Σ weight_i over its subject's
    indicators (scores[i] rates the indicator at position i + 1)."""
    if len(scores) != len(weights) or not scores:
        raise ValueError("one score per indicator")
    total = sum((Fraction(w) for w in weights), Fraction(0))
    if total <= 0:
        raise ValueError("weights must be positive")
    return sum((Fraction(w) * s for w, s in zip(weights, scores, strict=True)), Fraction(0)) / total


def satisfied(score: Fraction) -> bool:
    """满意: an answer whose exact weighted score is 4 or more (4.00 counts)."""
    return score >= SATISFIED_AT


@dataclass(frozen=True)
class Indicator:
    """One indicator of a form revision for one subject kind, with the form's
    (created_at, id): the larger is the newer revision, whose label a report shows."""

    form_id: uuid.UUID
    position: int
    code: str
    label: str
    weight: Decimal
    newness: tuple[dt.datetime, uuid.UUID]


@dataclass(frozen=True)
class AnswerRow:
    """A stored answer as the figures see it: its form revision and its scores."""

    form_id: uuid.UUID
    scores: tuple[int, ...]


@dataclass(frozen=True)
class IndicatorTally:
    """The scores one indicator `code` received in a group: their count and sum, with the
    label and position of the newest revision that has the code."""

    code: str
    label: str
    position: int
    answers: int
    score_total: int


@dataclass(frozen=True)
class GroupTally:
    """What the figures of a group are made of (the SQL of repository.py computes the same)."""

    answers: int
    score_sum: Fraction  # Σ of the answers' exact weighted scores
    satisfied: int
    indicators: tuple[IndicatorTally, ...]


@dataclass(frozen=True)
class IndicatorMean:
    code: str
    label: str
    answers: int
    mean: Decimal | None  # None: fewer answers than the minimum rated this indicator


@dataclass(frozen=True)
class Figures:
    means: tuple[IndicatorMean, ...]
    weighted_score: Decimal
    satisfaction_rate: Decimal  # a share 0–1, 4 decimals


def tally(rows: Iterable[AnswerRow], indicators: Iterable[Indicator]) -> GroupTally:
    """The reference computation, row by row: each answer's scores matched to its form's
    indicators by position, indicators grouped by `code`."""
    by_form: dict[uuid.UUID, list[Indicator]] = {}
    for indicator in indicators:
        by_form.setdefault(indicator.form_id, []).append(indicator)
    for listed in by_form.values():
        listed.sort(key=lambda i: i.position)
    answers = satisfied_count = 0
    score_sum = Fraction(0)
    codes: dict[str, tuple[Indicator, int, int]] = {}
    for row in rows:
        listed = by_form[row.form_id]
        score = answer_score(row.scores, [i.weight for i in listed])
        answers += 1
        score_sum += score
        satisfied_count += satisfied(score)
        for indicator, value in zip(listed, row.scores, strict=True):
            newest, count, total = codes.get(indicator.code, (indicator, 0, 0))
            if indicator.newness > newest.newness:
                newest = indicator
            codes[indicator.code] = (newest, count + 1, total + value)
    return GroupTally(
        answers=answers,
        score_sum=score_sum,
        satisfied=satisfied_count,
        indicators=tuple(
            IndicatorTally(code, newest.label, newest.position, count, total)
            for code, (newest, count, total) in codes.items()
        ),
    )


def form_score_sum(parts: Iterable[tuple[int, int]]) -> Fraction:
    """Σ of the answers' weighted scores from per-form sums: each part is (Σ over the form's
    answers of Σ weight_i × score_i, Σ weight_i of the form), both in hundredths of a weight."""
    return sum((Fraction(numerator, denominator) for numerator, denominator in parts), Fraction(0))


def figures(group: GroupTally, min_answers: int) -> Figures | None:
    """The group's figures, or None when fewer than `min_answers` answers make it (a small group
    could single a trainee out). An indicator rated by fewer than `min_answers` answers (a code
    only some revisions have) shows its count but no mean."""
    if group.answers < min_answers or group.answers == 0:
        return None
    means = tuple(
        IndicatorMean(
            code=t.code,
            label=t.label,
            answers=t.answers,
            mean=(
                round_half_up(Fraction(t.score_total, t.answers), SCORE_PLACES)
                if t.answers >= min_answers
                else None
            ),
        )
        for t in sorted(group.indicators, key=lambda t: (t.position, t.code))
    )
    return Figures(
        means=means,
        weighted_score=round_half_up(group.score_sum / group.answers, SCORE_PLACES),
        satisfaction_rate=round_half_up(Fraction(group.satisfied, group.answers), RATE_PLACES),
    )


@dataclass(frozen=True)
class SessionScore:
    """A teacher's weighted score in one session: None when the session shows no figures for
    the teacher (evaluation open, or too few answers)."""

    training_session_id: uuid.UUID
    end_date: dt.date
    score: Fraction | None


def review_flag(
    sessions: Iterable[SessionScore], *, below: Decimal, count: int
) -> tuple[SessionScore, ...] | None:
    """Rule 14: a teacher is flagged for review when the exact weighted score was below `below`
    in each of the latest `count` sessions that have figures (by end date, then id). Sessions
    without figures are skipped: they neither count nor break the run. Returns those sessions,
    oldest first, or None."""
    if count < 1:
        raise ValueError("count must be at least 1")
    scored = sorted(
        (s for s in sessions if s.score is not None),
        key=lambda s: (s.end_date, s.training_session_id),
    )
    latest = scored[-count:]
    if len(latest) < count:
        return None
    threshold = Fraction(below)
    if all(s.score is not None and s.score < threshold for s in latest):
        return tuple(latest)
    return None
