"""Review findings on the anonymous evaluation (docs/evaluation.md): what an open report
shows, the answer racing a close or another form, a cancelled answer, and attaching a form to
a session already closed."""

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.actor import Actor
from app.clock import pinned
from app.config import Settings
from app.enums import Role
from app.evaluation import answering, repository, service
from tests.conftest import ClientFor
from tests.evaluation_factories import Klass, close_session, create_form, evaluated_class
from tests.factories import create_org_unit
from tests.test_attendance import _committed_clients
from tests.test_platform import assert_problem


@pytest.fixture
async def unit(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_org_unit(client)


@pytest.fixture
async def klass(client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]) -> Klass:
    return await evaluated_class(client, client_for, unit["id"], 2)


# --- finding 1: an open report counts the session's answers only ----------------------------------


async def test_an_open_report_does_not_count_answers_per_course_or_teacher(
    client: httpx.AsyncClient, klass: Klass
) -> None:
    """A count per course or teacher, read just after one trainee's audited marker, would tell
    which subjects that trainee rated."""
    r = await client.put(klass.url, json={"form_id": klass.form["id"], "opens_on": "2025-03-03"})
    assert r.status_code == 200, r.text
    with pinned(date(2025, 3, 4)):
        # The first trainee rates the session and the first course only.
        only_first = {
            "ratings": [
                {"subject": "session", "scores": [4, 4, 4]},
                {"subject": "course", "subject_id": klass.courses[0]["id"], "scores": [4, 4]},
            ]
        }
        r = await klass.trainees[0].post(f"{klass.url}/answers", json=only_first)
        assert r.status_code == 204, r.text
        report = (await client.get(f"{klass.url}/report")).json()
    assert report["status"] == "open"
    assert [(g["subject"], g["answers"], g["withheld"]) for g in report["groups"]] == [
        ("session", 1, "not_closed"),
        ("course", None, "not_closed"),
        ("course", None, "not_closed"),
        ("teacher", None, "not_closed"),
        ("teacher", None, "not_closed"),
    ]


# --- finding 8: a form attached to a session already closed -----------------------------------


async def test_a_closed_session_takes_no_opening_day(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    """A day of a closed session is past: the window would be over at once, and every later
    attach a 409. Refused; without it, the evaluation opens the day it is attached."""
    klass = await evaluated_class(client, client_for, unit["id"], 1, attach=False)
    with pinned(date(2025, 3, 10)):
        await close_session(client, klass)
    with pinned(date(2025, 6, 1)):
        r = await client.put(
            klass.url, json={"form_id": klass.form["id"], "opens_on": "2025-03-03"}
        )
        assert_problem(r, 422, "evaluation.opens_on_after_close")
        assert r.json()["errors"][0]["pointer"] == "/body/opens_on"
        assert_problem(await client.get(klass.url), 404, "evaluation.not_found")
        r = await client.put(klass.url, json={"form_id": klass.form["id"]})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["opens_on"]) == ("open", "2025-06-01")
        r = await client.put(
            klass.url, json={"form_id": klass.form["id"], "opens_on": "2025-03-04"}
        )
        assert_problem(r, 422, "evaluation.opens_on_after_close")
        assert (await client.get(klass.url)).json()["status"] == "open"


async def test_attached_the_day_the_session_closed_it_was_not_opened_early(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    """Closed on its last day and given a form the same day: it opens at the close, not
    early (the opening day falls on a day of the session, yet after the close)."""
    klass = await evaluated_class(client, client_for, unit["id"], 1, attach=False)
    assert klass.ts["end_date"] == "2025-03-07"
    with pinned(date(2025, 3, 7)):
        await close_session(client, klass)
        r = await client.put(klass.url, json={"form_id": klass.form["id"]})
        assert r.status_code == 200, r.text
        got = (await client.get(klass.url)).json()
    assert (got["status"], got["closes_on"], got["opened_early"]) == ("open", "2025-03-20", False)


# --- findings 2 and 3: an answer in flight against a close, midnight, another form -------------


async def _committed_class(
    committed_client: httpx.AsyncClient, app: FastAPI, settings: Settings, trainees: int
) -> Klass:
    unit = await create_org_unit(committed_client)
    return await evaluated_class(
        committed_client,
        _committed_clients(app, settings, committed_client),
        unit["id"],
        trainees,
    )


async def _until_waiters_or_done(engine: AsyncEngine, task: "asyncio.Task[Any]", n: int) -> None:
    """Return once `n` backends of the database wait on a lock (pg_blocking_pids), or the task
    has finished (it did not wait). Bounded: a minute of polling, then it fails."""
    async with engine.connect() as conn:
        for _ in range(6_000):
            if task.done():
                return
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND cardinality(pg_blocking_pids(pid)) > 0"
                )
            )
            await conn.rollback()
            if waiting >= n:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("fewer backends waited than expected, and the task did not finish")


