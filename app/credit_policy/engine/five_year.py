"""The five-year requirement (docs/rules.md rule 4, N1/N2) and the last day it stays met."""

import calendar
import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from app.credit_policy.engine.common import (
    ONE_DAY,
    RequirementStatus,
    add_years,
    exact,
    fmt,
    optional_decimal,
    overlap_days,
    reaches,
    shortfall,
    to_decimal,
)
from app.credit_policy.engine.records import (
    APPROVED_ONLY,
    DAYS,
    HOURS,
    IgnoredLog,
    LogRecord,
    date_order,
    split_by_status,
)
from app.credit_policy.policy import Policy, policy_in_force
from app.enum_labels import term
from app.enums import Rank
from app.i18n import N_, _, join


@dataclass(frozen=True, slots=True)
class WindowLog:
    """One centralised log's part of the five-year window."""

    log_id: str
    start_date: date
    end_date: date
    overlap_days: int
    total_days: int
    share: Decimal
    days: Decimal
    hours: Decimal


@dataclass(frozen=True, slots=True)
class FiveYear:
    """The `five_year` block of the compliance view (docs/rules.md). `window_start`/`window_end`
    are the first and last days counted:
    the window `(as_of − N years, as_of]` is `window_start = as_of − N years + 1 day`."""

    window_start: date
    window_end: date
    centralised_days: Decimal
    centralised_hours: Decimal
    required_days: Decimal | None
    required_hours: Decimal | None
    """`None`: the policy has no hours alternative."""
    status: RequirementStatus
    shortfall_days: Decimal | None
    """`max(0, required − actual)` of each alternative on its own, whatever the status."""
    shortfall_hours: Decimal | None
    grace_deadline: date | None
    met_until: date | None
    """Last day the figures still meet the requirement if nothing new is recorded; `None` when
    they do not meet it on `as_of`; `date.max` when they can never lapse (a zero threshold)."""
    policy_code: str
    years: int
    logs: tuple[WindowLog, ...]
    ignored_logs: tuple[IgnoredLog, ...]
    explanation: str


def window_start(as_of: date, years: int) -> date:
    """First day of `(as_of − years, as_of]`; from Feb 29 the subtraction lands on Feb 28."""
    return add_years(as_of, -years) + ONE_DAY


def grace_deadline(promoted_on: date | None, policy: Policy) -> date | None:
    """docs/rules.md N2: the last day of the grace period after a promotion."""
    return None if promoted_on is None else add_years(promoted_on, policy.grace_years)


def five_year_requirement(
    logs: Iterable[LogRecord],
    as_of: date,
    rank: Rank,
    promoted_on: date | None,
    policies: Sequence[Policy],
) -> FiveYear:
    """docs/rules.md rule 4 on `as_of`, under the policy in force on `as_of`."""
    return evaluate_five_year(logs, as_of, rank, promoted_on, policy_in_force(policies, as_of))


def evaluate_five_year(
    logs: Iterable[LogRecord],
    as_of: date,
    rank: Rank,
    promoted_on: date | None,
    policy: Policy,
) -> FiveYear:
    """docs/rules.md rule 4: centralised days and hours over `(as_of − N years, as_of]`, pro rata
    at the window's edge, compared separately with the two thresholds (either one meets it)."""
    start = window_start(as_of, policy.five_year_years)
    approved, ignored = split_by_status(
        (log for log in logs if log.kind in policy.centralised_kinds), start, as_of
    )
    approved.sort(key=date_order)
    days = hours = Fraction(0)
    lines: list[WindowLog] = []
    spreads = [_Spread(log, exact(log.days), exact(log.hours)) for log in approved]
    for spread in spreads:
        log = spread.log
        inside = overlap_days(log.start_date, log.end_date, start, as_of)
        if not inside:
            continue
        part = Fraction(inside, log.total_days)
        log_days, log_hours = spread.days * part, spread.hours * part
        days += log_days
        hours += log_hours
        lines.append(
            WindowLog(
                log_id=log.id,
                start_date=log.start_date,
                end_date=log.end_date,
                overlap_days=inside,
                total_days=log.total_days,
                share=to_decimal(part),
                days=to_decimal(log_days),
                hours=to_decimal(log_hours),
            )
        )
    required_days, required_hours = policy.five_year_required_days, policy.five_year_required_hours
    figures_met = reaches(days, required_days) or reaches(hours, required_hours)
    deadline = grace_deadline(promoted_on, policy)
    if rank not in policy.five_year_applies_to:
        status = RequirementStatus.not_applicable
    elif figures_met:
        status = RequirementStatus.met
    elif promoted_on is not None and deadline is not None and promoted_on <= as_of <= deadline:
        # The grace follows the promotion (N2): a day before it has none to run.
        status = RequirementStatus.in_grace
    else:
        status = RequirementStatus.not_met
    # Computed from the figures, so a not-applicable block still says how long they would hold.
    met_until = _met_until(spreads, as_of, policy) if figures_met else None
    short_days, short_hours = shortfall(days, required_days), shortfall(hours, required_hours)
    return FiveYear(
        window_start=start,
        window_end=as_of,
        centralised_days=to_decimal(days),
        centralised_hours=to_decimal(hours),
        required_days=required_days,
        required_hours=required_hours,
        status=status,
        shortfall_days=optional_decimal(short_days),
        shortfall_hours=optional_decimal(short_hours),
        grace_deadline=deadline,
        met_until=met_until,
        policy_code=policy.code,
        years=policy.five_year_years,
        logs=tuple(lines),
        ignored_logs=ignored,
        explanation=_explain(
            policy, rank, start, as_of, days, hours, status, promoted_on, deadline, met_until
        ),
    )


