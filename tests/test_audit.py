import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.enums import Role
from tests.factories import API, create_cadre, create_org_unit, create_session


async def _events(client: httpx.AsyncClient, entity_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/audit-events", params={"entity_id": entity_id})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_a_write_is_attributed(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.patch(
        f"{API}/org-units/{unit['id']}", json={"name": "新名字"}, headers={"X-Request-ID": "req-42"}
    )
    assert r.status_code == 200
    me = (await client.get(f"{API}/auth/me")).json()
    created, updated = await _events(client, unit["id"])
    assert (created["action"], created["entity_type"]) == ("create", "org_unit")
    assert created["changes"]["code"] == unit["code"]
    assert updated["action"] == "update"
    assert updated["changes"] == {"name": {"before": "滁州市", "after": "新名字"}}
    assert updated["request_id"] == r.headers["x-request-id"]  # the server's own
    assert updated["client_request_id"] == "req-42"
    assert created["client_request_id"] is None
    assert (updated["actor_id"], updated["actor_role"]) == (me["id"], "admin")


async def test_a_client_cannot_choose_the_request_id_of_the_trail(
    client: httpx.AsyncClient,
) -> None:
    """A client's X-Request-ID sits beside the server's id, never in its place: it cannot pose
    as a job (`webhook-worker`) or as another request (issue 10)."""
    unit = await create_org_unit(client)
    url = f"{API}/org-units/{unit['id']}"
    first = await client.patch(url, json={"name": "一"}, headers={"X-Request-ID": "webhook-worker"})
    second = await client.patch(
        url, json={"name": "二"}, headers={"X-Request-ID": "webhook-worker"}
    )
    assert first.status_code == second.status_code == 200
    _, *updates = await _events(client, unit["id"])
    assert [(u["request_id"], u["client_request_id"]) for u in updates] == [
        (first.headers["x-request-id"], "webhook-worker"),
        (second.headers["x-request-id"], "webhook-worker"),
    ]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    # Scoped to this unit: the real webhook worker (other tests run it) writes the trail
    # as `webhook-worker`.
    mine = {"entity_id": unit["id"]}
    found = await client.get(
        f"{API}/audit-events", params={**mine, "client_request_id": "webhook-worker"}
    )
    assert [e["id"] for e in found.json()["items"]] == [u["id"] for u in updates]
    assert (
        await client.get(f"{API}/audit-events", params={**mine, "request_id": "webhook-worker"})
    ).json()["items"] == []


