"""The credit engine's rules (docs/rules.md) on hand-computed cases, its worked examples first."""

import dataclasses
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.credit_policy.engine import (
    LogRecord,
    RequirementStatus,
    RollCallGroup,
    close_outcome,
    compliance,
    credits_for_year,
    credits_view,
    excellent_allowed,
    five_year_requirement,
    last_centralised_training,
    q2,
    quota,
    rank_candidates,
    roll_call_candidate,
    share,
    to_jsonable,
    trained_in_year,
    window_start,
)
from app.credit_policy.errors import NoPolicyForDate
from app.credit_policy.policy import (
    CHUZHOU_2007,
    CN_2023,
    CreditMode,
    KindRule,
    Policy,
    Ratio,
    policy_in_force,
    validate_policies,
    validate_policy,
)
from app.enums import EnrollmentStatus, Rank, StudyLogKind, StudyLogStatus

K = StudyLogKind
S = StudyLogStatus
MET, NOT_MET = RequirementStatus.met, RequirementStatus.not_met
IN_GRACE, NOT_APPLICABLE = RequirementStatus.in_grace, RequirementStatus.not_applicable
D = Decimal


def day(text: str) -> date:
    return date.fromisoformat(text)


def log(
    log_id: str,
    kind: StudyLogKind,
    start: str,
    end: str | None = None,
    hours: str | int = 0,
    days: str | int = 0,
    status: StudyLogStatus = S.approved,
) -> LogRecord:
    return LogRecord(log_id, kind, day(start), day(end or start), D(hours), D(days), status)


def kind_block(logs: list[LogRecord], year: int, kind: StudyLogKind) -> tuple[D, D, D | None, D]:
    block = next(b for b in credits_for_year(logs, year, CN_2023).by_kind if b.kind == kind)
    return block.raw_hours, block.credited_hours, block.cap, block.capped_hours


# worked example 1: a county_division cadre, never promoted.
EXAMPLE_1 = [
    log("1", K.centralised_training, "2020-10-26", "2020-11-04", 70, 10),
    log("2", K.centralised_training, "2022-04-11", "2022-06-09", 360, 60),
    log("3", K.centralised_training, "2024-09-23", "2024-10-12", 130, 20),
]

# worked example 2: a section_member cadre in 2024.
EXAMPLE_2 = [
    log("ss-1", K.self_study, "2024-03-01", hours=12),
    log("ss-2", K.self_study, "2024-05-01", hours=12),
    log("cg-1", K.central_group_study, "2024-02-20", hours=4),
    log("te-1", K.teaching, "2024-06-06", hours=8),
    log("te-2", K.teaching, "2024-07-06", hours=8),
    log("on-1", K.online_course, "2024-08-01", "2024-08-31", hours=52),
]

# worked example 3: a class across New Year, 14 calendar days, 10 days, 70 hours.
NEW_YEAR_CLASS = log("ny", K.centralised_training, "2024-12-23", "2025-01-05", 70, 10)


# --- docs/rules.md rule 2: pro-rata share ---------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "start", "end", "expected"),
    [
        pytest.param(EXAMPLE_1[0], "2020-11-01", "2025-10-31", D("0.4"), id="window-edge-4-of-10"),
        pytest.param(EXAMPLE_1[0], "2020-11-02", "2025-11-01", D("0.3"), id="window-edge-3-of-10"),
        pytest.param(EXAMPLE_1[1], "2020-11-01", "2025-10-31", D(1), id="fully-inside"),
        pytest.param(NEW_YEAR_CLASS, "2024-01-01", "2024-12-31", D("0.64"), id="new-year-9-of-14"),
        pytest.param(NEW_YEAR_CLASS, "2025-01-01", "2025-12-31", D("0.36"), id="new-year-5-of-14"),
        pytest.param(NEW_YEAR_CLASS, "2025-01-05", "2025-01-05", D("0.07"), id="last-day-only"),
        pytest.param(NEW_YEAR_CLASS, "2025-01-06", "2025-12-31", D(0), id="disjoint"),
    ],
)
def test_share_is_overlap_days_over_total_days(
    record: LogRecord, start: str, end: str, expected: Decimal
) -> None:
    assert q2(share(record, day(start), day(end))) == expected


# --- docs/rules.md rules 1 and 3: credits per kind and year ---------------------------------------


def test_example_2_caps_and_per_item_credits() -> None:
    credits = credits_for_year(EXAMPLE_2, 2024, CN_2023)
    by_kind = {
        b.kind: (b.raw_hours, b.credited_hours, b.cap, b.capped_hours) for b in credits.by_kind
    }
    assert by_kind[K.self_study] == (D(24), D(24), D(20), D(20))
    assert by_kind[K.central_group_study] == (D(4), D(3), D(24), D(3))
    assert by_kind[K.teaching] == (D(16), D(32), D(24), D(24))
    assert by_kind[K.online_course] == (D(52), D(52), None, D(52))
    assert credits.total_hours == D(99)
    assert credits.online_hours == D(52)
    assert credits.centralised_days == D(0)
    self_study = next(b for b in credits.by_kind if b.kind == K.self_study)
    assert [(line.log_id, line.counted_hours, line.removed_by_cap) for line in self_study.logs] == [
        ("ss-1", D(12), D(0)),
        ("ss-2", D(8), D(4)),
    ]
    assert self_study.rule == "per_hour × 1, cap 20"
    assert "cap 20 reached: 8 counted, 4 over the cap" in self_study.logs[1].explanation
    group = next(b for b in credits.by_kind if b.kind == K.central_group_study)
    assert group.rule == "per_item 3, cap 24"
    assert "recorded 4 h ignored" in group.logs[0].explanation


