"""The promotion check (docs/rules.md rule 15) as a pure rule, on hand-computed cases: the move
classified by the cadre's own promotion rule (rule 4), then rule 4 for the target post."""

from datetime import date, timedelta
from decimal import Decimal
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cadre.rules import NOT_NAMED, Post, after_write, is_promotion, promotion_move
from app.credit_policy.engine import LogRecord, compliance
from app.credit_policy.engine.common import RequirementStatus
from app.credit_policy.engine.promotion import PromotionCheck, promotion_check
from app.credit_policy.policy import CHUZHOU_2007, CN_2023, Policy
from app.enums import (
    LEADING_RANKS,
    PROMOTION_MOVES,
    PostType,
    PromotionMove,
    PromotionOutcome,
    Rank,
    StudyLogKind,
    StudyLogStatus,
)

D = Decimal
R = Rank
LEAD, GRADE = PostType.leading, PostType.non_leading
M = PromotionMove
OUT = PromotionOutcome
ON = date(2026, 3, 2)  # the window is 2021-03-03 … 2026-03-02


def centralised(start: str, end: str, hours: str, days: str, log_id: str = "1") -> LogRecord:
    return LogRecord(
        log_id,
        StudyLogKind.centralised_training,
        date.fromisoformat(start),
        date.fromisoformat(end),
        D(hours),
        D(days),
        StudyLogStatus.approved,
    )


def check(
    before: Post,
    target: tuple[Rank, PostType],
    logs: list[LogRecord],
    *,
    on: date = ON,
    promoted_on: date | None = None,
    policy: Policy = CN_2023,
) -> PromotionCheck:
    after = Post(target[0], target[1], stated=True)
    return promotion_check(
        logs,
        on,
        rank=before.rank,
        post_type=before.post_type,
        target_rank=after.rank,
        target_post_type=after.post_type,
        move=promotion_move(before, after),
        promoted_on=promoted_on,
        policy=policy,
    )


HOURS_550 = [centralised("2023-05-08", "2023-06-16", "550", "40")]
DAYS_90 = [centralised("2023-05-08", "2023-08-05", "500", "90")]
HOURS_549_99 = [centralised("2023-05-08", "2023-07-26", "549.99", "80")]
NOTHING: list[LogRecord] = []


# (case, cadre's post now, target post, logs, move, outcome, shortfall days, shortfall hours,
#  grace deadline)
CASES = [
    (
        "exactly 550 h meets (hours alone)",
        Post(R.county_division, GRADE, True),
        (R.department_bureau, LEAD),
        HOURS_550,
        M.higher_rank,
        OUT.meets,
        D(50),
        D(0),
        None,
    ),
    (
        "exactly 90 days meets (days alone)",
        Post(R.township_section, GRADE, True),
        (R.county_division, LEAD),
        DAYS_90,
        M.higher_rank,
        OUT.meets,
        D(0),
        D(50),
        None,
    ),
    (
        "549.99 h and 80 days, promoted into a leading post: needs catch-up",
        Post(R.township_section, GRADE, True),
        (R.county_division, LEAD),
        HOURS_549_99,
        M.higher_rank,
        OUT.needs_catch_up,
        D(10),
        D("0.01"),
        date(2027, 3, 2),
    ),
    (
        "549.99 h, 一级主任科员 → 四级调研员 (a grade): not met, no grace",
        Post(R.township_section, GRADE, True),
        (R.county_division, GRADE),
        HOURS_549_99,
        M.grade_only,
        OUT.not_met,
        D(10),
        D("0.01"),
        None,
    ),
    (
        "non_leading → leading at the same rank (四级调研员 → 副县长): needs catch-up",
        Post(R.county_division, GRADE, True),
        (R.county_division, LEAD),
        HOURS_549_99,
        M.leading_post_same_rank,
        OUT.needs_catch_up,
        D(10),
        D("0.01"),
        date(2027, 3, 2),
    ),
    (
        "a never-stated non_leading → leading at the same rank classifies: not met",
        Post(R.county_division, GRADE, False),
        (R.county_division, LEAD),
        NOTHING,
        M.post_type_classified,
        OUT.not_met,
        D(90),
        D(550),
        None,
    ),
    (
        "section_member → county_division leading, no training: needs catch-up",
        Post(R.section_member, GRADE, False),
        (R.county_division, LEAD),
        NOTHING,
        M.higher_rank,
        OUT.needs_catch_up,
        D(90),
        D(550),
        date(2027, 3, 2),
    ),
    (
        "a leading post below the leading ranks: not applicable, figures shown",
        Post(R.section_member, GRADE, True),
        (R.township_section, LEAD),
        HOURS_549_99,
        M.below_leading_ranks,
        OUT.not_applicable,
        D(10),
        D("0.01"),
        None,
    ),
    (
        "a lower rank, never promoted: not met",
        Post(R.department_bureau, LEAD, True),
        (R.county_division, LEAD),
        NOTHING,
        M.lower_rank,
        OUT.not_met,
        D(90),
        D(550),
        None,
    ),
    (
        "the same post (not a promotion) is still checked for the target: meets",
        Post(R.county_division, LEAD, True),
        (R.county_division, LEAD),
        DAYS_90,
        M.same_post,
        OUT.meets,
        D(0),
        D(50),
        None,
    ),
    (
        "the same post, short: not met",
        Post(R.county_division, LEAD, True),
        (R.county_division, LEAD),
        HOURS_549_99,
        M.same_post,
        OUT.not_met,
        D(10),
        D("0.01"),
        None,
    ),
]


