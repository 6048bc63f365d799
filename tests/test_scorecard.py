"""The unit scorecard over HTTP (docs/rules.md, "Unit scorecard"): targets, the ranking with
shared ranks, the freeze at year end, the XLSX workbook read back, and who may see it."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from openpyxl import load_workbook
from openpyxl.chart import BarChart
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent
from app.clock import pinned
from app.enums import Rank, Role, StudyLogKind, StudyLogSource, StudyLogStatus
from app.scorecard import repository, service
from app.scorecard.models import UnitScorecardSnapshot
from app.study_log.models import StudyLog
from tests.conftest import ClientFor
from tests.factories import API
from tests.scorecard_world import CadreSpec, LogSpec, ProvinceSpec, World, seed
from tests.test_platform import assert_problem

YEAR = 2025
TRAINED = LogSpec(
    StudyLogKind.centralised_training, date(YEAR, 3, 2), date(YEAR, 3, 13), Decimal(90), Decimal(12)
)
ONLINE = LogSpec(
    StudyLogKind.online_course, date(YEAR, 4, 1), date(YEAR, 4, 30), Decimal(50), Decimal(0)
)
# Four counties: A trained and online (1), B and C trained only (2/3 each: they share rank 2),
# D nothing (rank 4). Five-year, evaluation and plan have no denominator: left out.
PROVINCE = ProvinceSpec(
    parents=(0, 0, 0, 0),
    cadres=(
        CadreSpec(1, Rank.section_member, logs=(TRAINED, ONLINE)),
        CadreSpec(2, Rank.section_member, logs=(TRAINED,)),
        CadreSpec(3, Rank.section_member, logs=(TRAINED,)),
        CadreSpec(4, Rank.section_member),
    ),
)
WEIGHTS = {i: {"weight": 1} for i in ("roll_call", "five_year", "annual", "evaluation", "plan")}


async def province(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    async with sessionmaker() as db_session:
        world = await seed(db_session, PROVINCE)
        await db_session.commit()
    return world


def by_unit(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["org_unit_id"]: u for u in body["units"]}


def indicator(unit: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [i for i in unit["indicators"] if i["indicator"] == name]
    assert isinstance(found, dict)
    return found


async def test_children_scored_and_ranked_with_shared_ranks(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    world = await province(isolated_sessionmaker)
    root, a, b, c, d = (str(u.id) for u in world.units)
    params: dict[str, str | int] = {"org_unit_id": root, "year": YEAR}
    with pinned(date(YEAR, 12, 31)):
        r = await client.get(f"{API}/reports/unit-scorecard", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["frozen"], body["frozen_at"], body["as_of"]) == (False, None, "2025-12-31")
    assert body["weights_source"] == "equal"
    assert {w["weight"] for w in body["weights"]} == {1}
    assert body["units"][0]["org_unit_id"] == a
    units = by_unit(body)
    assert [(units[x]["score"], units[x]["rank"]) for x in (a, b, c, d)] == [
        ("1.0000", 1),
        ("0.6667", 2),
        ("0.6667", 2),
        ("0.0000", 4),
    ]
    assert indicator(units[a], "roll_call") == {
        "indicator": "roll_call",
        "numerator": 1,
        "denominator": 1,
        "rate": "1.0000",
        "rank": 1,
        "target_met": None,
    }
    assert indicator(units[d], "annual")["rate"] == "0.0000"
    assert indicator(units[d], "annual")["rank"] == 4
    for name in ("five_year", "evaluation", "plan"):
        assert indicator(units[a], name) == {
            "indicator": name,
            "numerator": 0,
            "denominator": 0,
            "rate": None,
            "rank": None,
            "target_met": None,
        }

    # The unit's target: online weighs nothing, so B and C score as A does.
    target = {**WEIGHTS, "online": {"weight": 0}, "annual": {"weight": 1, "target_percent": 80}}
    put = await client.put(f"{API}/org-units/{root}/targets/{YEAR}", json=target)
    assert put.status_code == 200, put.text
    with pinned(date(YEAR, 12, 31)):
        body = (await client.get(f"{API}/reports/unit-scorecard", params=params)).json()
    assert body["weights_source"] == "unit_target"
    units = by_unit(body)
    assert [(units[x]["score"], units[x]["rank"]) for x in (a, b, c, d)] == [
        ("1.0000", 1),
        ("1.0000", 1),
        ("1.0000", 1),
        ("0.0000", 4),
    ]
    assert indicator(units[a], "annual")["target_met"] is True
    assert indicator(units[d], "annual")["target_met"] is False


async def test_a_past_year_is_frozen_at_its_first_read(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    world = await province(isolated_sessionmaker)
    root, _, _, c, _ = world.units
    params: dict[str, str | int] = {"org_unit_id": str(root.id), "year": YEAR}
    with pinned(date(YEAR + 1, 1, 5)):
        first = await client.get(f"{API}/reports/unit-scorecard", params=params)
        assert first.status_code == 200, first.text
        assert first.json()["frozen"] is True
        assert first.json()["frozen_at"] is not None
        # Later records of that year, and a new target, do not move it.
        async with isolated_sessionmaker() as db_session:
            db_session.add(
                StudyLog(
                    cadre_id=world.cadres[2].id,
                    title="late",
                    source=StudyLogSource.manual,
                    kind=StudyLogKind.online_course,
                    start_date=date(YEAR, 5, 1),
                    end_date=date(YEAR, 5, 1),
                    hours=Decimal(50),
                    days=Decimal(0),
                    status=StudyLogStatus.approved,
                )
            )
            await db_session.commit()
        target = {**WEIGHTS, "online": {"weight": 0}}
        assert (
            await client.put(f"{API}/org-units/{root.id}/targets/{YEAR}", json=target)
        ).status_code == 200
        again = await client.get(f"{API}/reports/unit-scorecard", params=params)
        async with isolated_sessionmaker() as db_session:
            live = await service.live_scorecard(db_session, root, YEAR)
            snapshots = await db_session.scalar(
                select(func.count()).where(UnitScorecardSnapshot.org_unit_id == root.id)
            )
            audited = await db_session.scalar(
                select(func.count()).where(
                    AuditEvent.entity_type == "unit_scorecard_snapshot",
                    AuditEvent.action == "create",
                )
            )
    assert again.json() == first.json()
    assert snapshots == 1
    assert audited
    # ...while the figures computed now have moved (C is online now, and online weighs 0).
    assert live.weights_source == "unit_target"
    assert by_unit(live.model_dump(mode="json"))[str(c.id)]["score"] == "1.0000"
    assert by_unit(again.json())[str(c.id)]["score"] == "0.6667"


async def test_the_cli_freeze_stores_every_parent_once(
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with isolated_sessionmaker() as db_session:
        world = await seed(db_session, PROVINCE)
        with pinned(date(YEAR + 1, 1, 5)):
            stored = list(await service.freeze_all(db_session, YEAR))
            again = list(await service.freeze_all(db_session, YEAR))
    mine = [s for s in stored if s.org_unit_id == world.units[0].id]
    assert len(mine) == 1
    assert mine[0].scorecard["frozen"] is True
    assert [s.id for s in again if s.org_unit_id == world.units[0].id] == [mine[0].id]


async def test_the_workbook_reads_back_as_the_json(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    world = await province(isolated_sessionmaker)
    params: dict[str, str | int] = {"org_unit_id": str(world.units[0].id), "year": YEAR}
    with pinned(date(YEAR, 12, 31)):
        body = (await client.get(f"{API}/reports/unit-scorecard", params=params)).json()
        r = await client.get(f"{API}/reports/unit-scorecard.xlsx", params=params)
        en = await client.get(f"{API}/reports/unit-scorecard.xlsx", params={**params, "lang": "en"})
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == "zh-CN"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == [
        "排名",
        "点名调学完成率",
        "五年达标率",
        "年度达标率",
        "网络学习达标率",
        "评估参与率",
        "计划完成率",
    ]
    ranking = book["排名"]
    rows = list(ranking.iter_rows(values_only=True))
    assert rows[0] == ("排名", "单位代码", "单位", "加权得分")
    assert [(row[0], row[1], Decimal(str(row[3]))) for row in rows[1:]] == [
        (u["rank"], u["code"], Decimal(u["score"])) for u in body["units"]
    ]
    assert isinstance(rows[1][3], int | float)  # a number, not text
    assert ranking["D2"].number_format == "0.0000"
    (chart,) = ranking._charts
    assert isinstance(chart, BarChart)
    (series,) = chart.series
    assert series.val.numRef.f == f"'排名'!$D$2:$D${len(body['units']) + 1}"
    sheets = dict(zip([w["indicator"] for w in body["weights"]], book.sheetnames[1:], strict=True))
    for name, title in sheets.items():
        rows = list(book[title].iter_rows(values_only=True))
        assert rows[0] == ("单位代码", "单位", "分子", "分母", "比率", "排名")
        expected = []
        for u in body["units"]:
            i = indicator(u, name)
            rate = Decimal(i["rate"]) if i["rate"] is not None else None
            expected.append((u["code"], i["numerator"], i["denominator"], rate, i["rank"]))
        got = [
            (
                row[0],
                row[2],
                row[3],
                None if row[4] is None else Decimal(str(row[4])),
                row[5],
            )
            for row in rows[1:]
        ]
        assert got == expected, name
    english = load_workbook(io.BytesIO(en.content))
    assert english.sheetnames[:2] == ["Ranking", "Roll-call fulfilment"]
    assert en.headers["content-language"] == "en"


async def test_targets_are_checked_and_kept(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    root = (
        await client.post(f"{API}/org-units", json={"code": "SC-R", "name": "市", "kind": "city"})
    ).json()
    url = f"{API}/org-units/{root['id']}/targets/{YEAR}"
    assert_problem(await client.get(url), 404, "scorecard.target_not_found")
    zero = {
        i: {"weight": 0}
        for i in ("roll_call", "five_year", "annual", "online", "evaluation", "plan")
    }
    assert_problem(await client.put(url, json=zero), 422, "scorecard.no_weight")
    too_heavy = {**zero, "plan": {"weight": 101}}
    assert_problem(await client.put(url, json=too_heavy), 422, "validation_failed")
    body = {**zero, "plan": {"weight": 3.0, "target_percent": "75.5"}, "annual": {"weight": 1}}
    put = await client.put(url, json=body)
    assert put.status_code == 200, put.text
    assert put.json()["plan"] == {"weight": 3, "target_percent": "75.50"}
    assert put.headers["etag"] == f'"{put.json()["version"]}"'
    got = await client.get(url)
    assert got.json() == put.json()
    stale = await client.put(url, json=body, headers={"If-Match": '"999"'})
    assert_problem(stale, 412, "precondition_failed")
    hr = await client_for(Role.hr_system)
    assert (await hr.put(url, json=body)).status_code == 403


async def test_who_may_read_the_scorecard(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await province(isolated_sessionmaker)
    root, a = world.units[0], world.units[1]
    params: dict[str, str | int] = {"org_unit_id": str(root.id), "year": YEAR}
    url = f"{API}/reports/unit-scorecard"
    with pinned(date(YEAR, 12, 31)):
        own = await client_for(Role.org_admin, org_unit_id=root.id)
        assert (await own.get(url, params=params)).status_code == 200
        auditor = await client_for(Role.auditor)
        assert (await auditor.get(url, params=params)).status_code == 200
        child_admin = await client_for(Role.org_admin, org_unit_id=a.id)
        assert_problem(await child_admin.get(url, params=params), 404, "org_unit.not_found")
        assert (await child_admin.get(url, params={**params, "org_unit_id": str(a.id)})).json()[
            "units"
        ] == []
        hr = await client_for(Role.hr_system)
        assert (await hr.get(url, params=params)).status_code == 403
        assert_problem(
            await client.get(url, params={**params, "year": YEAR + 1}), 422, "report.future_year"
        )
        child_put = await child_admin.put(
            f"{API}/org-units/{root.id}/targets/{YEAR}", json={**WEIGHTS, "online": {"weight": 1}}
        )
        assert_problem(child_put, 404, "org_unit.not_found")


async def test_the_first_snapshot_stored_wins(
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two first reads at once: the second insert finds the first and answers it."""
    async with isolated_sessionmaker() as db_session:
        world = await seed(db_session, ProvinceSpec(parents=(0,)))
        unit_id = world.units[0].id
        at = datetime(2026, 1, 5, tzinfo=UTC)
        first = await repository.store_snapshot(db_session, unit_id, YEAR, at, {"n": 1})
        second = await repository.store_snapshot(db_session, unit_id, YEAR, at, {"n": 2})
        assert second.id == first.id
        assert second.scorecard == {"n": 1}
        await db_session.rollback()
