"""Rule 14 (docs/rules.md), the figures: hand-computed means, weighted scores, 满意率,
suppression below the minimum, and the teacher review flag."""

import datetime as dt
import uuid
from decimal import Decimal
from fractions import Fraction

import pytest

from app.evaluation.rules import (
    AnswerRow,
    Figures,
    Indicator,
    SessionScore,
    answer_score,
    figures,
    form_score_sum,
    review_flag,
    round_half_up,
    satisfied,
    tally,
)

D = Decimal
F = Fraction
EARLY = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LATE = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
FORM = uuid.UUID(int=1)
OLD = uuid.UUID(int=2)
NEW = uuid.UUID(int=3)


def _indicators(
    form_id: uuid.UUID, at: dt.datetime, *specs: tuple[str, str, str]
) -> list[Indicator]:
    return [
        Indicator(form_id, position, code, label, D(weight), (at, form_id))
        for position, (code, label, weight) in enumerate(specs, 1)
    ]


# The worked example of docs/rules.md rule 14: weights 3, 2, 1.
WORKED = _indicators(
    FORM,
    EARLY,
    ("content", "Content", "3"),
    ("delivery", "Delivery", "2"),
    ("org", "Organisation", "1"),
)
WORKED_ROWS = [(5, 4, 3), (3, 3, 3), (4, 4, 4), (5, 5, 5), (4, 3, 5)]


@pytest.mark.parametrize(
    ("scores", "weights", "expected"),
    [
        ((5, 4, 3), ("3", "2", "1"), F(26, 6)),  # (15 + 8 + 3) / 6 = 4.3333…
        ((3, 3, 3), ("3", "2", "1"), F(3)),
        ((4, 4, 4), ("3", "2", "1"), F(4)),
        ((4, 3, 5), ("3", "2", "1"), F(23, 6)),  # (12 + 6 + 5) / 6 = 3.8333…
        ((1,), ("0.01",), F(1)),
        ((5, 1), ("0.5", "99.5"), F(102, 100)),  # (2.5 + 99.5) / 100 = 1.02
        ((2, 5), ("1.25", "3.75"), F(2 * 125 + 5 * 375, 500)),  # 4.25
    ],
)
def test_answer_score(scores: tuple[int, ...], weights: tuple[str, ...], expected: F) -> None:
    assert answer_score(scores, [D(w) for w in weights]) == expected


def test_answer_score_needs_one_score_per_indicator() -> None:
    with pytest.raises(ValueError, match="one score per indicator"):
        answer_score((5, 4), [D(1)])
    with pytest.raises(ValueError, match="one score per indicator"):
        answer_score((), [])


@pytest.mark.parametrize(
    ("score", "expected"),
    [(F(4), True), (F(399, 100), False), (F(4001, 1000), True), (F(5), True), (F(11, 3), False)],
)
def test_satisfied_from_four(score: F, expected: bool) -> None:
    assert satisfied(score) is expected


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [
        (F(4125, 1000), 2, "4.13"),  # half up, not to even
        (F(1, 8), 2, "0.13"),
        (F(4124999, 10**6), 2, "4.12"),
        (F(2, 3), 2, "0.67"),
        (F(13, 3), 2, "4.33"),
        (F(7, 9), 4, "0.7778"),
        (F(3, 5), 4, "0.6000"),
        (F(5), 2, "5.00"),
        (F(0), 4, "0.0000"),
    ],
)
def test_round_half_up(value: F, places: int, shown: str) -> None:
    assert str(round_half_up(value, places)) == shown


def test_worked_example() -> None:
    # Σ = 26/6 + 18/6 + 24/6 + 30/6 + 23/6 = 121/6; mean 121/30 = 4.0333… → 4.03.
    # Satisfied: 4.33, 4.00, 5.00 → 3 of 5 = 0.6000. Means: content 21/5, delivery 19/5, org 4.
    group = tally([AnswerRow(FORM, r) for r in WORKED_ROWS], WORKED)
    assert (group.answers, group.score_sum, group.satisfied) == (5, F(121, 6), 3)
    shown = figures(group, 5)
    assert shown is not None
    assert shown.weighted_score == D("4.03")
    assert shown.satisfaction_rate == D("0.6000")
    assert [(m.code, m.label, m.answers, m.mean) for m in shown.means] == [
        ("content", "Content", 5, D("4.20")),
        ("delivery", "Delivery", 5, D("3.80")),
        ("org", "Organisation", 5, D("4.00")),
    ]


@pytest.mark.parametrize(
    ("answers", "minimum", "shown"),
    [(4, 5, False), (5, 5, True), (0, 5, False), (5, 6, False), (6, 6, True)],
)
def test_suppression_below_the_minimum(answers: int, minimum: int, shown: bool) -> None:
    rows = [AnswerRow(FORM, (4, 4, 4))] * answers
    result = figures(tally(rows, WORKED), minimum)
    assert (result is not None) is shown
    if result is not None:
        assert result == Figures(
            means=result.means, weighted_score=D("4.00"), satisfaction_rate=D("1.0000")
        )


