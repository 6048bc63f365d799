"""Calendars (docs/calendars.md): a session's ICS file and a cadre's private feed at a
revocable secret address. Every file is parsed back with the `icalendar` library, and its raw
text is held to RFC 5545's framing (CRLF, lines folded at 75 octets)."""

import hashlib
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.auth.tokens import issue
from app.config import RateLimitSettings, Settings
from app.enums import Role
from app.main import create_app
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_catalogue import course_body, teacher_body
from tests.test_platform import assert_problem

SHANGHAI = ZoneInfo("Asia/Shanghai")
DOMAIN = "cadre-training.invalid"
FEED = f"{API}/me/calendar-feed"
# The feed shows a window around today: pin today so the factory's March 2025 classes are in it.
TODAY = date(2025, 2, 1)


def parse(body: bytes) -> Calendar:
    """The file read back by icalendar, after checking RFC 5545's framing of the raw text."""
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert all(len(line) <= 75 for line in lines), max(lines, key=len)
    return Calendar.from_ical(body)


def ics_of(r: httpx.Response) -> Calendar:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    return parse(r.content)


def calendar_url(ts: dict[str, Any]) -> str:
    return f"{API}/training-sessions/{ts['id']}/calendar.ics"


async def _catalogue(client: httpx.AsyncClient, unit_id: str) -> tuple[dict[str, Any], ...]:
    r = await client.post(f"{API}/teachers", json=teacher_body(unit_id, name="王老师"))
    assert r.status_code == 201, r.text
    teacher = r.json()
    r = await client.post(f"{API}/courses", json=course_body(unit_id, title="新时代党的建设"))
    assert r.status_code == 201, r.text
    return teacher, r.json()


async def session_with_parts(
    client: httpx.AsyncClient, unit_id: str
) -> tuple[dict[str, Any], list[Any]]:
    teacher, course = await _catalogue(client, unit_id)
    ts = await create_session(
        client,
        unit_id,
        title="县处级干部进修班（第一期）",
        start_date="2025-03-03",
        end_date="2025-03-04",
        days="2",
        credit_hours="10",
    )
    parts = [
        {
            "part_date": "2025-03-03",
            "period": "morning",
            "credit_hours": "4",
            "course_id": course["id"],
            "teacher_id": teacher["id"],
        },
        {
            "part_date": "2025-03-03",
            "period": "afternoon",
            "credit_hours": "4",
            "start_time": "14:30",
            "end_time": "17:30",
        },
        {"part_date": "2025-03-04", "period": "evening", "credit_hours": "2"},
    ]
    r = await client.put(
        f"{API}/training-sessions/{ts['id']}/parts",
        json={"parts": parts},
        headers={"If-Match": f'"{ts["version"]}"'},
    )
    assert r.status_code == 200, r.text
    return {**ts, "version": r.json()["version"]}, r.json()["parts"]


def _at(day: str, hhmm: str) -> datetime:
    return datetime.combine(
        date.fromisoformat(day), datetime.strptime(hhmm, "%H:%M").time(), SHANGHAI
    )


# --- a session's file ----------------------------------------------------------------------------


async def test_a_session_s_file_has_one_event_per_part_at_its_local_times(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client, name="滁州市委组织部")
    ts, parts = await session_with_parts(client, unit["id"])
    r = await client.get(calendar_url(ts))
    calendar = ics_of(r)
    assert r.headers["content-language"] == "zh-CN"
    assert "attachment" in r.headers["content-disposition"]
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    assert calendar["X-WR-CALNAME"] == "县处级干部进修班（第一期）"
    # Local times with their zone, and the zone's definition in the file.
    assert [tz["TZID"] for tz in calendar.timezones] == ["Asia/Shanghai"]
    assert b"DTSTART;TZID=Asia/Shanghai:20250303T080000" in r.content
    events = calendar.events
    assert [e.uid for e in events] == [f"{p['id']}@{DOMAIN}" for p in parts]
    assert [(e.start, e.end) for e in events] == [
        (_at("2025-03-03", "08:00"), _at("2025-03-03", "12:00")),
        (_at("2025-03-03", "14:30"), _at("2025-03-03", "17:30")),
        (_at("2025-03-04", "19:00"), _at("2025-03-04", "21:30")),
    ]
    assert all(
        isinstance(e.start, datetime) and str(e.start.tzinfo) == "Asia/Shanghai" for e in events
    )
    # The title and the part's course; the teacher in the description (Chinese by default).
    assert events[0].summary == "县处级干部进修班（第一期） · 新时代党的建设"
    assert "授课教师：王老师" in events[0].description
    assert "学时：4" in events[0].description
    assert "主办单位：滁州市委组织部" in events[0].description
    assert events[1].summary == "县处级干部进修班（第一期） · 下午"
    assert all(e.sequence == ts["version"] for e in events)
    assert all(e.status == "CONFIRMED" for e in events)