@pytest.mark.parametrize(
    ("before", "target", "logs", "move", "outcome", "short_days", "short_hours", "deadline"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_outcomes(
    before: Post,
    target: tuple[Rank, PostType],
    logs: list[LogRecord],
    move: PromotionMove,
    outcome: PromotionOutcome,
    short_days: Decimal,
    short_hours: Decimal,
    deadline: date | None,
) -> None:
    result = check(before, target, logs)
    assert result.move is move
    assert result.promotion_into_leading_post is (move in PROMOTION_MOVES)
    assert result.outcome is outcome
    assert (result.five_year.shortfall_days, result.five_year.shortfall_hours) == (
        short_days,
        short_hours,
    )
    assert result.grace_deadline == deadline
    assert result.promoted_on == (ON if move in PROMOTION_MOVES else None)
    assert (result.five_year.window_start, result.five_year.window_end) == (
        date(2021, 3, 3),
        ON,
    )
    assert len(result.steps) == 4
    assert result.explanation == " ".join(result.steps)


def test_pro_rata_at_the_window_edge() -> None:
    """A class of 10 calendar days (10 days, 70 h) from 2021-02-26 to 2021-03-07, and one of 85
    days and 515 h. On 2026-03-02 the window starts on 2021-03-03: 5 of the 10 days are inside,
    10 × 5/10 = 5 days and 70 × 5/10 = 35 h; 5 + 85 = 90 days and 35 + 515 = 550 h: both met
    exactly. A day later the window starts on 2021-03-04: 4 days and 28 h inside, so 89 days
    and 543 h, short 1 day and 7 h: a promotion that day needs catch-up by 2027-03-03."""
    logs = [
        centralised("2021-02-26", "2021-03-07", "70", "10", "edge"),
        centralised("2023-05-08", "2023-07-31", "515", "85", "whole"),
    ]
    before, target = Post(R.township_section, GRADE, True), (R.county_division, LEAD)
    first = check(before, target, logs)
    assert (first.five_year.centralised_days, first.five_year.centralised_hours) == (D(90), D(550))
    assert first.outcome is OUT.meets
    later = check(before, target, logs, on=date(2026, 3, 3))
    assert (later.five_year.centralised_days, later.five_year.centralised_hours) == (D(89), D(543))
    assert (later.five_year.shortfall_days, later.five_year.shortfall_hours) == (D(1), D(7))
    assert later.outcome is OUT.needs_catch_up
    assert later.grace_deadline == date(2027, 3, 3)


def test_an_earlier_promotions_grace_still_runs() -> None:
    """A move that is no promotion keeps the stored promoted_on (rule 4), and with it the grace
    of that promotion: the compliance view the day after would say in_grace."""
    before = Post(R.department_bureau, LEAD, True)
    result = check(before, (R.county_division, LEAD), NOTHING, promoted_on=date(2025, 9, 1))
    assert result.move is M.lower_rank
    assert result.outcome is OUT.needs_catch_up
    assert result.promoted_on == date(2025, 9, 1)
    assert result.grace_deadline == date(2026, 9, 1)
    assert "the grace of the promotion on 2025-09-01 still runs" in result.explanation
    # Once that grace is over, a move that is no promotion opens none.
    over = check(before, (R.county_division, LEAD), NOTHING, promoted_on=date(2025, 3, 1))
    assert over.outcome is OUT.not_met
    assert over.grace_deadline is None
    # A new promotion replaces it: the grace runs from the day of the move.
    again = check(
        Post(R.county_division, LEAD, True),
        (R.department_bureau, LEAD),
        NOTHING,
        promoted_on=date(2025, 9, 1),
    )
    assert (again.outcome, again.grace_deadline) == (OUT.needs_catch_up, date(2027, 3, 2))


def test_grace_from_29_february() -> None:
    result = check(
        Post(R.township_section, GRADE, True),
        (R.county_division, LEAD),
        NOTHING,
        on=date(2028, 2, 29),
    )
    assert result.grace_deadline == date(2029, 2, 28)


def test_a_policy_without_hours_and_for_every_rank() -> None:
    """chuzhou-2007: 90 days every 5 years for every rank, no hours alternative."""
    result = check(
        Post(R.section_member, GRADE, True),
        (R.section_member, GRADE),
        HOURS_550,
        policy=CHUZHOU_2007,
    )
    assert result.outcome is OUT.not_met
    assert (result.five_year.shortfall_days, result.five_year.shortfall_hours) == (D(50), None)
    assert "90 days" in result.steps[1]


def test_the_steps_name_each_decision() -> None:
    result = check(Post(R.township_section, GRADE, True), (R.county_division, GRADE), HOURS_549_99)
    assert result.steps == (
        "1. Move township_section (non_leading) → county_division (non_leading): a grade "
        "(non_leading), not a leading post; not a promotion into a leading post (N2) "
        "(docs/rules.md rule 4).",
        "2. Policy cn-2023 in force on 2026-03-02: the five-year requirement (docs/rules.md "
        "rule 4, N1) applies to county_division: 90 days or 550 h of centralised training in "
        "5 years.",
        "3. Window 2021-03-03…2026-03-02: centralised training 80 days and 549.99 h (approved "
        "logs only, pro rata at the window's edge, rules 1–2); short 10 days and 0.01 h.",
        "4. Not met: a leading rank without a leading post has no grace year (N2: only a "
        "promotion into a leading post opens one).",
    )
    other = check(Post(R.section_member, GRADE, True), (R.township_section, GRADE), NOTHING)
    assert (
        "the annual requirement (rule 5, N3) is a yearly duty, not a condition of "
        in (other.steps[1])
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (Post(rank, post_type, stated), Post(target_rank, target_type, True))
        for rank, post_type, stated, target_rank, target_type in product(
            Rank, PostType, (True, False), Rank, PostType
        )
    ],
)
def test_one_definition_of_a_promotion(before: Post, after: Post) -> None:
    """The check's `move` and every write path's `is_promotion` follow rule 4's text: a leading
    post at a leading rank, reached by a higher rank or from a stated grade at the same rank."""
    height = {rank: -n for n, rank in enumerate(Rank)}  # Rank lists the highest first
    expected = (
        after.post_type is LEAD
        and after.rank in LEADING_RANKS
        and (
            height[after.rank] > height[before.rank]
            or (after.rank is before.rank and before.post_type is GRADE and before.stated)
        )
    )
    assert (promotion_move(before, after) in PROMOTION_MOVES) is expected
    assert is_promotion(before, after) is expected


_STATUS_OF = {
    OUT.meets: "met",
    OUT.needs_catch_up: "in_grace",
    OUT.not_met: "not_met",
    OUT.not_applicable: "not_applicable",
}


@st.composite
def centralised_logs(draw: st.DrawFn) -> list[LogRecord]:
    logs = []
    for n in range(draw(st.integers(min_value=0, max_value=4))):
        start = draw(st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 1)))
        length = draw(st.integers(min_value=0, max_value=100))
        logs.append(
            LogRecord(
                str(n),
                StudyLogKind.centralised_training,
                start,
                start + timedelta(days=length),
                draw(st.decimals(min_value=0, max_value=400, places=2)),
                draw(st.decimals(min_value=0, max_value=60, places=2)),
                StudyLogStatus.approved,
            )
        )
    return logs


