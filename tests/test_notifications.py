"""Notifications to cadres (docs/notifications.md): each event written in the transaction of its
cause (and gone with it), the reminder job idempotent per cadre, rule, subject and day, the
caller's own list at /me/notifications, and delivery as webhook events."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.actor import Actor
from app.clock import pinned
from app.config import Settings
from app.db import attribute, transaction
from app.enums import NotificationKind, Role, SessionStatus
from app.reminder.job import at_risk_period, remind
from app.training_session import repository as sessions
from app.training_session import service as session_service
from app.training_session.schemas import TrainingSessionUpdate
from tests.conftest import ClientFor
from tests.evaluation_factories import evaluated_class
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem
from tests.test_seats import city_world, nominate, set_audience
from tests.test_webhooks import FAST, drain, http, maker, receiving, subscribe

__all__ = ["http", "maker"]  # fixtures of tests/test_webhooks.py used here

MINE = f"{API}/me/notifications"


async def notifications_of(
    db_conn: AsyncConnection, cadre_id: str
) -> list[tuple[str, dict[str, Any]]]:
    rows = await db_conn.execute(
        text("SELECT kind, params FROM notification WHERE cadre_id = :id ORDER BY id"),
        {"id": uuid.UUID(cadre_id)},
    )
    return [(k, p) for k, p in rows.all()]


async def kinds_of(db_conn: AsyncConnection, cadre_id: str) -> list[str]:
    return [k for k, _ in await notifications_of(db_conn, cadre_id)]


async def enroll(client: httpx.AsyncClient, ts: dict[str, Any], cadre_id: str) -> dict[str, Any]:
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre_id}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


# --- events written with their cause -----------------------------------------------------------


async def test_nominated_waitlisted_and_promoted_are_written_with_their_cause(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    """Capacity 1: a's nomination takes the seat (nominated), b's waits (waitlisted, number 1);
    a withdraws and b moves up (promoted_from_waitlist). Each once, with the session's title
    and days."""
    w = await city_world(client)
    ts = await create_session(client, w["dept"]["id"], capacity=1)
    await set_audience(client, ts, [(w["A"]["id"], None)])
    cadre_a, cadre_b = [await create_cadre(client, w["A"]["id"]) for _ in range(2)]
    ea = (await nominate(client, ts, cadre_a["id"])).json()
    eb = (await nominate(client, ts, cadre_b["id"])).json()
    assert (ea["status"], eb["status"]) == ("nominated", "waitlisted")
    r = await client.patch(f"{API}/enrollments/{ea['id']}", json={"status": "withdrawn"})
    assert r.status_code == 200, r.text

    assert await kinds_of(db_conn, cadre_a["id"]) == ["nominated"]
    assert await kinds_of(db_conn, cadre_b["id"]) == ["waitlisted", "promoted_from_waitlist"]
    (_, waiting), _ = await notifications_of(db_conn, cadre_b["id"])
    assert waiting == {
        "session_title": ts["title"],
        "start_date": ts["start_date"],
        "end_date": ts["end_date"],
        "waitlist_position": 1,
    }


async def test_a_session_change_and_its_cancellation_reach_everyone_expecting_to_attend(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    """Seated and waitlisted trainees hear of new dates and of the cancellation; a withdrawn
    one does not. A PATCH that changes nothing (or only the capacity) notifies nobody."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], capacity=1)
    seated, gone = [await create_cadre(client, unit["id"]) for _ in range(2)]
    e_gone = await enroll(client, ts, gone["id"])
    await client.patch(f"{API}/enrollments/{e_gone['id']}", json={"status": "withdrawn"})
    await enroll(client, ts, seated["id"])
    url = f"{API}/training-sessions/{ts['id']}"
    r = await client.patch(url, json={"start_date": "2025-03-04", "end_date": "2025-03-08"})
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"start_date": "2025-03-04", "capacity": 2})
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"status": "cancelled"})
    assert r.status_code == 200, r.text

    assert await kinds_of(db_conn, seated["id"]) == ["session_changed", "session_cancelled"]
    assert await kinds_of(db_conn, gone["id"]) == []
    changed = (await notifications_of(db_conn, seated["id"]))[0][1]
    assert (changed["start_date"], changed["end_date"]) == ("2025-03-04", "2025-03-08")