async def test_id_numbers_never_enter_the_trail(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    (created,) = await _events(client, cadre["id"])
    assert created["changes"]["id_number"] == "<changed>"
    assert cadre["id_number"] not in str(created)


async def test_a_refused_write_leaves_no_event(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    r = await client.patch(f"{API}/org-units/{unit['id']}", json={"parent_id": unit["id"]})
    assert r.status_code == 409
    assert [e["action"] for e in await _events(client, unit["id"])] == ["create"]


async def test_the_trail_is_append_only(client: httpx.AsyncClient, db_conn: Any) -> None:
    await create_org_unit(client)
    for statement in (
        "UPDATE audit_event SET action = 'delete'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ):
        savepoint = await db_conn.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            await db_conn.execute(text(statement))
        await savepoint.rollback()


@pytest.mark.parametrize("role", [Role.org_admin, Role.cadre, Role.hr_system])
async def test_only_admin_and_auditor_read_it(
    client: httpx.AsyncClient, client_for: Any, role: Role
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    c = await client_for(
        role,
        org_unit_id=unit["id"] if role == Role.org_admin else None,
        cadre_id=cadre["id"] if role == Role.cadre else None,
    )
    assert (await c.get(f"{API}/audit-events")).status_code == 403
    auditor = await client_for(Role.auditor)
    assert (await auditor.get(f"{API}/audit-events")).status_code == 200


async def test_values_keep_the_formats_of_the_api(client: httpx.AsyncClient) -> None:
    """Hours and days as strings with two places, dates ISO, ids as strings, integers as
    numbers; an update shows only what changed, before and after."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], credit_hours="40", capacity=30)
    r = await client.patch(
        f"{API}/training-sessions/{ts['id']}", json={"credit_hours": "41.5", "capacity": 31}
    )
    assert r.status_code == 200, r.text
    created, updated = await _events(client, ts["id"])
    assert {k: created["changes"][k] for k in ("credit_hours", "days", "start_date")} == {
        "credit_hours": "40.00",
        "days": "5.00",
        "start_date": "2025-03-03",
    }
    assert created["changes"]["organiser_org_unit_id"] == unit["id"]
    assert created["changes"]["capacity"] == 30
    assert "version" not in created["changes"]
    assert "id" not in created["changes"]
    assert updated["changes"] == {
        "credit_hours": {"before": "40.00", "after": "41.50"},
        "capacity": {"before": 30, "after": 31},
    }


# Every column of every audited table, classified: a column added later fails this test until
# someone decides whether the trail may show it (a secret or a ciphertext must never be copied
# into audit_event and the change feed). Hidden columns show "<changed>" under the name given;
# skipped ones never appear. `id`, `version`, `created_at` and `updated_at` are skipped everywhere.
_ALWAYS_SKIPPED = {"id", "version", "created_at", "updated_at"}
AUDITED_COLUMNS: dict[str, dict[str, set[str] | dict[str, str]]] = {
    "org_unit": {
        "audited": {"code", "name", "kind", "parent_id", "path", "depth", "active"},
        "skipped": set(),
        "hidden": {},
    },
    "cadre": {
        "audited": {
            "hr_id",
            "name",
            "gender",
            "birth_date",
            "org_unit_id",
            "rank",
            "post_type",
            "post_type_stated",
            "position",
            "promoted_on",
            "status",
        },
        "skipped": {"id_number_ciphertext"},
        "hidden": {"id_number_hash": "id_number"},
    },
    "training_session": {
        "audited": {
            "title",
            "form",
            "centralised",
            "provider",
            "organiser_org_unit_id",
            "start_date",
            "end_date",
            "days",
            "credit_hours",
            "capacity",
            "enrolled",
            "status",
            "plan_item_id",
            "self_enrollment",
            "close_force_reason",
            "course_ids",
            "closed_on",
        },
        "skipped": set(),
        "hidden": {},
    },
    "session_audience": {
        "audited": {"training_session_id", "org_unit_id", "seat_quota"},
        "skipped": set(),
        "hidden": {},
    },
    "enrollment": {
        "audited": {
            "training_session_id",
            "cadre_id",
            "origin",
            "status",
            "leave_hours",
            "score",
            "leave_exception_reason",
            "audience_org_unit_id",
            "nominated_by_org_unit_id",
            "review_reason",
            "waitlist_position",
            "leave_override_reason",
        },
        "skipped": set(),
        "hidden": {},
    },
    "study_log": {
        "audited": {
            "cadre_id",
            "kind",
            "title",
            "provider",
            "start_date",
            "end_date",
            "hours",
            "days",
            "status",
            "source",
            "training_session_id",
            "enrollment_id",
            "note",
            "review_comment",
            "reviewed_at",
        },
        "skipped": {"request_fingerprint"},
        "hidden": {},
    },
    "assessment": {
        "audited": {
            "cadre_id",
            "year",
            "rating",
            "comment",
            "training_snapshot",
            "override_reason",
        },
        "skipped": set(),
        "hidden": {},
    },
    "credit_policy": {
        "audited": {"code", "name", "effective_from", "effective_to", "definition"},
        "skipped": set(),
        "hidden": {},
    },
    "app_user": {
        "audited": {
            "username",
            "role",
            "org_unit_id",
            "cadre_id",
            "active",
            "external_issuer",
            "external_subject",
        },
        # Bookkeeping: the change that raised token_version is recorded itself.
        "skipped": {"failed_logins", "locked_until", "token_version"},
        "hidden": {"password_hash": "password_hash"},
    },
    "webhook_subscription": {
        "audited": {
            "url",
            "description",
            "entity_types",
            "active",
            "disabled_reason",
            "previous_secret_expires_at",
        },
        # The delivery state: a delivery attempt must not flood the trail.
        "skipped": {
            "position_xid",
            "position_event_id",
            "pending_until_xid",
            "pending_until_event_id",
            "attempts",
            "next_attempt_at",
            "lease_token",
            "last_attempt_at",
            "last_delivered_at",
            "last_error",
        },
        "hidden": {"secret_ciphertext": "secret", "previous_secret_ciphertext": "previous_secret"},
    },
    "export_job": {
        "audited": {
            "requested_by",
            "org_unit_id",
            "year",
            "format",
            "lang",
            "status",
            "filename",
            "size_bytes",
            "sha256",
            "chunk_bytes",
            "error_code",
            "finished_at",
            "expires_at",
        },
        # The lease and the progress: a heartbeat must not flood the trail.
        "skipped": {
            "rows_done",
            "rows_total",
            "attempts",
            "lease_token",
            "lease_expires_at",
            "started_at",
        },
        "hidden": {},
    },
    # The file's bytes never enter the trail; which job and which piece do.
    "export_chunk": {"audited": {"export_job_id", "seq"}, "skipped": {"data"}, "hidden": {}},
    # A sign-in, its expiry and its revocation are audited; the hash never (nor "<changed>":
    # it never changes), and a use shows as the child that names its parent; the token
    # version is bookkeeping, as the user's.
    "refresh_token": {
        "audited": {
            "user_id",
            "family_id",
            "parent_id",
            "issued_at",
            "expires_at",
            "revoked_at",
        },
        "skipped": {"token_hash", "token_version", "used_at"},
        "hidden": {},
    },
    # Every step of a plan (status, reason, who submitted and decided and when) and every change
    # to a class.
    "training_plan": {
        "audited": {
            "org_unit_id",
            "year",
            "title",
            "status",
            "return_reason",
            "submitted_at",
            "submitted_by",
            "decided_at",
            "decided_by",
        },
        "skipped": set(),
        "hidden": {},
    },
    "training_plan_item": {
        "audited": {
            "training_plan_id",
            "title",
            "form",
            "centralised",
            "month",
            "days",
            "credit_hours",
            "target_ranks",
            "topic_tags",
            "planned_seats",
        },
        "skipped": set(),
        "hidden": {},
    },
    # sign-in by class part (docs/rules.md rule 12): every field of a part, a mark and a
    # leave request is the record
    "session_part": {
        "audited": {
            "training_session_id",
            "part_date",
            "period",
            "credit_hours",
            "start_time",
            "end_time",
            "course_id",
            "teacher_id",
        },
        "skipped": set(),
        "hidden": {},
    },
    "attendance": {
        "audited": {
            "enrollment_id",
            "session_part_id",
            "mark",
            "method",
            "marked_at",
            "device_id",
            "minutes_missed",
            "leave_request_id",
            "flag_reason",
        },
        "skipped": set(),
        "hidden": {},
    },
    "leave_request": {
        "audited": {
            "enrollment_id",
            "session_part_ids",
            "reason",
            "status",
            "decision_reason",
            "decided_at",
        },
        "skipped": set(),
        "hidden": {},
    },
    # certificates (docs/certificates.md): the verification code stays out of the trail, as
    # anyone holding it may read the certificate's public check
    "certificate": {
        "audited": {
            "organiser_org_unit_id",
            "year",
            "seq",
            "serial",
            "cadre_id",
            "training_session_id",
            "enrollment_id",
            "study_log_id",
            "hours",
            "days",
            "revoked_at",
        },
        "skipped": {"verification_code"},
        "hidden": {},
    },
    # qualifications (docs/rules.md rule 13): every field is the record
    "qualification_type": {
        "audited": {
            "org_unit_id",
            "name",
            "validity_years",
            "required_post_types",
            "required_ranks",
            "required_org_unit_ids",
            "granting_forms",
            "granting_course_ids",
        },
        "skipped": set(),
        "hidden": {},
    },
    # the catalogue (docs/rules.md, "Catalogue"): every field of an entry is the record
    "teacher": {
        "audited": {
            "org_unit_id",
            "name",
            "organisation",
            "title",
            "specialties",
            "kind",
            "active",
        },
        "skipped": set(),
        "hidden": {},
    },
    "cadre_qualification": {
        "audited": {
            "cadre_id",
            "qualification_type_id",
            "valid_from",
            "valid_until",
            "evidence",
            "granted_by_form",
            "revoked_at",
            "revoke_reason",
            "certificate_id",
        },
        "skipped": set(),
        "hidden": {},
    },
    "course": {
        "audited": {
            "org_unit_id",
            "title",
            "topic_tags",
            "default_hours",
            "teacher_ids",
            "active",
        },
        "skipped": set(),
        "hidden": {},
    },
    # theses and reflections: the text is personal writing of up to 50,000 characters, shown
    # only as "<changed>" (migration 0028); title, grade and comment in full
    "thesis": {
        "audited": {
            "cadre_id",
            "kind",
            "title",
            "training_session_id",
            "study_log_id",
            "submitted_at",
            "grade",
            "graded_at",
            "grade_comment",
        },
        "skipped": set(),
        "hidden": {"body": "body"},
    },
    # anonymous evaluation (docs/evaluation.md); evaluation_answer and evaluation_comment are
    # NOT audited, by design: see EVALUATION_UNAUDITED below
    "evaluation_form": {
        "audited": {"org_unit_id", "name", "lineage_id", "revision", "allow_comments", "active"},
        "skipped": set(),
        "hidden": {},
    },
    "evaluation_indicator": {
        "audited": {"form_id", "subject", "position", "code", "label", "weight"},
        "skipped": set(),
        "hidden": {},
    },
    "session_evaluation": {
        "audited": {"training_session_id", "form_id", "opens_on", "open_days", "closed"},
        "skipped": set(),
        "hidden": {},
    },
    "evaluation_answered": {
        "audited": {"enrollment_id"},
        "skipped": set(),
        "hidden": {},
    },
    # a cadre's private calendar feed (migration 0033): the token's hash only as "<changed>",
    # a fetch's time (last_used_at) leaves no trace
    "calendar_feed": {
        "audited": {"cadre_id", "issued_at", "token_version"},
        "skipped": {"last_used_at"},
        "hidden": {"token_hash": "token"},
    },
    # online academies (docs/rules.md, "Online academies"): a record's IP address and device
    # are shown only as "<changed>" (migration 0030)
    "online_platform": {
        "audited": {"code", "name", "conversion", "active"},
        "skipped": set(),
        "hidden": {},
    },
    "online_learner": {
        "audited": {"platform_id", "learner_id", "cadre_id", "matched_by"},
        "skipped": set(),
        "hidden": {},
    },
    "online_record": {
        "audited": {
            "platform_id",
            "external_id",
            "cadre_id",
            "learner_id",
            "course_code",
            "course_title",
            "course_minutes",
            "minutes",
            "completed",
            "test_passed",
            "started_at",
            "ended_at",
            "hours",
            "study_log_id",
            "flags",
        },
        "skipped": set(),
        "hidden": {"ip": "ip", "device": "device"},
    },
    # notifications to cadres (docs/notifications.md): in the feed, delivered by webhooks
    "notification": {
        "audited": {
            "cadre_id",
            "kind",
            "training_session_id",
            "enrollment_id",
            "cadre_qualification_id",
            "params",
            "dedupe_key",
            "read_at",
        },
        "skipped": set(),
        "hidden": {},
    },
    "unit_target": {
        "audited": {"org_unit_id", "year"}
        | {
            f"{i}_{what}"
            for i in ("roll_call", "five_year", "annual", "online", "evaluation", "plan")
            for what in ("weight", "target")
        },
        "skipped": set(),
        "hidden": {},
    },
    "unit_scorecard_snapshot": {
        "audited": {"org_unit_id", "year", "frozen_at", "scorecard"},
        "skipped": set(),
        "hidden": {},
    },
}
# The anonymous answers: the one write that is neither audited nor in the change feed, so that
# no trail row (with its actor, request id and time) sits beside an answer (docs/evaluation.md;
# tests/test_evaluation_anonymity.py proves they have no trigger at all).
EVALUATION_UNAUDITED = {"evaluation_answer", "evaluation_comment"}


async def test_the_anonymous_answers_are_the_declared_exemption(db_conn: Any) -> None:
    rows = await db_conn.execute(
        text(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' "
            "AND c.relnamespace = 'public'::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid "
            "AND t.tgname LIKE 'audit_trail_%') AND c.relname LIKE 'evaluation%'"
        )
    )
    assert {r for (r,) in rows} == EVALUATION_UNAUDITED


_SECRET_LIKE = ("secret", "password", "cipher", "hash", "token", "key")
_NOT_SECRET = {"previous_secret_expires_at"}  # when the old signing secret stops: a time
# a notification's idempotence key (kind, subject, day): no secret (docs/notifications.md)
_NOT_SECRET |= {"dedupe_key"}
# a calendar feed's copy of its user's token_version (a counter, migration 0039): no secret
_NOT_SECRET |= {"token_version"}


def _trigger_arguments(raw: bytes) -> tuple[set[str], dict[str, str]]:
    _, skipped, hidden = raw.decode().split("\x00")[:3]
    return {s for s in skipped.split(",") if s}, json.loads(hidden)


async def test_every_audited_column_is_classified(db_conn: Any) -> None:
    rows = await db_conn.execute(
        text(
            "SELECT c.relname, t.tgname, t.tgargs, "
            "array_agg(a.attname::text ORDER BY a.attnum) "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE t.tgname LIKE 'audit_trail_%' GROUP BY c.relname, t.tgname, t.tgargs"
        )
    )
    triggers: dict[str, dict[str, bytes]] = {}
    found: dict[str, tuple[bytes, set[str]]] = {}
    for table, name, args, columns in rows:
        triggers.setdefault(table, {})[name] = bytes(args)
        found[table] = (bytes(args), set(columns))
    assert set(found) == set(AUDITED_COLUMNS)
    for table, by_name in triggers.items():
        # Insert, update and delete, all three with the same classification.
        assert set(by_name) == {f"audit_trail_{e}" for e in ("insert", "update", "delete")}, table
        assert len(set(by_name.values())) == 1, table
    for table, (args, columns) in found.items():
        declared = AUDITED_COLUMNS[table]
        audited, skipped, hidden = declared["audited"], declared["skipped"], declared["hidden"]
        assert isinstance(audited, set)
        assert isinstance(skipped, set)
        assert isinstance(hidden, dict)
        assert columns - _ALWAYS_SKIPPED == audited | skipped | set(hidden), table
        assert _trigger_arguments(args) == (skipped, hidden), table
        for column in audited - _NOT_SECRET:
            assert not any(word in column for word in _SECRET_LIKE), (table, column)


async def test_a_temporary_table_cannot_capture_the_trail(db_conn: Any) -> None:
    """The trigger functions resolve their tables in their own schema: a session's temporary
    table named audit_event does not receive the trail."""
    unit = uuid.uuid4()
    await db_conn.execute(
        text("CREATE TEMP TABLE audit_event (LIKE public.audit_event) ON COMMIT DROP")
    )
    await db_conn.execute(
        text(
            "INSERT INTO org_unit (id, version, code, name, kind, path, depth, active) "
            "VALUES (:id, 1, 'TEMP-TRAIL', '临时', 'county', :path, 0, true)"
        ),
        {"id": unit, "path": f"/{unit.hex}/"},
    )
    temporary = await db_conn.scalar(text("SELECT count(*) FROM pg_temp.audit_event"))
    kept = await db_conn.scalar(
        text("SELECT count(*) FROM public.audit_event WHERE entity_id = :id"), {"id": unit}
    )
    assert (temporary, kept) == (0, 1)


async def test_what_changes_holds_follows_the_action(client: httpx.AsyncClient) -> None:
    """The contract's discriminated union: a creation lists the values set, an update
    `{before, after}` per column, a deletion `{}`; `action` filters the trail."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], capacity=30)
    r = await client.patch(f"{API}/training-sessions/{ts['id']}", json={"capacity": 31})
    assert r.status_code == 200, r.text
    for action in ("create", "update"):
        page = await client.get(
            f"{API}/audit-events", params={"entity_id": ts["id"], "action": action}
        )
        assert page.status_code == 200, page.text
        assert [e["action"] for e in page.json()["items"]] == [action]
        changes = page.json()["items"][0]["changes"]
        if action == "create":
            assert changes["capacity"] == 30
        else:
            assert changes == {"capacity": {"before": 30, "after": 31}}
    bad = await client.get(f"{API}/audit-events", params={"action": "rename"})
    assert bad.status_code == 422