@given(
    logs=centralised_logs(),
    before=st.builds(Post, st.sampled_from(Rank), st.sampled_from(PostType), st.booleans()),
    target=st.tuples(st.sampled_from(Rank), st.sampled_from(PostType)),
    promoted_on=st.none() | st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 6, 1)),
    on=st.dates(min_value=date(2021, 1, 1), max_value=date(2027, 12, 31)),
)
@settings(max_examples=300, deadline=None)
def test_the_check_is_what_compliance_says_after_the_move(
    logs: list[LogRecord],
    before: Post,
    target: tuple[Rank, PostType],
    promoted_on: date | None,
    on: date,
) -> None:
    """Whatever the logs and the posts: the outcome is the compliance view's five-year status on
    `on` once the move is written that day by the rule every write path uses (`after_write`,
    the post type named), and the grace deadline is the one that view shows."""
    result = check(before, target, logs, on=on, promoted_on=promoted_on)
    post, promoted = after_write(
        before,
        current=promoted_on,
        rank=target[0],
        post_type=target[1],
        sent=NOT_NAMED,
        today=on,
    )
    view = compliance(logs, on, post.rank, promoted, [CN_2023]).five_year
    assert _STATUS_OF[result.outcome] == view.status
    assert result.promoted_on == promoted
    expected_deadline = view.grace_deadline if result.outcome is OUT.needs_catch_up else None
    assert result.grace_deadline == expected_deadline
    assert (result.five_year.shortfall_days, result.five_year.shortfall_hours) == (
        view.shortfall_days,
        view.shortfall_hours,
    )


