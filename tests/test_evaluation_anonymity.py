"""THE ANONYMITY TEST (issue 14, "Done when"; docs/evaluation.md).

(a) The schema: the two answer tables hold nothing but what an answer needs (no person, no time),
    random ids, no trigger (so no audit trail and no change feed), no reference into them.
(b) Behaviour, with real commits: six trainees answer; every answer row of the session then has
    one xmin, none of the markers' (nor the change feed's xid); no answer id, comment id or
    comment text appears anywhere else in the database or in the request log; the answer route
    takes no Idempotency-Key; a failed answer's marker is removed.
(c) No query can join an answer back to a person: read from the catalogue, every foreign-key
    path from an answer to a person goes one-to-many through its session (or its form), so an
    answer maps to all of the session's enrollments, never to one.
"""

import itertools
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import errors, observability
from app.config import Settings
from app.enums import Role
from app.observability import configure_logging
from tests.conftest import EnglishTransport, add_user, bearer
from tests.evaluation_factories import Klass, close_session, evaluated_class
from tests.factories import API
from tests.test_platform import assert_problem

ANSWER_TABLES = ("evaluation_answer", "evaluation_comment")
ALLOWED_COLUMNS = {
    "evaluation_answer": {
        "id",
        "training_session_id",
        "form_id",
        "subject",
        "subject_id",
        "scores",
    },
    "evaluation_comment": {"id", "training_session_id", "subject", "subject_id", "body"},
}
ALLOWED_TARGETS = {
    "evaluation_answer": {"training_session", "evaluation_form"},
    "evaluation_comment": {"training_session"},
}
# A trainee of a session is an enrollment: a table is trainee-bearing if it is `enrollment` or if
# following its foreign keys (each many-to-one) reaches it (the marker, study logs, certificates,
# attendance...). Staff named by the session (a plan's approver) are the same for every answer
# of the session, so they identify no answerer.
TRAINEE = "enrollment"


# --- (a) the schema -----------------------------------------------------------------------------


async def _columns(db_conn: AsyncConnection, table: str) -> dict[str, tuple[str, str]]:
    rows = await db_conn.execute(
        text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"t": table},
    )
    return {name: (kind, category) for name, kind, category in rows.all()}


@pytest.mark.parametrize("table", ANSWER_TABLES)
async def test_the_answer_tables_hold_no_person_and_no_time(
    db_conn: AsyncConnection, table: str
) -> None:
    columns = await _columns(db_conn, table)
    assert set(columns) == ALLOWED_COLUMNS[table]
    # No date/time column (category D: date, time, timestamp, with or without zone), no
    # interval (T), no transaction id or log position.
    assert {c for c, (_, category) in columns.items() if category in ("D", "T")} == set()
    assert {kind for kind, _ in columns.values()} <= {
        "uuid",
        "character varying(32)",
        "smallint[]",
        "text",
    }
    default = await db_conn.scalar(
        text(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
            "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = CAST(:t AS regclass) AND a.attname = 'id'"
        ),
        {"t": table},
    )
    assert default == "gen_random_uuid()"
    # No other column has a default (a now(), a sequence).
    others = await db_conn.scalar(
        text("SELECT count(*) FROM pg_attrdef WHERE adrelid = CAST(:t AS regclass)"), {"t": table}
    )
    assert others == 1