async def _hold_answers_lock(holder: AsyncConnection, training_session_id: str) -> None:
    """Take the session's answers' lock from a test connection: an answer stops at its start."""
    await repository.serialise_answers(AsyncSession(bind=holder), uuid.UUID(training_session_id))


async def _answer_rows(engine: AsyncEngine, klass: Klass) -> tuple[int, int, set[str]]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM evaluation_answer "
                    "WHERE training_session_id = :s AND subject = 'session'), "
                    "(SELECT count(*) FROM evaluation_answered a JOIN enrollment e "
                    "ON e.id = a.enrollment_id WHERE e.training_session_id = :s), "
                    "(SELECT array_agg(DISTINCT form_id::text) FROM evaluation_answer "
                    "WHERE training_session_id = :s)"
                ),
                {"s": klass.ts["id"]},
            )
        ).one()
    return row[0], row[1], set(row[2] or [])


async def test_a_close_waits_for_the_answer_in_flight(
    committed_client: httpx.AsyncClient, app: FastAPI, settings: Settings, engine: AsyncEngine
) -> None:
    """The answer in flight commits before the close, or is refused after it; never written
    after the close: the figures shown once closed are final."""
    client = committed_client
    klass = await _committed_class(client, app, settings, 1)
    await close_session(client, klass)
    async with engine.connect() as holder:
        await _hold_answers_lock(holder, klass.ts["id"])
        answering = asyncio.create_task(
            klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
        )
        await _until_waiters_or_done(engine, answering, 1)
        assert not answering.done()
        closing = asyncio.create_task(client.post(f"{klass.url}/close"))
        await _until_waiters_or_done(engine, closing, 2)
        assert not closing.done(), "the close did not wait for the answer in flight"
        await holder.commit()
    r = await answering
    closed = await closing
    assert closed.status_code == 200, closed.text
    # PostgreSQL grants the lock in turn: the answer, queued first, commits before the close.
    assert r.status_code == 204, r.text
    assert (await _answer_rows(engine, klass))[:2] == (1, 1)
    for trainee in klass.trainees:
        await trainee.aclose()


@pytest.mark.parametrize("change", ["closed", "midnight", "form"])
async def test_an_answer_rereads_the_window_and_the_form_before_it_is_written(
    committed_client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    engine: AsyncEngine,
    change: str,
) -> None:
    """Claimed while open, then the evaluation closes (the organiser; the window's last day
    ends) or takes another form before the answer is written: the answer is refused (409),
    nothing is written, and the marker is removed."""
    client = committed_client
    klass = await _committed_class(client, app, settings, 2)
    with pinned(date(2025, 3, 7)):
        await close_session(client, klass)
    other = await create_form(client, klass.ts["organiser_org_unit_id"], name="另一张评估表")
    last_day = date(2025, 3, 20)
    with pinned(last_day):
        async with engine.connect() as holder:
            await _hold_answers_lock(holder, klass.ts["id"])
            answering = asyncio.create_task(
                klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
            )
            await _until_waiters_or_done(engine, answering, 1)
            assert not answering.done()
            if change == "closed":
                await holder.execute(
                    text(
                        "UPDATE session_evaluation SET closed = true WHERE training_session_id = :s"
                    ),
                    {"s": klass.ts["id"]},
                )
            elif change == "form":
                await holder.execute(
                    text(
                        "UPDATE session_evaluation SET form_id = :f WHERE training_session_id = :s"
                    ),
                    {"s": klass.ts["id"], "f": other["id"]},
                )
            with pinned(last_day + timedelta(days=1 if change == "midnight" else 0)):
                await holder.commit()
                r = await answering
    expected = "evaluation.form_changed" if change == "form" else "evaluation.not_open"
    assert_problem(r, 409, expected)
    assert await _answer_rows(engine, klass) == (0, 0, set())
    if change == "form":
        # Nothing kept: the trainee answers again, on the form now attached.
        body = klass.full_answer()
        with pinned(last_day):
            r = await klass.trainees[0].post(f"{klass.url}/answers", json=body)
        assert r.status_code == 204, r.text
        assert await _answer_rows(engine, klass) == (1, 1, {other["id"]})
    for trainee in klass.trainees:
        await trainee.aclose()


