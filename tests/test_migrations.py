"""The schema is built only by the migrations; the models and the migrations agree."""

import asyncio
import hashlib
import uuid
from datetime import date
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import get_settings
from app.db import Base
from app.migrations import alembic_config, head_revisions
from app.personal_data import SecretBox


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_newest_revision_round_trips(migrated_url: str, engine: AsyncEngine) -> None:
    config = alembic_config(migrated_url)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    assert head is not None
    assert frozenset({head}) == head_revisions()
    previous = script.get_revision(head).down_revision or "base"
    await engine.dispose()  # no pooled connection may hold locks on the tables dropped below
    # Alembic's env runs its own event loop: give it a thread of its own.
    await asyncio.to_thread(command.downgrade, config, str(previous))
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_rows_stored_before_0009_are_sealed_and_fingerprinted_by_it(
    migrated_url: str, engine: AsyncEngine
) -> None:
    config = alembic_config(migrated_url)
    principal = uuid.uuid4()
    answer = b'{"id_number": "34112219850309001X"}'
    plain_hash = hashlib.sha256(b"request").hexdigest()
    await engine.dispose()
    await asyncio.to_thread(command.downgrade, config, "0008")
    try:
        box = SecretBox(get_settings().data_key_bytes)
        # One answer stored in clear (before sealing existed), one sealed already (by the code
        # of revision 0008): both come out sealed once.
        rows = {
            "k-1": answer,
            "k-2": box.seal(answer, context=f"idempotency_record.body:{principal}:k-2".encode()),
        }
        async with engine.begin() as conn:
            for key, body in rows.items():
                await conn.execute(
                    text(
                        "INSERT INTO idempotency_record (principal_id, key, request_hash, "
                        "status_code, content_type, body) VALUES (:p, :k, :h, 201, "
                        "'application/json', :body)"
                    ),
                    {"p": principal, "k": key, "h": plain_hash, "body": body},
                )
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            stored = (
                await conn.execute(
                    text(
                        "SELECT key, body, request_hash FROM idempotency_record "
                        "WHERE principal_id = :p ORDER BY key"
                    ),
                    {"p": principal},
                )
            ).all()
        assert [row[0] for row in stored] == ["k-1", "k-2"]
        for key, body, fingerprint in stored:
            assert answer not in body
            # Sealed and fingerprinted with the key of the environment the migration ran in.
            context = f"idempotency_record.body:{principal}:{key}".encode()
            assert box.open(body, context=context) == answer
            assert fingerprint == box.fingerprint(hashlib.sha256(b"request").digest())
    finally:
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM idempotency_record WHERE principal_id = :p"), {"p": principal}
            )


