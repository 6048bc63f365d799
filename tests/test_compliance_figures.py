"""The compliance read's figures without their derivation (issue 16, lever 2).

The read asks the engine for the figures of `as_of` on the logs those figures count or list
only (the calendar year's, and the five-year window's centralised ones); a property test holds
it equal to the engine on every log of the cadre. The logs behind the figures come with
`?include=derivation`; the default answer carries the figures."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.actor import Actor
from app.compliance import service
from app.credit_policy import engine
from app.credit_policy import service as policy_service
from app.credit_policy.policy import CN_2023
from app.credit_policy.schemas import CreditPolicyCreate, definition_of
from app.enums import Rank, Role, StudyLogKind, StudyLogStatus
from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.scorecard_world import CadreSpec, LogSpec, ProvinceSpec, seed
from tests.test_platform import assert_problem

ADMIN = Actor(user_id=uuid.uuid4(), username="admin", role=Role.admin)
C, ONLINE, SEMINAR = (
    StudyLogKind.centralised_training,
    StudyLogKind.online_course,
    StudyLogKind.seminar,
)


@st.composite
def log_specs(draw: st.DrawFn) -> LogSpec:
    kind = draw(st.sampled_from([C, C, ONLINE, SEMINAR, *StudyLogKind]))
    start = draw(st.dates(date(2016, 1, 1), date(2028, 12, 31)))
    # Mostly short classes; some long enough to cross a year, the window's start or as_of.
    length = draw(st.integers(0, 20) | st.integers(0, 900))
    status = draw(st.sampled_from([StudyLogStatus.approved] * 3 + list(StudyLogStatus)))
    return LogSpec(
        kind,
        start,
        start + timedelta(days=length),
        Decimal(draw(st.integers(0, 60000))) / 100,
        Decimal(draw(st.integers(0, 9000))) / 100,
        status,
    )


@st.composite
def later_policies(draw: st.DrawFn) -> dict[str, Any] | None:
    """None (cn-2023 alone), or a policy from a later day with its own centralised kinds and
    window length, so that the read's narrowing follows the policy in force on `as_of`."""
    if not draw(st.booleans()):
        return None
    kinds = draw(st.sets(st.sampled_from([C, SEMINAR, StudyLogKind.lecture]), min_size=1))
    return {
        **definition_of(CN_2023),
        "code": "later",
        "name": "later",
        "effective_from": draw(st.dates(date(2023, 1, 1), date(2026, 12, 31))).isoformat(),
        "centralised_kinds": sorted(k.value for k in kinds),
        "annual_hours_kinds": sorted(k.value for k in kinds),
        "five_year_years": draw(st.sampled_from([3, 5, 7])),
    }


VOIDED = StudyLogStatus.voided
CROSSING = (
    # Across the window's start of 2026-11-27 and across new year, both before and after as_of.
    LogSpec(C, date(2021, 11, 1), date(2021, 12, 31), Decimal("70.5"), Decimal(10)),
    LogSpec(C, date(2025, 12, 20), date(2026, 1, 9), Decimal(70), Decimal("9.5")),
    LogSpec(C, date(2026, 11, 20), date(2027, 2, 1), Decimal(80), Decimal(30)),
    LogSpec(ONLINE, date(2026, 11, 1), date(2026, 12, 31), Decimal(30), Decimal(0)),
    LogSpec(ONLINE, date(2025, 12, 1), date(2026, 1, 31), Decimal(31), Decimal(0)),
    LogSpec(C, date(2024, 3, 1), date(2024, 5, 1), Decimal(300), Decimal(60), VOIDED),
    LogSpec(StudyLogKind.self_study, date(2019, 6, 1), date(2026, 6, 1), Decimal(90), Decimal(0)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rank=st.sampled_from(list(Rank)),
    promoted_on=st.none() | st.dates(date(2022, 1, 1), date(2027, 12, 31)),
    logs=st.lists(log_specs(), max_size=12).map(tuple),
    as_of=st.dates(date(2021, 1, 1), date(2028, 12, 31)),
    later=later_policies(),
)
@example(
    rank=Rank.county_division, promoted_on=None, logs=CROSSING, as_of=date(2026, 11, 27), later=None
)
@example(
    rank=Rank.township_section,
    promoted_on=date(2026, 3, 1),
    logs=CROSSING,
    as_of=date(2026, 11, 27),
    later={
        **definition_of(CN_2023),
        "code": "later",
        "name": "later",
        "effective_from": "2026-01-01",
        "centralised_kinds": ["seminar"],
        "annual_hours_kinds": ["seminar"],
        "five_year_years": 3,
    },
)
@example(
    rank=Rank.department_bureau,
    promoted_on=None,
    logs=(*CROSSING, LogSpec(C, date(2020, 5, 1), date(2020, 7, 29), Decimal(500), Decimal(90))),
    as_of=date(2026, 11, 27),
    later={
        **definition_of(CN_2023),
        "code": "later",
        "name": "later",
        "effective_from": "2024-01-01",
        "five_year_years": 7,
    },
)
async def test_the_read_equals_the_engine_on_every_log(
    app: FastAPI,  # configures the ID-number cipher
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    rank: Rank,
    promoted_on: date | None,
    logs: tuple[LogSpec, ...],
    as_of: date,
    later: dict[str, Any] | None,
) -> None:
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        if later is not None:
            await policy_service.create_policy(db_session, CreditPolicyCreate.model_validate(later))
        world = await seed(
            db_session,
            ProvinceSpec(parents=(), cadres=(CadreSpec(0, rank, promoted_on, logs=logs),)),
        )
        cadre = world.cadres[0]
        policies = await policy_service.load_policies(db_session)
        read = await service.compliance(db_session, cadre.id, as_of, ADMIN, expiring_days=30)
        await savepoint.rollback()
    full = engine.compliance(world.logs[cadre.id], as_of, rank, promoted_on, policies)
    # The whole answer, derivation included (the same logs behind the same figures)...
    assert read.figures == full
    # ...and so the default answer's figures.
    assert service.without_derivation(read.figures) == service.without_derivation(full)


async def _cadre_with_logs(client: httpx.AsyncClient) -> dict[str, Any]:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="county_division")
    for kind, start, end, days, hours, status in (
        ("centralised_training", "2022-04-11", "2022-06-09", "60", "360", "approved"),
        ("centralised_training", "2024-09-23", "2024-10-12", "20", "130", "pending"),
        ("online_course", "2025-03-01", "2025-03-02", "0", "12", "approved"),
    ):
        await create_log(
            client,
            cadre["id"],
            kind=kind,
            status=status,
            start_date=start,
            end_date=end,
            days=days,
            hours=hours,
        )
    return cadre