async def test_a_session_without_parts_is_one_all_day_event_its_end_exclusive(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], start_date="2025-03-03", end_date="2025-03-07")
    r = await client.get(calendar_url(ts))
    (event,) = ics_of(r).events
    assert event.uid == f"{ts['id']}@{DOMAIN}"
    assert (event.start, event.end) == (date(2025, 3, 3), date(2025, 3, 8))
    assert b"DTSTART;VALUE=DATE:20250303" in r.content
    assert b"DTEND;VALUE=DATE:20250308" in r.content
    assert event.summary == ts["title"]


async def test_an_edit_raises_the_sequence_and_a_cancellation_shows(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    (before,) = ics_of(await client.get(calendar_url(ts))).events
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"title": "改期后的进修班"})
    assert r.status_code == 200, r.text
    (edited,) = ics_of(await client.get(calendar_url(ts))).events
    assert edited.uid == before.uid
    assert edited.sequence > before.sequence
    assert edited.summary == "改期后的进修班"
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    (cancelled,) = ics_of(await client.get(calendar_url(ts))).events
    assert cancelled.status == "CANCELLED"
    assert cancelled.sequence > edited.sequence
    assert cancelled.uid == before.uid


async def test_english_words_on_request_titles_as_written(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client, name="滁州市委组织部")
    ts, _ = await session_with_parts(client, unit["id"])
    r = await client.get(calendar_url(ts), params={"lang": "en"})
    calendar = ics_of(r)
    assert r.headers["content-language"] == "en"
    first = calendar.events[0]
    assert first.summary == "县处级干部进修班（第一期） · 新时代党的建设"
    assert "Teacher: 王老师" in first.description
    assert "Organiser: 滁州市委组织部" in first.description
    assert calendar.events[1].summary.endswith(" · Afternoon")