def _requirement_text(days: Decimal | None, hours: Decimal | None) -> str:
    wanted = [
        _(unit).format(figure=fmt(need))
        for need, unit in ((days, DAYS), (hours, HOURS))
        if need is not None
    ]
    alternatives = _(" (no hours alternative)") if hours is None else _(", compared separately")
    return join(N_(" or "), wanted) + alternatives


def _explain(
    policy: Policy,
    rank: Rank,
    start: date,
    end: date,
    days: Fraction,
    hours: Fraction,
    status: RequirementStatus,
    promoted_on: date | None,
    deadline: date | None,
    met_until: date | None,
) -> str:
    required_days, required_hours = policy.five_year_required_days, policy.five_year_required_hours
    head = _(
        "Five-year requirement, policy {policy} (docs/rules.md rule 4): "
        "window {start}…{end}, centralised training "
        "{days} days and {hours} h ({approved_only}; pro rata at the window's edge, "
        "rule 2); needs {needs}."
    ).format(
        policy=policy.code,
        start=start.isoformat(),
        end=end.isoformat(),
        days=fmt(days),
        hours=fmt(hours),
        approved_only=_(APPROVED_ONLY),
        needs=_requirement_text(required_days, required_hours),
    )
    short = join(
        N_(" and "),
        [
            _(unit).format(figure=fmt(gap))
            for gap, unit in (
                (shortfall(days, required_days), DAYS),
                (shortfall(hours, required_hours), HOURS),
            )
            if gap is not None
        ],
    )
    if status is RequirementStatus.not_applicable:
        tail = _("Not applicable to rank {rank}; figures shown for information.").format(
            rank=term(rank)
        )
    elif status is RequirementStatus.met:
        if met_until is None or met_until == date.max:
            tail = _("Met; stays met if nothing new is recorded.")
        else:
            tail = _("Met; stays met until {day} if nothing new is recorded.").format(day=met_until)
    elif status is RequirementStatus.in_grace:
        tail = _(
            "Not met (short {short}), but within {years} year(s) of the promotion "
            "on {promoted_on}: in grace until {deadline}."
        ).format(short=short, years=policy.grace_years, promoted_on=promoted_on, deadline=deadline)
    else:
        tail = _("Not met: short {short}.").format(short=short)
    return _("{head} {tail}").format(head=head, tail=tail)