async def test_another_form_waits_for_the_claim_in_flight(
    committed_client: httpx.AsyncClient, app: FastAPI, settings: Settings, engine: AsyncEngine
) -> None:
    """Attaching another form while a trainee's marker is being written: the attach waits for
    it, sees it and is refused; the answer is stored under the form it was claimed for."""
    client = committed_client
    klass = await _committed_class(client, app, settings, 1)
    await close_session(client, klass)
    other = await create_form(client, klass.ts["organiser_org_unit_id"], name="另一张评估表")
    async with engine.connect() as holder:
        # The marker references the enrollment: its insert waits while the row is held.
        await holder.execute(
            text("SELECT 1 FROM enrollment WHERE id = :e FOR UPDATE"),
            {"e": klass.enrollments[0]["id"]},
        )
        answering = asyncio.create_task(
            klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
        )
        await _until_waiters_or_done(engine, answering, 1)
        assert not answering.done()
        attaching = asyncio.create_task(client.put(klass.url, json={"form_id": other["id"]}))
        await _until_waiters_or_done(engine, attaching, 2)
        assert not attaching.done(), "the attach did not wait for the claim in flight"
        await holder.commit()
    assert (await answering).status_code == 204
    assert_problem(await attaching, 409, "evaluation.has_answers")
    assert await _answer_rows(engine, klass) == (1, 1, {klass.form["id"]})
    assert (await client.get(klass.url)).json()["form"]["id"] == klass.form["id"]
    for trainee in klass.trainees:
        await trainee.aclose()


# --- finding 4: the marker of an answer that never committed -----------------------------------


async def test_a_cancelled_answer_leaves_no_marker(
    committed_client: httpx.AsyncClient, app: FastAPI, settings: Settings, engine: AsyncEngine
) -> None:
    """The request is cancelled (client gone, shutdown) between the marker's commit and the
    answer's: the marker is removed all the same, so the trainee may answer again."""
    client = committed_client
    klass = await _committed_class(client, app, settings, 1)
    await close_session(client, klass)
    async with engine.connect() as holder:
        await _hold_answers_lock(holder, klass.ts["id"])
        answering = asyncio.create_task(
            klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
        )
        await _until_waiters_or_done(engine, answering, 1)
        assert not answering.done()
        assert (await _answer_rows(engine, klass))[1] == 1  # the marker committed
        answering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await answering
        await holder.commit()
    assert await _answer_rows(engine, klass) == (0, 0, set())
    r = await klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
    assert r.status_code == 204, r.text
    assert await _answer_rows(engine, klass) == (1, 1, {klass.form["id"]})
    for trainee in klass.trainees:
        await trainee.aclose()


@pytest.mark.parametrize(("outcome", "markers"), [("commit", 1), ("rollback", 0)])
async def test_a_lost_commit_acknowledgement_keeps_the_marker_of_a_committed_answer(
    committed_client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    engine: AsyncEngine,
    outcome: str,
    markers: int,
) -> None:
    """Failed while its COMMIT was in flight, the answer may have committed: the marker is
    removed only if the database says its transaction aborted (else the trainee could answer
    twice)."""
    client = committed_client
    klass = await _committed_class(client, app, settings, 1)
    await close_session(client, klass)
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    async with sessionmaker() as db_session:
        marker_id = await repository.add_marker(db_session, uuid.UUID(klass.enrollments[0]["id"]))
        await db_session.commit()
    async with sessionmaker() as db_session:
        xact = await repository.current_xact_id(db_session)
        await (db_session.commit() if outcome == "commit" else db_session.rollback())
    admin = Actor(user_id=uuid.uuid4(), username="admin", role=Role.admin)
    await answering._release(
        sessionmaker, marker_id, xact, admin, request_id=None, client_request_id=None
    )
    assert (await _answer_rows(engine, klass))[1] == markers
    for trainee in klass.trainees:
        await trainee.aclose()