async def test_a_waitlisted_trainee_hears_of_the_change_too(
    client: httpx.AsyncClient, client_for: ClientFor, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], capacity=1)
    seated, waiting = [await create_cadre(client, unit["id"]) for _ in range(2)]
    await enroll(client, ts, seated["id"])
    cadre = await client_for(Role.cadre, cadre_id=waiting["id"])
    r = await cadre.post(
        f"{API}/training-sessions/{ts['id']}/enrollments",
        json={"cadre_id": waiting["id"], "origin": "self"},
    )
    assert r.json()["status"] == "waitlisted", r.text
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    assert await kinds_of(db_conn, waiting["id"]) == ["waitlisted", "session_cancelled"]


async def test_replacing_the_parts_notifies_a_change_once(
    client: httpx.AsyncClient, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(
        client,
        unit["id"],
        start_date="2025-03-03",
        end_date="2025-03-03",
        days="1",
        credit_hours="8",
    )
    cadre = await create_cadre(client, unit["id"])
    await enroll(client, ts, cadre["id"])
    url = f"{API}/training-sessions/{ts['id']}/parts"
    parts = {
        "parts": [
            {"part_date": "2025-03-03", "period": "morning", "credit_hours": "4"},
            {"part_date": "2025-03-03", "period": "afternoon", "credit_hours": "4"},
        ]
    }
    assert (await client.put(url, json=parts)).status_code == 200
    assert (await client.put(url, json=parts)).status_code == 200  # the same: no change
    parts["parts"][1]["period"] = "evening"
    assert (await client.put(url, json=parts)).status_code == 200
    assert await kinds_of(db_conn, cadre["id"]) == ["session_changed", "session_changed"]


async def test_an_evaluation_opened_early_is_announced_once(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    db_conn: AsyncConnection,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """The organiser opens the evaluation on a day of the session: each trainee hears at once;
    the reminder job on that day adds nothing for them (the same key)."""
    unit = await create_org_unit(client)
    today = date(2026, 11, 20)
    with pinned(today):
        klass = await evaluated_class(
            client,
            client_for,
            unit["id"],
            2,
            attach=False,
            start_date="2026-11-18",
            end_date="2026-11-22",
            days="5",
            status="open",
        )
        r = await client.put(
            klass.url, json={"form_id": klass.form["id"], "opens_on": "2026-11-20"}
        )
        assert r.status_code == 200, r.text
    cadre_ids = [e["cadre_id"] for e in klass.enrollments]
    for cadre_id in cadre_ids:
        assert await notifications_of(db_conn, cadre_id) == [
            (
                "evaluation_opened",
                {"session_title": klass.ts["title"], "closes_on": "2026-12-03"},
            )
        ]
    async with isolated_sessionmaker() as db_session:
        result = await remind(db_session, settings, today)
        await db_session.commit()
    assert result.written[NotificationKind.evaluation_opened] == 0


async def test_a_cause_rolled_back_leaves_no_notification(
    client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    db_conn: AsyncConnection,
) -> None:
    """The notification is written in the cause's transaction: seen inside it, gone when the
    cause fails after it (the transaction boundary of app.db rolls both back)."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    cadre = await create_cadre(client, unit["id"])
    await enroll(client, ts, cadre["id"])
    admin = Actor(user_id=uuid.uuid4(), username="admin", role=Role.admin)
    count = text("SELECT count(*) FROM notification WHERE cadre_id = :id")
    params = {"id": uuid.UUID(cadre["id"])}

    class CauseFailed(Exception):
        pass

    seen_inside: list[int] = []

    async def cancel_then_fail() -> None:
        async with transaction(isolated_sessionmaker) as db_session:
            await attribute(db_session, request_id="test:rollback", actor=admin)
            found = await sessions.get(db_session, uuid.UUID(ts["id"]), for_update=True)
            assert found is not None
            await session_service.update_training_session(
                db_session, found, TrainingSessionUpdate(status=SessionStatus.cancelled), admin
            )
            seen_inside.append(int(await db_session.scalar(count, params) or 0))
            raise CauseFailed

    with pytest.raises(CauseFailed):
        await cancel_then_fail()
    assert seen_inside == [1]
    assert await db_conn.scalar(count, params) == 0
    got = await client.get(f"{API}/training-sessions/{ts['id']}")
    assert got.json()["status"] == "open"


# --- the reminder job ---------------------------------------------------------------------------


async def _run(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, day: date
) -> dict[NotificationKind, int]:
    async with transaction(sessionmaker) as db_session:
        await attribute(db_session, request_id="test:remind")
        return dict((await remind(db_session, settings, day)).written)


async def test_the_reminder_job_is_idempotent_and_daily(
    client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    db_conn: AsyncConnection,
    settings: Settings,
) -> None:
    """The issue's Done-when: "The reminder job is idempotent". On 2026-11-20 (41 days left in
    the year): a session starting in 2 days reminds its enrollee; a qualification valid until
    2026-12-20 is expiring; a leading cadre with no training is short of the five-year
    requirement and a township cadre of the annual one. The same day again adds nothing; with
    the at-risk reminder daily (APP_NOTIFY__AT_RISK_EVERY_DAYS=1), the next day adds only the
    at-risk reminders, which still apply."""
    settings = settings.model_copy(
        update={"notify": settings.notify.model_copy(update={"at_risk_every_days": 1})}
    )
    day = date(2026, 11, 20)
    unit = await create_org_unit(client)
    trainee = await create_cadre(client, unit["id"])
    leader = await create_cadre(client, unit["id"], rank="county_division")
    ts = await create_session(
        client, unit["id"], start_date="2026-11-22", end_date="2026-11-24", days="3"
    )
    await enroll(client, ts, trainee["id"])
    qtype = await client.post(
        f"{API}/qualification-types",
        json={"org_unit_id": unit["id"], "name": "保密资格", "validity_years": 1},
    )
    assert qtype.status_code == 201, qtype.text
    r = await client.post(
        f"{API}/cadres/{trainee['id']}/qualifications",
        json={
            "qualification_type_id": qtype.json()["id"],
            "valid_from": "2025-12-20",
            "evidence": "证书 001",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["valid_until"] == "2026-12-20"

    first = await _run(isolated_sessionmaker, settings, day)
    assert first[NotificationKind.session_starting] == 1
    assert first[NotificationKind.qualification_expiring] == 1
    assert first[NotificationKind.requirement_at_risk] >= 2
    trainee_kinds = await kinds_of(db_conn, trainee["id"])
    assert sorted(trainee_kinds) == [
        "qualification_expiring",
        "requirement_at_risk",
        "session_starting",
    ]
    leader_notes = await notifications_of(db_conn, leader["id"])
    assert [(k, p["requirement"], p["evaluated_on"]) for k, p in leader_notes] == [
        ("requirement_at_risk", "five_year", "2027-02-18")
    ]
    assert leader_notes[0][1]["days_required"] == "90"

    again = await _run(isolated_sessionmaker, settings, day)
    assert again == dict.fromkeys(first, 0)

    next_day = await _run(isolated_sessionmaker, settings, day + timedelta(days=1))
    assert next_day[NotificationKind.session_starting] == 0
    assert next_day[NotificationKind.qualification_expiring] == 0
    assert (
        next_day[NotificationKind.requirement_at_risk]
        == first[NotificationKind.requirement_at_risk]
    )
    assert await kinds_of(db_conn, leader["id"]) == ["requirement_at_risk"] * 2


async def test_an_evaluation_opened_by_the_close_is_reminded_once_to_who_has_not_answered(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    db_conn: AsyncConnection,
    settings: Settings,
) -> None:
    """Closing opens the evaluation (docs/rules.md rule 14): the job that day tells the trainee
    who has not answered, not the one who has; the next day adds nothing (once per
    enrollment)."""
    unit = await create_org_unit(client)
    day = date(2026, 11, 20)
    with pinned(day):
        klass = await evaluated_class(
            client,
            client_for,
            unit["id"],
            2,
            start_date="2026-11-16",
            end_date="2026-11-18",
            days="3",
        )
        r = await client.post(f"{API}/training-sessions/{klass.ts['id']}/close")
        assert r.status_code == 200, r.text
        r = await klass.trainees[0].post(f"{klass.url}/answers", json=klass.full_answer())
        assert r.status_code == 204, r.text
    answered, waiting = (e["cadre_id"] for e in klass.enrollments)
    first = await _run(isolated_sessionmaker, settings, day)
    assert first[NotificationKind.evaluation_opened] == 1
    assert "evaluation_opened" not in await kinds_of(db_conn, answered)
    opened = [n for n in await notifications_of(db_conn, waiting) if n[0] == "evaluation_opened"]
    assert opened == [
        ("evaluation_opened", {"session_title": klass.ts["title"], "closes_on": "2026-12-03"})
    ]
    later = await _run(isolated_sessionmaker, settings, day + timedelta(days=1))
    assert later[NotificationKind.evaluation_opened] == 0


async def test_the_annual_rule_waits_for_the_end_of_the_year(
    client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    db_conn: AsyncConnection,
    settings: Settings,
) -> None:
    """In June (more than APP_NOTIFY__ANNUAL_AT_RISK_DAYS left), an untrained township cadre is
    not at risk yet; in December it is."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    await _run(isolated_sessionmaker, settings, date(2026, 6, 1))
    assert await kinds_of(db_conn, cadre["id"]) == []
    await _run(isolated_sessionmaker, settings, date(2026, 12, 1))
    notes = await notifications_of(db_conn, cadre["id"])
    assert [(k, p["requirement"], p["status"]) for k, p in notes] == [
        ("requirement_at_risk", "annual", "not_met")
    ]


# --- the caller's own list ---------------------------------------------------------------------


async def test_a_cadre_reads_its_own_notifications_unread_first(
    client: httpx.AsyncClient, client_for: ClientFor, db_conn: AsyncConnection
) -> None:
    unit = await create_org_unit(client)
    mine, theirs = [await create_cadre(client, unit["id"]) for _ in range(2)]
    sessions_ = [await create_session(client, unit["id"], title=f"班次{n}") for n in range(3)]
    for ts in sessions_:
        await enroll(client, ts, mine["id"])
        await enroll(client, ts, theirs["id"])
    for ts in sessions_:
        r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"status": "cancelled"})
        assert r.status_code == 200, r.text
    me = await client_for(Role.cadre, cadre_id=mine["id"])
    other = await client_for(Role.cadre, cadre_id=theirs["id"])

    r = await me.get(MINE)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["unread_count"] == 3
    assert [i["params"]["session_title"] for i in page["items"]] == ["班次2", "班次1", "班次0"]
    assert {i["cadre_id"] for i in page["items"]} == {mine["id"]}
    first = page["items"][0]
    assert first["kind"] == "session_cancelled"
    assert first["title"] == "班次2 is cancelled"
    zh = await me.get(MINE, headers={"Accept-Language": "zh-CN"})
    assert zh.json()["items"][0]["title"] == "班次2 已取消"

    oldest = page["items"][2]
    r = await me.post(f"{MINE}/{oldest['id']}/read")
    assert r.status_code == 200, r.text
    assert r.json()["read_at"] is not None
    # the read one goes last; pages of one walk the same order
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        got = (await me.get(MINE, params=params)).json()
        seen += [(i["params"]["session_title"], i["read_at"] is None) for i in got["items"]]
        cursor = got["next_cursor"]
        if cursor is None:
            break
    assert seen == [("班次2", True), ("班次1", True), ("班次0", False)]
    unread = (await me.get(MINE, params={"unread": "true"})).json()
    assert [i["params"]["session_title"] for i in unread["items"]] == ["班次2", "班次1"]

    # another cadre's notification is not found; theirs are untouched
    assert_problem(await other.post(f"{MINE}/{oldest['id']}/read"), 404, "notification.not_found")
    r = await me.post(f"{MINE}/read-all")
    assert r.json() == {"marked": 2}
    assert (await me.get(MINE)).json()["unread_count"] == 0
    assert (await other.get(MINE)).json()["unread_count"] == 3
    assert_problem(await me.get(MINE, params={"cursor": "x"}), 422, "validation_failed")


