"""Roll-call (点名调学): the yearly quota and the order in which untrained cadres are called
(docs/rules.md rule 8)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from app.credit_policy.engine.common import RequirementStatus, exact, fmt, to_decimal
from app.credit_policy.engine.compliance import compliance
from app.credit_policy.engine.credits import tally_year, year_policy
from app.credit_policy.engine.five_year import FiveYear
from app.credit_policy.engine.records import LogRecord
from app.credit_policy.engine.yearly import Annual
from app.credit_policy.policy import Policy, policy_in_force
from app.enums import Rank, StudyLogStatus


class RollCallGroup(StrEnum):
    five_year_not_met = "five_year_not_met"
    five_year_in_grace = "five_year_in_grace"
    other = "other"


_GROUP_ORDER = {
    RollCallGroup.five_year_not_met: 0,
    RollCallGroup.five_year_in_grace: 1,
    RollCallGroup.other: 2,
}


@dataclass(frozen=True, slots=True)
class RollCallCandidate:
    """An untrained active cadre, with the compliance blocks the ranking reads."""

    cadre_id: str
    rank: Rank
    five_year: FiveYear
    annual: Annual
    last_centralised_on: date | None
    """Last day of centralised training up to the evaluation day; `None`: never trained."""


@dataclass(frozen=True, slots=True)
class RankedCandidate:
    position: int
    """1-based place in the roll-call order."""
    cadre_id: str
    rank: Rank
    group: RollCallGroup
    five_year_status: RequirementStatus
    grace_deadline: date | None
    outstanding_requirement: str
    """`five_year`, `annual` or `none`: the requirement whose shortfall is compared."""
    outstanding: Decimal
    """Share of that requirement still missing, in [0, 1]."""
    last_centralised_on: date | None
    reason: str


def quota(active_count: int, policy: Policy) -> int:
    """docs/rules.md rule 8: `ceil(active cadres × 1/5)`, in exact integers."""
    if active_count < 0:
        raise ValueError("active_count must be ≥ 0")
    share = policy.roll_call
    return -(-active_count * share.numerator // share.denominator)


def trained_in_year(logs: Iterable[LogRecord], year: int, policies: Sequence[Policy]) -> bool:
    """docs/rules.md rule 8 `trained`: some centralised days are attributed to `year` (pro rata, so
    a class across New Year trains the cadre in both years)."""
    return tally_year(logs, year, year_policy(policies, year)).centralised_days > 0


def last_centralised_training(
    logs: Iterable[LogRecord], as_of: date, policy: Policy
) -> date | None:
    """Last day up to `as_of` an approved centralised log covers; `None` when there is none."""
    days = [
        min(log.end_date, as_of)
        for log in logs
        if log.status == StudyLogStatus.approved
        and log.kind in policy.centralised_kinds
        and log.start_date <= as_of
    ]
    return max(days, default=None)


def roll_call_candidate(
    cadre_id: str,
    logs: Iterable[LogRecord],
    as_of: date,
    rank: Rank,
    promoted_on: date | None,
    policies: Sequence[Policy],
) -> RollCallCandidate:
    logs = tuple(logs)
    state = compliance(logs, as_of, rank, promoted_on, policies)
    return RollCallCandidate(
        cadre_id=cadre_id,
        rank=rank,
        five_year=state.five_year,
        annual=state.annual,
        last_centralised_on=last_centralised_training(
            logs, as_of, policy_in_force(policies, as_of)
        ),
    )


def _outstanding(
    alternatives: Sequence[tuple[Decimal | None, Decimal | None]],
) -> Fraction:
    """The share still missing of a requirement met by any one alternative: the smallest
    `shortfall / required` over its alternatives (the closest way to meet it)."""
    shares = [
        Fraction(0) if exact(required) == 0 else exact(gap) / exact(required)
        for required, gap in alternatives
        if required is not None and gap is not None
    ]
    return min(shares, default=Fraction(0))


def _measure(candidate: RollCallCandidate) -> tuple[str, Fraction, str]:
    """The requirement whose shortfall ranks the cadre, its outstanding share, and the text."""
    five, annual = candidate.five_year, candidate.annual
    if five.status is not RequirementStatus.not_applicable:
        name, label = "five_year", "five-year"
        required = (five.required_days, five.required_hours)
        gaps = (five.shortfall_days, five.shortfall_hours)
    elif annual.status is not RequirementStatus.not_applicable:
        name, label = "annual", f"annual {annual.year}"
        required = (annual.required_days, annual.required_hours)
        gaps = (annual.shortfall_days, annual.shortfall_hours)
    else:
        return "none", Fraction(0), "no requirement applies"
    alternatives = list(zip(required, gaps, strict=True))
    shown = " / ".join(
        f"{fmt(gap)} {unit}"
        for (need, gap), unit in zip(alternatives, ("days", "h"), strict=True)
        if need is not None and gap is not None
    )
    share = _outstanding(alternatives)
    return name, share, f"{label} shortfall {shown} ({fmt(share * 100)}% outstanding)"


def _group(candidate: RollCallCandidate) -> RollCallGroup:
    if candidate.five_year.status is RequirementStatus.not_met:
        return RollCallGroup.five_year_not_met
    if candidate.five_year.status is RequirementStatus.in_grace:
        return RollCallGroup.five_year_in_grace
    return RollCallGroup.other


def rank_candidates(candidates: Iterable[RollCallCandidate]) -> tuple[RankedCandidate, ...]:
    """docs/rules.md rule 8 order of untrained cadres:

    1. five-year `not_met`; 2. five-year `in_grace`, earliest grace deadline first; 3. the rest.
    Within each group: largest share of the cadre's own requirement still missing (the
    five-year one where it applies, else the annual one; of its days and hours alternatives the
    closer one counts, since either meets it), so that 6 of 90 days and 45 of 90 hours compare
    on one scale; then longest since the last centralised training (never trained first); then
    the cadre id, so that the order is deterministic.
    """
    scored = []
    for candidate in candidates:
        group = _group(candidate)
        name, share, shortfall_text = _measure(candidate)
        deadline = candidate.five_year.grace_deadline
        key = (
            _GROUP_ORDER[group],
            deadline if group is RollCallGroup.five_year_in_grace and deadline else date.min,
            -share,
            candidate.last_centralised_on or date.min,
            candidate.cadre_id,
        )
        scored.append((key, candidate, group, name, share, shortfall_text))
    scored.sort(key=lambda item: item[0])
    ranked: list[RankedCandidate] = []
    for position, (_, candidate, group, name, share, shortfall_text) in enumerate(scored, 1):
        five = candidate.five_year
        reasons = {
            RollCallGroup.five_year_not_met: "five-year requirement not met",
            RollCallGroup.five_year_in_grace: (
                f"five-year requirement in grace until {five.grace_deadline}"
            ),
            RollCallGroup.other: f"five-year requirement {five.status}",
        }
        last = candidate.last_centralised_on
        since = (
            "never had centralised training"
            if last is None
            else f"last centralised training {last} ({(five.window_end - last).days} days ago)"
        )
        ranked.append(
            RankedCandidate(
                position=position,
                cadre_id=candidate.cadre_id,
                rank=candidate.rank,
                group=group,
                five_year_status=five.status,
                grace_deadline=five.grace_deadline,
                outstanding_requirement=name,
                outstanding=to_decimal(share),
                last_centralised_on=last,
                reason=f"{reasons[group]}; {shortfall_text}; {since}",
            )
        )
    return tuple(ranked)
