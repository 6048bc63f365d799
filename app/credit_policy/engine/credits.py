"""Credit hours of one calendar year, per kind, with caps (docs/rules.md rules 1–3)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from app.credit_policy.engine.common import ONE_DAY, exact, fmt, overlap_days, to_decimal
from app.credit_policy.engine.records import (
    APPROVED_ONLY,
    IgnoredLog,
    LogRecord,
    date_order,
    split_by_status,
)
from app.credit_policy.policy import CreditMode, KindRule, Policy, policy_in_force
from app.enum_labels import term
from app.enums import StudyLogKind
from app.i18n import _


@dataclass(frozen=True, slots=True)
class LogCredit:
    """How one log's part of the year became credit hours."""

    log_id: str
    kind: StudyLogKind
    start_date: date
    end_date: date
    overlap_days: int
    """Calendar days of the log inside the evaluated part of the year."""
    total_days: int
    share: Decimal
    """`overlap_days / total_days` (docs/rules.md rule 2)."""
    days: Decimal
    """Recorded days × share."""
    raw_hours: Decimal
    """Recorded hours × share."""
    credited_hours: Decimal
    """Credit before the kind's annual cap."""
    counted_hours: Decimal
    """Credit after the cap, which is consumed in date order."""
    removed_by_cap: Decimal
    rule: str
    explanation: str


@dataclass(frozen=True, slots=True)
class KindCredits:
    kind: StudyLogKind
    rule: str
    raw_hours: Decimal
    credited_hours: Decimal
    """Before the cap."""
    cap: Decimal | None
    capped_hours: Decimal
    """After the cap: what counts."""
    annual_counted: bool
    """Whether the capped hours count toward the annual hours alternative (the policy's
    `annual_hours_kinds`, docs/rules.md rule 5)."""
    logs: tuple[LogCredit, ...]