@pytest.mark.parametrize("table", ANSWER_TABLES)
async def test_no_trigger_no_rule_and_only_the_allowed_references(
    db_conn: AsyncConnection, table: str
) -> None:
    # No trigger but the foreign keys' own internal ones: no audit trail, no change feed.
    triggers = await db_conn.scalars(
        text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) "
            "AND NOT tgisinternal"
        ),
        {"t": table},
    )
    assert list(triggers) == []
    rules = await db_conn.scalar(
        text("SELECT count(*) FROM pg_rewrite WHERE ev_class = CAST(:t AS regclass)"),
        {"t": table},
    )
    assert rules == 0
    targets = await db_conn.scalars(
        text(
            "SELECT confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = CAST(:t AS regclass)"
        ),
        {"t": table},
    )
    assert set(targets) == ALLOWED_TARGETS[table]
    into = await db_conn.scalars(
        text(
            "SELECT conrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = CAST(:t AS regclass)"
        ),
        {"t": table},
    )
    assert list(into) == []
    # Not a child or a parent of another table (inheritance would share rows).
    inherits = await db_conn.scalar(
        text(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = CAST(:t AS regclass) "
            "OR inhparent = CAST(:t AS regclass)"
        ),
        {"t": table},
    )
    assert inherits == 0


async def test_the_marker_holds_only_the_enrollment(db_conn: AsyncConnection) -> None:
    columns = await _columns(db_conn, "evaluation_answered")
    assert set(columns) == {"id", "enrollment_id", "created_at", "updated_at"}


# --- (c) no query can join an answer back to a person -------------------------------------------


@dataclass(frozen=True)
class ForeignKey:
    table: str
    target: str
    unique: bool  # the referencing columns are unique: one row per target row (one-to-one)


async def _foreign_keys(db_conn: AsyncConnection) -> list[ForeignKey]:
    rows = await db_conn.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, "
            "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indisunique "
            "AND (i.indkey::int2[])[0:] <@ c.conkey) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname = 'public'"
        )
    )
    return [ForeignKey(t, target, unique) for t, target, unique in rows.all()]


def _forward_closure(start: str, keys: list[ForeignKey]) -> set[str]:
    """Every table reached from `start` by following foreign keys (each step many-to-one: one
    row of `start` determines at most one row of each table reached)."""
    seen, todo = {start}, [start]
    while todo:
        table = todo.pop()
        for key in keys:
            if key.table == table and key.target not in seen:
                seen.add(key.target)
                todo.append(key.target)
    return seen


def _paths(start: str, goals: set[str], keys: list[ForeignKey], depth: int) -> list[list[Any]]:
    """Every simple path of foreign keys from `start` to a goal table, each step taken either
    way (a join may follow a key in either direction): [(table, key, forward), ...]."""
    found: list[list[Any]] = []

    def walk(table: str, path: list[Any], visited: set[str]) -> None:
        if table in goals and path:
            found.append(path)
            return
        if len(path) >= depth:
            return
        for key in keys:
            for here, there, forward in (
                (key.table, key.target, True),
                (key.target, key.table, False),
            ):
                if here == table and there not in visited:
                    walk(there, [*path, (there, key, forward)], visited | {there})

    walk(start, [], {start})
    return found


async def test_no_query_can_join_an_answer_to_a_person(db_conn: AsyncConnection) -> None:
    """Read from the catalogue: an answer's only ways out are its own keys to its session and
    its form, which every answer of the session shares (the form cannot change once anyone has
    answered), so whatever a query joins to an answer it joins to all of them alike; and the
    trainees are reached only one-to-many, the session's enrollments as a group."""
    keys = await _foreign_keys(db_conn)
    tables = {k.table for k in keys} | {k.target for k in keys}
    trainee_bearing = {t for t in tables if TRAINEE in _forward_closure(t, keys)}
    assert {"enrollment", "evaluation_answered", "study_log", "certificate"} <= trainee_bearing
    persons = trainee_bearing | {"cadre", "app_user"}
    for table in ANSWER_TABLES:
        # Following an answer's keys determines one session and one form, never a trainee.
        reached = _forward_closure(table, keys)
        assert "training_session" in reached
        assert not reached & trainee_bearing, (table, reached & trainee_bearing)
        paths = _paths(table, persons, keys, depth=4)
        assert paths, table  # the session's people are reachable, as a group
        for path in paths:
            # Every path leaves the answer by one of its own keys (many-to-one) for its session
            # or its form; no key points into the answer tables.
            first, _key, forward = path[0]
            assert forward, path
            assert first in ALLOWED_TARGETS[table], path
            # A trainee is reached only through a fan-out: a step from a table to the many
            # rows referencing it (a session's enrollments), not through a unique key.
            if path[-1][0] in trainee_bearing:
                assert any(not fwd and not k.unique for _, k, fwd in path), path
        # The trainees of the session: session → its enrollments, one-to-many.
        assert any(
            [p[0][0], p[1][0]] == ["training_session", "enrollment"] for p in paths if len(p) > 1
        )
    enrollment_key = next(
        k for k in keys if k.table == "enrollment" and k.target == "training_session"
    )
    assert not enrollment_key.unique
    marker_key = next(k for k in keys if k.table == "evaluation_answered")
    assert (marker_key.target, marker_key.unique) == ("enrollment", True)


