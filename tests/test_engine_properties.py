"""Invariants of the credit engine (docs/rules.md), checked on generated study logs."""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from app.credit_policy.engine import (
    FiveYear,
    LogRecord,
    RequirementStatus,
    YearCredits,
    compliance,
    credits_for_year,
    five_year_requirement,
    share,
    window_start,
)
from app.credit_policy.policy import (
    CHUZHOU_2007,
    CN_2023,
    OTHER_RANKS,
    CreditMode,
    KindRule,
    Policy,
)
from app.enums import Rank, StudyLogKind, StudyLogStatus

PROPERTY_SETTINGS = settings(deadline=None, max_examples=150)
FIRST_DAY, LAST_DAY = date(2022, 1, 1), date(2029, 12, 31)

days_in_range = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)
amounts = st.decimals(min_value=0, max_value=300, places=2, allow_nan=False, allow_infinity=False)
kinds = st.sampled_from(list(StudyLogKind))


@st.composite
def study_logs(
    draw: st.DrawFn,
    log_id: str = "",
    status: StudyLogStatus | None = StudyLogStatus.approved,
    kind: StudyLogKind | None = None,
) -> LogRecord:
    start = draw(days_in_range)
    length = draw(st.integers(min_value=0, max_value=120))
    return LogRecord(
        id=log_id or draw(st.text(alphabet="abcdef0123", min_size=1, max_size=6)),
        kind=kind or draw(kinds),
        start_date=start,
        end_date=start + timedelta(days=length),
        hours=draw(amounts),
        days=draw(st.decimals(min_value=0, max_value=60, places=2)),
        status=status or draw(st.sampled_from(list(StudyLogStatus))),
    )


@st.composite
def log_lists(draw: st.DrawFn, max_size: int = 12) -> list[LogRecord]:
    size = draw(st.integers(min_value=0, max_value=max_size))
    # Mostly approved logs, with some of every other status mixed in.
    statuses = st.one_of(st.just(StudyLogStatus.approved), st.sampled_from(list(StudyLogStatus)))
    return [
        draw(study_logs(log_id=f"log-{index:02d}", status=draw(statuses))) for index in range(size)
    ]


def credit_figures(credits: YearCredits) -> tuple[object, ...]:
    """The numbers of a year, without the notes listing ignored logs."""
    return (
        credits.total_hours,
        credits.centralised_days,
        credits.online_hours,
        tuple(
            (block.kind, block.raw_hours, block.credited_hours, block.capped_hours)
            for block in credits.by_kind
        ),
    )


def five_year_figures(block: FiveYear) -> tuple[object, ...]:
    return (
        block.centralised_days,
        block.centralised_hours,
        block.status,
        block.shortfall_days,
        block.shortfall_hours,
        block.met_until,
    )


@PROPERTY_SETTINGS
@given(log=study_logs(), start=days_in_range, length=st.integers(min_value=0, max_value=800))
def test_share_is_between_zero_and_one(log: LogRecord, start: date, length: int) -> None:
    part = share(log, start, start + timedelta(days=length))
    assert Decimal(0) <= part <= Decimal(1)


@PROPERTY_SETTINGS
@given(logs=log_lists(), year=st.integers(min_value=2022, max_value=2029), data=st.data())
def test_credits_do_not_depend_on_the_order_of_the_logs(
    logs: list[LogRecord], year: int, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(logs))
    assert credits_for_year(shuffled, year, CN_2023) == credits_for_year(logs, year, CN_2023)


@PROPERTY_SETTINGS
@given(
    logs=log_lists(),
    extra=study_logs(log_id="extra"),
    as_of=st.dates(min_value=date(2023, 1, 1), max_value=LAST_DAY),
)
def test_an_approved_log_never_lowers_a_total(
    logs: list[LogRecord], extra: LogRecord, as_of: date
) -> None:
    before = compliance(logs, as_of, Rank.county_division, None, [CN_2023])
    after = compliance([*logs, extra], as_of, Rank.county_division, None, [CN_2023])
    year_before = credits_for_year(logs, as_of.year, CN_2023)
    year_after = credits_for_year([*logs, extra], as_of.year, CN_2023)
    assert after.five_year.centralised_days >= before.five_year.centralised_days
    assert after.five_year.centralised_hours >= before.five_year.centralised_hours
    assert after.annual.credited_hours >= before.annual.credited_hours
    assert after.annual.counted_hours >= before.annual.counted_hours
    assert after.annual.centralised_hours >= before.annual.centralised_hours
    assert after.annual.centralised_days >= before.annual.centralised_days
    assert after.online.hours >= before.online.hours
    assert year_after.total_hours >= year_before.total_hours
    for old, new in zip(year_before.by_kind, year_after.by_kind, strict=True):
        assert new.capped_hours >= old.capped_hours