def test_no_grace_before_the_promotion_that_opens_it() -> None:
    """Review finding 9: a grace runs from `promoted_on` to its deadline, both included. A day
    before the stored promotion is not in it: a move that is no promotion, checked on such a
    day, has no grace to keep (N2: 提任后1年内), and the compliance view says the same."""
    before = Post(R.department_bureau, LEAD, True)
    stored = date(2026, 6, 1)  # recorded ahead of the day asked about (2026-03-02)
    early = check(before, (R.department_bureau, LEAD), NOTHING, promoted_on=stored)
    assert early.move is M.same_post
    assert early.outcome is OUT.not_met
    assert early.grace_deadline is None
    assert early.five_year.status is RequirementStatus.not_met
    assert early.five_year.grace_deadline == date(2027, 6, 1)  # shown, as rule 4 says
    view = compliance(NOTHING, ON, R.department_bureau, stored, [CN_2023])
    assert view.five_year.status is RequirementStatus.not_met
    # On the day of the promotion and on its deadline the grace runs; the day after, not.
    for day, outcome in (
        (stored - timedelta(days=1), OUT.not_met),
        (stored, OUT.needs_catch_up),
        (date(2027, 6, 1), OUT.needs_catch_up),
        (date(2027, 6, 2), OUT.not_met),
    ):
        got = check(before, (R.department_bureau, LEAD), NOTHING, on=day, promoted_on=stored)
        assert got.outcome is outcome, day


def test_a_second_promotion_after_a_lapsed_grace_opens_a_new_year() -> None:
    """Rule 15: N2 gives each 提拔 its year (提任后1年内). A cadre whose first grace lapsed with
    the training still short and who is promoted again gets a new year from the new promotion,
    and the earlier lapse is reported, not a bar."""
    lapsed = date(2024, 1, 15)  # grace to 2025-01-15, over on 2026-03-02
    before = Post(R.county_division, LEAD, True)
    stay = check(before, (R.county_division, LEAD), NOTHING, promoted_on=lapsed)
    assert stay.outcome is OUT.not_met
    again = check(before, (R.department_bureau, LEAD), NOTHING, promoted_on=lapsed)
    assert again.move is M.higher_rank
    assert (again.outcome, again.promoted_on, again.grace_deadline) == (
        OUT.needs_catch_up,
        ON,
        date(2027, 3, 2),
    )
