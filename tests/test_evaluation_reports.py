"""Rule 14 (docs/rules.md), the reports: the SQL figures equal the pure rules on the same rows,
small groups and open evaluations show no figures, the scope of the reports and the comments,
and the teacher review flag across sessions."""

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import pinned
from app.enums import EvaluationStatus, EvaluationSubject, Role
from app.evaluation import reports, repository, rules, service
from app.evaluation.models import (
    EvaluationAnswer,
    EvaluationComment,
    EvaluationForm,
    EvaluationIndicator,
    SessionEvaluation,
)
from app.ids import new_id
from app.training_session.models import TrainingSession
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem

S, C, T = EvaluationSubject.session, EvaluationSubject.course, EvaluationSubject.teacher
Spec = dict[EvaluationSubject, list[tuple[str, str]]]  # subject → [(code, weight)], in order


@dataclass(frozen=True)
class Form:
    id: uuid.UUID
    indicators: dict[EvaluationSubject, list[rules.Indicator]]


async def _form(db: AsyncSession, org_unit_id: str, spec: Spec) -> Form:
    form_id = new_id()
    db.add(
        EvaluationForm(
            id=form_id,
            org_unit_id=uuid.UUID(org_unit_id),
            name=f"评课表 {form_id.hex[-6:]}",
            lineage_id=form_id,
            revision=1,
            allow_comments=True,
        )
    )
    await db.flush()
    created = await db.scalar(select(EvaluationForm.created_at).where(EvaluationForm.id == form_id))
    assert created is not None
    indicators: dict[EvaluationSubject, list[rules.Indicator]] = {}
    for subject, listed in spec.items():
        indicators[subject] = []
        for position, (code, weight) in enumerate(listed, 1):
            label = f"{code} {form_id.hex[-6:]}"
            db.add(
                EvaluationIndicator(
                    form_id=form_id,
                    subject=subject,
                    position=position,
                    code=code,
                    label=label,
                    weight=Decimal(weight),
                )
            )
            indicators[subject].append(
                rules.Indicator(form_id, position, code, label, Decimal(weight), (created, form_id))
            )
    await db.flush()
    return Form(form_id, indicators)


async def _attach(
    db: AsyncSession,
    session_id: str,
    form: Form,
    *,
    closed: bool = True,
    opens_on: str | None = None,
) -> None:
    db.add(
        SessionEvaluation(
            training_session_id=uuid.UUID(session_id),
            form_id=form.id,
            opens_on=dt.date.fromisoformat(opens_on) if opens_on else None,
            open_days=14,
            closed=closed,
        )
    )
    await db.flush()


def _add_answers(
    db: AsyncSession,
    session_id: str,
    form: Form,
    subject: EvaluationSubject,
    subject_id: Any,
    rows: Sequence[Sequence[int]],
) -> None:
    db.add_all(
        EvaluationAnswer(
            training_session_id=uuid.UUID(session_id),
            form_id=form.id,
            subject=subject,
            subject_id=uuid.UUID(str(subject_id)),
            scores=list(scores),
        )
        for scores in rows
    )


def _weight(rng: random.Random) -> str:
    return str(Decimal(rng.randint(1, 10_000)) / 100)  # 0.01 … 100.00


