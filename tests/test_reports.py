"""Reports: the SQL path gives the engine's answers, and the roll-up adds up through the tree."""

import uuid
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cadre.models import Cadre
from app.compliance.repository import cadre_figures
from app.credit_policy import engine
from app.credit_policy.policy import CN_2023, CreditMode, KindRule, Policy
from app.enums import CadreStatus, Gender, Rank, StudyLogKind, StudyLogSource, StudyLogStatus
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_of
from app.study_log.models import StudyLog
from tests.factories import API, create_cadre, create_log, create_org_unit, id_number

KINDS = list(StudyLogKind)


@st.composite
def log_specs(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.dates(date(2018, 1, 1), date(2026, 6, 30)))
    length = draw(st.integers(0, 40))
    end = start + timedelta(days=length)
    total = length + 1
    kind = draw(st.sampled_from(KINDS))
    days = (
        Decimal(draw(st.integers(0, total * 100))) / 100
        if kind is StudyLogKind.centralised_training
        else Decimal(0)
    )
    return {
        "kind": kind,
        "start_date": start,
        "end_date": end,
        "hours": Decimal(draw(st.integers(0, min(total * 24, 400) * 100))) / 100,
        "days": days,
        "status": draw(st.sampled_from(list(StudyLogStatus))),
    }


CadreSpec = tuple[Rank, date | None, list[dict[str, Any]]]

# Centralised hours credited × 1.5 and online courses counted too: the centralised, counted
# and credited hours of the annual block all differ (docs/rules.md rule 5).
WEIGHTED = replace(
    CN_2023,
    code="weighted",
    kind_rules={
        **CN_2023.kind_rules,
        StudyLogKind.centralised_training: KindRule(
            kind=StudyLogKind.centralised_training, mode=CreditMode.per_hour, factor=Decimal("1.5")
        ),
    },
    annual_hours_kinds=frozenset({StudyLogKind.centralised_training, StudyLogKind.online_course}),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """cn-2023 with another credit rule for centralised training and other annual kinds, so
    that counted hours differ from centralised hours and from credited hours."""
    factor = draw(st.sampled_from([Decimal(1), Decimal("1.5"), Decimal(2)]))
    cap = draw(st.sampled_from([None, Decimal(30)]))
    counted = draw(st.sets(st.sampled_from(KINDS), min_size=1))
    kind = StudyLogKind.centralised_training
    return replace(
        CN_2023,
        kind_rules={
            **CN_2023.kind_rules,
            kind: KindRule(kind=kind, mode=CreditMode.per_hour, factor=factor, annual_cap=cap),
        },
        annual_hours_kinds=frozenset(counted),
    )


# A cadre whose figures differ in every way: 40 h × 1.5 = 60 centralised credit, 30 online h,
# 10 self-study h: 40 centralised h, 90 counted h, 100 credited h, 5 days.
DIFFERING_FIGURES: list[CadreSpec] = [
    (
        Rank.section_member,
        None,
        [
            {
                "kind": StudyLogKind.centralised_training,
                "start_date": date(2024, 4, 1),
                "end_date": date(2024, 4, 5),
                "hours": Decimal(40),
                "days": Decimal(5),
                "status": StudyLogStatus.approved,
            },
            {
                "kind": StudyLogKind.online_course,
                "start_date": date(2024, 3, 1),
                "end_date": date(2024, 3, 31),
                "hours": Decimal(30),
                "days": Decimal(0),
                "status": StudyLogStatus.approved,
            },
            {
                "kind": StudyLogKind.self_study,
                "start_date": date(2024, 2, 1),
                "end_date": date(2024, 2, 1),
                "hours": Decimal(10),
                "days": Decimal(0),
                "status": StudyLogStatus.approved,
            },
        ],
    )
]


async def seed_unit(
    db_session: AsyncSession, cadres: list[CadreSpec]
) -> tuple[OrgUnit, list[tuple[Cadre, list[engine.LogRecord]]]]:
    """A unit with the given cadres and logs, written through the ORM (so the year-sum
    triggers run), and each cadre's logs as the engine sees them."""
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        code=f"P{unit_id.hex[:10]}",
        name="x",
        kind="city",
        path=path_of(None, unit_id),
        depth=0,
        active=True,
    )
    db_session.add(unit)
    await db_session.flush()
    seeded = []
    for rank, promoted_on, specs in cadres:
        cadre = Cadre(
            hr_id=f"H{uuid.uuid4().hex[:12]}",
            name="测试",
            id_number=id_number(date(1980, 1, 1)),
            gender=Gender.male,
            birth_date=date(1980, 1, 1),
            org_unit_id=unit_id,
            rank=rank,
            promoted_on=promoted_on,
            status=CadreStatus.active,
        )
        db_session.add(cadre)
        await db_session.flush()
        records = []
        for spec in specs:
            log = StudyLog(cadre_id=cadre.id, title="t", source=StudyLogSource.manual, **spec)
            db_session.add(log)
            await db_session.flush()
            records.append(engine.LogRecord(id=str(log.id), **spec))
        seeded.append((cadre, records))
    return unit, seeded


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cadres=st.lists(
        st.tuples(
            st.sampled_from(list(Rank)),
            st.none() | st.dates(date(2020, 1, 1), date(2026, 6, 30)),
            st.lists(log_specs(), max_size=12),
        ),
        min_size=1,
        max_size=4,
    ),
    as_of=st.dates(date(2020, 1, 1), date(2026, 12, 31)),
    policy=st.just(CN_2023) | policies(),
)
@example(cadres=DIFFERING_FIGURES, as_of=date(2024, 12, 31), policy=WEIGHTED)
# A day before the stored promotion: no grace runs yet, in SQL as in the engine (review 15/9).
@example(
    cadres=[(Rank.county_division, date(2026, 6, 1), [])], as_of=date(2026, 3, 2), policy=CN_2023
)
async def test_sql_figures_equal_the_engine(
    app: FastAPI,  # configures the ID-number cipher
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    cadres: list[tuple[Rank, date | None, list[dict[str, Any]]]],
    as_of: date,
    policy: Policy,
) -> None:
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit, seeded = await seed_unit(db_session, cadres)
        expected = {
            cadre.id: engine.compliance(records, as_of, cadre.rank, cadre.promoted_on, [policy])
            for cadre, records in seeded
        }
        got = {f.cadre_id: f for f in await cadre_figures(db_session, unit.path, as_of, policy)}
        await savepoint.rollback()
    assert set(got) == set(expected)
    for cadre_id, state in expected.items():
        f = got[cadre_id]
        assert f.five_year_status == state.five_year.status
        assert engine.q2(f.five_year_days) == engine.q2(state.five_year.centralised_days)
        assert engine.q2(f.five_year_hours) == engine.q2(state.five_year.centralised_hours)
        assert f.annual_status == state.annual.status
        assert engine.q2(f.annual_credited_hours) == engine.q2(state.annual.credited_hours)
        assert engine.q2(f.annual_centralised_days) == engine.q2(state.annual.centralised_days)
        assert engine.q2(f.annual_centralised_hours) == engine.q2(state.annual.centralised_hours)
        assert engine.q2(f.annual_counted_hours) == engine.q2(state.annual.counted_hours)
        assert f.online_status == state.online.status
        assert engine.q2(f.online_hours) == engine.q2(state.online.hours)


