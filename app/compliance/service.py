"""Compliance figures: per cadre, the cadre's logs and the policies in force through the engine;
per org unit (the compliance roll-up through the tree and the roll-call list), the figures the
repository computes in the database (docs/rules.md)."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadres
from app.cadre import rules as cadre_rules
from app.cadre.errors import CadreNotFound
from app.cadre.models import Cadre
from app.clock import local_today
from app.compliance import repository
from app.compliance.errors import FutureYear
from app.compliance.repository import UnitCounts
from app.credit_policy import engine
from app.credit_policy import service as policy_service
from app.credit_policy.engine import RequirementStatus, RollCallGroup
from app.credit_policy.engine.common import add_years
from app.credit_policy.engine.promotion import PromotionCheck, promotion_check
from app.credit_policy.policy import Policy, policy_in_force
from app.enums import PostType, Rank, Requirement
from app.i18n import N_, _
from app.org_unit import repository as org_units
from app.org_unit.models import OrgUnit
from app.qualification import service as qualification_service
from app.qualification.schemas import RequiredQualificationRead
from app.study_log import repository as study_logs


def _records(rows: Sequence[study_logs.EngineRow]) -> list[engine.LogRecord]:
    return [
        engine.LogRecord(
            id=str(log_id),
            kind=kind,
            start_date=start,
            end_date=end,
            hours=hours,
            days=days,
            status=status,
        )
        for log_id, kind, start, end, hours, days, status in rows
    ]


async def cadre_logs(
    db_session: AsyncSession, cadre_id: uuid.UUID, *, ending_from: date
) -> list[engine.LogRecord]:
    """Every log of the cadre that ends on or after `ending_from`, whatever its status: the
    engine counts approved ones and lists the others as ignored, to explain the figures."""
    return _records(await study_logs.engine_rows(db_session, cadre_id, ending_from=ending_from))


async def _scoped_cadre(db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor) -> Cadre:
    cadre = await cadres.get(db_session, cadre_id, actor)
    if cadre is None:
        raise CadreNotFound()
    return cadre


async def credits(
    db_session: AsyncSession, cadre_id: uuid.UUID, year: int, actor: Actor
) -> engine.YearCredits:
    await _scoped_cadre(db_session, cadre_id, actor)
    policies = await policy_service.load_policies(db_session)
    logs = await cadre_logs(db_session, cadre_id, ending_from=date(year, 1, 1))
    return engine.credits_view(logs, year, policies)


@dataclass(frozen=True)
class CadreCompliance:
    """The compliance read of one cadre: the engine's three blocks and the qualifications."""

    figures: engine.Compliance
    qualifications: list[RequiredQualificationRead]


def without_derivation(figures: engine.Compliance) -> engine.Compliance:
    """The figures without the logs behind them (`?include=derivation` asks for those): the
    per-log lines of the five-year window and of the online hours, and the ignored logs."""
    return replace(
        figures,
        five_year=replace(figures.five_year, logs=(), ignored_logs=()),
        online=replace(figures.online, logs=()),
    )


async def compliance(
    db_session: AsyncSession,
    cadre_id: uuid.UUID,
    as_of: date,
    actor: Actor,
    *,
    expiring_days: int,
) -> CadreCompliance:
    """docs/rules.md rules 4–6 and 13 on `as_of`. The engine reads only the logs its figures
    count or list: the calendar year's (rules 5–6: every kind ending on or after 1 January) and
    the five-year window's centralised ones (rule 4, with those ending after `as_of`, which
    `met_until` counts as their days come). Its answer is the same as on all of the cadre's logs
    (a property test holds the two equal)."""
    cadre = await _scoped_cadre(db_session, cadre_id, actor)
    policies = await policy_service.load_policies(db_session)
    policy = policy_in_force(policies, as_of)
    rows = await study_logs.figure_rows(
        db_session,
        cadre_id,
        ending_from=date(as_of.year, 1, 1),
        window_from=add_years(as_of, -policy.five_year_years),
        window_kinds=sorted(policy.centralised_kinds),
    )
    figures = engine.compliance(_records(rows), as_of, cadre.rank, cadre.promoted_on, policies)
    required = await qualification_service.required_of(db_session, cadre, as_of, expiring_days)
    return CadreCompliance(figures, qualification_service.required_read(required))


async def check_promotion(
    db_session: AsyncSession,
    cadre_id: uuid.UUID,
    *,
    target_rank: Rank,
    target_post_type: PostType,
    on: date,
    actor: Actor,
) -> PromotionCheck:
    """docs/rules.md rule 15: the cadre's move to the target post, classified by the cadre's
    own rule (the one every write uses to set `promoted_on`), then rule 4 on `on` for the
    target, as the compliance view computes it once the move is recorded that day."""
    cadre = await _scoped_cadre(db_session, cadre_id, actor)
    policy = await policy_service.policy_on(db_session, on)
    before = cadre_rules.Post(cadre.rank, cadre.post_type, cadre.post_type_stated)
    after = cadre_rules.Post(target_rank, target_post_type, stated=True)
    # The window only: logs ending after `on` count as their days come (met_until).
    logs = await cadre_logs(
        db_session, cadre_id, ending_from=add_years(on, -policy.five_year_years)
    )
    return promotion_check(
        logs,
        on,
        rank=cadre.rank,
        post_type=cadre.post_type,
        target_rank=target_rank,
        target_post_type=target_post_type,
        move=cadre_rules.promotion_move(before, after),
        promoted_on=cadre.promoted_on,
        policy=policy,
    )


