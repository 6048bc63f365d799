"""The issue's Done-when: "The scorecard equals a plain recomputation in a property test".

Hypothesis draws small provinces (units two levels deep, cadres with logs, sessions with
enrollments and evaluation markers, plans with held and unheld classes, a target or none); the
scorecard computed by the service (the compliance report's SQL sums, the scorecard's SQL) is
compared with a plain recomputation from the same rows: each cadre through the credit engine,
everything else counted in Python, weighted with plain fractions and ranked by counting
(docs/rules.md, "Unit scorecard")."""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.credit_policy import engine
from app.credit_policy import service as policy_service
from app.credit_policy.engine import RequirementStatus
from app.credit_policy.policy import Policy
from app.enums import (
    EnrollmentStatus,
    PlanStatus,
    Rank,
    ScorecardIndicator,
    SessionStatus,
    StudyLogKind,
    StudyLogStatus,
)
from app.scorecard import service
from app.scorecard.models import UnitTarget
from app.scorecard.schemas import UnitScorecardRead
from tests.scorecard_world import (
    CadreSpec,
    EnrollmentSpec,
    LogSpec,
    PlanSpec,
    ProvinceSpec,
    SessionSpec,
    World,
    seed,
)

YEAR = 2025
AS_OF = date(YEAR, 12, 31)
I = ScorecardIndicator  # noqa: E741
INDICATORS = list(ScorecardIndicator)


@st.composite
def log_specs(draw: st.DrawFn) -> LogSpec:
    kind = draw(st.sampled_from([StudyLogKind.centralised_training, StudyLogKind.online_course]))
    start = draw(st.dates(date(2020, 6, 1), date(2026, 2, 1)))
    end = start + timedelta(days=draw(st.integers(0, 20)))
    hours = Decimal(draw(st.integers(0, 120)))
    days = Decimal(draw(st.integers(0, 20))) if kind is StudyLogKind.centralised_training else 0
    status = draw(st.sampled_from([StudyLogStatus.approved, StudyLogStatus.approved, "pending"]))
    return LogSpec(kind, start, end, hours, Decimal(days), StudyLogStatus(status))


@st.composite
def provinces(draw: st.DrawFn) -> tuple[ProvinceSpec, dict[ScorecardIndicator, int] | None]:
    children = draw(st.integers(1, 4))
    parents = [0] * children
    parents += draw(st.lists(st.integers(1, children), max_size=3))
    units = len(parents) + 1
    cadres = draw(
        st.lists(
            st.builds(
                CadreSpec,
                unit=st.integers(0, units - 1),
                rank=st.sampled_from(list(Rank)),
                promoted_on=st.none() | st.dates(date(2023, 1, 1), date(2025, 12, 31)),
                active=st.booleans() | st.just(True),
                logs=st.lists(log_specs(), max_size=4).map(tuple),
            ),
            max_size=10,
        )
    )
    plans = draw(
        st.lists(
            st.builds(
                PlanSpec,
                unit=st.integers(1, units - 1),
                year=st.sampled_from([YEAR, YEAR - 1]),
                status=st.sampled_from(
                    [PlanStatus.approved, PlanStatus.approved, PlanStatus.draft]
                ),
                items=st.integers(1, 3),
            ),
            max_size=4,
            unique_by=lambda p: (p.unit, p.year),
        )
    )
    sessions = []
    for _ in range(draw(st.integers(1, 5))):
        taken = draw(
            st.lists(st.integers(0, len(cadres) - 1), unique=True, min_size=1, max_size=6)
            if cadres
            else st.just([])
        )
        enrollments = tuple(
            EnrollmentSpec(
                cadre=i,
                status=draw(
                    st.sampled_from(
                        [
                            EnrollmentStatus.completed,
                            EnrollmentStatus.completed,
                            EnrollmentStatus.dropped_out,
                            EnrollmentStatus.enrolled,
                        ]
                    )
                ),
                answered=draw(st.booleans()),
            )
            for i in taken
        )
        holds = None
        if plans and draw(st.integers(0, 3)) > 0:
            p = draw(st.integers(0, len(plans) - 1))
            holds = (p, draw(st.integers(0, plans[p].items - 1)))
        sessions.append(
            SessionSpec(
                status=draw(
                    st.sampled_from(
                        [
                            SessionStatus.closed,
                            SessionStatus.closed,
                            SessionStatus.running,
                            SessionStatus.cancelled,
                        ]
                    )
                ),
                end_date=draw(
                    st.sampled_from(
                        [
                            date(YEAR, 3, 1),
                            date(YEAR, 12, 31),
                            date(YEAR - 1, 12, 31),
                            date(YEAR + 1, 1, 1),
                        ]
                    )
                ),
                evaluated=draw(st.booleans()),
                enrollments=enrollments,
                plan_item=holds,
            )
        )
    weights = draw(
        st.none()
        | st.lists(st.integers(0, 5), min_size=6, max_size=6)
        .filter(any)
        .map(lambda ws: dict(zip(INDICATORS, ws, strict=True)))
    )
    spec = ProvinceSpec(
        parents=tuple(parents), cadres=tuple(cadres), sessions=tuple(sessions), plans=tuple(plans)
    )
    return spec, weights


