"""The annual requirement of other cadres and the online requirement of everyone
(docs/rules.md rules 5 and 6), both counted per calendar year."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from app.credit_policy.engine.common import (
    RequirementStatus,
    fmt,
    optional_decimal,
    reaches,
    shortfall,
)
from app.credit_policy.engine.credits import (
    LogCredit,
    YearCredits,
    YearTally,
    kinds_text,
    tally_year,
)
from app.credit_policy.engine.records import APPROVED_ONLY, DAYS, HOURS, LogRecord
from app.credit_policy.policy import Policy
from app.enum_labels import term
from app.enums import Rank, StudyLogKind
from app.i18n import N_, _, join

_NOT_APPLICABLE = N_("Not applicable to rank {rank}; figures shown.")


@dataclass(frozen=True, slots=True)
class Annual:
    """The `annual` block of the compliance view (docs/rules.md), counted over
    `span_start..span_end`."""

    year: int
    span_start: date
    span_end: date
    centralised_days: Decimal
    """Recorded days × share of the policy's centralised kinds: compared with `required_days`."""
    centralised_hours: Decimal
    """Recorded hours × share of the policy's centralised kinds (no factor, no cap)."""
    counted_hours: Decimal
    """Credited hours (after caps) of the policy's `annual_hours_kinds`: compared with
    `required_hours` (docs/rules.md rule 5)."""
    counted_kinds: tuple[StudyLogKind, ...]
    """The policy's `annual_hours_kinds`, sorted."""
    credited_hours: Decimal
    """All kinds, after caps: shown for information, not compared."""
    required_hours: Decimal | None
    required_days: Decimal | None
    status: RequirementStatus
    shortfall_days: Decimal | None
    """`max(0, required − actual)` of each alternative on its own, whatever the status."""
    shortfall_hours: Decimal | None
    """Of the counted hours."""
    policy_code: str
    credits: YearCredits
    explanation: str


@dataclass(frozen=True, slots=True)
class Online:
    """The `online` block of the compliance view (docs/rules.md), counted over
    `span_start..span_end`."""

    year: int
    span_start: date
    span_end: date
    hours: Decimal
    """Credited hours of the policy's online kinds, after caps."""
    required_hours: Decimal | None
    status: RequirementStatus
    shortfall_hours: Decimal | None
    policy_code: str
    logs: tuple[LogCredit, ...]
    explanation: str


def _span(credits: YearCredits) -> str:
    return f"{credits.span_start.isoformat()}…{credits.span_end.isoformat()}"