def test_example_2_annual_counts_centralised_training_only() -> None:
    """Revision 2 of rule 5: 99 credited hours, none of them centralised: not met under
    cn-2023; met under a local 学时学分制 that counts every kind."""
    state = compliance(EXAMPLE_2, day("2024-12-31"), Rank.section_member, None, [CN_2023])
    annual = state.annual
    assert (annual.credited_hours, annual.counted_hours, annual.centralised_days) == (
        D(99),
        D(0),
        D(0),
    )
    assert (annual.status, annual.shortfall_days, annual.shortfall_hours) == (
        NOT_MET,
        D(12),
        D(90),
    )
    assert (state.online.hours, state.online.status) == (D(52), MET)
    assert state.five_year.status is NOT_APPLICABLE
    local = dataclasses.replace(CN_2023, annual_hours_kinds=frozenset(StudyLogKind))
    annual = compliance(EXAMPLE_2, day("2024-12-31"), Rank.section_member, None, [local]).annual
    assert (annual.counted_hours, annual.credited_hours, annual.status) == (D(99), D(99), MET)


@pytest.mark.parametrize(
    ("year", "days", "hours"),
    [
        pytest.param(2024, D("6.43"), D("45.00"), id="2024-gets-9-of-14"),
        pytest.param(2025, D("3.57"), D("25.00"), id="2025-gets-5-of-14"),
    ],
)
def test_example_3_class_across_new_year(year: int, days: Decimal, hours: Decimal) -> None:
    credits = credits_for_year([NEW_YEAR_CLASS], year, CN_2023)
    assert q2(credits.centralised_days) == days
    assert q2(credits.total_hours) == hours
    line = next(b for b in credits.by_kind if b.kind == K.centralised_training).logs[0]
    assert (q2(line.days), q2(line.raw_hours), q2(line.credited_hours)) == (days, hours, hours)


def test_example_3_years_sum_on_unrounded_values() -> None:
    both = [credits_for_year([NEW_YEAR_CLASS], year, CN_2023) for year in (2024, 2025)]
    assert q2(sum((c.centralised_days for c in both), D(0))) == D("10.00")
    assert sum(c.total_hours for c in both) == D(70)


SELF_STUDY_10_10 = [
    log("a", K.self_study, "2024-01-10", hours=10),
    log("b", K.self_study, "2024-02-10", hours=10),
]
SELF_STUDY_10_10_5 = [*SELF_STUDY_10_10, log("c", K.self_study, "2024-03-10", hours=5)]
SEVEN_READING_NOTES = [log(f"r{i}", K.reading_note, f"2024-0{i}-01", hours=5) for i in range(1, 8)]
THREE_THESES = [log(f"t{i}", K.thesis, f"2024-0{i}-15", hours=40) for i in range(1, 4)]
HALF_YEAR_SECONDMENT = [log("sec", K.secondment, "2024-07-01", "2024-12-31", hours=200)]
GROUP_STUDY_ACROSS_NEW_YEAR = [
    log("cg", K.central_group_study, "2024-12-31", "2025-01-01", hours=4),
]
KIND_CASES = {
    # kind: (raw hours, credited before cap, cap, capped)
    "exactly-at-the-cap": (SELF_STUDY_10_10, K.self_study, (D(20), D(20), D(20), D(20))),
    "cap-hit-mid-year": (SELF_STUDY_10_10_5, K.self_study, (D(25), D(25), D(20), D(20))),
    "per-item-2-cap-12": (SEVEN_READING_NOTES, K.reading_note, (D(35), D(14), D(12), D(12))),
    "per-item-12-cap-24": (THREE_THESES, K.thesis, (D(120), D(36), D(24), D(24))),
    "secondment-cap-48": (HALF_YEAR_SECONDMENT, K.secondment, (D(200), D(200), D(48), D(48))),
    "per-item-half-in-each-year": (
        GROUP_STUDY_ACROSS_NEW_YEAR,
        K.central_group_study,
        (D(2), D("1.5"), D(24), D("1.5")),
    ),
    "teaching-factor-2": (
        [log("tea", K.teaching, "2024-04-01", hours="7.5")],
        K.teaching,
        (D("7.5"), D(15), D(24), D(15)),
    ),
    "no-cap": (
        [log("lec", K.lecture, "2024-04-01", hours=300)],
        K.lecture,
        (D(300), D(300), None, D(300)),
    ),
}


@pytest.mark.parametrize(("logs", "kind", "expected"), KIND_CASES.values(), ids=KIND_CASES.keys())
def test_kind_credits_and_caps(
    logs: list[LogRecord], kind: StudyLogKind, expected: tuple[D, D, D | None, D]
) -> None:
    assert kind_block(logs, 2024, kind) == expected


def test_cap_is_consumed_in_date_order_ties_by_id() -> None:
    logs = [
        log("b", K.self_study, "2024-05-01", hours=15),
        log("z", K.self_study, "2024-04-30", hours=3),
        log("a", K.self_study, "2024-05-01", hours=15),
    ]
    block = next(b for b in credits_for_year(logs, 2024, CN_2023).by_kind if b.kind == K.self_study)
    assert [(line.log_id, line.counted_hours) for line in block.logs] == [
        ("z", D(3)),
        ("a", D(15)),
        ("b", D(2)),
    ]