async def test_an_unchanged_file_is_304_with_its_etag(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"])
    r = await client.get(calendar_url(ts))
    tag = r.headers["etag"]
    again = await client.get(calendar_url(ts), headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    await client.patch(f"{API}/training-sessions/{ts['id']}", json={"title": "新"})
    changed = await client.get(calendar_url(ts), headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


async def test_readers_and_trainees_get_the_file_others_404(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county")
    other = await create_org_unit(client)
    ts = await create_session(client, county["id"])
    audience = await create_cadre(client, county["id"])
    outsider = await create_cadre(client, other["id"])
    trainee = await create_cadre(client, other["id"])
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": trainee["id"]}
    )
    assert r.status_code == 201, r.text
    for reader in (
        await client_for(Role.org_admin, org_unit_id=city["id"]),
        await client_for(Role.cadre, cadre_id=audience["id"]),
        await client_for(Role.cadre, cadre_id=trainee["id"]),
        await client_for(Role.auditor),
    ):
        assert (await reader.get(calendar_url(ts))).status_code == 200
    for stranger in (
        await client_for(Role.org_admin, org_unit_id=other["id"]),
        await client_for(Role.cadre, cadre_id=outsider["id"]),
    ):
        assert_problem(await stranger.get(calendar_url(ts)), 404, "training_session.not_found")
    missing = {"id": str(uuid.uuid4())}
    assert_problem(await client.get(calendar_url(missing)), 404, "training_session.not_found")


# --- the private feed ----------------------------------------------------------------------------


async def _enrolled(
    client: httpx.AsyncClient, unit_id: str, cadre_id: str, **fields: Any
) -> dict[str, Any]:
    ts = await create_session(client, unit_id, **fields)
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre_id}
    )
    assert r.status_code == 201, r.text
    return ts


def _path(url: str) -> str:
    """The feed's path: tests reach the app in process, whatever host the URL names."""
    return url[url.index("/api/v1/") :]


async def test_the_feed_works_without_sign_in_and_shows_only_the_cadre_s_classes(
    client: httpx.AsyncClient, client_for: ClientFor, anonymous: httpx.AsyncClient
) -> None:
    unit = await create_org_unit(client)
    me = await create_cadre(client, unit["id"], name="张三丰")
    other = await create_cadre(client, unit["id"], name="李四")
    mine = await _enrolled(client, unit["id"], me["id"], title="我的进修班")
    cancelled = await _enrolled(client, unit["id"], me["id"], title="取消的班")
    await client.patch(f"{API}/training-sessions/{cancelled['id']}", json={"status": "cancelled"})
    withdrawn = await _enrolled(client, unit["id"], me["id"], title="退出的班")
    r = await client.get(f"{API}/training-sessions/{withdrawn['id']}/enrollments")
    (enrollment,) = r.json()["items"]
    r = await client.patch(f"{API}/enrollments/{enrollment['id']}", json={"status": "withdrawn"})
    assert r.status_code == 200, r.text
    theirs = await _enrolled(client, unit["id"], other["id"], title="别人的班")
    old = await _enrolled(
        client,
        unit["id"],
        me["id"],
        title="太早的班",
        start_date="2023-03-01",
        end_date="2023-03-02",
        days="2",
    )
    far = await _enrolled(
        client,
        unit["id"],
        me["id"],
        title="太晚的班",
        start_date="2027-03-01",
        end_date="2027-03-02",
        days="2",
    )
    cadre = await client_for(Role.cadre, cadre_id=me["id"])

    assert (await cadre.get(FEED)).json() == {
        "active": False,
        "issued_at": None,
        "last_used_at": None,
    }
    r = await cadre.post(FEED)
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.startswith("http://localhost:8000/api/v1/calendar-feeds/")
    assert url.endswith(".ics")
    status = (await cadre.get(FEED)).json()
    assert status["active"] is True
    assert status["last_used_at"] is None
    assert url.split("/")[-1][:-4] not in str(status)

    with clock.pinned(TODAY):
        r = await anonymous.get(_path(url))
    calendar = ics_of(r)
    assert calendar["X-WR-CALNAME"] == "我的培训"
    summaries = {e.summary: e for e in calendar.events}
    assert set(summaries) == {mine["title"], cancelled["title"]}
    assert summaries[cancelled["title"]].status == "CANCELLED"
    for absent in (theirs, withdrawn, old, far):
        assert absent["title"].encode() not in r.content
    # The session's facts only: not the cadre's name, nor its ID number or id.
    assert "张三丰".encode() not in r.content
    assert me["id"].encode() not in r.content
    assert (await cadre.get(FEED)).json()["last_used_at"] is not None


async def test_rotating_stops_the_old_address_and_revoking_the_new(
    client: httpx.AsyncClient, client_for: ClientFor, anonymous: httpx.AsyncClient
) -> None:
    unit = await create_org_unit(client)
    me = await create_cadre(client, unit["id"])
    await _enrolled(client, unit["id"], me["id"])
    cadre = await client_for(Role.cadre, cadre_id=me["id"])
    first = (await cadre.post(FEED)).json()["url"]
    second = (await cadre.post(FEED)).json()["url"]
    assert first != second
    with clock.pinned(TODAY):
        assert_problem(await anonymous.get(_path(first)), 404, "calendar.feed_not_found")
        assert len(ics_of(await anonymous.get(_path(second))).events) == 1
        r = await cadre.delete(FEED)
        assert r.status_code == 204
        assert_problem(await anonymous.get(_path(second)), 404, "calendar.feed_not_found")
    assert_problem(await cadre.delete(FEED), 404, "calendar.feed_not_found")
    assert (await cadre.get(FEED)).json()["active"] is False


async def test_only_the_hash_is_kept_and_the_trail_hides_it(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    anonymous: httpx.AsyncClient,
    db_conn: AsyncConnection,
) -> None:
    unit = await create_org_unit(client)
    me = await create_cadre(client, unit["id"])
    cadre = await client_for(Role.cadre, cadre_id=me["id"])
    await cadre.post(FEED)
    token = (await cadre.post(FEED)).json()["url"].split("/")[-1][:-4]
    row = (
        await db_conn.execute(
            text("SELECT id, token_hash FROM calendar_feed WHERE cadre_id = :c"), {"c": me["id"]}
        )
    ).one()
    # The current token's SHA-256, never the token.
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    events = (await client.get(f"{API}/audit-events", params={"entity_id": str(row.id)})).json()
    changes = [e["changes"] for e in events["items"]]
    assert [c["token"] for c in changes] == ["<changed>", "<changed>"]
    assert row.token_hash not in str(changes)
    # A fetch records when, and leaves no trace in the trail.
    assert (await anonymous.get(f"{API}/calendar-feeds/{token}.ics")).status_code == 200
    again = (await client.get(f"{API}/audit-events", params={"entity_id": str(row.id)})).json()
    assert len(again["items"]) == 2
    used = await db_conn.scalar(
        text("SELECT last_used_at FROM calendar_feed WHERE id = :i"), {"i": row.id}
    )
    assert used is not None


async def test_only_a_cadre_has_a_feed(client: httpx.AsyncClient, client_for: ClientFor) -> None:
    unit = await create_org_unit(client)
    for other in (client, await client_for(Role.org_admin, org_unit_id=unit["id"])):
        for method in ("GET", "POST", "DELETE"):
            assert_problem(await other.request(method, FEED), 403, "forbidden")


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "A" * 43,
        "A" * 42 + "!",
        "A" * 44,
        "%00" * 20,
        "张" * 43,
    ],
)
async def test_junk_tokens_are_404_never_500(anonymous: httpx.AsyncClient, token: str) -> None:
    r = await anonymous.get(f"{API}/calendar-feeds/{token}.ics")
    assert_problem(r, 404, "calendar.feed_not_found")