# --- (b) behaviour, with real commits -----------------------------------------------------------


@dataclass
class Committed:
    app: FastAPI
    admin: httpx.AsyncClient
    make: Callable[..., Coroutine[Any, Any, httpx.AsyncClient]]
    engine: AsyncEngine
    users: list[uuid.UUID]


@pytest.fixture
async def committed(
    app: FastAPI, committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[Committed]:
    opened: list[httpx.AsyncClient] = []
    users: list[uuid.UUID] = []
    transport = EnglishTransport(app=app, raise_app_exceptions=False)

    async def make(
        role: Role,
        *,
        org_unit_id: str | uuid.UUID | None = None,
        cadre_id: str | uuid.UUID | None = None,
    ) -> httpx.AsyncClient:
        user = await add_user(
            app.state.sessionmaker, role, org_unit_id=org_unit_id, cadre_id=cadre_id
        )
        users.append(user.id)
        c = httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer(settings, user)
        )
        opened.append(c)
        return c

    yield Committed(app, committed_client, make, engine, users)
    for c in opened:
        await c.aclose()


COMMENTS = ["讲得很好，案例生动", "希望增加研讨时间", "住宿条件一般", "收获很大"]


def _answers(klass: Klass) -> list[dict[str, Any]]:
    """Six answers: some rate courses and teachers, some comment."""
    c0, c1 = (c["id"] for c in klass.courses)
    t0, t1 = (t["id"] for t in klass.teachers)

    def body(
        session: list[int], more: list[tuple[str, str, list[int]]], comments: list[Any]
    ) -> Any:
        ratings = [{"subject": "session", "scores": session}]
        ratings += [{"subject": s, "subject_id": i, "scores": sc} for s, i, sc in more]
        return {"ratings": ratings, "comments": comments}

    return [
        body(
            [5, 4, 3],
            [("course", c0, [5, 5]), ("teacher", t0, [5, 4])],
            [{"subject": "teacher", "subject_id": t0, "body": COMMENTS[0]}],
        ),
        body(
            [4, 4, 4],
            [("course", c1, [3, 4]), ("teacher", t1, [2, 3])],
            [{"subject": "session", "body": COMMENTS[1]}],
        ),
        body([3, 3, 3], [], []),
        body(
            [2, 5, 1],
            [
                ("course", c0, [4, 4]),
                ("course", c1, [4, 5]),
                ("teacher", t0, [3, 3]),
                ("teacher", t1, [4, 4]),
            ],
            [
                {"subject": "session", "body": COMMENTS[2]},
                {"subject": "course", "subject_id": c1, "body": COMMENTS[3]},
            ],
        ),
        body([5, 5, 5], [("teacher", t0, [5, 5])], []),
        body([4, 3, 5], [("course", c0, [3, 3])], []),
    ]


async def _scalar_set(conn: AsyncConnection, sql: str, **params: Any) -> set[Any]:
    return set((await conn.execute(text(sql), params)).scalars())