@pytest.mark.parametrize("status", [S.pending, S.rejected, S.voided], ids=str)
def test_only_approved_logs_count(status: StudyLogStatus) -> None:
    logs = [
        log("ok", K.lecture, "2024-03-01", hours=10),
        log("no", K.lecture, "2024-03-02", hours=30, status=status),
    ]
    credits = credits_for_year(logs, 2024, CN_2023)
    assert credits.total_hours == D(10)
    assert [(item.log_id, item.status) for item in credits.ignored_logs] == [("no", status)]
    assert f"not counted: no ({status})" in credits.notes[1]


def test_a_voided_log_leaves_the_totals() -> None:
    approved = log("x", K.centralised_training, "2024-03-04", "2024-03-08", 40, 5)
    voided = dataclasses.replace(approved, status=S.voided)
    as_of = day("2024-12-31")
    before = compliance([approved], as_of, Rank.township_section, None, [CN_2023])
    after = compliance([voided], as_of, Rank.township_section, None, [CN_2023])
    assert (before.annual.credited_hours, before.annual.centralised_days) == (D(40), D(5))
    assert (after.annual.credited_hours, after.annual.centralised_days) == (D(0), D(0))
    assert (before.five_year.centralised_days, after.five_year.centralised_days) == (D(5), D(0))


@pytest.mark.parametrize(
    ("up_to", "total", "span_end"),
    [
        pytest.param(None, D(60), "2024-12-31", id="whole-year"),
        pytest.param("2024-03-15", D(10), "2024-03-15", id="part-of-a-log"),
        pytest.param("2024-03-10", D(0), "2024-03-10", id="before-the-log"),
        pytest.param("2023-06-30", D(0), "2023-12-31", id="year-not-begun"),
        pytest.param("2025-02-01", D(60), "2024-12-31", id="after-the-year"),
    ],
)
def test_credits_up_to_a_day(up_to: str | None, total: Decimal, span_end: str) -> None:
    logs = [
        log("m", K.online_course, "2024-03-11", "2024-03-20", hours=20),
        log("n", K.online_course, "2024-04-01", hours=40),
    ]
    credits = credits_for_year(logs, 2024, CN_2023, up_to=day(up_to) if up_to else None)
    assert (credits.total_hours, credits.span_end) == (total, day(span_end))


# --- docs/rules.md rule 4: the five-year requirement ----------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "promoted_on", "days", "hours", "status", "short_days", "short_hours", "deadline"),
    [
        ("2025-10-31", None, D(84), D(518), NOT_MET, D(6), D(32), None),
        ("2025-11-01", None, D(83), D(511), NOT_MET, D(7), D(39), None),
        ("2025-10-31", "2025-03-15", D(84), D(518), IN_GRACE, D(6), D(32), "2026-03-15"),
        ("2026-03-15", "2025-03-15", D(80), D(490), IN_GRACE, D(10), D(60), "2026-03-15"),
        ("2026-03-16", "2025-03-15", D(80), D(490), NOT_MET, D(10), D(60), "2026-03-15"),
    ],
    ids=["ex1-31-oct", "ex1-1-nov", "ex1-promoted-in-grace", "grace-last-day", "grace-day-after"],
)
def test_example_1_five_year_window(
    as_of: str,
    promoted_on: str | None,
    days: Decimal,
    hours: Decimal,
    status: RequirementStatus,
    short_days: Decimal,
    short_hours: Decimal,
    deadline: str | None,
) -> None:
    block = five_year_requirement(
        EXAMPLE_1,
        day(as_of),
        Rank.county_division,
        day(promoted_on) if promoted_on else None,
        [CN_2023],
    )
    assert (block.centralised_days, block.centralised_hours) == (days, hours)
    assert block.status is status
    assert (block.shortfall_days, block.shortfall_hours) == (short_days, short_hours)
    assert block.grace_deadline == (day(deadline) if deadline else None)
    assert block.met_until is None
    assert (block.required_days, block.required_hours) == (D(90), D(550))
    assert block.window_end == day(as_of)


def test_example_1_window_and_derivation() -> None:
    block = five_year_requirement(
        EXAMPLE_1, day("2025-10-31"), Rank.county_division, None, [CN_2023]
    )
    assert block.window_start == day("2020-11-01")
    first = block.logs[0]
    assert (first.log_id, first.overlap_days, first.total_days) == ("1", 4, 10)
    assert (first.days, first.hours) == (D(4), D(28))
    assert "short 6 days and 32 h" in block.explanation


@pytest.mark.parametrize(
    ("as_of", "start"),
    [
        pytest.param("2025-10-31", "2020-11-01", id="plain"),
        pytest.param("2028-02-29", "2023-03-01", id="leap-day-as-of"),
        pytest.param("2028-02-28", "2023-03-01", id="day-before-leap-day"),
        pytest.param("2028-03-01", "2023-03-02", id="day-after-leap-day"),
        pytest.param("2029-02-28", "2024-02-29", id="window-starts-on-a-leap-day"),
        pytest.param("2029-03-01", "2024-03-02", id="leap-day-window-ages-by-two"),
    ],
)
def test_window_start(as_of: str, start: str) -> None:
    assert window_start(day(as_of), 5) == day(start)