# --- the plain recomputation -----------------------------------------------------------------


@dataclass
class Expected:
    counts: dict[ScorecardIndicator, tuple[int, int]]
    rates: dict[ScorecardIndicator, Decimal | None]
    score: Decimal | None


def four(value: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def in_subtree(world: World, unit_index: int, root_index: int) -> bool:
    return world.units[unit_index].path.startswith(world.units[root_index].path)


def recompute(
    spec: ProvinceSpec,
    world: World,
    policies: tuple[Policy, ...],
    weights: dict[ScorecardIndicator, int],
) -> dict[str, Expected]:
    (policy,) = [p for p in policies if p.in_force_on(AS_OF)]
    out = {}
    for child in range(1, len(world.units)):
        if world.units[child].parent_id != world.units[0].id:
            continue
        mine = [i for i, c in enumerate(spec.cadres) if in_subtree(world, c.unit, child)]
        active = [i for i in mine if spec.cadres[i].active]
        states = {
            i: engine.compliance(
                world.logs[world.cadres[i].id],
                AS_OF,
                spec.cadres[i].rank,
                spec.cadres[i].promoted_on,
                policies,
            )
            for i in active
        }

        def compliant(
            block: str, *good: RequirementStatus, states: dict[int, engine.Compliance] = states
        ) -> tuple[int, int]:
            statuses = [getattr(s, block).status for s in states.values()]
            applicable = sum(s is not RequirementStatus.not_applicable for s in statuses)
            return sum(s in good for s in statuses), applicable

        trained = sum(1 for s in states.values() if s.annual.centralised_days > 0)
        quota = math.ceil(
            Fraction(len(active) * policy.roll_call.numerator, policy.roll_call.denominator)
        )
        completed = answered = 0
        for s in spec.sessions:
            if not (s.status is SessionStatus.closed and s.evaluated and s.end_date.year == YEAR):
                continue
            for e in s.enrollments:
                if e.status is EnrollmentStatus.completed and e.cadre in mine:
                    completed += 1
                    answered += e.answered
        planned = held = 0
        for p_index, p in enumerate(spec.plans):
            if p.unit == child and p.year == YEAR and p.status is PlanStatus.approved:
                planned += p.items
                held += sum(
                    1
                    for item in range(p.items)
                    if any(
                        s.plan_item == (p_index, item) and s.status is SessionStatus.closed
                        for s in spec.sessions
                    )
                )
        counts = {
            I.roll_call: (trained, quota),
            I.five_year: compliant("five_year", RequirementStatus.met, RequirementStatus.in_grace),
            I.annual: compliant("annual", RequirementStatus.met),
            I.online: compliant("online", RequirementStatus.met),
            I.evaluation: (answered, completed),
            I.plan: (held, planned),
        }
        exact: dict[ScorecardIndicator, Fraction | None] = {}
        for i, (n, d) in counts.items():
            exact[i] = None if d == 0 else Fraction(n, d)
        roll_call = exact[I.roll_call]
        if roll_call is not None and roll_call > 1:
            exact[I.roll_call] = Fraction(1)
        present = {i: r for i, r in exact.items() if r is not None}
        total = sum(weights[i] for i in present)
        weighted = sum((weights[i] * r for i, r in present.items()), Fraction(0))
        score = None if total == 0 else four(weighted / total)
        out[world.units[child].code] = Expected(
            counts=counts,
            rates={i: None if r is None else four(r) for i, r in exact.items()},
            score=score,
        )
    return out


def plain_rank(value: Decimal | None, others: list[Decimal | None]) -> int | None:
    if value is None:
        return None
    return 1 + sum(1 for o in others if o is not None and o > value)


def check(card: UnitScorecardRead, expected: dict[str, Expected]) -> None:
    assert {u.code for u in card.units} == set(expected)
    scores = [e.score for e in expected.values()]
    for unit in card.units:
        e = expected[unit.code]
        assert unit.score == e.score, unit.code
        assert unit.rank == plain_rank(e.score, scores)
        for value in unit.indicators:
            i = value.indicator
            assert (value.numerator, value.denominator) == e.counts[i], (unit.code, i)
            assert value.rate == e.rates[i], (unit.code, i)
            same = [x.rates[i] for x in expected.values()]
            assert value.rank == plain_rank(e.rates[i], same), (unit.code, i)


def _log(kind: StudyLogKind, start: date, days: int, hours: int) -> LogSpec:
    return LogSpec(
        kind, start, start + timedelta(days=max(days, 1) - 1), Decimal(hours), Decimal(days)
    )


C, ONLINE = StudyLogKind.centralised_training, StudyLogKind.online_course
# Every case at least once: the root's own cadre and an inactive one (in no unit's figures), a
# grandchild's cadres counted in its child, a leader in grace, more trained than the quota, an
# answered enrollment that dropped out, a running and a cancelled session holding planned
# classes, last year's sessions and plan, a draft plan, a child with no figures at all.
EVERY_CASE = ProvinceSpec(
    parents=(0, 0, 0, 1),
    cadres=(
        CadreSpec(0, Rank.section_member, logs=(_log(C, date(YEAR, 3, 2), 12, 90),)),
        CadreSpec(1, Rank.section_member, logs=(_log(C, date(YEAR, 3, 2), 12, 90),)),
        CadreSpec(
            4,
            Rank.section_member,
            logs=(_log(C, date(YEAR, 5, 2), 2, 16), _log(ONLINE, date(YEAR, 6, 1), 30, 50)),
        ),
        CadreSpec(4, Rank.county_division, promoted_on=date(YEAR, 6, 1)),
        CadreSpec(2, Rank.county_division, logs=(_log(C, date(2022, 1, 1), 95, 600),)),
        CadreSpec(
            2, Rank.township_section, active=False, logs=(_log(C, date(YEAR, 3, 2), 12, 90),)
        ),
        CadreSpec(2, Rank.township_section),
    ),
    plans=(
        PlanSpec(1, YEAR, PlanStatus.approved, 3),
        PlanSpec(2, YEAR, PlanStatus.draft, 2),
        PlanSpec(2, YEAR - 1, PlanStatus.approved, 2),
    ),
    sessions=(
        SessionSpec(
            SessionStatus.closed,
            date(YEAR, 3, 1),
            evaluated=True,
            enrollments=(
                EnrollmentSpec(1, EnrollmentStatus.completed, answered=True),
                EnrollmentSpec(2, EnrollmentStatus.completed),
                EnrollmentSpec(3, EnrollmentStatus.dropped_out, answered=True),
                EnrollmentSpec(4, EnrollmentStatus.completed, answered=True),
                EnrollmentSpec(0, EnrollmentStatus.completed, answered=True),
            ),
            plan_item=(0, 0),
        ),
        SessionSpec(
            SessionStatus.running,
            date(YEAR, 12, 31),
            evaluated=True,
            enrollments=(EnrollmentSpec(2, EnrollmentStatus.enrolled, answered=True),),
            plan_item=(0, 1),
        ),
        SessionSpec(SessionStatus.cancelled, date(YEAR, 3, 1), evaluated=True, plan_item=(0, 2)),
        SessionSpec(
            SessionStatus.closed,
            date(YEAR - 1, 12, 31),
            evaluated=True,
            enrollments=(EnrollmentSpec(4, EnrollmentStatus.completed, answered=True),),
            plan_item=(2, 0),
        ),
        SessionSpec(
            SessionStatus.closed,
            date(YEAR, 6, 1),
            evaluated=False,
            enrollments=(EnrollmentSpec(6, EnrollmentStatus.completed),),
        ),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(drawn=provinces())
@example(drawn=(EVERY_CASE, None))
@example(drawn=(EVERY_CASE, {**dict.fromkeys(INDICATORS, 0), I.evaluation: 3, I.plan: 1}))
async def test_the_scorecard_equals_a_plain_recomputation(
    app: FastAPI,  # configures the ID-number cipher
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    drawn: tuple[ProvinceSpec, dict[ScorecardIndicator, int] | None],
) -> None:
    spec, weights = drawn
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        world = await seed(db_session, spec)
        if weights is not None:
            db_session.add(
                UnitTarget(
                    org_unit_id=world.units[0].id,
                    year=YEAR,
                    **{f"{i.value}_weight": w for i, w in weights.items()},
                )
            )
            await db_session.flush()
        policies = await policy_service.load_policies(db_session)
        card = await service.live_scorecard(db_session, world.units[0], YEAR)
        await savepoint.rollback()
    used = weights or dict.fromkeys(INDICATORS, 1)
    assert card.weights_source == ("unit_target" if weights else "equal")
    assert {w.indicator: w.weight for w in card.weights} == used
    check(card, recompute(spec, world, policies, used))
