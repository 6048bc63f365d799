"""The unit scorecard (目标责任制, docs/rules.md, "Unit scorecard"): a unit's targets, and the
scores and ranks of its child units, computed from per-unit sums taken in the database (the
compliance report's figures, evaluation participation, plan fulfilment) and frozen once the
year is over."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.clock import local_today, now
from app.compliance import repository as compliance
from app.compliance.service import evaluation_day
from app.credit_policy import engine
from app.credit_policy import service as policy_service
from app.credit_policy.engine import RequirementStatus
from app.credit_policy.policy import Policy
from app.enums import ScorecardIndicator, WeightsSource
from app.http import check_if_match
from app.i18n import _
from app.org_unit import service as org_unit_service
from app.org_unit.models import OrgUnit
from app.scorecard import repository, rules
from app.scorecard.errors import NoWeight, UnitTargetNotFound
from app.scorecard.models import UnitScorecardSnapshot, UnitTarget
from app.scorecard.rules import INDICATORS
from app.scorecard.schemas import (
    IndicatorTargetRead,
    IndicatorValueRead,
    IndicatorWeightRead,
    UnitScorecardRead,
    UnitScoreRead,
    UnitTargetRead,
    UnitTargetWrite,
)

I = ScorecardIndicator  # noqa: E741 (the indicators read as I.roll_call etc.)


# --- targets -----------------------------------------------------------------------------------


def target_read(target: UnitTarget) -> UnitTargetRead:
    def of(indicator: ScorecardIndicator) -> IndicatorTargetRead:
        return IndicatorTargetRead(
            weight=getattr(target, f"{indicator.value}_weight"),
            target_percent=getattr(target, f"{indicator.value}_target"),
        )

    return UnitTargetRead(
        id=target.id,
        org_unit_id=target.org_unit_id,
        year=target.year,
        version=target.version,
        updated_at=target.updated_at,
        **{indicator.value: of(indicator) for indicator in INDICATORS},
    )


async def get_target(
    db_session: AsyncSession, org_unit_id: uuid.UUID, year: int, actor: Actor
) -> UnitTarget:
    await org_unit_service.get_org_unit(db_session, org_unit_id, actor)
    target = await repository.get_target(db_session, org_unit_id, year)
    if target is None:
        raise UnitTargetNotFound(
            _("The unit has no scorecard target for {year}.").format(year=year)
        )
    return target


async def put_target(
    db_session: AsyncSession,
    org_unit_id: uuid.UUID,
    year: int,
    data: UnitTargetWrite,
    actor: Actor,
    if_match: str | None = None,
) -> UnitTarget:
    """Set the unit's target for the year (created or replaced): an org_admin of the unit or
    of a unit above it, or an admin (the scope of the unit)."""
    await org_unit_service.get_org_unit(db_session, org_unit_id, actor)
    if all(getattr(data, i.value).weight == 0 for i in INDICATORS):
        raise NoWeight(_("At least one indicator needs a weight above 0."))
    target = await repository.get_target(db_session, org_unit_id, year)
    if target is None:
        target = UnitTarget(org_unit_id=org_unit_id, year=year)
    else:
        check_if_match(if_match, target.version)
    for indicator in INDICATORS:
        sent = getattr(data, indicator.value)
        setattr(target, f"{indicator.value}_weight", sent.weight)
        setattr(target, f"{indicator.value}_target", sent.target_percent)
    await repository.add(db_session, target)
    return target


# --- the figures -------------------------------------------------------------------------------


@dataclass
class UnitFigures:
    """The numerators and denominators of one child unit (its whole subtree)."""

    headcount: int = 0
    trained: int = 0
    five_year: tuple[int, int] = (0, 0)
    annual: tuple[int, int] = (0, 0)
    online: tuple[int, int] = (0, 0)
    evaluation: tuple[int, int] = (0, 0)
    plan: tuple[int, int] = (0, 0)

    def counts(self, quota: int) -> dict[ScorecardIndicator, tuple[int, int]]:
        return {
            I.roll_call: (self.trained, quota),
            I.five_year: self.five_year,
            I.annual: self.annual,
            I.online: self.online,
            I.evaluation: self.evaluation,
            I.plan: self.plan,
        }


def _add(pair: tuple[int, int], numerator: int, denominator: int) -> tuple[int, int]:
    return pair[0] + numerator, pair[1] + denominator


def _compliant(counts: dict[RequirementStatus, int], *good: RequirementStatus) -> tuple[int, int]:
    """(compliant, subject to the requirement): `not_applicable` cadres are in neither."""
    applicable = sum(n for s, n in counts.items() if s is not RequirementStatus.not_applicable)
    return sum(counts.get(s, 0) for s in good), applicable


async def _figures(
    db_session: AsyncSession, root: OrgUnit, kids: list[OrgUnit], year: int
) -> tuple[dict[uuid.UUID, UnitFigures], date, Policy]:
    as_of = evaluation_day(year)
    policy = await policy_service.policy_on(db_session, as_of)
    by_path = {kid.path: UnitFigures() for kid in kids}
    child_len = len(root.path) + repository.CHILD_SEGMENT
    # One row per unit comes back (the compliance report's set-based sums); each unit's counts
    # are added to the child whose subtree holds it.
    for row in await compliance.unit_counts(db_session, root.path, as_of, policy):
        figures = by_path.get(row.path[:child_len])
        if figures is None:
            continue  # the root's own cadres, or an inactive child's
        figures.headcount += row.headcount
        figures.trained += row.trained
        s = RequirementStatus
        figures.five_year = _add(figures.five_year, *_compliant(row.five_year, s.met, s.in_grace))
        figures.annual = _add(figures.annual, *_compliant(row.annual, s.met))
        figures.online = _add(figures.online, *_compliant(row.online, s.met))
    for path, (answered, completed) in (
        await repository.evaluation_participation(db_session, root.path, year)
    ).items():
        if path in by_path:
            by_path[path].evaluation = (answered, completed)
    plans = await repository.plan_fulfilment(db_session, [kid.id for kid in kids], year)
    for kid in kids:
        by_path[kid.path].plan = plans.get(kid.id, (0, 0))
    return {kid.id: by_path[kid.path] for kid in kids}, as_of, policy


def _weights(
    target: UnitTarget | None,
) -> tuple[WeightsSource, dict[ScorecardIndicator, int], dict[ScorecardIndicator, Decimal | None]]:
    if target is None:
        return WeightsSource.equal, dict.fromkeys(INDICATORS, 1), dict.fromkeys(INDICATORS)
    return (
        WeightsSource.unit_target,
        {i: getattr(target, f"{i.value}_weight") for i in INDICATORS},
        {i: getattr(target, f"{i.value}_target") for i in INDICATORS},
    )


def _shown(value: Fraction | None) -> Decimal | None:
    return None if value is None else rules.shown(value)


def _score_units(
    kids: list[OrgUnit],
    figures: dict[uuid.UUID, UnitFigures],
    weights: dict[ScorecardIndicator, int],
    targets: dict[ScorecardIndicator, Decimal | None],
    policy: Policy,
) -> list[UnitScoreRead]:
    rates: dict[uuid.UUID, dict[ScorecardIndicator, Fraction | None]] = {}
    counts: dict[uuid.UUID, dict[ScorecardIndicator, tuple[int, int]]] = {}
    for kid in kids:
        f = figures[kid.id]
        counts[kid.id] = f.counts(engine.quota(f.headcount, policy))
        rates[kid.id] = {i: rules.rate(i, *counts[kid.id][i]) for i in INDICATORS}
    scores = {}
    for kid in kids:
        exact = rules.weighted_score(rates[kid.id], weights)
        scores[kid.id] = None if exact is None else rules.shown(exact)
    unit_ranks = dict(zip(scores, rules.competition_ranks(list(scores.values())), strict=True))
    indicator_ranks: dict[ScorecardIndicator, dict[uuid.UUID, int | None]] = {}
    for i in INDICATORS:
        shown = {k: _shown(r[i]) for k, r in rates.items()}
        ranked = rules.competition_ranks(list(shown.values()))
        indicator_ranks[i] = dict(zip(shown, ranked, strict=True))
    out = []
    for kid in kids:
        values = []
        for i in INDICATORS:
            exact = rates[kid.id][i]
            target = targets[i]
            values.append(
                IndicatorValueRead(
                    indicator=i,
                    numerator=counts[kid.id][i][0],
                    denominator=counts[kid.id][i][1],
                    rate=None if exact is None else rules.shown(exact),
                    rank=indicator_ranks[i][kid.id],
                    target_met=(
                        None if exact is None or target is None else exact >= Fraction(target) / 100
                    ),
                )
            )
        out.append(
            UnitScoreRead(
                org_unit_id=kid.id,
                code=kid.code,
                name=kid.name,
                score=scores[kid.id],
                rank=unit_ranks[kid.id],
                indicators=values,
            )
        )
    out.sort(key=lambda u: (u.rank is None, u.rank or 0, u.code))
    return out


async def live_scorecard(db_session: AsyncSession, root: OrgUnit, year: int) -> UnitScorecardRead:
    """The scorecard of the unit's children computed now (no snapshot read or written)."""
    kids = await repository.children(db_session, root)
    figures, as_of, policy = await _figures(db_session, root, kids, year)
    source, weights, targets = _weights(await repository.get_target(db_session, root.id, year))
    return UnitScorecardRead(
        org_unit_id=root.id,
        year=year,
        as_of=as_of,
        policy_code=policy.code,
        weights_source=source,
        weights=[
            IndicatorWeightRead(indicator=i, weight=weights[i], target_percent=targets[i])
            for i in INDICATORS
        ],
        frozen=False,
        frozen_at=None,
        units=_score_units(kids, figures, weights, targets, policy),
    )