@pytest.mark.parametrize(
    ("logged", "as_of", "days"),
    [
        pytest.param("2020-11-01", "2025-10-31", D(1), id="on-the-window-start"),
        pytest.param("2020-10-31", "2025-10-31", D(0), id="day-before-the-window"),
        pytest.param("2025-10-31", "2025-10-31", D(1), id="on-as-of"),
        pytest.param("2025-11-01", "2025-10-31", D(0), id="day-after-as-of"),
        pytest.param("2023-03-01", "2028-02-29", D(1), id="leap-window-start"),
        pytest.param("2023-02-28", "2028-02-29", D(0), id="leap-day-before-window"),
    ],
)
def test_one_day_log_at_the_window_edge(logged: str, as_of: str, days: Decimal) -> None:
    record = log("edge", K.centralised_training, logged, hours=8, days=1)
    block = five_year_requirement([record], day(as_of), Rank.county_division, None, [CN_2023])
    assert (block.centralised_days, block.centralised_hours) == (days, days * 8)


@pytest.mark.parametrize(
    ("days", "hours", "status", "short_days", "short_hours"),
    [
        pytest.param(90, 400, MET, D(0), D(150), id="days-met-hours-not"),
        pytest.param(50, 560, MET, D(40), D(0), id="hours-met-days-not"),
        pytest.param(89, 549, NOT_MET, D(1), D(1), id="both-just-short"),
        pytest.param("89.99", "549.99", NOT_MET, D("0.01"), D("0.01"), id="cents-short"),
    ],
)
def test_five_year_days_and_hours_compared_separately(
    days: str | int,
    hours: str | int,
    status: RequirementStatus,
    short_days: Decimal,
    short_hours: Decimal,
) -> None:
    record = log("c", K.centralised_training, "2023-03-01", "2023-05-31", hours, days)
    block = five_year_requirement(
        [record], day("2025-06-30"), Rank.department_bureau, None, [CN_2023]
    )
    assert block.status is status
    assert (block.shortfall_days, block.shortfall_hours) == (short_days, short_hours)


def test_five_year_counts_only_centralised_kinds() -> None:
    logs = [*EXAMPLE_2, log("c", K.centralised_training, "2024-03-04", "2024-03-08", 40, 5)]
    block = five_year_requirement(logs, day("2024-12-31"), Rank.county_division, None, [CN_2023])
    assert (block.centralised_days, block.centralised_hours) == (D(5), D(40))


def test_five_year_not_applicable_still_shows_figures() -> None:
    block = five_year_requirement(
        EXAMPLE_1, day("2025-10-31"), Rank.section_member, None, [CN_2023]
    )
    assert block.status is NOT_APPLICABLE
    assert (block.centralised_days, block.centralised_hours) == (D(84), D(518))
    assert (block.shortfall_days, block.shortfall_hours) == (D(6), D(32))


# Worked example 1 plus 6 more days (40 h) in March 2025: on 2025-10-31 90 days and 558 h. Log 1
# then loses one day (1 day, 7 h) a day: on 11-01 89 days but 551 h (met by hours), on 11-02
# 88 days and 544 h.
EXAMPLE_1_MET = [*EXAMPLE_1, log("4", K.centralised_training, "2025-03-03", "2025-03-08", 40, 6)]
# One 90-day class of 600 h: whole in the window until 2025-12-31; then 600 × 83/90 = 553.33 h on
# 2026-01-07 (window from 2021-01-08), 600 × 82/90 = 546.67 h on 2026-01-08.
ONE_LONG_CLASS = [log("q", K.centralised_training, "2021-01-01", "2021-03-31", 600, 90)]
# Days only (0 h): 30 days in July 2020 and 60 in Jan–Feb 2023 meet 90 days on 2025-06-30, and the
# July 2020 class ages out from 2025-07-01.
DAYS_ONLY = [
    log("old", K.centralised_training, "2020-07-01", "2020-07-30", 0, 30),
    log("mid", K.centralised_training, "2023-01-01", "2023-03-01", 0, 60),
]
# ...unless a class already on file for July 2025 takes its place day by day; then the 2023 class
# is the first to age out, from 2028-01-01 (window from 2023-01-02).
DAYS_ONLY_WITH_FUTURE = [
    *DAYS_ONLY,
    log("next", K.centralised_training, "2025-07-01", "2025-07-30", 0, 30),
]


@pytest.mark.parametrize(
    ("logs", "as_of", "met_until"),
    [
        pytest.param(EXAMPLE_1_MET, "2025-10-31", "2025-11-01", id="ex1-met-by-hours-one-day-more"),
        pytest.param(ONE_LONG_CLASS, "2025-06-30", "2026-01-07", id="hours-outlast-days"),
        pytest.param(DAYS_ONLY, "2025-06-30", "2025-06-30", id="lapses-tomorrow"),
        pytest.param(DAYS_ONLY_WITH_FUTURE, "2025-06-30", "2027-12-31", id="future-log-on-file"),
        pytest.param(EXAMPLE_1, "2025-10-31", None, id="not-met"),
    ],
)
def test_met_until(logs: list[LogRecord], as_of: str, met_until: str | None) -> None:
    block = five_year_requirement(logs, day(as_of), Rank.county_division, None, [CN_2023])
    assert block.met_until == (day(met_until) if met_until else None)
    if met_until:
        assert block.status is MET


def test_example_1_met_figures() -> None:
    block = five_year_requirement(
        EXAMPLE_1_MET, day("2025-11-01"), Rank.county_division, None, [CN_2023]
    )
    assert (block.centralised_days, block.centralised_hours, block.status) == (D(89), D(551), MET)
    assert "stays met until 2025-11-01" in block.explanation