@PROPERTY_SETTINGS
@given(
    logs=log_lists(),
    extra=study_logs(log_id="extra"),
    as_of=st.dates(min_value=date(2023, 1, 1), max_value=LAST_DAY),
)
def test_adding_then_voiding_a_log_restores_the_figures(
    logs: list[LogRecord], extra: LogRecord, as_of: date
) -> None:
    voided = dataclasses.replace(extra, status=StudyLogStatus.voided)
    before = compliance(logs, as_of, Rank.county_division, None, [CN_2023])
    after = compliance([*logs, voided], as_of, Rank.county_division, None, [CN_2023])
    assert five_year_figures(after.five_year) == five_year_figures(before.five_year)
    assert credit_figures(after.annual.credits) == credit_figures(before.annual.credits)
    assert after.online.hours == before.online.hours
    assert credit_figures(credits_for_year([*logs, voided], as_of.year, CN_2023)) == (
        credit_figures(credits_for_year(logs, as_of.year, CN_2023))
    )


@PROPERTY_SETTINGS
@given(
    start=st.dates(min_value=FIRST_DAY, max_value=date(2027, 12, 31)),
    length=st.integers(min_value=0, max_value=900),
    hours=amounts,
    days=amounts,
    kind=kinds,
)
def test_a_log_split_over_years_sums_to_its_whole(
    start: date, length: int, hours: Decimal, days: Decimal, kind: StudyLogKind
) -> None:
    log = LogRecord(
        "x", kind, start, start + timedelta(days=length), hours, days, StudyLogStatus.approved
    )
    rule = CN_2023.kind_rules[kind]
    lines = [
        line
        for year in range(log.start_date.year, log.end_date.year + 1)
        for block in credits_for_year([log], year, CN_2023).by_kind
        for line in block.logs
    ]
    whole_credit = (
        hours * rule.factor if rule.mode == "per_hour" else rule.credit_per_item
    )  # before caps
    tolerance = Decimal("1e-25")
    assert abs(sum(line.raw_hours for line in lines) - hours) <= tolerance
    assert abs(sum(line.days for line in lines) - days) <= tolerance
    assert abs(sum(line.credited_hours for line in lines) - whole_credit) <= tolerance
    assert sum(line.overlap_days for line in lines) == log.total_days


@PROPERTY_SETTINGS
@given(logs=log_lists(max_size=20), year=st.integers(min_value=2022, max_value=2029))
def test_capped_hours_never_exceed_the_cap(logs: list[LogRecord], year: int) -> None:
    credits = credits_for_year(logs, year, CN_2023)
    for block in credits.by_kind:
        assert block.capped_hours <= block.credited_hours
        if block.cap is not None:
            assert block.capped_hours <= block.cap
        for line in block.logs:
            assert Decimal(0) <= line.counted_hours <= line.credited_hours
    kinds_sum = sum((block.capped_hours for block in credits.by_kind), Decimal(0))
    assert abs(credits.total_hours - kinds_sum) <= Decimal("1e-25")


def _exact_window_totals(logs: list[LogRecord], day: date, years: int) -> tuple[Fraction, Fraction]:
    start = window_start(day, years)
    total_days = total_hours = Fraction(0)
    for log in logs:
        inside = max(0, (min(log.end_date, day) - max(log.start_date, start)).days + 1)
        total_days += Fraction(log.days) * inside / log.total_days
        total_hours += Fraction(log.hours) * inside / log.total_days
    return total_days, total_hours


