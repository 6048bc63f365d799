"""Org-unit reports (SPEC §4): the compliance roll-up through the tree and the roll-call list."""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cadre.models import Cadre
from app.compliance.figures import (
    CadreFigures,
    UnitCounts,
    cadre_figures,
    last_centralised,
    unit_counts,
)
from app.credit_policy import engine
from app.credit_policy.engine import RequirementStatus, RollCallGroup
from app.credit_policy.errors import NoPolicyForDate
from app.credit_policy.policy import NoPolicyInForce, Policy, policy_in_force
from app.credit_policy.service import load_policies
from app.errors import UnprocessableEntity
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree
from app.timezone import local_today


class FutureYear(UnprocessableEntity):
    code = "report.future_year"
    title = "A report covers the current year or an earlier one"


def evaluation_day(year: int) -> date:
    """A past year is judged at its end; the current one today (later classes do not count yet)."""
    today = local_today()
    if year > today.year:
        raise FutureYear(f"{year} has not begun; the latest year is {today.year}.")
    return min(date(year, 12, 31), today)


async def policy_on(db_session: AsyncSession, day: date) -> Policy:
    try:
        return policy_in_force(await load_policies(db_session), day)
    except NoPolicyInForce as exc:
        raise NoPolicyForDate(str(exc)) from exc


@dataclass
class UnitTotals:
    headcount: int = 0
    five_year: dict[RequirementStatus, int] = field(default_factory=lambda: defaultdict(int))
    annual: dict[RequirementStatus, int] = field(default_factory=lambda: defaultdict(int))
    online: dict[RequirementStatus, int] = field(default_factory=lambda: defaultdict(int))
    trained: int = 0

    def add(self, counts: UnitCounts) -> None:
        self.headcount += counts.headcount
        for mine, theirs in (
            (self.five_year, counts.five_year),
            (self.annual, counts.annual),
            (self.online, counts.online),
        ):
            for status, n in theirs.items():
                mine[status] += n
        self.trained += counts.trained


@dataclass(frozen=True)
class ComplianceReport:
    root: OrgUnit
    as_of: date
    policy: Policy
    units: list[tuple[OrgUnit, UnitTotals]]


def _ancestors_within(path: str, root_path: str) -> list[str]:
    """The unit paths from the root of the report down to the unit at `path`."""
    parts = path.strip("/").split("/")
    skip = len(root_path.strip("/").split("/")) - 1
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(skip, len(parts))]


async def compliance_report(
    db_session: AsyncSession, root: OrgUnit, year: int, levels: int
) -> ComplianceReport:
    """Counted per unit in the database (one row per unit comes back), then summed up the tree
    so every unit shows its whole subtree."""
    as_of = evaluation_day(year)
    policy = await policy_on(db_session, as_of)
    counts = await unit_counts(db_session, root.path, as_of, policy)
    totals: dict[str, UnitTotals] = defaultdict(UnitTotals)
    for unit_counts_row in counts:
        for path in _ancestors_within(unit_counts_row.path, root.path):
            totals[path].add(unit_counts_row)
    units = (
        await db_session.scalars(
            select(OrgUnit)
            .where(in_subtree(root.path), OrgUnit.depth <= root.depth + levels)
            .order_by(OrgUnit.path)
        )
    ).all()
    return ComplianceReport(
        root=root,
        as_of=as_of,
        policy=policy,
        units=[(unit, totals.get(unit.path, UnitTotals())) for unit in units],
    )


@dataclass(frozen=True)
class Candidate:
    position: int
    cadre_id: uuid.UUID
    hr_id: str
    name: str
    org_unit_id: uuid.UUID
    rank: str
    group: RollCallGroup
    five_year_status: RequirementStatus
    grace_deadline: date | None
    outstanding_requirement: str
    outstanding: Decimal
    last_centralised_on: date | None
    reason: str


@dataclass(frozen=True)
class RollCall:
    root: OrgUnit
    year: int
    as_of: date
    policy: Policy
    active: int
    quota: int
    trained: int
    untrained: int
    candidates: list[Candidate]