async def _policy_definitions(engine: AsyncEngine) -> dict[str, tuple[dict[str, Any], int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT code, definition, version FROM credit_policy"))
        return {code: (definition, version) for code, definition, version in rows}


async def test_0010_brings_cn_2023_to_revision_2_and_leaves_snapshots_alone(
    migrated_url: str, engine: AsyncEngine, committed_client: Any
) -> None:
    from app.credit_policy.policy import CN_2023
    from app.credit_policy.schemas import definition_of
    from tests.factories import API, create_cadre, create_org_unit

    unit = await create_org_unit(committed_client)
    cadre = await create_cadre(committed_client, unit["id"])
    r = await committed_client.post(
        f"{API}/assessments", json={"cadre_id": cadre["id"], "year": 2024, "rating": "competent"}
    )
    assert r.status_code == 201, r.text
    snapshot = r.json()["training_snapshot"]
    local = {
        **definition_of(CN_2023),
        "centralised_kinds": ["centralised_training", "seminar"],
        "code": "local",
        "name": "x",
        "effective_from": "2030-01-01",
    }
    assert (await committed_client.post(f"{API}/credit-policies", json=local)).status_code == 201
    config = alembic_config(migrated_url)
    await engine.dispose()
    await asyncio.to_thread(command.downgrade, config, "0009")
    try:
        before = await _policy_definitions(engine)
        assert all("annual_hours_kinds" not in d for d, _ in before.values())
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        after = await _policy_definitions(engine)
        assert after["cn-2023"][0]["annual_hours_kinds"] == ["centralised_training"]
        assert after["cn-2023"][1] == before["cn-2023"][1] + 1
        # A deployment's own policy keeps computing what it did under revision 1: every kind it
        # credits counts toward its annual hours.
        assert after["local"][0]["annual_hours_kinds"] == [
            rule["kind"] for rule in definition_of(CN_2023)["kind_rules"]
        ]
        # Frozen snapshots are evidence: the migration does not touch them.
        async with engine.connect() as conn:
            stored = (
                await conn.execute(
                    text("SELECT training_snapshot, override_reason FROM assessment WHERE id = :a"),
                    {"a": r.json()["id"]},
                )
            ).one()
        assert tuple(stored) == (snapshot, None)
    finally:
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")


async def test_0011_marks_promoted_cadres_leading(migrated_url: str, engine: AsyncEngine) -> None:
    """Every promotion recorded before post types existed was read as one into a leading post:
    those cadres become `leading`, the rest `non_leading`; both inferred, not stated (so a first
    `leading` stated later for a county leader is no promotion, docs/rules.md rule 4)."""
    config = alembic_config(migrated_url)
    before = ScriptDirectory.from_config(config).get_revision("0011").down_revision
    assert isinstance(before, str)
    unit = uuid.uuid4()
    promoted, never = uuid.uuid4(), uuid.uuid4()
    await engine.dispose()
    await asyncio.to_thread(command.downgrade, config, before)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO org_unit (id, version, code, name, kind, path, depth, active) "
                    "VALUES (:id, 1, 'MIG-0011', '来安县', 'county', :path, 0, true)"
                ),
                {"id": unit, "path": unit.hex},
            )
            for cadre_id, hr_id, promoted_on in (
                (promoted, "MIG-P", date(2025, 3, 15)),
                (never, "MIG-N", None),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO cadre (id, version, hr_id, name, id_number_ciphertext, "
                        "id_number_hash, gender, birth_date, org_unit_id, rank, promoted_on, "
                        "status) VALUES (:id, 1, :hr_id, '王五', :blob, :blob, 'male', "
                        "'1980-05-17', :unit, 'county_division', :promoted_on, 'active')"
                    ),
                    {
                        "id": cadre_id,
                        "hr_id": hr_id,
                        "blob": hr_id.encode(),
                        "unit": unit,
                        "promoted_on": promoted_on,
                    },
                )
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            post_types = {
                hr_id: (post_type, stated)
                for hr_id, post_type, stated in (
                    await conn.execute(
                        text(
                            "SELECT hr_id, post_type, post_type_stated FROM cadre "
                            "WHERE org_unit_id = :unit"
                        ),
                        {"unit": unit},
                    )
                ).all()
            }
        assert post_types == {"MIG-P": ("leading", False), "MIG-N": ("non_leading", False)}
        with pytest.raises(IntegrityError, match="post_type_stated"):
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE cadre SET post_type_stated = NULL WHERE id = :id"), {"id": never}
                )
        with pytest.raises(IntegrityError, match="ck_cadre_posttype"):
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE cadre SET post_type = 'chief' WHERE id = :id"), {"id": never}
                )
    finally:
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM cadre WHERE org_unit_id = :u"), {"u": unit})
            await conn.execute(text("DELETE FROM org_unit WHERE id = :u"), {"u": unit})


async def test_0037_brings_earlier_qualifications_in_line_with_0029(
    migrated_url: str, engine: AsyncEngine, committed_client: Any
) -> None:
    """A qualification granted before 0029 ends a day early (the old rule) and knows no
    certificate: 0037 moves its end to the corresponding day (民法典 art. 202) and links it to
    the trainee's certificate of that class, revoking it if that certificate is revoked."""
    from tests.factories import create_cadre, create_org_unit, create_session

    client = committed_client
    unit = await create_org_unit(client)
    r = await client.post(
        "/api/v1/qualification-types",
        json={
            "org_unit_id": unit["id"],
            "name": "任职资格",
            "validity_years": 3,
            "granting_forms": ["refresher"],
        },
    )
    assert r.status_code == 201, r.text
    ts = await create_session(client, unit["id"])  # a refresher ending 2025-03-07
    cadres = [await create_cadre(client, unit["id"], name=n) for n in ("张三", "李四")]
    for cadre in cadres:
        r = await client.post(
            f"/api/v1/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
        assert r.status_code == 201, r.text
    assert (await client.post(f"/api/v1/training-sessions/{ts['id']}/close")).status_code == 200
    ids = [uuid.UUID(c["id"]) for c in cadres]
    async with engine.begin() as conn:
        # as 0028 left them: no link, the day before the anniversary; one certificate revoked
        await conn.execute(
            text(
                "UPDATE cadre_qualification SET certificate_id = NULL,"
                " valid_until = '2028-03-06' WHERE cadre_id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        await conn.execute(
            text("UPDATE certificate SET revoked_at = now() WHERE cadre_id = :c"), {"c": ids[1]}
        )
    config = alembic_config(migrated_url)
    await engine.dispose()
    await asyncio.to_thread(command.downgrade, config, "0036")
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT q.cadre_id, q.valid_until, q.certificate_id = c.id, q.revoke_reason"
                    " FROM cadre_qualification q JOIN certificate c ON c.cadre_id = q.cadre_id"
                    " WHERE q.cadre_id = ANY(:ids) ORDER BY q.cadre_id = :second"
                ),
                {"ids": ids, "second": ids[1]},
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (ids[0], date(2028, 3, 7), True, None),
        (ids[1], date(2028, 3, 7), True, "证书已撤销 (certificate revoked)"),
    ]