@dataclass(frozen=True, slots=True)
class YearCredits:
    """Credits of `year`, counted over `span_start..span_end` (the whole year in the credits view,
    Jan 1 up to `as_of` in the compliance view; empty when `span_end < span_start`)."""

    year: int
    span_start: date
    span_end: date
    policy_code: str
    total_hours: Decimal
    """Sum of the capped hours of every kind."""
    centralised_days: Decimal
    """Recorded days × share of the policy's centralised kinds (no factor, no cap)."""
    centralised_hours: Decimal
    """Recorded hours × share of the policy's centralised kinds (no factor, no cap)."""
    counted_hours: Decimal
    """Capped credit hours of the policy's `annual_hours_kinds`: what the annual requirement
    compares (docs/rules.md rule 5)."""
    online_hours: Decimal
    """Capped credit hours of the policy's online kinds."""
    by_kind: tuple[KindCredits, ...]
    """Every kind of the policy's table, in the table's order, then any kind without a rule."""
    ignored_logs: tuple[IgnoredLog, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class YearTally:
    """`YearCredits` with the exact totals the requirements compare against."""

    credits: YearCredits
    total_hours: Fraction
    centralised_days: Fraction
    centralised_hours: Fraction
    counted_hours: Fraction
    online_hours: Fraction


def year_span(year: int, up_to: date | None) -> tuple[date, date]:
    start, end = date(year, 1, 1), date(year, 12, 31)
    if up_to is not None and up_to < end:
        end = up_to if up_to >= start else start - ONE_DAY
    return start, end


def _credit(rule: KindRule | None, log: LogRecord, part: Fraction) -> Fraction:
    if rule is None:
        return Fraction(0)
    if rule.mode == CreditMode.per_item:
        return exact(rule.credit_per_item) * part
    return exact(log.hours) * exact(rule.factor) * part


def _explain(rule: KindRule | None, log: LogRecord, inside: int, credited: Fraction) -> str:
    part = (
        ""
        if inside == log.total_days
        else _(" × {inside}/{total} days").format(inside=inside, total=log.total_days)
    )
    if rule is None:
        return _("no rule for this kind in the policy: not credited")
    if rule.mode == CreditMode.per_item:
        return _("{credit} per item{part} = {credited} (recorded {hours} h ignored)").format(
            credit=fmt(rule.credit_per_item),
            part=part,
            credited=fmt(credited),
            hours=fmt(log.hours),
        )
    return _("{hours} h{part} × {factor} = {credited}").format(
        hours=fmt(log.hours), part=part, factor=fmt(rule.factor), credited=fmt(credited)
    )


@dataclass(frozen=True, slots=True)
class _KindSums:
    """One kind's exact totals: capped credit, recorded days and recorded hours."""

    counted: Fraction
    days: Fraction
    raw_hours: Fraction


def _kind_credits(
    kind: StudyLogKind,
    rule: KindRule | None,
    logs: list[LogRecord],
    span: tuple[date, date],
    *,
    annual_counted: bool,
) -> tuple[KindCredits, _KindSums]:
    """One kind's lines and totals, and its exact sums (docs/rules.md rule 3)."""
    start, end = span
    cap = None if rule is None or rule.annual_cap is None else exact(rule.annual_cap)
    rule_text = rule.describe() if rule is not None else _("no rule: not credited")
    remaining = cap
    raw_sum = credited_sum = counted_sum = days_sum = Fraction(0)
    lines: list[LogCredit] = []
    for log in logs:
        inside = overlap_days(log.start_date, log.end_date, start, end)
        part = Fraction(inside, log.total_days)
        raw, days = exact(log.hours) * part, exact(log.days) * part
        credited = _credit(rule, log, part)
        counted = credited if remaining is None else min(credited, remaining)
        if remaining is not None:
            remaining -= counted
        explanation = _explain(rule, log, inside, credited)
        if cap is not None and counted != credited:
            explanation += _("; cap {cap} reached: {counted} counted, {over} over the cap").format(
                cap=fmt(cap), counted=fmt(counted), over=fmt(credited - counted)
            )
        raw_sum += raw
        credited_sum += credited
        counted_sum += counted
        days_sum += days
        lines.append(
            LogCredit(
                log_id=log.id,
                kind=kind,
                start_date=log.start_date,
                end_date=log.end_date,
                overlap_days=inside,
                total_days=log.total_days,
                share=to_decimal(part),
                days=to_decimal(days),
                raw_hours=to_decimal(raw),
                credited_hours=to_decimal(credited),
                counted_hours=to_decimal(counted),
                removed_by_cap=to_decimal(credited - counted),
                rule=rule_text,
                explanation=explanation,
            )
        )
    result = KindCredits(
        kind=kind,
        rule=rule_text,
        raw_hours=to_decimal(raw_sum),
        credited_hours=to_decimal(credited_sum),
        cap=None if cap is None else to_decimal(cap),
        capped_hours=to_decimal(counted_sum),
        annual_counted=annual_counted,
        logs=tuple(lines),
    )
    return result, _KindSums(counted=counted_sum, days=days_sum, raw_hours=raw_sum)


def tally_year(
    logs: Iterable[LogRecord], year: int, policy: Policy, *, up_to: date | None = None
) -> YearTally:
    """`credits_for_year` with its exact totals (for the requirements built on it)."""
    start, end = year_span(year, up_to)
    approved, ignored = split_by_status(logs, start, end)
    by_kind: dict[StudyLogKind, list[LogRecord]] = {kind: [] for kind in policy.kind_rules}
    for log in sorted(approved, key=date_order):
        if start <= end and log.start_date <= end and log.end_date >= start:
            by_kind.setdefault(log.kind, []).append(log)
    total = days = hours = counted = online = Fraction(0)
    kinds: list[KindCredits] = []
    for kind, kind_logs in by_kind.items():
        rule = policy.kind_rules.get(kind)
        annual_counted = kind in policy.annual_hours_kinds
        block, sums = _kind_credits(
            kind, rule, kind_logs, (start, end), annual_counted=annual_counted
        )
        kinds.append(block)
        total += sums.counted
        if kind in policy.online_kinds:
            online += sums.counted
        if kind in policy.centralised_kinds:
            days += sums.days
            hours += sums.raw_hours
        if annual_counted:
            counted += sums.counted
    not_counted = _(", ").join(
        _("{log} ({status})").format(log=item.log_id, status=term(item.status)) for item in ignored
    )
    approved_only = _(APPROVED_ONLY)
    notes = (
        _("policy {policy}; year {year} counted over {start}…{end}").format(
            policy=policy.code, year=year, start=start.isoformat(), end=end.isoformat()
        ),
        _("{approved_only}; not counted: {logs}").format(
            approved_only=approved_only, logs=not_counted
        )
        if ignored
        else approved_only,
        _(
            "a log across the period's edge counts pro rata by calendar days (docs/rules.md "
            "rule 2); caps are consumed in date order, ties by id (rule 3)"
        ),
        _(
            "the annual requirement counts the credited hours of {kinds} (docs/rules.md rule 5)"
        ).format(kinds=kinds_text(policy.annual_hours_kinds)),
    )
    credits = YearCredits(
        year=year,
        span_start=start,
        span_end=end,
        policy_code=policy.code,
        total_hours=to_decimal(total),
        centralised_days=to_decimal(days),
        centralised_hours=to_decimal(hours),
        counted_hours=to_decimal(counted),
        online_hours=to_decimal(online),
        by_kind=tuple(kinds),
        ignored_logs=ignored,
        notes=notes,
    )
    return YearTally(
        credits=credits,
        total_hours=total,
        centralised_days=days,
        centralised_hours=hours,
        counted_hours=counted,
        online_hours=online,
    )


def kinds_text(kinds: Iterable[StudyLogKind]) -> str:
    names = [term(kind) for kind in sorted(kinds)]
    if len(names) == len(StudyLogKind):
        return _("every kind")
    return _(", ").join(names) or _("no kind")


def credits_for_year(
    logs: Iterable[LogRecord], year: int, policy: Policy, *, up_to: date | None = None
) -> YearCredits:
    """docs/rules.md rule 3: credit hours of `year` per kind, under `policy`.

    Only approved logs count (rule 1). Each log contributes its pro-rata share of the year (rule 2;
    with `up_to`, of Jan 1…`up_to` only): `per_hour` kinds `hours × factor × share`, `per_item`
    kinds `credit_per_item × share` (recorded hours ignored). Then the kind's annual cap applies,
    consumed in date order (start date, then id).
    """
    return tally_year(logs, year, policy, up_to=up_to).credits


def year_policy(policies: Sequence[Policy], year: int, up_to: date | None = None) -> Policy:
    """The policy a calendar year is evaluated under: the one in force on the last day of its
    evaluated span (Dec 31, or `up_to` when earlier). A period is evaluated under one policy so
    that caps and thresholds stay those of a single rule set."""
    start, end = year_span(year, up_to)
    return policy_in_force(policies, max(start, end))


def credits_view(logs: Iterable[LogRecord], year: int, policies: Sequence[Policy]) -> YearCredits:
    """The credits view (docs/rules.md): the whole of `year` under the policy in force on Dec 31."""
    return credits_for_year(logs, year, year_policy(policies, year))