def _year_over(year: int) -> bool:
    return local_today().year > year


async def freeze(db_session: AsyncSession, root: OrgUnit, year: int) -> UnitScorecardRead:
    """The frozen scorecard of a past year: the stored snapshot, or one stored now."""
    snapshot = await repository.get_snapshot(db_session, root.id, year)
    if snapshot is None:
        live = await live_scorecard(db_session, root, year)
        frozen_at = now()
        body = live.model_copy(update={"frozen": True, "frozen_at": frozen_at})
        snapshot = await repository.store_snapshot(
            db_session, root.id, year, frozen_at, body.model_dump(mode="json")
        )
    return UnitScorecardRead.model_validate(snapshot.scorecard)


async def scorecard(
    db_session: AsyncSession,
    org_unit_id: uuid.UUID,
    year: int,
    actor: Actor,
    read_session: AsyncSession | None = None,
) -> UnitScorecardRead:
    """A past year's scorecard is frozen at its first read; the current year's is live. The
    live one may be computed on `read_session` (the read replica); the frozen one is read, and
    stored at its first read, on `db_session` (the primary: freezing is a write)."""
    live_session = read_session or db_session
    if _year_over(year):
        root = await org_unit_service.get_org_unit(db_session, org_unit_id, actor)
        return await freeze(db_session, root, year)
    root = await org_unit_service.get_org_unit(live_session, org_unit_id, actor)
    evaluation_day(year)  # a future year: 422
    return await live_scorecard(live_session, root, year)


async def freeze_all(db_session: AsyncSession, year: int) -> Iterable[UnitScorecardSnapshot]:
    """The CLI's freeze: every unit with child units, for a year that is over."""
    stored = []
    for unit in await repository.units_with_children(db_session):
        await freeze(db_session, unit, year)
        snapshot = await repository.get_snapshot(db_session, unit.id, year)
        if snapshot is not None:
            stored.append(snapshot)
    return stored
