"""The reports' figures statement (app/compliance/repository.py, issue 16): the edges of the
five-year window with hand-computed numbers, and the per-unit counts taken in SQL equal to the
per-cadre figures counted in Python, on a generated tree."""

import random
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cadre.models import Cadre
from app.compliance.repository import cadre_figures, roll_call_rows, unit_counts
from app.credit_policy import engine
from app.credit_policy.engine import RequirementStatus
from app.credit_policy.policy import CHUZHOU_2007, CN_2023, Policy
from app.enums import CadreStatus, Gender, Rank, StudyLogKind, StudyLogSource, StudyLogStatus
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_of
from app.study_log.models import StudyLog
from tests.factories import id_number

CT = StudyLogKind.centralised_training
APPROVED = StudyLogStatus.approved


def log(
    start: date,
    end: date,
    days: str,
    hours: str,
    kind: StudyLogKind = CT,
    status: StudyLogStatus = APPROVED,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "start_date": start,
        "end_date": end,
        "days": Decimal(days),
        "hours": Decimal(hours),
        "status": status,
    }


# One cadre's logs around the first days of the windows below (docs/rules.md rule 2: a log
# counts pro rata by calendar days).
LOGS = [
    log(date(2021, 11, 25), date(2021, 12, 4), "10", "70"),  # A: 10 calendar days
    log(date(2021, 12, 10), date(2021, 12, 14), "5", "40"),  # B
    log(date(2021, 11, 1), date(2021, 11, 5), "5", "35"),  # C
    log(date(2021, 12, 30), date(2022, 1, 8), "10", "80"),  # D: across a new year
    log(date(2020, 6, 1), date(2022, 5, 31), "73", "730"),  # E: 730 calendar days (> a year)
    log(date(2026, 11, 28), date(2026, 12, 3), "6", "42"),  # F: 6 days, 3 after Nov 30 2026
    log(date(2021, 3, 29), date(2021, 4, 2), "5", "35"),  # G: 5 days
    log(date(2021, 12, 5), date(2021, 12, 6), "2", "14", status=StudyLogStatus.pending),  # H
    log(date(2021, 12, 15), date(2021, 12, 15), "0", "9", kind=StudyLogKind.online_course),  # I
]

# (as_of, five-year centralised days, hours, this year's centralised days, hours), by hand:
EDGES = [
    # Window (2021-11-30, 2026-11-30]: the edge from Dec 1 2021 is added (tail).
    # A 4/10 → 4 d, 28 h; B all; D all; E 182/730 → 18.2 d, 182 h; F 3/6 → 3 d, 21 h.
    (date(2026, 11, 30), "40.2", "351", "3", "21"),
    # Window (2021-03-31, 2026-03-31]: the edge before Apr 1 2021 is taken off (head).
    # A, B, C, D all; E 426/730 → 42.6 d, 426 h; G 2/5 → 2 d, 14 h; F later.
    (date(2026, 3, 31), "74.6", "665", "0", "0"),
    # Window (2020-12-31, 2025-12-31]: whole years, no edge.
    # A, B, C, D, G all; E 516/730 → 51.6 d, 516 h.
    (date(2025, 12, 31), "86.6", "776", "0", "0"),
    # Window (2021-06-30, 2026-06-30]: the head and the tail are as long (head).
    # A, B, C, D all; E 335/730 → 33.5 d, 335 h.
    (date(2026, 6, 30), "63.5", "560", "0", "0"),
]


async def _unit(db_session: AsyncSession, parent: OrgUnit | None = None) -> OrgUnit:
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        code=f"P{unit_id.hex}",
        name="x",
        kind="city",
        parent_id=None if parent is None else parent.id,
        path=path_of(None if parent is None else parent.path, unit_id),
        depth=0 if parent is None else parent.depth + 1,
        active=True,
    )
    db_session.add(unit)
    await db_session.flush()
    return unit


async def _cadre(
    db_session: AsyncSession,
    unit: OrgUnit,
    rank: Rank,
    promoted_on: date | None,
    specs: list[dict[str, Any]],
    status: CadreStatus = CadreStatus.active,
) -> tuple[Cadre, list[engine.LogRecord]]:
    cadre = Cadre(
        hr_id=f"H{uuid.uuid4().hex[:12]}",
        name="测试",
        id_number=id_number(date(1980, 1, 1)),
        gender=Gender.male,
        birth_date=date(1980, 1, 1),
        org_unit_id=unit.id,
        rank=rank,
        promoted_on=promoted_on,
        status=status,
    )
    db_session.add(cadre)
    await db_session.flush()
    logs = [
        StudyLog(cadre_id=cadre.id, title="t", source=StudyLogSource.manual, **spec)
        for spec in specs
    ]
    db_session.add_all(logs)
    await db_session.flush()
    return cadre, [
        engine.LogRecord(id=str(x.id), **spec) for x, spec in zip(logs, specs, strict=True)
    ]


