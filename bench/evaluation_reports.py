"""How long the evaluation reports take (docs/rules.md rule 14): a session's report, the grouped
report by session, course, teacher, provider and year, and the teacher reviews, over a city's
closed evaluations.

Starts its own throw-away PostgreSQL, applies the migrations, and loads `--sessions` closed
sessions of one form, each rated by `--answers` trainees: every answer rates the session, one of
two courses and one of two teachers (drawn from 40 courses and 60 teachers), so a session holds
about 2 × `--answers` + … answer rows. Then it times the service functions in process (no HTTP),
as an admin, `--repeat` times each, and prints the median.

    .venv/bin/python -m bench.evaluation_reports [--sessions 2000] [--answers 30] [--repeat 5]

Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.actor import Actor
from app.config import EvaluationSettings
from app.enums import EvaluationGroupBy, Role
from app.evaluation import reports
from app.ids import new_id
from app.migrations import alembic_config
from devtools.localpg import LocalPostgres

TODAY = dt.date(2026, 11, 30)

# Answers: scores drawn at random on the server, 1–5 each.
_LOAD = [
    # A city, its catalogue, one form (session: 3 indicators, course: 2, teacher: 2).
    """INSERT INTO org_unit (id, code, name, kind, parent_id, path, depth, active, version)
       VALUES (:unit, 'BENCH-EVAL', '滁州市', 'city', NULL, :path, 0, true, 1)""",
    """INSERT INTO teacher (id, org_unit_id, name, specialties, kind, active, version)
       SELECT gen_random_uuid(), :unit, '教师' || n, '{}', 'internal', true, 1
       FROM generate_series(1, 60) n""",
    """INSERT INTO course (id, org_unit_id, title, topic_tags, teacher_ids, active, version)
       SELECT gen_random_uuid(), :unit, '课程' || n, '{}', '{}', true, 1
       FROM generate_series(1, 40) n""",
    """INSERT INTO evaluation_form
           (id, org_unit_id, name, lineage_id, revision, allow_comments, active, version)
       VALUES (:form, :unit, '培训质量评估表', :form, 1, true, true, 1)""",
    """INSERT INTO evaluation_indicator (id, form_id, subject, position, code, label, weight)
       VALUES (gen_random_uuid(), :form, 'session', 1, 'content', '内容', 3),
              (gen_random_uuid(), :form, 'session', 2, 'delivery', '组织', 2),
              (gen_random_uuid(), :form, 'session', 3, 'service', '服务', 1),
              (gen_random_uuid(), :form, 'course', 1, 'content', '内容', 2),
              (gen_random_uuid(), :form, 'course', 2, 'use', '实用', 1),
              (gen_random_uuid(), :form, 'teacher', 1, 'delivery', '讲授', 2),
              (gen_random_uuid(), :form, 'teacher', 2, 'preparation', '备课', 1)""",
    # Closed sessions spread over three years, each with a closed evaluation.
    """INSERT INTO training_session
           (id, title, form, centralised, provider, organiser_org_unit_id, start_date, end_date,
            days, credit_hours, capacity, enrolled, status, self_enrollment, course_ids,
            closed_on, version)
       SELECT gen_random_uuid(), '班次' || n, 'refresher', true, '党校' || (n % 7), :unit,
              DATE '2024-01-01' + (n % 1000), DATE '2024-01-05' + (n % 1000), 5, 40, 100, 0,
              'closed', true, '{}', DATE '2024-01-06' + (n % 1000), 1
       FROM generate_series(1, :sessions) n""",
    """INSERT INTO session_evaluation
           (id, training_session_id, form_id, opens_on, open_days, closed, version)
       SELECT gen_random_uuid(), id, :form, NULL, 14, true, 1 FROM training_session""",
    """CREATE TEMP TABLE pick AS
       SELECT s.id AS training_session_id,
              (SELECT array_agg(id) FROM (SELECT id FROM course ORDER BY random() LIMIT 2) c)
                  AS courses,
              (SELECT array_agg(id) FROM (SELECT id FROM teacher ORDER BY random() LIMIT 2) t)
                  AS teachers
       FROM training_session s""",
    """INSERT INTO evaluation_answer (training_session_id, form_id, subject, subject_id, scores)
       SELECT p.training_session_id, :form, 'session', p.training_session_id,
              ARRAY[1 + floor(random() * 5), 1 + floor(random() * 5), 1 + floor(random() * 5)]
       FROM pick p, generate_series(1, :answers)""",
    """INSERT INTO evaluation_answer (training_session_id, form_id, subject, subject_id, scores)
       SELECT p.training_session_id, :form, 'course', p.courses[1 + (a % 2)],
              ARRAY[1 + floor(random() * 5), 1 + floor(random() * 5)]
       FROM pick p, generate_series(1, :answers) a""",
    """INSERT INTO evaluation_answer (training_session_id, form_id, subject, subject_id, scores)
       SELECT p.training_session_id, :form, 'teacher', p.teachers[1 + (a % 2)],
              ARRAY[1 + floor(random() * 5), 1 + floor(random() * 5)]
       FROM pick p, generate_series(1, :answers) a""",
    "ANALYZE",
]


async def _load(url: str, sessions: int, answers: int) -> tuple[uuid.UUID, int]:
    unit, form = new_id(), new_id()
    params = {
        "unit": unit,
        "path": f"/{unit.hex}/",
        "form": form,
        "sessions": sessions,
        "answers": answers,
    }
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for statement in _LOAD:
            sql = text(statement)
            await conn.execute(sql, {k: v for k, v in params.items() if f":{k}" in statement})
        some = await conn.scalar(text("SELECT id FROM training_session LIMIT 1"))
        rows = await conn.scalar(text("SELECT count(*) FROM evaluation_answer"))
    await engine.dispose()
    assert some is not None
    return some, int(rows or 0)


async def _time(
    maker: async_sessionmaker[AsyncSession],
    repeat: int,
    call: Callable[[AsyncSession], Awaitable[Any]],
) -> float:
    times = []
    for _ in range(repeat):
        async with maker() as db_session:
            start = time.perf_counter()
            await call(db_session)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def _measure(url: str, sessions: int, answers: int, repeat: int) -> None:
    start = time.perf_counter()
    session_id, rows = await _load(url, sessions, answers)
    print(f"loaded {sessions} sessions, {rows} answer rows in {time.perf_counter() - start:.1f} s")
    admin = Actor(user_id=uuid.uuid4(), username="bench", role=Role.admin)
    settings = EvaluationSettings(review_below=Decimal("3.10"))
    engine = create_async_engine(url)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    cases: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]] = [
        (
            "session report",
            lambda db: reports.session_report(db, admin, settings, session_id, TODAY),
        ),
        *(
            (
                f"grouped by {group_by}",
                lambda db, g=group_by: reports.evaluation_report(
                    db,
                    admin,
                    settings,
                    group_by=g,
                    year=None,
                    org_unit_id=None,
                    limit=1000,
                    today=TODAY,
                ),
            )
            for group_by in EvaluationGroupBy
        ),
        (
            "teacher reviews",
            lambda db: reports.teacher_reviews(db, admin, settings, org_unit_id=None, today=TODAY),
        ),
    ]
    print(f"{'report':<24} {'median ms':>9}")
    for name, call in cases:
        print(f"{name:<24} {await _time(maker, repeat, call):>9.0f}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--answers", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores")
    os.environ.setdefault("APP_ENV", "development")
    with tempfile.TemporaryDirectory(prefix="bench-evaluation-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        url = cluster.start()
        try:
            command.upgrade(alembic_config(url), "head")
            asyncio.run(_measure(url, args.sessions, args.answers, args.repeat))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