async def test_answers_share_one_xmin_and_leave_no_trace(
    committed: Committed,
    settings: Settings,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = committed.admin
    unit = (
        await admin.post(
            f"{API}/org-units", json={"code": "EVAL-ANON", "name": "滁州市", "kind": "city"}
        )
    ).json()
    klass = await evaluated_class(admin, committed.make, unit["id"], 8)
    await close_session(admin, klass)
    s = klass.ts["id"]
    # The request log at INFO (the suite runs at WARNING): what it shows is checked below. The
    # configuration is restored as it was, not rebuilt: rebuilt here it would print to this
    # test's captured stderr, closed once the test ends, and fail every later log line.
    saved = structlog.get_config()
    configure_logging("INFO", json=True)
    for module in (observability, errors):  # their loggers were bound at WARNING: anew
        monkeypatch.setattr(module, "log", structlog.get_logger(module.__name__))
    capfd.readouterr()
    ids_seen: list[set[str]] = []
    try:
        for trainee, body in zip(klass.trainees, _answers(klass), strict=False):
            r = await trainee.post(f"{klass.url}/answers", json=body)
            assert r.status_code == 204, r.text
            async with committed.engine.connect() as conn:
                ids_seen.append(
                    await _scalar_set(
                        conn,
                        "SELECT id::text FROM evaluation_answer WHERE training_session_id = :s",
                        s=s,
                    )
                )
        # The answer route refuses an Idempotency-Key: nothing of the request is kept.
        r = await klass.trainees[6].post(
            f"{klass.url}/answers",
            json=klass.full_answer(),
            headers={"Idempotency-Key": "evaluation-retry-1"},
        )
        assert_problem(r, 422, "evaluation.idempotency_key_refused")
    finally:
        logged = capfd.readouterr().err
        structlog.configure(**saved)
        monkeypatch.undo()
    # Each answer rewrote every row with fresh ids: no id survives from one answer to the next.
    for before, after in itertools.pairwise(ids_seen):
        assert not before & after
    assert [len(i) for i in ids_seen] == [3, 6, 7, 12, 14, 16]

    async with committed.engine.connect() as conn:
        answers = (
            await conn.execute(
                text("SELECT id, xmin::text FROM evaluation_answer WHERE training_session_id = :s"),
                {"s": s},
            )
        ).all()
        comments = (
            await conn.execute(
                text(
                    "SELECT id, xmin::text, body FROM evaluation_comment "
                    "WHERE training_session_id = :s"
                ),
                {"s": s},
            )
        ).all()
        markers = await _scalar_set(
            conn,
            "SELECT a.xmin::text FROM evaluation_answered a JOIN enrollment e "
            "ON e.id = a.enrollment_id WHERE e.training_session_id = :s",
            s=s,
        )
        feed_xids = await _scalar_set(
            conn,
            "SELECT (xid % 4294967296)::text FROM change_event "
            "WHERE entity_type = 'evaluation_answered'",
        )
        # One xmin for every answer and comment row of the session: the last answer's
        # transaction, which is none of the markers' (each marker its own).
        xmins = {x for _, x in answers} | {x for _, x, _ in comments}
        assert len(xmins) == 1
        assert len(markers) == 6
        assert not xmins & markers
        assert not xmins & feed_xids
        assert len(feed_xids) == 6
        # Random (version 4) ids, never a time-ordered UUIDv7.
        assert {row[0].version for row in [*answers, *comments]} == {4}
        assert sorted(b for _, _, b in comments) == sorted(COMMENTS)
        # An answer joins to every enrollment of its session, never to one.
        fan = await _scalar_set(
            conn,
            "SELECT count(e.id) FROM evaluation_answer a JOIN enrollment e "
            "ON e.training_session_id = a.training_session_id "
            "WHERE a.training_session_id = :s GROUP BY a.id",
            s=s,
        )
        assert fan == {8}
        needles = [str(i) for i, _ in answers] + [str(i) for i, _, _ in comments] + COMMENTS
        await _assert_nowhere_else(conn, needles)
        # The trail and the feed never name the answer tables.
        for table in ("audit_event", "change_event"):
            named = await conn.scalar(
                text(f"SELECT count(*) FROM {table} WHERE entity_type = ANY(:t)"),
                {"t": list(ANSWER_TABLES)},
            )
            assert named == 0
        # The refused request left nothing: no marker, no stored idempotent answer.
        kept = await conn.scalar(
            text("SELECT count(*) FROM idempotency_record WHERE principal_id = ANY(:u)"),
            {"u": committed.users},
        )
        assert kept == 0
    assert '"route": "/api/v1/training-sessions/{training_session_id}/evaluation/answers"' in logged
    for needle in needles:
        assert needle not in logged
    for body in _answers(klass):
        assert str(body["ratings"][0]["scores"]) not in logged
    # The refused trainee may still answer, without the key.
    assert (
        await klass.trainees[6].post(f"{klass.url}/answers", json=klass.full_answer())
    ).status_code == 204


_SCANNED = ("uuid", "text", "character varying", "json", "jsonb", "bytea", "ARRAY")


async def _assert_nowhere_else(conn: AsyncConnection, needles: list[str]) -> None:
    """No needle appears in any text, uuid, json, bytea or array column of any table but the
    answer tables themselves: the audit trail, the change feed, idempotency records,
    deliveries, exports, every domain table."""
    columns: dict[str, list[str]] = defaultdict(list)
    rows = await conn.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        )
    )
    for table, column, kind in rows.all():
        if table not in ANSWER_TABLES and kind in _SCANNED:
            columns[table].append(column)
    assert {"audit_event", "change_event", "idempotency_record"} <= set(columns)
    pattern = "|".join(re.escape(n) for n in needles)
    for table, names in columns.items():
        for column in names:
            hits = await conn.scalar(
                text(
                    f'SELECT count(*) FROM "{table}" '
                    f"WHERE encode(convert_to(\"{column}\"::text, 'UTF8'), 'escape') ~ :p "
                    f'OR "{column}"::text ~ :p'
                ),
                {"p": pattern},
            )
            assert hits == 0, (table, column)