@pytest.mark.parametrize(("as_of", "days", "hours", "cdays", "chours"), EDGES)
async def test_the_window_edges(
    app: FastAPI,  # configures the ID-number cipher
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    as_of: date,
    days: str,
    hours: str,
    cdays: str,
    chours: str,
) -> None:
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit = await _unit(db_session)
        cadre, records = await _cadre(db_session, unit, Rank.county_division, None, LOGS)
        (got,) = await cadre_figures(db_session, unit.path, as_of, CN_2023)
        await savepoint.rollback()
    assert (got.five_year_days, got.five_year_hours) == (Decimal(days), Decimal(hours))
    assert (got.annual_centralised_days, got.annual_centralised_hours) == (
        Decimal(cdays),
        Decimal(chours),
    )
    state = engine.compliance(records, as_of, cadre.rank, cadre.promoted_on, [CN_2023])
    assert state.five_year.centralised_days == Decimal(days)
    assert state.five_year.centralised_hours == Decimal(hours)
    assert got.five_year_status == state.five_year.status


def _random_logs(rng: random.Random) -> list[dict[str, Any]]:
    specs = []
    for _ in range(rng.randint(0, 14)):
        start = date(2019, 1, 1) + timedelta(days=rng.randint(0, 2900))
        end = start + timedelta(days=rng.choice((0, 0, 3, 9, 29, 200, 400)))
        kind = rng.choice((CT, CT, CT, StudyLogKind.online_course, StudyLogKind.lecture))
        total = (end - start).days + 1
        specs.append(
            log(
                start,
                end,
                str(Decimal(rng.randint(0, total * 10)) / 10) if kind is CT else "0",
                str(Decimal(rng.randint(0, 800)) / 2),
                kind=kind,
                status=rng.choice((APPROVED, APPROVED, APPROVED, StudyLogStatus.voided)),
            )
        )
    return specs


# The per-unit counts and the roll-call skip the evaluation year's kinds that no status counts
# (`_status_only`); chuzhou-2007 counts every kind's hours for the annual alternative (which it
# does not require).
@pytest.mark.parametrize(
    ("as_of", "policy"),
    [
        (date(2026, 11, 30), CN_2023),
        (date(2026, 3, 31), CN_2023),
        (date(2025, 12, 31), CN_2023),
        (date(2026, 11, 30), CHUZHOU_2007),
    ],
)
async def test_unit_counts_equal_the_figures_counted_in_python(
    app: FastAPI,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    as_of: date,
    policy: Policy,
) -> None:
    rng = random.Random(16)
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        root = await _unit(db_session)
        units = [root]
        for _ in range(6):
            units.append(await _unit(db_session, rng.choice(units)))
        for _ in range(40):
            await _cadre(
                db_session,
                rng.choice(units),
                rng.choice(list(Rank)),
                rng.choice((None, date(2025, 3, 1), date(2022, 7, 1))),
                _random_logs(rng),
                rng.choice((CadreStatus.active,) * 4 + (CadreStatus.inactive,)),
            )
        # A subtree without the root and its first unit: the report of one unit down.
        inner = units[1]
        for top in (root, inner):
            figures = await cadre_figures(db_session, top.path, as_of, policy)
            counts = await unit_counts(db_session, top.path, as_of, policy)
            active, trained, _rows = await roll_call_rows(db_session, top.path, as_of, policy, 1000)
            expected: dict[uuid.UUID, tuple[int, Counter[str], Counter[str], Counter[str], int]]
            expected = {}
            for f in figures:
                n, five, annual, online, t = expected.get(
                    f.org_unit_id, (0, Counter(), Counter(), Counter(), 0)
                )
                five[f.five_year_status.value] += 1
                annual[f.annual_status.value] += 1
                online[f.online_status.value] += 1
                expected[f.org_unit_id] = (
                    n + 1,
                    five,
                    annual,
                    online,
                    t + (f.annual_centralised_days > 0),
                )
            got = {
                c.org_unit_id: (
                    c.headcount,
                    Counter({s.value: n for s, n in c.five_year.items() if n}),
                    Counter({s.value: n for s, n in c.annual.items() if n}),
                    Counter({s.value: n for s, n in c.online.items() if n}),
                    c.trained,
                )
                for c in counts
            }
            assert got == expected
            assert (active, trained) == (
                len(figures),
                sum(f.annual_centralised_days > 0 for f in figures),
            )
        await savepoint.rollback()
    assert len(figures) > 0


