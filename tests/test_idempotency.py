"""Safe retries with Idempotency-Key on POST."""

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.principals import forget_user
from app.config import Settings
from app.enums import Role
from app.idempotency import service as idempotency
from app.idempotency.models import IdempotencyRecord
from app.personal_data import secret_box
from app.user.models import User
from tests.conftest import add_user, bearer
from tests.factories import API, cadre_body, create_org_unit
from tests.test_platform import assert_problem


async def test_a_retry_gets_the_first_answer(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    headers = {"Idempotency-Key": "import-2026-11-28-0001"}
    first = await client.post(f"{API}/cadres", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(f"{API}/cadres", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    listed = await client.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})
    assert len(listed.json()["items"]) == 1

    other = await client.post(f"{API}/cadres", json=cadre_body(unit["id"]), headers=headers)
    assert_problem(other, 422, "idempotency.key_reused")
    # Without the key the same body is a new request (and here a duplicate hr_id).
    assert (await client.post(f"{API}/cadres", json=body)).status_code == 409


async def test_a_replay_says_the_language_of_the_answer_it_repeats(
    client: httpx.AsyncClient,
) -> None:
    """The body is the first answer's, words included: its Content-Language is too, whatever
    the retry's Accept-Language."""
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    headers = {"Idempotency-Key": "language-1", "Accept-Language": "zh-CN"}
    first = await client.post(f"{API}/cadres", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["content-language"] == "zh-CN"
    again = await client.post(
        f"{API}/cadres", json=body, headers={**headers, "Accept-Language": "en"}
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-language"] == "zh-CN"


async def test_stored_answers_are_encrypted(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An admin's answer shows the whole ID number; the copy kept for replays must not."""
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    r = await client.post(f"{API}/cadres", json=body, headers={"Idempotency-Key": "sealed-1"})
    assert r.json()["id_number"] == body["id_number"]
    async with isolated_sessionmaker() as db_session:
        stored = (await db_session.scalars(select(IdempotencyRecord.body))).all()
    assert len(stored) == 1
    assert body["id_number"].encode() not in stored[0]
    assert body["name"].encode() not in stored[0]
    # Nor is the request's fingerprint a plain hash a search over ID numbers could match.
    async with isolated_sessionmaker() as db_session:
        fingerprint = await db_session.scalar(select(IdempotencyRecord.request_hash))
    sent = r.request.content
    assert fingerprint != hashlib.sha256(b"\0".join([b"/api/v1/cadres", b"", sent])).hexdigest()


async def test_a_key_past_its_retention_starts_afresh(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    unit = await create_org_unit(client)
    headers = {"Idempotency-Key": "yesterday"}
    first = await client.post(f"{API}/cadres", json=cadre_body(unit["id"]), headers=headers)
    assert first.status_code == 201
    async with isolated_sessionmaker() as db_session, db_session.begin():
        await db_session.execute(
            update(IdempotencyRecord).values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
    # 24 hours on, another body under the same key is a new request, not a reused key...
    second = await client.post(f"{API}/cadres", json=cadre_body(unit["id"]), headers=headers)
    assert second.status_code == 201, second.text
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    # ...and the key now remembers the second answer.
    again = await client.post(f"{API}/cadres", json=cadre_body(unit["id"]), headers=headers)
    assert_problem(again, 422, "idempotency.key_reused")


async def test_expired_records_are_pruned(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    unit = await create_org_unit(client)
    for key in ("old-1", "old-2", "fresh"):
        await client.post(
            f"{API}/cadres", json=cadre_body(unit["id"]), headers={"Idempotency-Key": key}
        )
    async with isolated_sessionmaker() as db_session, db_session.begin():
        await db_session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key.like("old-%"))
            .values(created_at=datetime.now(UTC) - timedelta(hours=24, seconds=1))
        )
        assert await idempotency.prune(db_session, 24) == 2
        left = (await db_session.scalars(select(IdempotencyRecord.key))).all()
    assert left == ["fresh"]


async def test_an_unreadable_stored_answer_is_409_not_500(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """What a replay meets after APP_DATA_KEY changed: the answer cannot be opened."""
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    headers = {"Idempotency-Key": "sealed-under-another-key"}
    assert (await client.post(f"{API}/cadres", json=body, headers=headers)).status_code == 201
    async with isolated_sessionmaker() as db_session, db_session.begin():
        # Sealed and fingerprinted under another key: neither opens nor matches.
        await db_session.execute(
            update(IdempotencyRecord).values(body=b"\0" * 64, request_hash="0" * 64)
        )
    r = await client.post(f"{API}/cadres", json=body, headers=headers)
    assert_problem(r, 409, "idempotency.answer_unreadable")


async def test_a_failed_request_can_be_retried(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    headers = {"Idempotency-Key": "retry-after-fix"}
    bad = cadre_body("00000000-0000-7000-8000-000000000000")
    assert (await client.post(f"{API}/cadres", json=bad, headers=headers)).status_code == 422
    good = {**bad, "org_unit_id": unit["id"]}
    # Only successful answers are kept: the key is free for the corrected request.
    assert (await client.post(f"{API}/cadres", json=good, headers=headers)).status_code == 201


async def test_keys_belong_to_their_caller(client: httpx.AsyncClient, client_for: object) -> None:
    unit = await create_org_unit(client)
    headers = {"Idempotency-Key": "shared-key"}
    assert (
        await client.post(f"{API}/cadres", json=cadre_body(unit["id"]), headers=headers)
    ).status_code == 201
    hr = await client_for(Role.hr_system)  # type: ignore[operator]
    r = await hr.post(f"{API}/cadres", json=cadre_body(unit["id"]), headers=headers)
    assert r.status_code == 201
    assert "idempotent-replayed" not in r.headers


async def test_a_malformed_key_is_422(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.post(
        f"{API}/cadres", json=cadre_body(unit["id"]), headers={"Idempotency-Key": "has space"}
    )
    assert_problem(r, 422, "idempotency.bad_key")


async def test_concurrent_retries_create_one_record(committed_client: httpx.AsyncClient) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    headers = {"Idempotency-Key": "concurrent-7"}
    responses = await asyncio.gather(
        *(client.post(f"{API}/cadres", json=body, headers=headers) for _ in range(8))
    )
    codes = [r.status_code for r in responses]
    assert set(codes) <= {201, 409}
    assert 201 in codes
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "idempotency.in_progress"
    }
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    listed = await client.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})
    assert len(listed.json()["items"]) == 1
    # Once the first has finished, every retry gets its answer.
    again = await client.post(f"{API}/cadres", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"


# --- a replay is authorised as the request is (issue 10, low) ------------------------------


async def _as(transport: httpx.ASGITransport, settings: Settings, user: User) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(settings, user)
    )


async def _set_user(
    sessionmaker: async_sessionmaker[AsyncSession], user: User, **values: object
) -> None:
    async with sessionmaker() as db_session, db_session.begin():
        await db_session.execute(update(User).where(User.id == user.id).values(**values))
    forget_user(None, user.id)  # SQL, not the user service: drop the cached actor


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"role": Role.auditor}, id="demoted-to-auditor"),
        pytest.param({"active": False}, id="deactivated"),
    ],
)
async def test_a_replay_after_losing_the_right_is_refused_as_the_request_would_be(
    client: httpx.AsyncClient,
    transport: httpx.ASGITransport,
    settings: Settings,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, object],
) -> None:
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    headers = {"Idempotency-Key": "before-the-demotion"}
    admin = await add_user(isolated_sessionmaker, Role.admin)
    async with await _as(transport, settings, admin) as c:
        first = await c.post(f"{API}/cadres", json=body, headers=headers)
        assert first.status_code == 201
        assert first.json()["id_number"] == body["id_number"]  # an admin sees it whole

        await _set_user(isolated_sessionmaker, admin, **change)
        fresh = await c.post(f"{API}/cadres", json=cadre_body(unit["id"]))
        replay = await c.post(f"{API}/cadres", json=body, headers=headers)
    assert fresh.status_code in (401, 403)
    # Answered as the request itself is today, never with the stored answer.
    assert replay.status_code == fresh.status_code
    assert replay.json()["code"] == fresh.json()["code"]
    assert "idempotent-replayed" not in replay.headers
    assert body["id_number"] not in replay.text
    assert first.json()["id"] not in replay.text