@pytest.mark.parametrize(
    ("rank", "days", "status", "short_days"),
    [
        pytest.param(Rank.section_member, 85, NOT_MET, D(5), id="other-rank-85-days"),
        pytest.param(Rank.township_section, 90, MET, D(0), id="other-rank-90-days"),
        pytest.param(Rank.county_division, 85, NOT_MET, D(5), id="leading-rank-85-days"),
    ],
)
def test_chuzhou_2007_days_only_for_every_rank(
    rank: Rank, days: int, status: RequirementStatus, short_days: Decimal
) -> None:
    # 1,000 hours do not help: chuzhou-2007 has no hours alternative.
    record = log("c", K.centralised_training, "2021-03-01", "2021-08-31", 1000, days)
    state = compliance([record], day("2025-06-30"), rank, None, [CHUZHOU_2007])
    block = state.five_year
    assert (block.status, block.shortfall_days) == (status, short_days)
    assert (block.required_hours, block.shortfall_hours) == (None, None)
    assert "no hours alternative" in block.explanation
    assert state.annual.status is NOT_APPLICABLE
    assert state.online.status is NOT_APPLICABLE


# --- docs/rules.md rules 5 and 6: annual and online -----------------------------------------------


TWELVE_DAYS_60_HOURS = [log("c", K.centralised_training, "2024-05-06", "2024-05-17", 60, 12)]

# The annual rule's table of cases (counted hours, edges, local policies): test_annual_rule.py.


def test_compliance_counts_the_year_only_up_to_as_of() -> None:
    logs = [
        log("now", K.centralised_training, "2024-06-10", "2024-06-19", 80, 10),
        log("next-month", K.centralised_training, "2024-07-01", "2024-07-12", 90, 12),
        log("online", K.online_course, "2024-06-15", "2024-07-14", hours=60),
    ]
    state = compliance(logs, day("2024-06-15"), Rank.section_member, None, [CN_2023])
    # 6 of the first class's 10 days (48 h), nothing of July, 1 of the course's 30 days (2 h).
    assert (state.annual.centralised_days, state.annual.credited_hours) == (D(6), D(50))
    assert (state.annual.centralised_hours, state.annual.counted_hours) == (D(48), D(48))
    assert (state.annual.span_start, state.annual.span_end) == (
        day("2024-01-01"),
        day("2024-06-15"),
    )
    assert (state.online.hours, state.online.status) == (D(2), NOT_MET)
    whole_year = credits_view(logs, 2024, [CN_2023])
    assert (whole_year.centralised_days, whole_year.total_hours) == (D(22), D(230))


def test_annual_not_applicable_to_leading_ranks_still_shows_figures() -> None:
    state = compliance(EXAMPLE_2, day("2024-12-31"), Rank.county_division, None, [CN_2023])
    assert (state.annual.status, state.annual.credited_hours) == (NOT_APPLICABLE, D(99))
    assert state.online.status is MET


@pytest.mark.parametrize(
    ("hours", "status", "short"),
    [
        pytest.param("50", MET, D(0), id="exactly-50"),
        pytest.param("49.99", NOT_MET, D("0.01"), id="a-cent-short"),
        pytest.param("80", MET, D(0), id="above"),
    ],
)
def test_online_requirement(hours: str, status: RequirementStatus, short: Decimal) -> None:
    logs = [log("o", K.online_course, "2024-03-01", "2024-03-31", hours=hours)]
    online = compliance(logs, day("2024-12-31"), Rank.county_division, None, [CN_2023]).online
    assert (online.hours, online.status, online.shortfall_hours) == (D(hours), status, short)
    assert online.required_hours == D(50)
    assert [line.log_id for line in online.logs] == ["o"]


# --- "a period is evaluated under the policy in force on its dates" -----------------------------

OLD_POLICY = dataclasses.replace(
    CN_2023,
    code="old",
    effective_from=date(2000, 1, 1),
    effective_to=date(2023, 12, 31),
    kind_rules={
        **CN_2023.kind_rules,
        K.self_study: KindRule(kind=K.self_study, mode=CreditMode.per_hour, annual_cap=D(10)),
    },
    annual_required_hours=D(60),
    annual_hours_kinds=frozenset(StudyLogKind),  # a local 学时学分制: every kind counts
    five_year_required_days=D(60),
    five_year_required_hours=None,
)
NEW_POLICY = dataclasses.replace(CN_2023, effective_from=date(2024, 1, 1))
POLICY_CHANGE_LOGS = [
    log("s23", K.self_study, "2023-05-01", hours=15),
    log("l23", K.lecture, "2023-06-01", hours=55),
    log("s24", K.self_study, "2024-05-01", hours=15),
    log("l24", K.lecture, "2024-06-01", hours=55),
    # In both five-year windows, in neither calendar year.
    log("c", K.centralised_training, "2022-09-05", "2022-11-03", 400, 60),
]