async def test_the_figures_statements_are_planned_with_their_values(
    app: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A pooled connection keeps asyncpg's prepared statements; PostgreSQL would plan a figures
    statement generically after five runs. The reports' transactions plan it with its values."""
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit = await _unit(db_session)
        await _cadre(db_session, unit, Rank.county_division, None, LOGS)
        modes = []
        for _ in range(7):  # past the five runs after which a generic plan may be chosen
            await unit_counts(db_session, unit.path, date(2026, 11, 30), CN_2023)
            await roll_call_rows(db_session, unit.path, date(2026, 11, 30), CN_2023, 10)
            await cadre_figures(db_session, unit.path, date(2026, 11, 30), CN_2023)
            modes.append(
                await db_session.scalar(
                    text(
                        "SELECT current_setting('plan_cache_mode') || ' '"
                        " || current_setting('work_mem')"
                    )
                )
            )
        await savepoint.rollback()
    # And room to hash a province's 200,000 cadres without spilling to disk.
    assert modes == ["force_custom_plan 64MB"] * 7


async def test_a_short_roll_call_is_the_head_of_the_long_one(
    app: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The last training day is looked up only for the candidates that can make the list; cut
    anywhere, through ties of the other keys too, the list is the engine's order (rule 8)."""
    rng = random.Random(8)
    as_of = date(2026, 11, 30)
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit = await _unit(db_session)
        seeded = []
        for i in range(24):
            if i % 3 == 0:  # never trained: every key ties but the id
                specs: list[dict[str, Any]] = []
            elif i % 3 == 1:  # trained before the window only: ties but the last day
                start = date(2014, 1, 1) + timedelta(days=rng.randint(0, 2000))
                specs = [log(start, start + timedelta(days=4), "5", "35")]
            else:
                specs = _random_logs(rng)
            rank = rng.choice((Rank.county_division, Rank.section_member))
            promoted = rng.choice((None, date(2025, 3, 1), date(2024, 7, 1)))
            seeded.append(await _cadre(db_session, unit, rank, promoted, specs))
        candidates = [
            engine.roll_call_candidate(
                str(cadre.id), records, as_of, cadre.rank, cadre.promoted_on, [CN_2023]
            )
            for cadre, records in seeded
            if not engine.trained_in_year(records, as_of.year, [CN_2023])
        ]
        expected = [c.cadre_id for c in engine.rank_candidates(candidates)]
        heads = {}
        for limit in range(1, len(seeded) + 2):
            _active, _trained, rows = await roll_call_rows(
                db_session, unit.path, as_of, CN_2023, limit
            )
            heads[limit] = [str(r.cadre_id) for r in rows]
        await savepoint.rollback()
    assert len(expected) > 10
    for limit, head in heads.items():
        assert head == expected[:limit], limit


# docs/rules.md rule 5 with every kind's hours counted for the annual alternative (90 hours).
EVERY_KIND_COUNTED = replace(CN_2023, code="every-kind", annual_hours_kinds=frozenset(StudyLogKind))


@pytest.mark.parametrize(
    ("policy", "annual"),
    [
        # 95 lecture hours in 2026 and no centralised training: cn-2023 counts none of them.
        (CN_2023, {RequirementStatus.met: 0, RequirementStatus.not_met: 1}),
        (EVERY_KIND_COUNTED, {RequirementStatus.met: 1, RequirementStatus.not_met: 0}),
    ],
)
async def test_unit_counts_count_the_policys_annual_kinds(
    app: FastAPI,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    policy: Policy,
    annual: dict[RequirementStatus, int],
) -> None:
    lectures = [
        log(date(2026, 3, 2), date(2026, 3, 2), "0", "50", kind=StudyLogKind.lecture),
        log(date(2026, 5, 4), date(2026, 5, 4), "0", "45", kind=StudyLogKind.lecture),
    ]
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit = await _unit(db_session)
        await _cadre(db_session, unit, Rank.section_member, None, lectures)
        (counts,) = await unit_counts(db_session, unit.path, date(2026, 11, 30), policy)
        await savepoint.rollback()
    assert {s: counts.annual[s] for s in annual} == annual