def annual_from(tally: YearTally, rank: Rank, policy: Policy) -> Annual:
    """docs/rules.md rule 5: centralised days ≥ required days, or counted hours ≥ required hours;
    the two are compared separately. Counted hours are the credited hours (after caps) of the
    policy's `annual_hours_kinds`; the credited hours of every kind are shown, not compared."""
    credits = tally.credits
    required_days, required_hours = policy.annual_required_days, policy.annual_required_hours
    met = reaches(tally.centralised_days, required_days) or reaches(
        tally.counted_hours, required_hours
    )
    short_days = shortfall(tally.centralised_days, required_days)
    short_hours = shortfall(tally.counted_hours, required_hours)
    if rank not in policy.annual_applies_to:
        status = RequirementStatus.not_applicable
    else:
        status = RequirementStatus.met if met else RequirementStatus.not_met
    wanted = join(
        N_(" or "),
        [
            text
            for text in (
                None
                if required_days is None
                else _("{figure} centralised days").format(figure=fmt(required_days)),
                None
                if required_hours is None
                else _("{figure} counted h").format(figure=fmt(required_hours)),
            )
            if text
        ],
    )
    head = _(
        "Annual requirement {year}, policy {policy} (docs/rules.md rule 5): "
        "counted over {span} ({approved_only}), "
        "{days} centralised days ({centralised_hours} "
        "centralised h) and {counted} counted h (credited hours of "
        "{kinds}, after caps); "
        "{total} credited h of all kinds shown, not compared; "
        "needs {needs}."
    ).format(
        year=credits.year,
        policy=policy.code,
        span=_span(credits),
        approved_only=_(APPROVED_ONLY),
        days=fmt(tally.centralised_days),
        centralised_hours=fmt(tally.centralised_hours),
        counted=fmt(tally.counted_hours),
        kinds=kinds_text(policy.annual_hours_kinds),
        total=fmt(tally.total_hours),
        needs=wanted or _("nothing"),
    )
    gaps = join(
        N_(" and "),
        [
            _(unit).format(figure=fmt(gap))
            for gap, unit in ((short_days, DAYS), (short_hours, HOURS))
            if gap is not None
        ],
    )
    tails = {
        RequirementStatus.not_applicable: _(_NOT_APPLICABLE).format(rank=term(rank)),
        RequirementStatus.met: _("Met."),
        RequirementStatus.not_met: _("Not met: short {short}.").format(short=gaps),
    }
    return Annual(
        year=credits.year,
        span_start=credits.span_start,
        span_end=credits.span_end,
        centralised_days=credits.centralised_days,
        centralised_hours=credits.centralised_hours,
        counted_hours=credits.counted_hours,
        counted_kinds=tuple(sorted(policy.annual_hours_kinds)),
        credited_hours=credits.total_hours,
        required_hours=required_hours,
        required_days=required_days,
        status=status,
        shortfall_days=optional_decimal(short_days),
        shortfall_hours=optional_decimal(short_hours),
        policy_code=policy.code,
        credits=credits,
        explanation=_("{head} {tail}").format(head=head, tail=tails[status]),
    )


def online_from(tally: YearTally, rank: Rank, policy: Policy) -> Online:
    """docs/rules.md rule 6: credited online hours of the year ≥ the required hours."""
    credits = tally.credits
    required = policy.online_required_hours
    short = shortfall(tally.online_hours, required)
    if rank not in policy.online_applies_to:
        status = RequirementStatus.not_applicable
    elif reaches(tally.online_hours, required):
        status = RequirementStatus.met
    else:
        status = RequirementStatus.not_met
    lines = tuple(
        line
        for block in credits.by_kind
        if block.kind in policy.online_kinds
        for line in block.logs
    )
    needs = _("nothing") if required is None else _(HOURS).format(figure=fmt(required))
    tails = {
        RequirementStatus.not_applicable: _(_NOT_APPLICABLE).format(rank=term(rank)),
        RequirementStatus.met: _("Met."),
        RequirementStatus.not_met: _("Not met: short {short}.").format(
            short=_(HOURS).format(figure=fmt(short or Fraction(0)))
        ),
    }
    return Online(
        year=credits.year,
        span_start=credits.span_start,
        span_end=credits.span_end,
        hours=credits.online_hours,
        required_hours=required,
        status=status,
        shortfall_hours=optional_decimal(short),
        policy_code=policy.code,
        logs=lines,
        explanation=_(
            "Online requirement {year}, policy {policy} (docs/rules.md rule 6): "
            "{hours} credited online h over {span} "
            "({approved_only}); needs {needs}. {tail}"
        ).format(
            year=credits.year,
            policy=policy.code,
            hours=fmt(tally.online_hours),
            span=_span(credits),
            approved_only=_(APPROVED_ONLY),
            needs=needs,
            tail=tails[status],
        ),
    )


def annual_requirement(
    logs: Iterable[LogRecord], year: int, rank: Rank, policy: Policy, *, up_to: date | None = None
) -> Annual:
    """docs/rules.md rule 5 for `year` (up to `up_to` inclusive in the compliance view)."""
    return annual_from(tally_year(logs, year, policy, up_to=up_to), rank, policy)


def online_requirement(
    logs: Iterable[LogRecord], year: int, rank: Rank, policy: Policy, *, up_to: date | None = None
) -> Online:
    """docs/rules.md rule 6 for `year` (up to `up_to` inclusive in the compliance view)."""
    return online_from(tally_year(logs, year, policy, up_to=up_to), rank, policy)