async def test_a_failed_answer_removes_its_marker(
    committed: Committed, engine: AsyncEngine
) -> None:
    """The answer's transaction fails after the marker's committed: a third transaction deletes
    the marker, so the trainee may answer again (a trigger of this test's makes it fail)."""
    admin = committed.admin
    unit = (
        await admin.post(
            f"{API}/org-units", json={"code": "EVAL-FAIL", "name": "滁州市", "kind": "city"}
        )
    ).json()
    klass = await evaluated_class(admin, committed.make, unit["id"], 1)
    await close_session(admin, klass)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION evaluation_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER evaluation_test_refuse BEFORE INSERT ON evaluation_answer "
                "FOR EACH ROW EXECUTE FUNCTION evaluation_test_refuse()"
            )
        )
    try:
        r = await klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
        assert r.status_code == 500, r.text
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER evaluation_test_refuse ON evaluation_answer"))
            await conn.execute(text("DROP FUNCTION evaluation_test_refuse()"))
    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM evaluation_answered), "
                    "(SELECT count(*) FROM evaluation_answer), "
                    "(SELECT array_agg(action::text ORDER BY occurred_at) FROM audit_event "
                    "WHERE entity_type = 'evaluation_answered' AND entity_id = "
                    "(SELECT max(entity_id::text)::uuid FROM audit_event "
                    "WHERE entity_type = 'evaluation_answered'))"
                )
            )
        ).one()
    # The marker was written and committed, then deleted: both recorded in the trail.
    assert (counts[0], counts[1], counts[2]) == (0, 0, ["create", "delete"])
    r = await klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
    assert r.status_code == 204, r.text