async def test_sql_figures_equal_the_pure_rules(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Generated forms (random weights; codes shared between forms at other positions) and
    answers, with a fixed seed: each group's SQL sums give the figures that the row-by-row
    rules give, for every group of one session and for teachers across sessions."""
    rng = random.Random(20261130)
    unit = await create_org_unit(client)
    teachers = [uuid.uuid4() for _ in range(4)]
    pool = ["content", "delivery", "pace", "material", "org"]
    async with isolated_sessionmaker() as db:
        forms = [
            await _form(
                db,
                unit["id"],
                {
                    subject: [(code, _weight(rng)) for code in rng.sample(pool, rng.randint(1, 4))]
                    for subject in (S, T)
                },
            )
            for _ in range(3)
        ]
        rows: dict[tuple[object, ...], list[rules.AnswerRow]] = defaultdict(list)
        cells: dict[tuple[object, ...], list[rules.AnswerRow]] = {}
        ours = []
        for n in range(6):
            ts = await create_session(client, unit["id"], title=f"班次 {n}")
            ours.append(uuid.UUID(ts["id"]))
            form = rng.choice(forms)
            await _attach(db, ts["id"], form)
            for subject, subject_ids in ((S, [ts["id"]]), (T, rng.sample(teachers, 2))):
                for subject_id in subject_ids:
                    answered = [
                        tuple(rng.randint(1, 5) for _ in form.indicators[subject])
                        for _ in range(rng.randint(0, 9))
                    ]
                    _add_answers(db, ts["id"], form, subject, subject_id, answered)
                    rows[(subject, uuid.UUID(str(subject_id)))] += [
                        rules.AnswerRow(form.id, scores) for scores in answered
                    ]
                    cells[(subject, uuid.UUID(str(subject_id)), ts["id"])] = [
                        rules.AnswerRow(form.id, scores) for scores in answered
                    ]
        await db.flush()

        def indicators(subject: EvaluationSubject) -> list[rules.Indicator]:
            return [i for form in forms for i in form.indicators[subject]]

        def check(got: rules.GroupTally, expected: rules.GroupTally, key: object) -> None:
            assert (got.answers, got.score_sum, got.satisfied) == (
                expected.answers,
                expected.score_sum,
                expected.satisfied,
            ), key
            assert sorted(got.indicators, key=lambda t: t.code) == sorted(
                expected.indicators, key=lambda t: t.code
            ), key
            for minimum in (1, 5):
                assert rules.figures(got, minimum) == rules.figures(expected, minimum), key

        sums, codes = await repository.tallies(
            db,
            [EvaluationAnswer.subject, EvaluationAnswer.subject_id],
            [EvaluationAnswer.training_session_id.in_(ours)],
        )
        assert {s.key for s in sums} == {k for k, v in rows.items() if v}
        for key, listed in rows.items():
            got = reports.group_tally(
                [s for s in sums if s.key == key], [c for c in codes if c.key == key]
            )
            check(got, rules.tally(listed, indicators(EvaluationSubject(str(key[0])))), key)

        sums, codes = await repository.tallies(
            db,
            [EvaluationAnswer.subject_id],
            [EvaluationAnswer.training_session_id.in_(ours), EvaluationAnswer.subject == T],
        )
        for teacher in teachers:
            theirs = rows.get((T, teacher), [])
            got = reports.group_tally(
                [s for s in sums if s.key == (teacher,)], [c for c in codes if c.key == (teacher,)]
            )
            check(got, rules.tally(theirs, indicators(T)), teacher)
        assert sum(s.answers for s in sums) == sum(len(rows[k]) for k in rows if k[0] == T)

        # Across sessions, only the cells (session, teacher) that show figures on their own.
        sums, codes = await repository.tallies(
            db,
            [EvaluationAnswer.subject_id],
            [EvaluationAnswer.training_session_id.in_(ours), EvaluationAnswer.subject == T],
            cell_minimum=5,
        )
        for teacher in teachers:
            shown = [
                row
                for (subject, subject_id, _), listed in cells.items()
                if subject == T and subject_id == teacher and len(listed) >= 5
                for row in listed
            ]
            got = reports.group_tally(
                [s for s in sums if s.key == (teacher,)], [c for c in codes if c.key == (teacher,)]
            )
            check(got, rules.tally(shown, indicators(T)), teacher)
        assert 0 < sum(s.answers for s in sums) < sum(len(rows[k]) for k in rows if k[0] == T)


WORKED_SPEC: Spec = {
    S: [("content", "3"), ("delivery", "2"), ("org", "1")],
    T: [("delivery", "1")],
}
WORKED_ROWS = [(5, 4, 3), (3, 3, 3), (4, 4, 4), (5, 5, 5), (4, 3, 5)]


async def _teacher(client: httpx.AsyncClient, unit: dict[str, Any], name: str) -> dict[str, Any]:
    r = await client.post(
        f"{API}/teachers", json={"org_unit_id": unit["id"], "name": name, "kind": "internal"}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _worked_session(
    client: httpx.AsyncClient,
    db: AsyncSession,
    unit: dict[str, Any],
    teacher: dict[str, Any],
    **attach: Any,
) -> dict[str, Any]:
    """A session rated by the worked example's five answers; its teacher by four."""
    ts = await create_session(client, unit["id"])
    form = await _form(db, unit["id"], WORKED_SPEC)
    await _attach(db, ts["id"], form, **attach)
    _add_answers(db, ts["id"], form, S, ts["id"], WORKED_ROWS)
    _add_answers(db, ts["id"], form, T, teacher["id"], [(2,), (3,), (4,), (5,)])
    db.add_all(
        EvaluationComment(
            training_session_id=uuid.UUID(ts["id"]), subject=subject, subject_id=sid, body=body
        )
        for subject, sid, body in (
            (S, uuid.UUID(ts["id"]), "课程安排紧凑"),
            (S, uuid.UUID(ts["id"]), "案例很好"),
            (T, uuid.UUID(teacher["id"]), "讲得太快"),
        )
    )
    await db.commit()
    return ts


def _groups(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["subject"]: g for g in body["groups"]}


async def test_the_report_shows_figures_for_large_enough_groups_of_a_closed_evaluation(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    unit = await create_org_unit(client)
    teacher = await _teacher(client, unit, "周老师")
    async with isolated_sessionmaker() as db:
        ts = await _worked_session(client, db, unit, teacher)
    r = await client.get(f"{API}/training-sessions/{ts['id']}/evaluation/report")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["min_answers"]) == ("closed", 5)
    groups = _groups(body)
    # The worked example of docs/rules.md rule 14.
    assert groups["session"] == {
        "subject": "session",
        "subject_id": ts["id"],
        "label": ts["title"],
        "answers": 5,
        "figures": {
            "weighted_score": "4.03",
            "satisfaction_rate": "0.6000",
            "indicators": [
                {
                    "code": "content",
                    "label": groups["session"]["figures"]["indicators"][0]["label"],
                    "answers": 5,
                    "mean": "4.20",
                },
                {
                    "code": "delivery",
                    "label": groups["session"]["figures"]["indicators"][1]["label"],
                    "answers": 5,
                    "mean": "3.80",
                },
                {
                    "code": "org",
                    "label": groups["session"]["figures"]["indicators"][2]["label"],
                    "answers": 5,
                    "mean": "4.00",
                },
            ],
        },
        "withheld": None,
    }
    # Four answers rated the teacher: a count, no figures.
    assert groups["teacher"] == {
        "subject": "teacher",
        "subject_id": teacher["id"],
        "label": "周老师",
        "answers": 4,
        "figures": None,
        "withheld": "too_few_answers",
    }


async def test_an_open_evaluation_shows_counts_but_no_figures(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    unit = await create_org_unit(client)
    teacher = await _teacher(client, unit, "周老师")
    async with isolated_sessionmaker() as db:
        # Opened early on the first day; the session runs 2025-03-03 … 2025-03-07.
        ts = await _worked_session(client, db, unit, teacher, closed=False, opens_on="2025-03-03")
    with pinned(dt.date(2025, 3, 7)):
        report = (await client.get(f"{API}/training-sessions/{ts['id']}/evaluation/report")).json()
        comments = (
            await client.get(f"{API}/training-sessions/{ts['id']}/evaluation/comments")
        ).json()
        grouped = (await client.get(f"{API}/reports/evaluations")).json()
    assert report["status"] == "open"
    # Only the session's count (the trainees who answered): a count per course or teacher,
    # polled beside the audited "has answered" marker, would tell which subjects one rated.
    # The teacher is not one the session names (no parts, no courses): only the answers name
    # it, so while open it is not listed at all.
    assert [
        (g["subject"], g["answers"], g["figures"], g["withheld"]) for g in report["groups"]
    ] == [("session", 5, None, "not_closed")]
    assert [(g["comments"], g["withheld"]) for g in comments["groups"]] == [([], "not_closed")]
    assert ts["id"] not in [g["key"] for g in grouped["groups"]]
    # 14 days from 2025-03-03: open through 2025-03-16, closed from the 17th.
    with pinned(dt.date(2025, 3, 17)):
        report = (await client.get(f"{API}/training-sessions/{ts['id']}/evaluation/report")).json()
        grouped = (await client.get(f"{API}/reports/evaluations")).json()
    assert report["status"] == "closed"
    assert _groups(report)["session"]["figures"]["weighted_score"] == "4.03"
    assert [(g["key"], g["answers"]) for g in grouped["groups"] if g["key"] == ts["id"]] == [
        (ts["id"], 5)
    ]


async def test_only_the_organisers_admins_and_auditors_read_figures(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    unit = await create_org_unit(client)
    sibling = await create_org_unit(client)
    teacher = await _teacher(client, unit, "周老师")
    async with isolated_sessionmaker() as db:
        ts = await _worked_session(client, db, unit, teacher)
    report = f"{API}/training-sessions/{ts['id']}/evaluation/report"
    comments = f"{API}/training-sessions/{ts['id']}/evaluation/comments"

    organiser = await client_for(Role.org_admin, org_unit_id=unit["id"])
    auditor = await client_for(Role.auditor)
    for reader in (organiser, auditor, client):
        assert (await reader.get(report)).status_code == 200
        r = await reader.get(f"{API}/reports/evaluations", params={"group_by": "session"})
        assert ts["id"] in [g["key"] for g in r.json()["groups"]]

    stranger = await client_for(Role.org_admin, org_unit_id=sibling["id"])
    assert_problem(await stranger.get(report), 404, "training_session.not_found")
    assert_problem(await stranger.get(comments), 404, "training_session.not_found")
    r = await stranger.get(f"{API}/reports/evaluations", params={"group_by": "session"})
    assert r.status_code == 200
    assert r.json()["groups"] == []
    r = await stranger.get(f"{API}/reports/teacher-reviews")
    assert r.status_code == 200
    assert r.json()["teachers"] == []
    r = await stranger.get(f"{API}/reports/evaluations", params={"org_unit_id": unit["id"]})
    assert_problem(r, 404, "org_unit.not_found")

    trainee = await create_cadre(client, unit["id"])
    cadre = await client_for(Role.cadre, cadre_id=trainee["id"])
    hr = await client_for(Role.hr_system)
    for refused in (cadre, hr):
        for path in (
            report,
            comments,
            f"{API}/reports/evaluations",
            f"{API}/reports/teacher-reviews",
        ):
            assert_problem(await refused.get(path), 403, "forbidden")
    # Comments: the organisers and the admins, not the auditors.
    assert_problem(await auditor.get(comments), 403, "forbidden")

    other = await create_session(client, unit["id"])
    assert_problem(
        await client.get(f"{API}/training-sessions/{other['id']}/evaluation/report"),
        404,
        "evaluation.not_found",
    )


async def test_comments_show_only_where_figures_would(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    unit = await create_org_unit(client)
    teacher = await _teacher(client, unit, "周老师")
    async with isolated_sessionmaker() as db:
        ts = await _worked_session(client, db, unit, teacher)
    organiser = await client_for(Role.org_admin, org_unit_id=unit["id"])
    r = await organiser.get(f"{API}/training-sessions/{ts['id']}/evaluation/comments")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "training_session_id": ts["id"],
        "status": "closed",
        "groups": [
            {
                "subject": "session",
                "subject_id": ts["id"],
                "label": ts["title"],
                # Sorted by text (Unicode code points), not as stored; no figures beside them.
                "comments": sorted(["课程安排紧凑", "案例很好"]),
                "withheld": None,
            },
            {
                "subject": "teacher",
                "subject_id": teacher["id"],
                "label": "周老师",
                "comments": [],
                "withheld": "too_few_answers",
            },
        ],
    }


async def test_teachers_below_the_threshold_in_their_latest_sessions_are_flagged(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """APP_EVALUATION__REVIEW_BELOW 3.50, REVIEW_SESSIONS 3. 王 scores 4.00, 3.40, [4 answers:
    no figures], 3.00, 3.20 in end-date order: flagged with the last three scored sessions.
    李 scores 3.00, 3.50, 3.00: 3.50 is not below, not flagged. 赵 has two sessions only."""
    unit = await create_org_unit(client)
    wang = await _teacher(client, unit, "王老师")
    li = await _teacher(client, unit, "李老师")
    zhao = await _teacher(client, unit, "赵老师")
    plan: list[tuple[str, dict[str, Any], list[tuple[int, ...]]]] = [
        ("2025-01-06", wang, [(4,)] * 5),
        ("2025-02-03", wang, [(3,), (4,), (3,), (4,), (3,)]),  # 17/5 = 3.40
        ("2025-03-03", wang, [(1,)] * 4),  # 4 answers: no figures, skipped
        ("2025-04-07", wang, [(3,)] * 5),
        ("2025-05-05", wang, [(3,), (3,), (3,), (4,), (3,)]),  # 16/5 = 3.20
        ("2025-01-06", li, [(3,)] * 5),
        ("2025-02-03", li, [(3,), (4,), (3,), (4,), (3,), (4,)]),  # 21/6 = 3.50
        ("2025-03-03", li, [(3,)] * 6),
        ("2025-01-06", zhao, [(1,)] * 5),
        ("2025-02-03", zhao, [(1,)] * 5),
    ]
    sessions: dict[str, str] = {}
    async with isolated_sessionmaker() as db:
        form = await _form(db, unit["id"], WORKED_SPEC)
        for monday, teacher, rows in plan:
            if monday not in sessions:
                start = dt.date.fromisoformat(monday)
                ts = await create_session(
                    client,
                    unit["id"],
                    title=f"{monday} 班",
                    start_date=monday,
                    end_date=str(start + dt.timedelta(days=4)),
                )
                sessions[monday] = ts["id"]
                await _attach(db, ts["id"], form)
            _add_answers(db, sessions[monday], form, T, teacher["id"], rows)
        # A later session of 李's with an open evaluation: no figures yet, so not counted.
        late = await create_session(
            client, unit["id"], start_date="2025-06-02", end_date="2025-06-06"
        )
        await _attach(db, late["id"], form, closed=False, opens_on="2025-06-02")
        _add_answers(db, late["id"], form, T, li["id"], [(1,)] * 5)
        await db.commit()

    with pinned(dt.date(2025, 6, 6)):
        r = await client.get(f"{API}/reports/teacher-reviews", params={"org_unit_id": unit["id"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["review_below"], body["review_sessions"], body["min_answers"]) == ("3.50", 3, 5)
    assert [t["name"] for t in body["teachers"]] == ["王老师"]
    assert [
        (s["training_session_id"], s["end_date"], s["answers"], s["weighted_score"])
        for s in body["teachers"][0]["sessions"]
    ] == [
        (sessions["2025-02-03"], "2025-02-07", 5, "3.40"),
        (sessions["2025-04-07"], "2025-04-11", 5, "3.00"),
        (sessions["2025-05-05"], "2025-05-09", 5, "3.20"),
    ]
    # Grouped by teacher, across sessions: only the sessions that show figures for the teacher
    # themselves. 王's session of 4 answers is left out: were it counted, the report read before
    # and after that evaluation closed would tell those 4 answers' scores.
    with pinned(dt.date(2025, 6, 6)):
        r = await client.get(
            f"{API}/reports/evaluations",
            params={"group_by": "teacher", "org_unit_id": unit["id"]},
        )
    by_teacher = {g["label"]: g for g in r.json()["groups"]}
    assert (by_teacher["王老师"]["sessions"], by_teacher["王老师"]["answers"]) == (4, 20)
    # 4×5 + 17 + 3×5 + 16 = 68 over 20 answers = 3.40; satisfied: 5 + 2 + 1 = 8/20.
    assert by_teacher["王老师"]["figures"]["weighted_score"] == "3.40"
    assert by_teacher["王老师"]["figures"]["satisfaction_rate"] == "0.4000"
    # 李's open evaluation is not read either.
    assert (by_teacher["李老师"]["sessions"], by_teacher["李老师"]["answers"]) == (3, 17)


async def test_grouped_by_provider_and_year(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    unit = await create_org_unit(client)
    teacher = await _teacher(client, unit, "周老师")
    async with isolated_sessionmaker() as db:
        ts = await _worked_session(client, db, unit, teacher)
        form = await _form(db, unit["id"], WORKED_SPEC)
        bare = await create_session(client, unit["id"], provider=None)
        await _attach(db, bare["id"], form)
        _add_answers(db, bare["id"], form, S, bare["id"], [(5, 5, 5)] * 5)
        # Three answers: this session shows no figures, and adds nothing to any group.
        small = await create_session(client, unit["id"])
        await _attach(db, small["id"], form)
        _add_answers(db, small["id"], form, S, small["id"], [(1, 1, 1)] * 3)
        await db.commit()
    params = {"org_unit_id": unit["id"]}
    r = await client.get(f"{API}/reports/evaluations", params={**params, "group_by": "provider"})
    # By label: "Sessions without a provider" (English here) before "滁州市委党校".
    assert [(g["key"], g["sessions"], g["answers"]) for g in r.json()["groups"]] == [
        (None, 1, 5),
        (ts["provider"], 1, 5),
    ]
    assert r.json()["groups"][0]["label"] == "Sessions without a provider"
    r = await client.get(f"{API}/reports/evaluations", params={**params, "group_by": "year"})
    [year] = r.json()["groups"]
    # The worked example's 5 answers and 5 of 5.00: 121/6 + 25 = 271/6 over 10 = 4.5166… → 4.52;
    # satisfied 3 + 5 = 8/10.
    assert (year["key"], year["label"], year["sessions"], year["answers"]) == (
        "2025",
        "2025",
        2,
        10,
    )
    assert year["figures"]["weighted_score"] == "4.52"
    assert year["figures"]["satisfaction_rate"] == "0.8000"
    r = await client.get(f"{API}/reports/evaluations", params={**params, "year": 2024})
    assert r.json()["groups"] == []
    r = await client.get(f"{API}/reports/evaluations", params={**params, "limit": 1})
    assert (len(r.json()["groups"]), r.json()["truncated"]) == (1, True)
    r = await client.get(
        f"{API}/reports/evaluations",
        params={**params, "group_by": "session"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert small["id"] not in [g["key"] for g in r.json()["groups"]]
    r = await client.get(
        f"{API}/reports/evaluations",
        params={**params, "group_by": "provider"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert [g["label"] for g in r.json()["groups"]] == ["未填写承办机构的培训班", "滁州市委党校"]


@pytest.mark.parametrize(
    ("status", "closed_on", "opens_on", "open_days", "closed_early"),
    [
        ("open", None, None, 14, False),  # scheduled: no opening day yet
        ("closed", "2025-03-07", None, 14, False),  # last day 03-20: open
        ("closed", "2025-03-06", None, 14, False),  # last day 03-19: closed
        ("running", None, "2025-03-03", 14, False),  # opened early, last day 03-16: closed
        ("running", None, "2025-03-03", 18, False),  # last day 03-20: open
        ("closed", "2025-03-20", None, 1, False),  # one day, today: open
        ("closed", "2025-03-19", None, 1, False),  # one day, yesterday: closed
        ("open", None, None, 14, True),  # closed early before it opened
        ("closed", "2025-03-19", None, 14, True),  # closed early while open
        ("cancelled", None, "2025-03-03", 365, False),  # a cancelled session's: closed
    ],
)
async def test_the_sql_window_agrees_with_the_rule(
    client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    status: str,
    closed_on: str | None,
    opens_on: str | None,
    open_days: int,
    closed_early: bool,
) -> None:
    """The grouped reports select closed evaluations in SQL (repository.evaluation_closed); the
    session report asks the window rule (service.window_of). Both say the same on 2025-03-20."""
    today = dt.date(2025, 3, 20)
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    async with isolated_sessionmaker() as db:
        form = await _form(db, unit["id"], WORKED_SPEC)
        await db.execute(
            update(TrainingSession)
            .where(TrainingSession.id == uuid.UUID(ts["id"]))
            .values(
                status=status,
                closed_on=dt.date.fromisoformat(closed_on) if closed_on else None,
            )
        )
        db.add(
            SessionEvaluation(
                training_session_id=uuid.UUID(ts["id"]),
                form_id=form.id,
                opens_on=dt.date.fromisoformat(opens_on) if opens_on else None,
                open_days=open_days,
                closed=closed_early,
            )
        )
        await db.flush()
        session = await db.get(TrainingSession, uuid.UUID(ts["id"]))
        evaluation = await repository.get_session_evaluation(db, uuid.UUID(ts["id"]))
        assert session is not None
        assert evaluation is not None
        await db.refresh(session)
        rule = service.window_of(evaluation, session, today).status == EvaluationStatus.closed
        sql = await db.scalar(
            select(repository.evaluation_closed(today))
            .select_from(SessionEvaluation)
            .join(TrainingSession, TrainingSession.id == SessionEvaluation.training_session_id)
            .where(SessionEvaluation.training_session_id == uuid.UUID(ts["id"]))
        )
        assert sql is rule