async def test_a_token_with_slashes_finds_no_route(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get(f"{API}/calendar-feeds/..%2F..%2Fetc%2Fpasswd.ics")
    assert_problem(r, 404, "not_found")


async def test_an_overlong_token_is_malformed_input(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get(f"{API}/calendar-feeds/{'A' * 5000}.ics")
    assert_problem(r, 422, "validation_failed")


async def test_the_feed_is_rate_limited_per_address(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"rate_limit": RateLimitSettings(calendar_feed_per_minute=2)}
    )
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for _ in range(2):
                r = await c.get(f"{API}/calendar-feeds/{'A' * 43}.ics")
                assert r.status_code == 404, r.text
            r = await c.get(f"{API}/calendar-feeds/{'A' * 43}.ics")
            assert_problem(r, 429, "rate_limited")
            assert int(r.headers["retry-after"]) >= 1
            # Signing in is counted apart.
            r = await c.post(
                f"{API}/auth/token",
                data={"grant_type": "password", "username": "x", "password": "y"},
            )
            assert r.status_code == 401, r.text


# --- a feed speaks only for an active cadre (review finding 4) ----------------------------------


async def _feed(
    client: httpx.AsyncClient, client_for: ClientFor
) -> tuple[dict[str, Any], httpx.AsyncClient, str]:
    unit = await create_org_unit(client)
    me = await create_cadre(client, unit["id"])
    await _enrolled(client, unit["id"], me["id"])
    cadre = await client_for(Role.cadre, cadre_id=me["id"])
    url = (await cadre.post(FEED)).json()["url"]
    return me, cadre, _path(url)


async def test_a_deactivated_user_s_feed_is_404_like_an_unknown_one(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    anonymous: httpx.AsyncClient,
    db_conn: AsyncConnection,
) -> None:
    me, _, path = await _feed(client, client_for)
    with clock.pinned(TODAY):
        assert len(ics_of(await anonymous.get(path)).events) == 1
    await db_conn.execute(
        text("UPDATE app_user SET active = false WHERE cadre_id = :c"), {"c": me["id"]}
    )
    with clock.pinned(TODAY):
        assert_problem(await anonymous.get(path), 404, "calendar.feed_not_found")
    await db_conn.execute(
        text("UPDATE app_user SET active = true WHERE cadre_id = :c"), {"c": me["id"]}
    )
    with clock.pinned(TODAY):
        assert len(ics_of(await anonymous.get(path)).events) == 1


async def test_a_cadre_who_left_has_no_feed(
    client: httpx.AsyncClient, client_for: ClientFor, anonymous: httpx.AsyncClient
) -> None:
    me, _, path = await _feed(client, client_for)
    r = await client.delete(f"{API}/cadres/{me['id']}")
    assert r.status_code == 204
    with clock.pinned(TODAY):
        assert_problem(await anonymous.get(path), 404, "calendar.feed_not_found")


async def test_ending_every_sign_in_ends_the_feed_a_new_one_works(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    anonymous: httpx.AsyncClient,
    db_conn: AsyncConnection,
    settings: Settings,
) -> None:
    me, cadre, path = await _feed(client, client_for)
    user_id = await db_conn.scalar(
        text("SELECT id FROM app_user WHERE cadre_id = :c"), {"c": me["id"]}
    )
    # A password change by an admin raises the user's token version (every sign-in ends).
    r = await client.patch(f"{API}/users/{user_id}", json={"password": "a-new-long-passphrase-9"})
    assert r.status_code == 200, r.text
    with clock.pinned(TODAY):
        assert_problem(await anonymous.get(path), 404, "calendar.feed_not_found")
    # Signed in again (a token at the new version), the cadre makes a new address: it works.
    version = await db_conn.scalar(
        text("SELECT token_version FROM app_user WHERE id = :u"), {"u": user_id}
    )
    assert version == 1
    assert (await cadre.post(FEED)).status_code == 401
    token = issue(settings, user_id=user_id, role=Role.cadre, token_version=version)
    cadre.headers["Authorization"] = f"Bearer {token.access_token}"
    r = await cadre.post(FEED)
    assert r.status_code == 201, r.text
    with clock.pinned(TODAY):
        assert_problem(await anonymous.get(path), 404, "calendar.feed_not_found")
        assert len(ics_of(await anonymous.get(_path(r.json()["url"]))).events) == 1


# --- the raw text of RFC 7986 and of the zone (review finding 5) --------------------------------


def _zone_lines(body: bytes) -> list[str]:
    """The VTIMEZONE's lines, unfolded."""
    text_ = body.decode().replace("\r\n ", "")
    lines = text_.split("\r\n")
    return lines[lines.index("BEGIN:VTIMEZONE") : lines.index("END:VTIMEZONE") + 1]


async def test_the_refresh_interval_names_its_value_type(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts, _ = await session_with_parts(client, unit["id"])
    r = await client.get(calendar_url(ts))
    lines = r.content.decode().split("\r\n")
    # RFC 7986 §5.7: refresh = "REFRESH-INTERVAL" refreshparam ":" dur-value, where
    # refreshparam is ";VALUE=DURATION" (required).
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert not any(line.startswith("REFRESH-INTERVAL:") for line in lines)
    assert ics_of(r).refresh_interval == timedelta(hours=1)


async def test_the_zone_covers_a_class_from_1900(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(
        client,
        unit["id"],
        start_date="1900-03-05",
        end_date="1900-03-05",
        days="1",
        credit_hours="4",
    )
    r = await client.put(
        f"{API}/training-sessions/{ts['id']}/parts",
        json={"parts": [{"part_date": "1900-03-05", "period": "morning", "credit_hours": "4"}]},
        headers={"If-Match": f'"{ts["version"]}"'},
    )
    assert r.status_code == 200, r.text
    r = await client.get(calendar_url(ts))
    assert b"DTSTART;TZID=Asia/Shanghai:19000305T080000" in r.content
    zone = _zone_lines(r.content)
    starts = [line.split(":", 1)[1] for line in zone if line.startswith("DTSTART:")]
    # The zone's first observance begins on or before the class, with the offset then in force
    # (local mean time, +08:05:43, until 1901).
    assert min(starts) <= "19000305T080000"
    assert "TZOFFSETTO:+080543" in zone
    (event,) = ics_of(r).events
    assert event.start == _at("1900-03-05", "08:00")


async def test_a_recent_class_keeps_the_short_zone(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    ts, _ = await session_with_parts(client, unit["id"])
    zone = _zone_lines((await client.get(calendar_url(ts))).content)
    starts = [line.split(":", 1)[1] for line in zone if line.startswith("DTSTART:")]
    assert starts == ["20000101T000000"]


# --- a trainee is one with a place held or the class done (review finding 11) -------------------


async def test_only_a_place_held_or_a_class_done_makes_a_trainee(
    client: httpx.AsyncClient, client_for: ClientFor, db_conn: AsyncConnection
) -> None:
    county = await create_org_unit(client, kind="county")
    other = await create_org_unit(client)
    # The session's audience is its county: the cadre from elsewhere reads it only as a trainee.
    ts = await create_session(client, county["id"])
    outsider = await create_cadre(client, other["id"])
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": outsider["id"]}
    )
    assert r.status_code == 201, r.text
    enrollment_id = r.json()["id"]
    cadre = await client_for(Role.cadre, cadre_id=outsider["id"])
    assert (await cadre.get(calendar_url(ts))).status_code == 200
    r = await client.patch(f"{API}/enrollments/{enrollment_id}", json={"status": "withdrawn"})
    assert r.status_code == 200, r.text
    assert_problem(await cadre.get(calendar_url(ts)), 404, "training_session.not_found")
    for status, answer in (
        ("rejected", 404),
        ("waitlisted", 404),
        ("nominated", 404),
        ("dropped_out", 404),
        ("confirmed", 200),
        ("completed", 200),
        ("enrolled", 200),
    ):
        await db_conn.execute(
            text("UPDATE enrollment SET status = :s, waitlist_position = :p WHERE id = :i"),
            {"s": status, "p": 1 if status == "waitlisted" else None, "i": enrollment_id},
        )
        assert (await cadre.get(calendar_url(ts))).status_code == answer, status


async def test_an_administrator_in_scope_revokes_a_cadre_s_feed(
    client: httpx.AsyncClient, client_for: ClientFor, anonymous: httpx.AsyncClient
) -> None:
    me, cadre, path = await _feed(client, client_for)
    unit_id = (await client.get(f"{API}/cadres/{me['id']}")).json()["org_unit_id"]
    other = await create_org_unit(client)
    revoke = f"{API}/cadres/{me['id']}/calendar-feed"
    stranger = await client_for(Role.org_admin, org_unit_id=other["id"])
    assert_problem(await stranger.delete(revoke), 404, "cadre.not_found")
    assert_problem(await cadre.delete(revoke), 403, "forbidden")
    with clock.pinned(TODAY):
        assert len(ics_of(await anonymous.get(path)).events) == 1
    admin_of_unit = await client_for(Role.org_admin, org_unit_id=unit_id)
    assert (await admin_of_unit.delete(revoke)).status_code == 204
    with clock.pinned(TODAY):
        assert_problem(await anonymous.get(path), 404, "calendar.feed_not_found")
    assert_problem(await client.delete(revoke), 404, "calendar.feed_not_found")
    assert (await cadre.get(FEED)).json()["active"] is False
    missing = f"{API}/cadres/{uuid.uuid4()}/calendar-feed"
    assert_problem(await client.delete(missing), 404, "cadre.not_found")