@dataclass(frozen=True, slots=True)
class _Spread:
    """A log's exact days and hours, spread evenly over its calendar days."""

    log: LogRecord
    days: Fraction
    hours: Fraction

    def per_day(self, scale_days: int, scale_hours: int) -> tuple[int, int]:
        """Days and hours per calendar day × scale; whole, as each scale is a multiple of
        `total_days × denominator`."""
        total = self.log.total_days
        return (
            self.days.numerator * (scale_days // (self.days.denominator * total)),
            self.hours.numerator * (scale_hours // (self.hours.denominator * total)),
        )


def _first_day_without(boundary: date, years: int) -> date:
    """The first day whose window `(d − years, d]` no longer holds the day `boundary`."""
    day = add_years(boundary, years)
    if day == date.max:
        return date.max
    # One day early is always before the answer, even where Feb 29 makes "± years" irregular.
    day -= ONE_DAY
    while window_start(day, years) <= boundary:
        day += ONE_DAY
    return day


class _Density:
    """Scaled-integer cumulative sums of the logs' days and hours, spread evenly over each log's
    calendar days: `cumulative(x)` is what all logs accrued on days ≤ x, so a window's total is
    `cumulative(end) − cumulative(start − 1)`. Integers keep the sweep exact and fast."""

    def __init__(self, spreads: Sequence[_Spread], scale_days: int, scale_hours: int) -> None:
        deltas: dict[int, list[int]] = {}
        for spread in spreads:
            per_day_days, per_day_hours = spread.per_day(scale_days, scale_hours)
            log = spread.log
            for at, sign in ((log.start_date.toordinal(), 1), (log.end_date.toordinal() + 1, -1)):
                pair = deltas.setdefault(at, [0, 0])
                pair[0] += sign * per_day_days
                pair[1] += sign * per_day_hours
        self.points = sorted(deltas)
        self.before: list[tuple[int, int]] = []
        self.rate: list[tuple[int, int]] = []
        acc_days = acc_hours = rate_days = rate_hours = 0
        previous = self.points[0] if self.points else 0
        for point in self.points:
            acc_days += rate_days * (point - previous)
            acc_hours += rate_hours * (point - previous)
            rate_days += deltas[point][0]
            rate_hours += deltas[point][1]
            self.before.append((acc_days, acc_hours))
            self.rate.append((rate_days, rate_hours))
            previous = point

    def cumulative(self, day: date) -> tuple[int, int]:
        at = day.toordinal()
        index = bisect_right(self.points, at) - 1
        if index < 0:
            return 0, 0
        elapsed = at - self.points[index] + 1
        (acc_days, acc_hours), (rate_days, rate_hours) = self.before[index], self.rate[index]
        return acc_days + rate_days * elapsed, acc_hours + rate_hours * elapsed


def _failing(first: int, last: int, length: int, required: int | None) -> tuple[int, int]:
    """Offsets `m` in `0..length` where `first + m·(last − first)/length < required` (the value is
    linear on the segment); `(1, 0)` when none. No threshold: the alternative always fails."""
    if required is None:
        return 0, length
    rise = last - first
    if length == 0 or rise == 0:
        return (0, length) if first < required else (1, 0)
    if rise < 0:
        if first < required:
            return 0, length
        return (first - required) * length // -rise + 1, length
    if first >= required:
        return 1, 0
    return 0, min(length, ((required - first) * length - 1) // rise)


def _met_until(spreads: Sequence[_Spread], as_of: date, policy: Policy) -> date:
    """docs/rules.md rule 4 `met_until`, given that the requirement is met on `as_of`.

    Logs age out of the window day by day, and logs already recorded with later dates count as
    their days come (they are on file; "nothing new is recorded" means no further logs). Between
    breakpoints — a log's first day or the day after its last, entering at the window's end or
    leaving at its start, and Feb 29 / Mar 1 where "minus N years" is irregular — both totals are
    linear in the day, so each segment is solved in closed form instead of day by day.
    """
    if as_of == date.max:
        return as_of
    years = policy.five_year_years
    required_days, required_hours = policy.five_year_required_days, policy.five_year_required_hours
    scale_days = math.lcm(
        *(spread.log.total_days * spread.days.denominator for spread in spreads),
        1 if required_days is None else exact(required_days).denominator,
    )
    scale_hours = math.lcm(
        *(spread.log.total_days * spread.hours.denominator for spread in spreads),
        1 if required_hours is None else exact(required_hours).denominator,
    )
    need_days = None if required_days is None else int(exact(required_days) * scale_days)
    need_hours = None if required_hours is None else int(exact(required_hours) * scale_hours)
    density = _Density(spreads, scale_days, scale_hours)

    def totals(day: date) -> tuple[int, int]:
        end_days, end_hours = density.cumulative(day)
        start_days, start_hours = density.cumulative(add_years(day, -years))
        return end_days - start_days, end_hours - start_hours

    breakpoints = {as_of + ONE_DAY}
    for spread in spreads:
        after_end = spread.log.end_date + ONE_DAY if spread.log.end_date < date.max else date.max
        for boundary in (spread.log.start_date, after_end):
            breakpoints.add(boundary)
            breakpoints.add(_first_day_without(boundary, years))
    for year in range(as_of.year, max(breakpoints).year + 1):
        breakpoints.add(date(year, 3, 1))
        if calendar.isleap(year):
            breakpoints.add(date(year, 2, 29))
    ordered = sorted(day for day in breakpoints if day > as_of)
    for index, first in enumerate(ordered):
        last = ordered[index + 1] - ONE_DAY if index + 1 < len(ordered) else first
        length = (last - first).days
        first_days, first_hours = totals(first)
        last_days, last_hours = totals(last) if length else (first_days, first_hours)
        low_days, high_days = _failing(first_days, last_days, length, need_days)
        low_hours, high_hours = _failing(first_hours, last_hours, length, need_hours)
        low, high = max(low_days, low_hours), min(high_days, high_hours)
        if low <= high:
            return first + timedelta(days=low) - ONE_DAY
    return date.max