@pytest.mark.parametrize(
    ("as_of", "code", "self_study", "annual_hours", "annual_status", "five_year_status"),
    [
        pytest.param("2023-12-31", "old", D(10), D(65), MET, MET, id="2023-under-old-policy"),
        pytest.param("2024-12-31", "cn-2023", D(15), D(70), NOT_MET, NOT_MET, id="2024-under-new"),
    ],
)
def test_a_year_under_each_policy(
    as_of: str,
    code: str,
    self_study: Decimal,
    annual_hours: Decimal,
    annual_status: RequirementStatus,
    five_year_status: RequirementStatus,
) -> None:
    policies = [NEW_POLICY, OLD_POLICY]
    state = compliance(POLICY_CHANGE_LOGS, day(as_of), Rank.township_section, None, policies)
    capped = next(b for b in state.annual.credits.by_kind if b.kind == K.self_study).capped_hours
    assert (state.annual.policy_code, capped) == (code, self_study)
    assert (state.annual.credited_hours, state.annual.status) == (annual_hours, annual_status)
    leading = compliance(POLICY_CHANGE_LOGS, day(as_of), Rank.county_division, None, policies)
    # 60 days meet the old 60-day rule; under cn-2023 they are 30 days and 150 h short.
    assert leading.five_year.status is five_year_status
    assert leading.five_year.policy_code == code
    assert credits_view(POLICY_CHANGE_LOGS, day(as_of).year, policies).policy_code == code


# --- docs/rules.md rule 7: closing a session with leave -------------------------------------------


COMPLETED, DROPPED_OUT = EnrollmentStatus.completed, EnrollmentStatus.dropped_out


@pytest.mark.parametrize(
    ("credit_hours", "session_days", "leave", "status", "hours", "days"),
    [
        ("40", "5", "4", COMPLETED, D(36), D("4.5")),
        ("40", "5", "6", DROPPED_OUT, D(0), D(0)),
        ("40", "5", "5.71", COMPLETED, D("34.29"), D("4.28625")),
        ("40", "5", "5.72", DROPPED_OUT, D(0), D(0)),
        ("35", "7", "5", COMPLETED, D(30), D(6)),
        ("35", "7", "5.01", DROPPED_OUT, D(0), D(0)),
        ("35", "7", "0", COMPLETED, D(35), D(7)),
        ("0", "2", "0", COMPLETED, D(0), D(2)),
    ],
    ids=[
        "ex4-trainee-x",
        "ex4-trainee-y",
        "just-under-40-sevenths",
        "just-over-40-sevenths",
        "exactly-one-seventh",
        "just-above-one-seventh",
        "no-leave",
        "zero-hour-session",
    ],
)
def test_close_outcome(
    credit_hours: str,
    session_days: str,
    leave: str,
    status: EnrollmentStatus,
    hours: Decimal,
    days: Decimal,
) -> None:
    outcome = close_outcome(D(credit_hours), D(session_days), D(leave), CN_2023)
    assert (outcome.status, outcome.hours, outcome.days) == (status, hours, days)
    assert outcome.completed is (status is COMPLETED)


def test_close_outcome_explains_the_cap() -> None:
    outcome = close_outcome(D(40), D(5), D(6), CN_2023)
    assert outcome.leave_cap is not None
    assert q2(outcome.leave_cap) == D("5.71")
    assert "leave cap 1/7 of 40 h = 5.71 h" in outcome.explanation
    assert "withdrawn (退学)" in outcome.explanation


def test_close_outcome_refuses_negative_leave() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        close_outcome(D(40), D(5), D(-1), CN_2023)


# --- docs/rules.md rule 8: roll-call --------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "expected"),
    [(0, 0), (1, 1), (4, 1), (5, 1), (6, 2), (10, 2), (11, 3), (200_001, 40_001)],
    ids=lambda value: str(value),
)
def test_quota_is_a_fifth_rounded_up(active: int, expected: int) -> None:
    assert quota(active, CN_2023) == expected


def test_roll_call_order() -> None:
    as_of = day("2025-10-31")
    six_days = [log("t", K.centralised_training, "2025-03-03", "2025-03-08", 48, 6)]
    in_2022 = [log("s", K.centralised_training, "2022-05-01", "2022-05-05", 40, 5)]
    people: list[tuple[str, Rank, date | None, list[LogRecord]]] = [
        ("t-short", Rank.township_section, None, six_days),
        ("s-2022", Rank.section_member, None, in_2022),
        ("s-never-b", Rank.section_member, None, []),
        ("s-never-a", Rank.section_member, None, []),
        ("c-grace-late", Rank.county_division, day("2025-06-01"), []),
        ("c-grace-early", Rank.county_division, day("2025-01-10"), []),
        ("c-notmet-small", Rank.county_division, None, EXAMPLE_1),
        ("c-notmet-big", Rank.county_division, None, []),
    ]
    candidates = [
        roll_call_candidate(cadre_id, logs, as_of, rank, promoted, [CN_2023])
        for cadre_id, rank, promoted, logs in people
    ]
    ranked = rank_candidates(candidates)
    assert [c.cadre_id for c in ranked] == [
        "c-notmet-big",  # not met, 100 % outstanding
        "c-notmet-small",  # not met, min(6/90, 32/550) = 5.82 % outstanding
        "c-grace-early",  # in grace until 2026-01-10
        "c-grace-late",  # in grace until 2026-06-01
        "s-never-a",  # annual 100 % outstanding, never trained, id a < b
        "s-never-b",
        "s-2022",  # annual 100 % outstanding, last trained 2022-05-05
        "t-short",  # annual min(6/12, 42/90) = 46.67 % outstanding
    ]
    assert [c.position for c in ranked] == list(range(1, 9))
    not_met, in_grace = RollCallGroup.five_year_not_met, RollCallGroup.five_year_in_grace
    assert [c.group for c in ranked][:5] == [
        not_met,
        not_met,
        in_grace,
        in_grace,
        RollCallGroup.other,
    ]
    assert q2(ranked[1].outstanding) == D("0.06")
    assert ranked[1].reason == (
        "five-year requirement not met; five-year shortfall 6 days / 32 h (5.82% outstanding); "
        "last centralised training 2024-10-12 (384 days ago)"
    )
    assert "in grace until 2026-01-10" in ranked[2].reason
    assert "never had centralised training" in ranked[4].reason
    assert "annual 2025 shortfall 6 days / 42 h (46.67% outstanding)" in ranked[7].reason