async def test_a_replay_with_other_rights_is_409_not_the_stored_answer(
    client: httpx.AsyncClient,
    transport: httpx.ASGITransport,
    settings: Settings,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An admin made an org_admin may still create cadres, but sees numbers masked: the
    answer made for the admin (the whole number) is not given again."""
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    headers = {"Idempotency-Key": "before-the-move"}
    admin = await add_user(isolated_sessionmaker, Role.admin)
    async with await _as(transport, settings, admin) as c:
        assert (await c.post(f"{API}/cadres", json=body, headers=headers)).status_code == 201
        await _set_user(isolated_sessionmaker, admin, role=Role.org_admin, org_unit_id=unit["id"])
        replay = await c.post(f"{API}/cadres", json=body, headers=headers)
        assert_problem(replay, 409, "idempotency.rights_changed")
        assert body["id_number"] not in replay.text
        # Rights as they were: the answer is given again.
        await _set_user(isolated_sessionmaker, admin, role=Role.admin, org_unit_id=None)
        again = await c.post(f"{API}/cadres", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id_number"] == body["id_number"]


async def test_a_webhook_secret_is_not_replayed_after_a_demotion(
    transport: httpx.ASGITransport,
    settings: Settings,
    isolated_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    hr = await add_user(isolated_sessionmaker, Role.hr_system)
    body = {"url": "http://127.0.0.1:9/hooks/hr"}
    headers = {"Idempotency-Key": "subscribe-1"}
    async with await _as(transport, settings, hr) as c:
        first = await c.post(f"{API}/webhooks", json=body, headers=headers)
        assert first.status_code == 201, first.text
        secret = first.json()["secret"]
        await _set_user(isolated_sessionmaker, hr, role=Role.auditor)
        replay = await c.post(f"{API}/webhooks", json=body, headers=headers)
    assert replay.status_code in (401, 403)
    assert secret not in replay.text


async def test_an_answer_stored_without_its_rights_is_not_replayed(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A record sealed before the rights were kept with it (an upgrade within the retention)
    cannot be checked against the caller's rights: it is not given again."""
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"])
    headers = {"Idempotency-Key": "sealed-before-rights"}
    first = await client.post(f"{API}/cadres", json=body, headers=headers)
    assert first.status_code == 201
    async with isolated_sessionmaker() as db_session, db_session.begin():
        record = (await db_session.scalars(select(IdempotencyRecord))).one()
        context = f"idempotency_record.body:{record.principal_id}:{record.key}".encode()
        record.body = secret_box().seal(first.content, context=context)
    replay = await client.post(f"{API}/cadres", json=body, headers=headers)
    assert_problem(replay, 409, "idempotency.rights_changed")
    assert body["id_number"] not in replay.text