def test_group_mean_rounds_half_up_from_the_exact_value() -> None:
    # Four equal weights: (4, 4, 4, 5) → 4.25 and (4, 4, 4, 4) → 4; mean 4.125 → 4.13.
    equal = _indicators(FORM, EARLY, *((c, c, "1") for c in "abcd"))
    group = tally([AnswerRow(FORM, (4, 4, 4, 5)), AnswerRow(FORM, (4, 4, 4, 4))], equal)
    shown = figures(group, 2)
    assert shown is not None
    assert shown.weighted_score == D("4.13")
    assert shown.satisfaction_rate == D("1.0000")
    assert [m.mean for m in shown.means] == [D("4.00"), D("4.00"), D("4.00"), D("4.50")]


def test_revisions_match_by_position_and_report_by_code() -> None:
    # Revision 1: content (w 1), delivery (w 1). Revision 2: content (w 2), delivery (w 1), pace.
    old = _indicators(OLD, EARLY, ("content", "Content (old)", "1"), ("delivery", "Delivery", "1"))
    new = _indicators(
        NEW,
        LATE,
        ("content", "Content", "2"),
        ("delivery", "Delivery", "1"),
        ("pace", "Pace", "1"),
    )
    rows = [AnswerRow(OLD, (4, 2)), AnswerRow(NEW, (5, 3, 1))]  # scores 3 and 14/4 = 3.5
    group = tally(rows, old + new)
    assert group.score_sum == F(13, 2)
    shown = figures(group, 2)
    assert shown is not None
    assert shown.weighted_score == D("3.25")
    assert shown.satisfaction_rate == D("0.0000")
    # The newest revision's label; pace, rated once, shows its count and no mean.
    assert [(m.code, m.label, m.answers, m.mean) for m in shown.means] == [
        ("content", "Content", 2, D("4.50")),
        ("delivery", "Delivery", 2, D("2.50")),
        ("pace", "Pace", 1, None),
    ]


def test_form_score_sum_adds_exact_fractions() -> None:
    # In hundredths: form 1 weights 3, 2, 1 (Σ 600), answers (5,4,3) and (3,3,3): 2600 + 1800.
    # Form 2 weights 1, 1 (Σ 200), answer (4, 5): 900.
    assert form_score_sum([(4400, 600), (900, 200)]) == F(26, 6) + 3 + F(9, 2)
    assert form_score_sum([]) == 0


T1, T2, T3, T4, T5 = (uuid.UUID(int=i) for i in range(10, 15))


def _s(session: uuid.UUID, day: int, score: F | None) -> SessionScore:
    return SessionScore(session, dt.date(2026, 1, day), score)


@pytest.mark.parametrize(
    ("sessions", "flagged"),
    [
        # Three in a row below 3.50.
        ([_s(T1, 1, F(34, 10)), _s(T2, 2, F(3)), _s(T3, 3, F(349, 100))], [T1, T2, T3]),
        # A session without figures is skipped: neither counted nor a break.
        ([_s(T1, 1, F(34, 10)), _s(T4, 2, None), _s(T2, 3, F(3)), _s(T3, 4, F(3))], [T1, T2, T3]),
        # Exactly 3.50 is not below: the latest three are not all below.
        ([_s(T1, 1, F(3)), _s(T2, 2, F(35, 10)), _s(T3, 3, F(3)), _s(T4, 4, F(3))], None),
        # An older good session does not matter: the latest three are below.
        ([_s(T1, 1, F(5)), _s(T2, 2, F(3)), _s(T3, 3, F(3)), _s(T4, 4, F(3))], [T2, T3, T4]),
        # The latest is good: no flag.
        ([_s(T1, 1, F(3)), _s(T2, 2, F(3)), _s(T3, 3, F(3)), _s(T4, 4, F(4))], None),
        # Fewer sessions with figures than the run: no flag.
        ([_s(T1, 1, F(3)), _s(T2, 2, F(3)), _s(T3, 3, None)], None),
        ([], None),
        # End-date order, not the order given.
        ([_s(T4, 4, F(3)), _s(T1, 1, F(5)), _s(T3, 3, F(3)), _s(T2, 2, F(3))], [T2, T3, T4]),
        # Compared exactly: 3.495 shows as 3.50 but is below 3.50.
        ([_s(T1, 1, F(3495, 1000)), _s(T2, 2, F(3)), _s(T3, 3, F(3))], [T1, T2, T3]),
        # Same end date: the session id decides the order (T4 before T5, so T5 is the latest).
        ([_s(T5, 5, F(3)), _s(T4, 5, F(5)), _s(T2, 2, F(3)), _s(T3, 3, F(3))], None),
        ([_s(T5, 5, F(5)), _s(T4, 5, F(3)), _s(T2, 2, F(3)), _s(T3, 3, F(3))], None),
        ([_s(T5, 5, F(3)), _s(T4, 5, F(3)), _s(T2, 2, F(5)), _s(T3, 3, F(3))], [T3, T4, T5]),
    ],
)
def test_review_flag(sessions: list[SessionScore], flagged: list[uuid.UUID] | None) -> None:
    result = review_flag(sessions, below=D("3.50"), count=3)
    assert (None if result is None else [s.training_session_id for s in result]) == flagged


def test_review_flag_run_of_one() -> None:
    assert review_flag([_s(T1, 1, F(3))], below=D("3.50"), count=1) is not None
    with pytest.raises(ValueError, match="at least 1"):
        review_flag([], below=D("3.50"), count=0)