PENDING_NEW_YEAR_CLASS = dataclasses.replace(NEW_YEAR_CLASS, status=S.pending)


@pytest.mark.parametrize(
    ("logs", "year", "trained"),
    [
        pytest.param([NEW_YEAR_CLASS], 2024, True, id="new-year-class-trains-2024"),
        pytest.param([NEW_YEAR_CLASS], 2025, True, id="and-2025"),
        pytest.param([NEW_YEAR_CLASS], 2026, False, id="not-2026"),
        pytest.param([PENDING_NEW_YEAR_CLASS], 2024, False, id="pending-does-not-train"),
        pytest.param(EXAMPLE_2, 2024, False, id="no-centralised-days"),
    ],
)
def test_trained_in_year(logs: list[LogRecord], year: int, trained: bool) -> None:
    assert trained_in_year(logs, year, [CN_2023]) is trained


def test_last_centralised_training_stops_at_as_of() -> None:
    mid_class = day("2024-12-30")
    assert last_centralised_training([NEW_YEAR_CLASS], mid_class, CN_2023) == mid_class
    assert last_centralised_training(EXAMPLE_1, day("2025-10-31"), CN_2023) == day("2024-10-12")
    assert last_centralised_training(EXAMPLE_2, day("2025-10-31"), CN_2023) is None


# --- docs/rules.md rule 9: excellent only when the year's requirement is met ----------------------

NINETY_DAYS = [log("c", K.centralised_training, "2022-03-01", "2022-05-29", 500, 90)]


@pytest.mark.parametrize(
    ("logs", "rank", "promoted_on", "allowed", "requirements", "status"),
    [
        (TWELVE_DAYS_60_HOURS, Rank.section_member, None, True, ["annual"], "met"),
        (EXAMPLE_2, Rank.township_section, None, False, ["annual"], "not_met"),
        (NINETY_DAYS, Rank.county_division, None, True, ["five_year"], "met"),
        ([], Rank.department_bureau, day("2024-06-01"), True, ["five_year"], "in_grace"),
        ([], Rank.provincial_ministerial, None, False, ["five_year"], "not_met"),
        ([], Rank.county_division, day("2023-06-01"), False, ["five_year"], "not_met"),
    ],
    ids=[
        "other-rank-met",
        "other-rank-not-met",
        "leading-met",
        "leading-in-grace",
        "leading-not-met",
        "leading-grace-over-before-year-end",
    ],
)
def test_excellent_allowed(
    logs: list[LogRecord],
    rank: Rank,
    promoted_on: date | None,
    allowed: bool,
    requirements: list[str],
    status: str,
) -> None:
    decision, snapshot = excellent_allowed(logs, 2024, rank, promoted_on, [CN_2023])
    assert decision is allowed
    assert snapshot["excellent_allowed"] is allowed
    assert snapshot["requirements"] == requirements
    block = snapshot[requirements[0]]
    assert isinstance(block, dict)
    assert block["status"] == status
    assert snapshot["as_of"] == "2024-12-31"
    assert json.loads(json.dumps(snapshot)) == snapshot


def test_excellent_snapshot_figures_have_two_places() -> None:
    _, snapshot = excellent_allowed(EXAMPLE_2, 2024, Rank.section_member, None, [CN_2023])
    annual = snapshot["annual"]
    assert isinstance(annual, dict)
    assert (annual["credited_hours"], annual["centralised_days"]) == ("99.00", "0.00")
    assert (annual["counted_hours"], annual["centralised_hours"]) == ("0.00", "0.00")
    assert annual["counted_kinds"] == ["centralised_training"]
    assert (annual["required_hours"], annual["required_days"]) == ("90.00", "12.00")
    assert (snapshot["policy_code"], snapshot["rank_group"]) == ("cn-2023", "other")


def test_excellent_under_chuzhou_needs_the_five_year_days_for_every_rank() -> None:
    decision, snapshot = excellent_allowed(
        EXAMPLE_2, 2024, Rank.section_member, None, [CHUZHOU_2007]
    )
    assert (decision, snapshot["requirements"]) == (False, ["five_year"])
    decision, _ = excellent_allowed(NINETY_DAYS, 2024, Rank.section_member, None, [CHUZHOU_2007])
    assert decision is True


def test_to_jsonable_rounds_decimals_and_formats_dates() -> None:
    block = five_year_requirement(
        [NEW_YEAR_CLASS], day("2025-01-01"), Rank.county_division, None, [CN_2023]
    )
    figures = to_jsonable(block)
    assert isinstance(figures, dict)
    assert (figures["centralised_days"], figures["window_start"]) == ("7.14", "2020-01-02")
    assert figures["status"] == "not_met"