# --- finding 5: the server's statement log -----------------------------------------------------


async def test_the_answer_transaction_turns_statement_logging_off_where_the_role_may(
    client: httpx.AsyncClient,
    klass: Klass,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    db_conn: AsyncConnection,
) -> None:
    """log_statement = 'all' would log the marker's INSERT and then the answer's, with their
    parameters, from one backend: the answer's transaction sets it off for itself (the tests'
    role is a superuser, as a role that may set it)."""
    await close_session(client, klass)
    await db_conn.execute(text("SET LOCAL log_statement = 'all'"))
    await db_conn.execute(text("SET LOCAL log_min_duration_statement = 0"))
    claim = service.Claim(
        marker_id=uuid.uuid4(),
        training_session_id=uuid.UUID(klass.ts["id"]),
        form_id=uuid.UUID(klass.form["id"]),
        answers=[
            {
                "training_session_id": uuid.UUID(klass.ts["id"]),
                "form_id": uuid.UUID(klass.form["id"]),
                "subject": "session",
                "subject_id": uuid.UUID(klass.ts["id"]),
                "scores": [4, 4, 4],
            }
        ],
    )
    async with isolated_sessionmaker() as db_session:
        await service.record(db_session, claim)
        logged = [
            await db_session.scalar(text(f"SHOW {name}"))
            for name in ("log_statement", "log_min_duration_statement")
        ]
    assert logged == ["none", "-1"]


async def test_a_role_that_may_not_set_the_log_leaves_it_alone(db_conn: AsyncConnection) -> None:
    """Superuser-only settings: a role without the privilege is not refused, the setting is
    left as the server has it (which the database's configuration must keep off)."""
    await db_conn.execute(text("SET LOCAL log_statement = 'mod'"))
    await db_conn.execute(text("CREATE ROLE evaluation_probe NOLOGIN"))
    await db_conn.execute(text("SET LOCAL ROLE evaluation_probe"))
    await repository.quiet_statement_log(AsyncSession(bind=db_conn))
    assert await db_conn.scalar(text("SHOW log_statement")) == "mod"
    await db_conn.execute(text("RESET ROLE"))


# --- finding 12: what may be rated is what the session teaches ---------------------------------


async def test_the_subjects_are_the_courses_the_session_teaches(
    client: httpx.AsyncClient, klass: Klass, db_conn: AsyncConnection
) -> None:
    """One definition (training_session's `courses_taught`): a course the session lists but
    the catalogue does not hold (imported, say) is still a course it teaches, for the
    certificate and the qualification alike, and so may be rated."""
    unknown = uuid.uuid4()
    await db_conn.execute(
        text(
            "UPDATE training_session SET course_ids = course_ids || CAST(:c AS uuid) WHERE id = :s"
        ),
        {"c": unknown, "s": klass.ts["id"]},
    )
    got = (await client.get(klass.url)).json()
    assert [(s["subject"], s["subject_id"], s["label"]) for s in got["subjects"]] == [
        ("session", klass.ts["id"], klass.ts["title"]),
        ("course", klass.courses[0]["id"], "党史专题"),
        ("course", klass.courses[1]["id"], "公文写作"),
        ("course", str(unknown), ""),
        ("teacher", klass.teachers[0]["id"], "李老师"),
        ("teacher", klass.teachers[1]["id"], "王老师"),
    ]
    await close_session(client, klass)
    body = klass.full_answer()
    body["ratings"].append({"subject": "course", "subject_id": str(unknown), "scores": [4, 4]})
    r = await klass.trainees[0].post(f"{klass.url}/answers", json=body)
    assert r.status_code == 204, r.text