def _met(totals: tuple[Fraction, Fraction], policy: Policy) -> bool:
    days, hours = totals
    need_days, need_hours = policy.five_year_required_days, policy.five_year_required_hours
    return (need_days is not None and days >= need_days) or (
        need_hours is not None and hours >= need_hours
    )


@settings(deadline=None, max_examples=120)
@given(
    data=st.data(),
    years=st.sampled_from([1, 2, 4, 5]),
    need_days=st.sampled_from([Decimal(3), Decimal("7.5"), Decimal(20)]),
    need_hours=st.sampled_from([None, Decimal(40), Decimal("100.25")]),
    as_of=st.dates(min_value=date(2026, 6, 1), max_value=date(2029, 6, 1)),
)
def test_met_until_is_the_last_day_a_day_by_day_check_still_passes(
    data: st.DataObject,
    years: int,
    need_days: Decimal,
    need_hours: Decimal | None,
    as_of: date,
) -> None:
    """The event sweep agrees with the naive definition, across leap days and window edges."""
    base = CHUZHOU_2007 if need_hours is None else CN_2023
    policy = dataclasses.replace(
        base,
        five_year_years=years,
        five_year_required_days=need_days,
        five_year_required_hours=need_hours,
    )
    logs = [
        data.draw(study_logs(log_id=f"c{index}", kind=StudyLogKind.centralised_training))
        for index in range(data.draw(st.integers(min_value=1, max_value=5)))
    ]
    block = five_year_requirement(logs, as_of, Rank.county_division, None, [policy])
    if not _met(_exact_window_totals(logs, as_of, years), policy):
        assert block.met_until is None
        return
    day = as_of
    while _met(_exact_window_totals(logs, day + timedelta(days=1), years), policy):
        day += timedelta(days=1)
    assert block.met_until == day


@st.composite
def annual_policies(draw: st.DrawFn) -> Policy:
    """cn-2023 with centralised training credited × 1, 1.5 or 2, maybe capped, and any set of
    annual kinds: centralised, counted and credited hours differ (docs/rules.md rule 5)."""
    kind = StudyLogKind.centralised_training
    rule = KindRule(
        kind=kind,
        mode=CreditMode.per_hour,
        factor=draw(st.sampled_from([Decimal(1), Decimal("1.5"), Decimal(2)])),
        annual_cap=draw(st.sampled_from([None, Decimal(30)])),
    )
    return dataclasses.replace(
        CN_2023,
        kind_rules={**CN_2023.kind_rules, kind: rule},
        annual_hours_kinds=frozenset(draw(st.sets(kinds, min_size=1))),
    )


@PROPERTY_SETTINGS
@given(
    logs=log_lists(max_size=16),
    policy=annual_policies(),
    as_of=st.dates(min_value=date(2023, 1, 1), max_value=LAST_DAY),
    rank=st.sampled_from(sorted(OTHER_RANKS)),
)
def test_the_annual_rule_compares_the_counted_hours(
    logs: list[LogRecord], policy: Policy, as_of: date, rank: Rank
) -> None:
    annual = compliance(logs, as_of, rank, None, [policy]).annual
    blocks = annual.credits.by_kind
    counted = sum(
        (b.capped_hours for b in blocks if b.kind in policy.annual_hours_kinds), Decimal(0)
    )
    centralised = sum(
        (b.raw_hours for b in blocks if b.kind in policy.centralised_kinds), Decimal(0)
    )
    tolerance = Decimal("1e-25")
    assert abs(annual.counted_hours - counted) <= tolerance
    assert abs(annual.centralised_hours - centralised) <= tolerance
    assert annual.counted_hours <= annual.credited_hours + tolerance
    assert [b.annual_counted for b in blocks] == [
        b.kind in policy.annual_hours_kinds for b in blocks
    ]
    required_days, required_hours = policy.annual_required_days, policy.annual_required_hours
    assert required_days is not None
    assert required_hours is not None
    met = annual.centralised_days >= required_days or annual.counted_hours >= required_hours
    assert annual.status is (RequirementStatus.met if met else RequirementStatus.not_met)
    assert annual.shortfall_hours is not None
    expected_short = max(Decimal(0), required_hours - annual.counted_hours)
    assert abs(annual.shortfall_hours - expected_short) <= tolerance