# --- the policies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        (K.centralised_training, "per_hour × 1, no cap"),
        (K.online_course, "per_hour × 1, no cap"),
        (K.lecture, "per_hour × 1, no cap"),
        (K.seminar, "per_hour × 1, no cap"),
        (K.central_group_study, "per_item 3, cap 24"),
        (K.self_study, "per_hour × 1, cap 20"),
        (K.reading_note, "per_item 2, cap 12"),
        (K.thesis, "per_item 12, cap 24"),
        (K.teaching, "per_hour × 2, cap 24"),
        (K.secondment, "per_hour × 1, cap 48"),
        (K.job_rotation, "per_hour × 1, cap 48"),
        (K.study_tour, "per_hour × 1, cap 48"),
    ],
    ids=str,
)
def test_cn_2023_kind_table_is_the_spec_table(kind: StudyLogKind, rule: str) -> None:
    assert CN_2023.kind_rules[kind].describe() == rule
    assert CHUZHOU_2007.kind_rules[kind] == CN_2023.kind_rules[kind]


def test_built_in_policies_are_valid() -> None:
    validate_policies([CN_2023])
    validate_policies([CHUZHOU_2007])
    validate_policies([NEW_POLICY, OLD_POLICY])
    assert CN_2023.leave_cap == Ratio(1, 7)
    assert CN_2023.roll_call == Ratio(1, 5)


def _with_rule(
    *, factor: Decimal = D(2), credit_per_item: Decimal = D(0), annual_cap: Decimal = D(24)
) -> Policy:
    rule = KindRule(
        kind=K.teaching,
        mode=CreditMode.per_hour,
        factor=factor,
        credit_per_item=credit_per_item,
        annual_cap=annual_cap,
    )
    return dataclasses.replace(CN_2023, kind_rules={**CN_2023.kind_rules, K.teaching: rule})


def _cn(**changes: Any) -> Policy:
    return dataclasses.replace(CN_2023, **changes)


INVALID_POLICIES = {
    "negative-factor": (_with_rule(factor=D(-1)), "teaching factor"),
    "negative-cap": (_with_rule(annual_cap=D(-24)), "teaching annual_cap"),
    "negative-credit-per-item": (_with_rule(credit_per_item=D(-3)), "credit_per_item"),
    "nan-factor": (_with_rule(factor=D("NaN")), "teaching factor"),
    "negative-threshold": (_cn(five_year_required_days=D(-90)), "five_year_required_days"),
    "negative-online": (_cn(online_required_hours=D("-0.01")), "online_required_hours"),
    "reversed-range": (_cn(effective_to=date(1899, 12, 31)), "effective_to is before"),
    "applies-without-threshold": (
        _cn(annual_required_days=None, annual_required_hours=None),
        "annual requirement applies",
    ),
    "zero-denominator": (_cn(leave_cap=Ratio(1, 0)), "leave_cap"),
    "zero-years": (_cn(five_year_years=0), "five_year_years"),
    "negative-grace": (_cn(grace_years=-1), "grace_years"),
}


@pytest.mark.parametrize(
    ("policy", "message"), INVALID_POLICIES.values(), ids=INVALID_POLICIES.keys()
)
def test_validate_policy_refuses(policy: Policy, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_policy(policy)


OVERLAPPING_BY_A_DAY = [OLD_POLICY, _cn(effective_from=date(2023, 12, 31))]


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ([CN_2023, CHUZHOU_2007], "overlapping"),
        (OVERLAPPING_BY_A_DAY, "overlapping"),
        ([CN_2023, _cn(effective_from=date(2030, 1, 1))], "duplicate"),
        ([_cn(code=" ")], "code must not be empty"),
    ],
    ids=["open-ended-overlap", "one-day-overlap", "duplicate-code", "empty-code"],
)
def test_validate_policies_refuses(policies: list[Policy], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_policies(policies)


@pytest.mark.parametrize(
    ("on", "code"),
    [
        pytest.param("2023-12-31", "old", id="last-day-of-old"),
        pytest.param("2024-01-01", "cn-2023", id="first-day-of-new"),
    ],
)
def test_policy_in_force(on: str, code: str) -> None:
    assert policy_in_force([NEW_POLICY, OLD_POLICY], day(on)).code == code


def test_policy_in_force_without_a_policy_or_with_two() -> None:
    with pytest.raises(NoPolicyForDate):
        policy_in_force([NEW_POLICY, OLD_POLICY], date(1999, 12, 31))
    with pytest.raises(NoPolicyForDate, match="several"):
        policy_in_force([CN_2023, CHUZHOU_2007], date(2010, 1, 1))


def test_log_record_refuses_reversed_dates_and_negative_hours() -> None:
    with pytest.raises(ValueError, match="end_date"):
        log("bad", K.lecture, "2024-03-02", "2024-03-01")
    with pytest.raises(ValueError, match="≥ 0"):
        log("bad", K.lecture, "2024-03-02", hours=-1)


@pytest.mark.parametrize(
    ("as_of", "status", "met_until"),
    [
        (date.max, MET, date.max),
        # Both days are before the promotion (promoted_on = date.max): no grace runs yet.
        (date(9999, 12, 30), NOT_MET, None),
        (date.min, NOT_MET, None),
    ],
    ids=["met-on-the-last-representable-day", "day-before", "first-representable-day"],
)
def test_extreme_dates_do_not_crash(
    as_of: date, status: RequirementStatus, met_until: date | None
) -> None:
    last_90_days = log("end", K.centralised_training, "9999-10-03", "9999-12-31", 500, 90)
    policies = [_cn(effective_from=date.min)]
    state = compliance([last_90_days], as_of, Rank.county_division, date.max, policies)
    assert (state.five_year.status, state.five_year.met_until) == (status, met_until)