async def test_the_default_answer_carries_the_figures_without_their_logs(
    client: httpx.AsyncClient,
) -> None:
    cadre = await _cadre_with_logs(client)
    url = f"{API}/cadres/{cadre['id']}/compliance"
    plain = await client.get(url, params={"as_of": "2025-10-31"})
    full = await client.get(url, params={"as_of": "2025-10-31", "include": "derivation"})
    assert plain.status_code == full.status_code == 200, (plain.text, full.text)
    lean, rich = plain.json(), full.json()
    assert (lean["derivation_included"], rich["derivation_included"]) == (False, True)
    # Without the derivation: no per-log lines, nor the ignored (pending) log.
    assert lean["five_year"]["logs"] == lean["five_year"]["ignored_logs"] == []
    assert lean["online"]["logs"] == []
    # With it: the logs behind each figure.
    assert [line["days"] for line in rich["five_year"]["logs"]] == ["60.00"]
    assert [item["status"] for item in rich["five_year"]["ignored_logs"]] == ["pending"]
    assert [line["raw_hours"] for line in rich["online"]["logs"]] == ["12.00"]
    # The figures, statuses and explanations are the same either way.
    for answer in (lean, rich):
        for block in ("five_year", "online"):
            for key in ("logs", "ignored_logs"):
                answer[block].pop(key, None)
        answer.pop("derivation_included")
    assert lean == rich
    assert lean["five_year"]["centralised_days"] == "60.00"
    assert lean["five_year"]["status"] == "not_met"
    assert lean["online"]["hours"] == "12.00"


async def test_an_unknown_include_is_a_problem(client: httpx.AsyncClient) -> None:
    cadre = await _cadre_with_logs(client)
    r = await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"include": "logs"})
    assert_problem(r, 422, "validation_failed")


async def test_the_promotion_check_keeps_its_derivation(client: httpx.AsyncClient) -> None:
    cadre = await _cadre_with_logs(client)
    r = await client.get(
        f"{API}/cadres/{cadre['id']}/promotion-check",
        params={"target_rank": "department_bureau", "post_type": "leading", "on": "2025-10-31"},
    )
    assert r.status_code == 200, r.text
    assert [line["days"] for line in r.json()["five_year"]["logs"]] == ["60.00"]


async def test_policies_are_parsed_once_per_set_in_force(
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with isolated_sessionmaker() as db_session:
        savepoint = await db_session.begin_nested()
        first = await policy_service.load_policies(db_session)
        # The same parsed tuple while nothing changed: not parsed again.
        assert await policy_service.load_policies(db_session) is first
        body = {
            **definition_of(CN_2023),
            "code": "from-2030",
            "name": "x",
            "effective_from": "2030-01-01",
        }
        await policy_service.create_policy(db_session, CreditPolicyCreate.model_validate(body))
        # The process that created it drops its copy at once...
        assert policy_service._parsed is None
        after = await policy_service.load_policies(db_session)
        assert [p.code for p in after] == ["cn-2023", "from-2030"]
        await savepoint.rollback()
        # ...and a rolled-back policy is never served: the next check sees the set change.
        assert [p.code for p in await policy_service.load_policies(db_session)] == ["cn-2023"]