def _gap_share(alternatives: list[tuple[Decimal | None, Decimal]]) -> Fraction:
    """Mirrors the engine's roll-call measure: the closest alternative's missing share."""
    shares = [
        Fraction(0)
        if required == 0
        else max(Fraction(0), Fraction(required - actual) / Fraction(required))
        for required, actual in alternatives
        if required is not None
    ]
    return min(shares, default=Fraction(0))


def _measure(f: CadreFigures, policy: Policy) -> tuple[str, Fraction]:
    if f.five_year_status is not RequirementStatus.not_applicable:
        return "five_year", _gap_share(
            [
                (policy.five_year_required_days, f.five_year_days),
                (policy.five_year_required_hours, f.five_year_hours),
            ]
        )
    if f.annual_status is not RequirementStatus.not_applicable:
        return "annual", _gap_share(
            [
                (policy.annual_required_days, f.annual_centralised_days),
                (policy.annual_required_hours, f.annual_credited_hours),
            ]
        )
    return "none", Fraction(0)


def _group(f: CadreFigures) -> RollCallGroup:
    if f.five_year_status is RequirementStatus.not_met:
        return RollCallGroup.five_year_not_met
    if f.five_year_status is RequirementStatus.in_grace:
        return RollCallGroup.five_year_in_grace
    return RollCallGroup.other


_GROUP_ORDER = {
    RollCallGroup.five_year_not_met: 0,
    RollCallGroup.five_year_in_grace: 1,
    RollCallGroup.other: 2,
}


async def roll_call(db_session: AsyncSession, root: OrgUnit, year: int, limit: int) -> RollCall:
    """SPEC §3 rule 8, in the engine's order (`engine.rank_candidates`): five-year `not_met`,
    then `in_grace` by deadline, then the largest share of the requirement still missing, then
    the longest since the last centralised training, then the cadre id."""
    as_of = evaluation_day(year)
    policy = await policy_on(db_session, as_of)
    figures = await cadre_figures(db_session, root.path, as_of, policy)
    untrained = [f for f in figures if not f.trained]
    last = await last_centralised(db_session, [f.cadre_id for f in untrained], as_of, policy)
    scored = []
    for f in untrained:
        group = _group(f)
        name, share = _measure(f, policy)
        deadline = f.grace_deadline if group is RollCallGroup.five_year_in_grace else None
        key = (
            _GROUP_ORDER[group],
            deadline or date.min,
            -share,
            last.get(f.cadre_id) or date.min,
            str(f.cadre_id),
        )
        scored.append((key, f, group, name, share))
    scored.sort(key=lambda item: item[0])
    top = scored[:limit]
    people = {
        c.id: c
        for c in await db_session.scalars(
            select(Cadre).where(Cadre.id.in_([f.cadre_id for _, f, *_ in top]))
        )
    }
    candidates = []
    for position, (_, f, group, name, share) in enumerate(top, start=1):
        last_day = last.get(f.cadre_id)
        reasons = {
            RollCallGroup.five_year_not_met: "five-year requirement not met",
            RollCallGroup.five_year_in_grace: f"in grace until {f.grace_deadline}",
            RollCallGroup.other: "untrained this year",
        }
        percent = engine.q2(Decimal(share.numerator) / Decimal(share.denominator) * 100)
        trained_text = (
            f"last centralised training ended {last_day}" if last_day else "never trained"
        )
        reason = (
            f"{reasons[group]}; {percent}% of the {name.replace('_', '-')} requirement "
            f"outstanding; {trained_text}"
        )
        cadre = people[f.cadre_id]
        candidates.append(
            Candidate(
                position=position,
                cadre_id=f.cadre_id,
                hr_id=cadre.hr_id,
                name=cadre.name,
                org_unit_id=f.org_unit_id,
                rank=f.rank.value,
                group=group,
                five_year_status=f.five_year_status,
                grace_deadline=f.grace_deadline,
                outstanding_requirement=name,
                outstanding=Decimal(share.numerator) / Decimal(share.denominator),
                last_centralised_on=last_day,
                reason=reason,
            )
        )
    return RollCall(
        root=root,
        year=year,
        as_of=as_of,
        policy=policy,
        active=len(figures),
        quota=engine.quota(len(figures), policy),
        trained=len(figures) - len(untrained),
        untrained=len(untrained),
        candidates=candidates,
    )