async def test_roll_up_through_the_tree(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    town = await create_org_unit(client, county["id"], kind="township")
    other = await create_org_unit(client, city["id"], kind="county")
    trained = await create_cadre(client, town["id"], rank="section_member")
    await create_log(
        client,
        trained["id"],
        kind="centralised_training",
        status="approved",
        start_date="2024-04-01",
        end_date="2024-04-12",
        days="12",
        hours="84",
    )
    leader = await create_cadre(
        client, county["id"], rank="county_division", promoted_on="2024-06-01"
    )
    for _ in range(3):
        await create_cadre(client, other["id"], rank="township_section")

    r = await client.get(
        f"{API}/reports/compliance", params={"org_unit_id": city["id"], "year": 2024, "levels": 2}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2024-12-31"
    units = {u["org_unit_id"]: u for u in body["units"]}
    assert set(units) == {city["id"], county["id"], town["id"], other["id"]}
    top = units[city["id"]]
    assert (top["headcount"], top["trained"], top["quota"]) == (5, 1, 1)
    assert top["annual"] == {"met": 1, "in_grace": 0, "not_met": 3, "not_applicable": 1}
    assert top["five_year"] == {"met": 0, "in_grace": 1, "not_met": 0, "not_applicable": 4}
    assert units[county["id"]]["headcount"] == 2
    assert (units[town["id"]]["headcount"], units[town["id"]]["trained"]) == (1, 1)
    assert units[other["id"]]["headcount"] == 3
    del leader

    shallow = await client.get(
        f"{API}/reports/compliance", params={"org_unit_id": city["id"], "year": 2024, "levels": 0}
    )
    assert [u["org_unit_id"] for u in shallow.json()["units"]] == [city["id"]]


async def test_roll_call_order(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    not_met = await create_cadre(client, unit["id"], rank="county_division")
    grace_late = await create_cadre(
        client, unit["id"], rank="county_division", promoted_on="2024-09-01"
    )
    grace_early = await create_cadre(
        client, unit["id"], rank="county_division", promoted_on="2024-03-01"
    )
    near = await create_cadre(client, unit["id"], rank="section_member")
    far = await create_cadre(client, unit["id"], rank="section_member")
    trained = await create_cadre(client, unit["id"], rank="section_member")
    # 80 online hours in 2024 do not count toward the annual rule (docs/rules.md rule 5): near
    # is as far from it as far is, and comes after far only because it was trained in 2023.
    await create_log(
        client,
        near["id"],
        hours="80",
        status="approved",
        start_date="2024-03-01",
        end_date="2024-03-20",
    )
    await create_log(
        client,
        near["id"],
        kind="centralised_training",
        status="approved",
        start_date="2023-03-06",
        end_date="2023-03-10",
        days="5",
        hours="40",
    )
    await create_log(
        client,
        trained["id"],
        kind="centralised_training",
        status="approved",
        start_date="2024-05-06",
        end_date="2024-05-08",
        days="3",
        hours="21",
    )
    r = await client.get(
        f"{API}/reports/roll-call", params={"org_unit_id": unit["id"], "year": 2024}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["active"], body["quota"], body["trained"], body["untrained"]) == (6, 2, 1, 5)
    order = [c["cadre_id"] for c in body["candidates"]]
    assert order == [not_met["id"], grace_early["id"], grace_late["id"], far["id"], near["id"]]
    assert body["candidates"][0]["reason"].startswith("five-year requirement not met")
    assert [c["outstanding"] for c in body["candidates"][3:]] == ["1.00", "1.00"]
    assert body["candidates"][4]["last_centralised_on"] == "2023-03-10"


async def test_roll_call_reasons_are_in_chinese_by_default_and_in_english_on_request(
    client: httpx.AsyncClient,
) -> None:
    """The same roll call in zh-CN (the default: also for a language not served) and in en
    differs only in the words of each reason; the group and requirement codes stay as they are."""
    unit = await create_org_unit(client)
    not_met = await create_cadre(client, unit["id"], rank="county_division")
    in_grace = await create_cadre(
        client, unit["id"], rank="county_division", promoted_on="2024-09-01"
    )
    never = await create_cadre(client, unit["id"], rank="section_member")
    earlier = await create_cadre(client, unit["id"], rank="section_member")
    await create_log(
        client,
        earlier["id"],
        kind="centralised_training",
        status="approved",
        start_date="2023-03-06",
        end_date="2023-03-10",
        days="5",
        hours="40",
    )
    params = {"org_unit_id": unit["id"], "year": 2024}
    answers = {}
    for language in ("en", "zh-CN", "fr"):
        r = await client.get(
            f"{API}/reports/roll-call", params=params, headers={"Accept-Language": language}
        )
        assert r.status_code == 200, r.text
        answers[language] = r.json()
    en, zh = answers["en"], answers["zh-CN"]
    assert answers["fr"] == zh

    def without_reasons(body: dict[str, Any]) -> dict[str, Any]:
        return {
            **body,
            "candidates": [
                {k: v for k, v in c.items() if k != "reason"} for c in body["candidates"]
            ],
        }

    assert without_reasons(zh) == without_reasons(en)
    order = [c["cadre_id"] for c in en["candidates"]]
    assert order == [not_met["id"], in_grace["id"], never["id"], earlier["id"]]
    assert [c["reason"] for c in en["candidates"]] == [
        "five-year requirement not met; 100.00% of the five-year requirement outstanding; "
        "never trained",
        "in grace until 2025-09-01; 100.00% of the five-year requirement outstanding; "
        "never trained",
        "untrained this year; 100.00% of the annual requirement outstanding; never trained",
        "untrained this year; 100.00% of the annual requirement outstanding; "
        "last centralised training ended 2023-03-10",
    ]
    assert [c["reason"] for c in zh["candidates"]] == [
        "五年脱产培训要求未达标；五年脱产培训要求尚差 100.00%；从未参加集中培训",
        "宽限期至 2025-09-01；五年脱产培训要求尚差 100.00%；从未参加集中培训",
        "本年度未参训；年度学习要求尚差 100.00%；从未参加集中培训",
        "本年度未参训；年度学习要求尚差 100.00%；上次集中培训于 2023-03-10 结束",
    ]


async def test_sql_annual_figures_under_a_policy_where_they_all_differ(
    app: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit, _ = await seed_unit(db_session, DIFFERING_FIGURES)
        (figures,) = await cadre_figures(db_session, unit.path, date(2024, 12, 31), WEIGHTED)
        await savepoint.rollback()
    shown = (
        figures.annual_centralised_days,
        figures.annual_centralised_hours,
        figures.annual_counted_hours,
        figures.annual_credited_hours,
    )
    assert tuple(engine.q2(value) for value in shown) == (
        Decimal(5),
        Decimal(40),
        Decimal(90),
        Decimal(100),
    )
    assert figures.annual_status is engine.RequirementStatus.met
    # Under cn-2023 the same cadre counts its 40 centralised hours only.
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit, _ = await seed_unit(db_session, DIFFERING_FIGURES)
        (figures,) = await cadre_figures(db_session, unit.path, date(2024, 12, 31), CN_2023)
        await savepoint.rollback()
    assert (engine.q2(figures.annual_counted_hours), figures.annual_status) == (
        Decimal(40),
        engine.RequirementStatus.not_met,
    )


@pytest.mark.parametrize("path", ["/reports/compliance", "/reports/roll-call"])
async def test_a_future_year_is_refused(client: httpx.AsyncClient, path: str) -> None:
    from app.clock import local_today

    unit = await create_org_unit(client)
    r = await client.get(
        f"{API}{path}", params={"org_unit_id": unit["id"], "year": local_today().year + 1}
    )
    assert r.status_code == 422
    assert r.json()["code"] == "report.future_year"


@pytest.mark.parametrize("path", ["/reports/compliance", "/reports/roll-call"])
async def test_reports_are_scoped(client: httpx.AsyncClient, client_for: Any, path: str) -> None:
    from app.enums import Role

    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county")
    b = await create_org_unit(client, city["id"], kind="county")
    admin_b = await client_for(Role.org_admin, org_unit_id=b["id"])
    assert (await admin_b.get(f"{API}{path}", params={"org_unit_id": a["id"]})).status_code == 404
    assert (await admin_b.get(f"{API}{path}", params={"org_unit_id": b["id"]})).status_code == 200


async def test_year_sums_follow_every_write(client: httpx.AsyncClient, db_conn: Any) -> None:
    """The triggers keep cadre_year_kind equal to a recomputation from the logs, through
    create, approve, void, date change and a log across New Year."""
    from sqlalchemy import text

    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    across = await create_log(
        client,
        cadre["id"],
        kind="centralised_training",
        start_date="2024-12-23",
        end_date="2025-01-05",
        days="10",
        hours="70",
    )

    async def sums() -> dict[tuple[int, str], tuple[str, str, str]]:
        rows = await db_conn.execute(
            text("SELECT year, kind, hours, days, items FROM cadre_year_kind WHERE cadre_id = :c"),
            {"c": cadre["id"]},
        )
        return {
            (y, k): (str(engine.q2(h)), str(engine.q2(d)), str(engine.q2(i)))
            for y, k, h, d, i in rows
            if h or d or i
        }

    assert await sums() == {}  # pending: not counted
    await client.post(f"{API}/study-logs/{across['id']}/approve")
    assert await sums() == {
        (2024, "centralised_training"): ("45.00", "6.43", "0.64"),
        (2025, "centralised_training"): ("25.00", "3.57", "0.36"),
    }
    other = await create_log(
        client,
        cadre["id"],
        hours="6",
        status="approved",
        start_date="2025-03-01",
        end_date="2025-03-01",
    )
    assert (await sums())[(2025, "online_course")] == ("6.00", "0.00", "1.00")
    await client.post(f"{API}/study-logs/{other['id']}/void")
    assert (2025, "online_course") not in await sums()
    await client.post(f"{API}/study-logs/{across['id']}/void")
    assert await sums() == {}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cadres=st.lists(
        st.tuples(
            st.sampled_from(list(Rank)),
            st.none() | st.dates(date(2021, 1, 1), date(2025, 12, 31)),
            st.lists(log_specs(), max_size=6),
        ),
        min_size=1,
        max_size=6,
    ),
    policy=st.just(CN_2023) | policies(),
)
async def test_sql_roll_call_order_equals_the_engine(
    app: FastAPI,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    cadres: list[tuple[Rank, date | None, list[dict[str, Any]]]],
    policy: Policy,
) -> None:
    from app.compliance.repository import roll_call_rows

    as_of = date(2025, 12, 31)
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        unit, seeded = await seed_unit(db_session, cadres)
        candidates = [
            engine.roll_call_candidate(
                str(cadre.id), records, as_of, cadre.rank, cadre.promoted_on, [policy]
            )
            for cadre, records in seeded
            if not engine.trained_in_year(records, as_of.year, [policy])
        ]
        active, trained, rows = await roll_call_rows(db_session, unit.path, as_of, policy, 100)
        await savepoint.rollback()
    expected = [c.cadre_id for c in engine.rank_candidates(candidates)]
    assert [str(r.cadre_id) for r in rows] == expected
    assert (active, active - trained) == (len(cadres), len(candidates))