@pytest.mark.parametrize("role", [Role.admin, Role.org_admin, Role.auditor, Role.hr_system])
async def test_only_cadres_have_notifications(
    client: httpx.AsyncClient, client_for: ClientFor, role: Role
) -> None:
    unit = await create_org_unit(client)
    caller = await client_for(role, org_unit_id=unit["id"] if role == Role.org_admin else None)
    assert_problem(await caller.get(MINE), 403, "forbidden")
    assert_problem(await caller.post(f"{MINE}/read-all"), 403, "forbidden")


# --- delivery as webhook events ----------------------------------------------------------------


async def test_the_webhook_worker_delivers_notifications_to_subscriptions_that_list_them(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    """The SMS or IM gateway a deployment has subscribes to `notification`: it gets each one
    as a change event (kind, cadre, params), and nothing else."""
    client = committed_client
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    ts = await create_session(client, unit["id"])
    with receiving("/gateway") as gateway:
        await subscribe(client, gateway.url, entity_types=["notification"])
        await enroll(client, ts, cadre["id"])
        r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"status": "cancelled"})
        assert r.status_code == 200, r.text
        await drain(maker, http, datetime.now(UTC) + timedelta(seconds=FAST.poll_interval_seconds))
    events = gateway.events()
    assert [(e[0], e[1]) for e in events] == [("notification", "create")]
    change = gateway.received[0].message["events"][0]
    assert change["changes"]["kind"] == "session_cancelled"
    assert change["changes"]["cadre_id"] == cadre["id"]
    assert change["changes"]["params"]["session_title"] == ts["title"]


