"""Qualifications granted at a session's close (docs/rules.md rule 13): tied to the trainee's
certificate and revoked with it, granted by catalogue courses as by forms, and granted for the
whole class in a fixed number of statements."""

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.enums import TrainingForm
from app.qualification import repository
from app.qualification.models import CadreQualification, QualificationType
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_attendance import _until_waiting_or_done

LEADING = {"rank": "county_division", "post_type": "leading"}


async def _type(client: httpx.AsyncClient, unit: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"org_unit_id": unit["id"], "name": "任职资格", "validity_years": 3, **fields}
    r = await client.post(f"{API}/qualification-types", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _class(
    client: httpx.AsyncClient, unit: dict[str, Any], size: int, **fields: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ts = await create_session(client, unit["id"], **fields)  # a refresher, 2025-03-03 … 03-07
    cadres = []
    for n in range(size):
        cadre = await create_cadre(client, unit["id"], name=f"学员{n:02d}", **LEADING)
        r = await client.post(
            f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
        assert r.status_code == 201, r.text
        cadres.append(cadre)
    return ts, cadres


async def _close(client: httpx.AsyncClient, ts: dict[str, Any]) -> None:
    r = await client.post(f"{API}/training-sessions/{ts['id']}/close")
    assert r.status_code == 200, r.text


async def _held(client: httpx.AsyncClient, cadre: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/cadres/{cadre['id']}/qualifications")
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_voiding_a_trainee_s_log_revokes_the_qualification_its_certificate_granted(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    qtype = await _type(client, unit, required_post_types=["leading"], granting_forms=["refresher"])
    ts, (voided, kept) = await _class(client, unit, 2)
    await _close(client, ts)
    certificates = (await client.get(f"{API}/training-sessions/{ts['id']}/certificates")).json()
    certificate_of = {c["cadre_id"]: c for c in certificates["items"]}
    for cadre in (voided, kept):
        (held,) = await _held(client, cadre)
        assert held["certificate_id"] == certificate_of[cadre["id"]]["id"]
        assert (held["status"], held["valid_until"]) == ("valid", "2028-03-07")

    log_id = certificate_of[voided["id"]]["study_log_id"]
    assert (await client.post(f"{API}/study-logs/{log_id}/void")).status_code == 200

    (gone,) = await _held(client, voided)
    assert gone["status"] == "revoked"
    assert gone["revoked_at"] is not None
    assert gone["revoke_reason"] == "证书已撤销 (certificate revoked)"
    (still,) = await _held(client, kept)
    assert (still["status"], still["revoked_at"]) == ("valid", None)

    # the compliance view's qualifications block follows
    for cadre, covered, status in ((voided, False, "revoked"), (kept, True, "valid")):
        r = await client.get(
            f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2026-06-01"}
        )
        (block,) = r.json()["qualifications"]
        assert (block["qualification_type_id"], block["held"], block["status"]) == (
            qtype["id"],
            covered,
            status,
        )
    # the trigger's write is in the audit trail like every write
    events = (await client.get(f"{API}/audit-events", params={"entity_id": gone["id"]})).json()
    assert [e["action"] for e in events["items"]] == ["create", "update"]
    assert set(events["items"][1]["changes"]) >= {"revoked_at", "revoke_reason"}


async def test_a_course_the_session_teaches_grants_the_type(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.post(f"{API}/courses", json={"org_unit_id": unit["id"], "title": "保密法规"})
    assert r.status_code == 201, r.text
    course = r.json()
    granted = await _type(client, unit, name="保密资格", granting_course_ids=[course["id"]])
    assert granted["granting_course_ids"] == [course["id"]]
    await _type(client, unit, name="另一资格", granting_forms=["seminar"])  # not this class

    ts, (cadre,) = await _class(client, unit, 1)
    listed = await client.get(f"{API}/training-sessions/{ts['id']}/courses")
    r = await client.put(
        f"{API}/training-sessions/{ts['id']}/courses",
        json={"course_ids": [course["id"]]},
        headers={"If-Match": listed.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    await _close(client, ts)
    held = await _held(client, cadre)
    assert [(h["qualification_type_id"], h["granted_by_form"]) for h in held] == [
        (granted["id"], "refresher")
    ]


async def test_a_type_names_only_usable_catalogue_courses(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    elsewhere = await create_org_unit(client)
    r = await client.post(
        f"{API}/courses", json={"org_unit_id": elsewhere["id"], "title": "别处的课"}
    )
    foreign = r.json()["id"]
    r = await client.post(
        f"{API}/qualification-types",
        json={
            "org_unit_id": unit["id"],
            "name": "任职资格",
            "validity_years": 3,
            "granting_course_ids": [foreign],
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "catalogue.course_reference_not_found"
    assert r.json()["errors"][0]["pointer"] == "/body/granting_course_ids/0"


@contextmanager
def _statements(engine: AsyncEngine, about: str) -> Iterator[list[str]]:
    """The SQL statements sent to PostgreSQL that name `about`, while the block runs."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if about in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_granting_at_close_takes_the_same_statements_for_3_or_15_trainees(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    unit = await create_org_unit(client)
    await _type(client, unit, granting_forms=["refresher"])
    await _type(client, unit, name="档案管理", granting_forms=["refresher"])
    counts = []
    for size in (3, 15):
        ts, cadres = await _class(client, unit, size)
        with _statements(engine, "qualification") as seen:
            await _close(client, ts)
        counts.append(len(seen))
        for cadre in cadres:
            assert len(await _held(client, cadre)) == 2
    assert counts[0] == counts[1], counts


async def test_a_grant_another_close_committed_first_is_skipped_not_a_500(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Two classes of a granting form that end the same day and close at once both grant the
    cadre the type from that day; the one that commits second skips it (ON CONFLICT DO
    NOTHING) and closes with 200, where it once failed on the unique index."""
    client = committed_client
    unit = await create_org_unit(client)
    qtype = await _type(client, unit, granting_forms=["refresher"])
    ts, (cadre,) = await _class(client, unit, 1)
    async with engine.connect() as holder:
        # the other close, not yet committed: the same cadre, type and first day
        await holder.execute(
            text(
                "INSERT INTO cadre_qualification (id, version, cadre_id, qualification_type_id,"
                " valid_from, valid_until, evidence, granted_by_form)"
                " VALUES (gen_random_uuid(), 1, :cadre, :qtype, :day, :until, '另一期班次',"
                " 'refresher')"
            ),
            {
                "cadre": cadre["id"],
                "qtype": qtype["id"],
                "day": date.fromisoformat(ts["end_date"]),
                "until": date.fromisoformat(ts["end_date"]).replace(
                    year=int(ts["end_date"][:4]) + 3
                ),
            },
        )
        closing = asyncio.create_task(client.post(f"{API}/training-sessions/{ts['id']}/close"))
        await _until_waiting_or_done(engine, closing, holder)
        await holder.commit()
    r = await closing
    assert r.status_code == 200, r.text
    held = await _held(client, cadre)
    assert [h["evidence"] for h in held] == ["另一期班次"]


async def test_a_close_granting_more_rows_than_one_statement_binds(
    client: httpx.AsyncClient, isolated_sessionmaker: Any
) -> None:
    """asyncpg binds at most 32,767 parameters a statement and a grant takes nine: 3,700 grants
    (a class of 370 trainees and ten granting types, say) go in chunks, not a 500."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], name="学员")
    async with isolated_sessionmaker() as db_session:
        await db_session.execute(
            text(
                "INSERT INTO qualification_type (id, version, org_unit_id, name, validity_years,"
                " required_post_types, required_ranks, required_org_unit_ids, granting_forms,"
                " granting_course_ids)"
                " SELECT gen_random_uuid(), 1, :unit, '资格' || n, 3, '{}', '{}', '{}',"
                " '{refresher}', '{}' FROM generate_series(1, 3700) AS n"
            ),
            {"unit": uuid.UUID(unit["id"])},
        )
        types = (await db_session.scalars(select(QualificationType))).all()
        rows = [
            CadreQualification(
                cadre_id=uuid.UUID(cadre["id"]),
                qualification_type_id=qtype.id,
                valid_from=date(2025, 3, 7),
                valid_until=date(2028, 3, 7),
                evidence="班次",
                granted_by_form=TrainingForm.refresher,
            )
            for qtype in types
        ]
        assert len(rows) * 9 > 32_767
        inserted = await repository.insert_granted(db_session, rows)
        assert len(inserted) == 3700
        assert await repository.insert_granted(db_session, rows[:5]) == []