def evaluation_day(year: int) -> date:
    """A past year is judged at its end; the current one today (later classes do not count yet)."""
    today = local_today()
    if year > today.year:
        raise FutureYear(
            _("{year} has not begun; the latest year is {latest}.").format(
                year=year, latest=today.year
            )
        )
    return min(date(year, 12, 31), today)


@dataclass
class UnitTotals:
    headcount: int = 0
    five_year: dict[RequirementStatus, int] = field(default_factory=lambda: defaultdict(int))
    annual: dict[RequirementStatus, int] = field(default_factory=lambda: defaultdict(int))
    online: dict[RequirementStatus, int] = field(default_factory=lambda: defaultdict(int))
    trained: int = 0
    quota: int = 0
    """docs/rules.md rule 8: ceil(headcount / 5), the subtree's roll-call quota for the year."""

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
    policy = await policy_service.policy_on(db_session, as_of)
    counts = await repository.unit_counts(db_session, root.path, as_of, policy)
    totals: dict[str, UnitTotals] = defaultdict(UnitTotals)
    for unit_counts_row in counts:
        for path in _ancestors_within(unit_counts_row.path, root.path):
            totals[path].add(unit_counts_row)
    units = await org_units.subtree_to_depth(db_session, root, levels)
    for unit_totals in totals.values():
        unit_totals.quota = engine.quota(unit_totals.headcount, policy)
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


_GROUPS = (
    RollCallGroup.five_year_not_met,
    RollCallGroup.five_year_in_grace,
    RollCallGroup.other,
)
# The words of a roll-call reason, translated for the request's language before the values are
# formatted in (the candidate's `group` and `outstanding_requirement` are the stable codes).
_GROUP_TEXT = {
    RollCallGroup.five_year_not_met: N_("five-year requirement not met"),
    RollCallGroup.five_year_in_grace: N_("in grace until {deadline}"),
    RollCallGroup.other: N_("untrained this year"),
}
_REQUIREMENT_TEXT = {
    "five_year": N_("five-year"),
    "annual": N_("annual"),
    "none": N_("none"),
}
_REASON = N_("{group}; {percent}% of the {requirement} requirement outstanding; {trained}")
_LAST_TRAINED = N_("last centralised training ended {day}")
_NEVER_TRAINED = N_("never trained")


async def roll_call(db_session: AsyncSession, root: OrgUnit, year: int, limit: int) -> RollCall:
    """docs/rules.md rule 8 for the subtree, ranked in the database in the engine's order (see
    `app.compliance.repository._ROLL_CALL_SQL`); only the first `limit` come back."""
    as_of = evaluation_day(year)
    policy = await policy_service.policy_on(db_session, as_of)
    active, trained, rows = await repository.roll_call_rows(
        db_session, root.path, as_of, policy, limit
    )
    people = await cadres.by_ids(db_session, [row.cadre_id for row in rows])
    candidates = []
    for position, row in enumerate(rows, start=1):
        group = _GROUPS[row.group]
        deadline = (
            add_years(row.promoted_on, policy.grace_years) if row.promoted_on is not None else None
        )
        percent = engine.q2(row.outstanding * 100)
        last_day = row.last_centralised_on
        trained_text = _(_LAST_TRAINED).format(day=last_day) if last_day else _(_NEVER_TRAINED)
        requirement = _REQUIREMENT_TEXT.get(row.measured)
        reason = _(_REASON).format(
            group=_(_GROUP_TEXT[group]).format(deadline=deadline),
            percent=percent,
            requirement=_(requirement) if requirement else row.measured.replace("_", "-"),
            trained=trained_text,
        )
        cadre = people[row.cadre_id]
        candidates.append(
            Candidate(
                position=position,
                cadre_id=row.cadre_id,
                hr_id=cadre.hr_id,
                name=cadre.name,
                org_unit_id=row.org_unit_id,
                rank=row.rank.value,
                group=group,
                five_year_status=row.five_year_status,
                grace_deadline=deadline,
                outstanding_requirement=row.measured,
                outstanding=row.outstanding,
                last_centralised_on=last_day,
                reason=reason,
            )
        )
    return RollCall(
        root=root,
        year=year,
        as_of=as_of,
        policy=policy,
        active=active,
        quota=engine.quota(active, policy),
        trained=trained,
        untrained=active - trained,
        candidates=candidates,
    )


async def short_of(
    db_session: AsyncSession, requirement: Requirement, as_of: date
) -> tuple[Policy, list[repository.CadreFigures]]:
    """Every active cadre short of `requirement` on `as_of` (not met, or in grace), under the
    policy in force that day, with its figures: computed in the database for the whole tree."""
    policy = await policy_service.policy_on(db_session, as_of)
    rows = await repository.short_cadre_figures(db_session, "/", as_of, policy, requirement.value)
    return policy, rows