@pytest.mark.parametrize(
    ("day", "every", "first"),
    [
        (date(2026, 11, 19), 7, date(2026, 11, 19)),  # day 20,776 since 1970-01-01 = 7 × 2,968
        (date(2026, 11, 20), 7, date(2026, 11, 19)),
        (date(2026, 11, 25), 7, date(2026, 11, 19)),
        (date(2026, 11, 26), 7, date(2026, 11, 26)),
        (date(2026, 11, 21), 1, date(2026, 11, 21)),
        (date(1970, 1, 1), 30, date(1970, 1, 1)),
        (date(1970, 1, 30), 30, date(1970, 1, 1)),
        (date(1970, 1, 31), 30, date(1970, 1, 31)),
    ],
)
def test_the_at_risk_period(day: date, every: int, first: date) -> None:
    assert at_risk_period(day, every) == first


async def test_a_cadre_at_risk_is_told_once_a_week(
    client: httpx.AsyncClient,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    db_conn: AsyncConnection,
    settings: Settings,
) -> None:
    """With the default period of 7 days (one starts on 2026-11-19, day 20,776 = 7 × 2,968 since
    1970-01-01, and the next on the 26th), a leading cadre short of the five-year requirement is
    told on 2026-11-20, not again on the 21st … 25th, and again on the 26th."""
    assert settings.notify.at_risk_every_days == 7
    unit = await create_org_unit(client)
    leader = await create_cadre(client, unit["id"], rank="county_division")
    told = []
    for offset in range(8):
        await _run(isolated_sessionmaker, settings, date(2026, 11, 20) + timedelta(days=offset))
        told.append(len(await notifications_of(db_conn, leader["id"])))
    assert told == [1, 1, 1, 1, 1, 1, 2, 2]
