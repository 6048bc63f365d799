"""the database writes the audit trail and the change feed

Every insert, update and delete of an audited table leaves its audit rows (and, for the tables
the change feed carries, its change events) through one statement-level trigger function reading
the statement's transition tables, whatever wrote the rows: an ORM flush, a Core statement, a
COPY or SQL inside a CTE. Who did it and from which request come from transaction-local settings
(`app.actor_id`, `app.actor_username`, `app.actor_role`, `app.request_id`) that
`app.audit.service.attribute` sets.

What each row records:
- create: every column that is not null, by name;
- update: `{column: {before, after}}` of the columns that changed; a row with no such column
  leaves no trace;
- delete: `{}`.
Numbers of `numeric` columns are strings with their scale (`"12.50"`), dates and times ISO
strings, ids strings. Secrets appear as `"<changed>"` under the name of what they hide;
ciphertexts never appear; bookkeeping columns (version, timestamps, request fingerprints, login
counters, a webhook's delivery state) are skipped, so a delivery attempt leaves no trace.

Org units join the change feed.

Revision ID: 0013
Revises: 0009
Create Date: 2026-11-30 00:40:00
"""

import json
from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (carried by the change feed, columns skipped, hidden columns -> the name shown)
AUDITED: dict[str, tuple[bool, tuple[str, ...], dict[str, str]]] = {
    "org_unit": (True, (), {}),
    "cadre": (True, ("id_number_ciphertext",), {"id_number_hash": "id_number"}),
    "training_session": (True, (), {}),
    "enrollment": (True, (), {}),
    "study_log": (True, ("request_fingerprint",), {}),
    "assessment": (True, (), {}),
    "credit_policy": (True, (), {}),
    "app_user": (False, ("failed_logins", "locked_until"), {"password_hash": "password_hash"}),
    "webhook_subscription": (
        False,
        (
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
        ),
        {"secret_ciphertext": "secret", "previous_secret_ciphertext": "previous_secret"},
    ),
}

UUID7_FUNCTION = """
CREATE FUNCTION audit_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    -- UUID version 7 (RFC 9562), like app.ids.new_id: the time in ms over a random v4,
    -- whose version bits 0100 become 0111.
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(
                        floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$
"""

# A column's value as the trail shows it: numeric columns as strings with their scale.
VALUE_FUNCTION = """
CREATE FUNCTION audit_value(col text, val jsonb, numerics text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN col = ANY(numerics) AND jsonb_typeof(val) = 'number'
                THEN to_jsonb(val #>> '{}') ELSE val END
$$
"""

# One statement's changes, `changed(entity_id, changes)`, per operation. Reads the transition
# tables `new_rows` and `old_rows`.
_CREATED = """
    SELECT n.id AS entity_id,
           coalesce((SELECT jsonb_object_agg(
                         coalesce(hidden ->> e.key, e.key),
                         CASE WHEN hidden ? e.key THEN '"<changed>"'::jsonb
                              ELSE audit_value(e.key, e.value, numerics) END)
                     FROM jsonb_each(to_jsonb(n)) AS e
                     WHERE e.value <> 'null'::jsonb AND e.key <> ALL(skipped)),
                    '{}'::jsonb) AS changes
    FROM new_rows AS n
"""
_UPDATED = """
    SELECT n.id AS entity_id,
           (SELECT jsonb_object_agg(
                       coalesce(hidden ->> e.key, e.key),
                       CASE WHEN hidden ? e.key THEN '"<changed>"'::jsonb
                            ELSE jsonb_build_object(
                                'before', audit_value(e.key, to_jsonb(o) -> e.key, numerics),
                                'after', audit_value(e.key, e.value, numerics)) END)
            FROM jsonb_each(to_jsonb(n)) AS e
            WHERE e.key <> ALL(skipped) AND e.value IS DISTINCT FROM to_jsonb(o) -> e.key
           ) AS changes
    FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
"""
_DELETED = """
    SELECT o.id AS entity_id, '{}'::jsonb AS changes FROM old_rows AS o
"""


def _write(changed: str, action: str) -> str:
    return f"""
        WITH changed AS ({changed}),
        audited AS (
            INSERT INTO audit_event (id, actor_id, actor_username, actor_role, request_id,
                                     action, entity_type, entity_id, changes)
            SELECT audit_uuid7(), actor_id, actor_username, actor_role, request_id,
                   '{action}', TG_TABLE_NAME, c.entity_id, c.changes
            FROM changed AS c WHERE c.changes IS NOT NULL
        )
        INSERT INTO change_event (action, entity_type, entity_id, changes, request_id)
        SELECT '{action}', TG_TABLE_NAME, c.entity_id, c.changes, request_id
        FROM changed AS c WHERE feed AND c.changes IS NOT NULL;
    """  # noqa: S608 (built of this module's constants)


TRAIL_FUNCTION = f"""
CREATE FUNCTION audit_trail() RETURNS trigger LANGUAGE plpgsql
SET jit = off SET work_mem = '64MB' AS $fn$
DECLARE
    -- Arguments: 'feed' or 'trail', the columns skipped (comma separated), and the hidden
    -- columns as a JSON object {{column: name shown}}.
    feed boolean := TG_ARGV[0] = 'feed';
    skipped text[] := ARRAY['id', 'version', 'created_at', 'updated_at']
                      || string_to_array(TG_ARGV[1], ',');
    hidden jsonb := TG_ARGV[2]::jsonb;
    numerics text[];
    actor_id uuid := nullif(current_setting('app.actor_id', true), '')::uuid;
    actor_username text := nullif(current_setting('app.actor_username', true), '');
    actor_role text := nullif(current_setting('app.actor_role', true), '');
    request_id text := nullif(current_setting('app.request_id', true), '');
BEGIN
    SELECT coalesce(array_agg(attname::text), '{{}}') INTO numerics
    FROM pg_attribute
    WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped
      AND atttypid = 'numeric'::regtype;
    IF TG_OP = 'INSERT' THEN
        {_write(_CREATED, "create")}
    ELSIF TG_OP = 'UPDATE' THEN
        {_write(_UPDATED, "update")}
    ELSE
        {_write(_DELETED, "delete")}
    END IF;
    RETURN NULL;
END
$fn$
"""  # noqa: S608 (built of this module's constants)

_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute(UUID7_FUNCTION)
    op.execute(VALUE_FUNCTION)
    op.execute(TRAIL_FUNCTION)
    for table, (feed, skipped, hidden) in AUDITED.items():
        arguments = ", ".join(
            _quote(a) for a in ("feed" if feed else "trail", ",".join(skipped), json.dumps(hidden))
        )
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    for table in AUDITED:
        for event in _TRANSITIONS:
            op.execute(f"DROP TRIGGER audit_trail_{event} ON {table}")
    op.execute("DROP FUNCTION audit_trail()")
    op.execute("DROP FUNCTION audit_value(text, jsonb, text[])")
    op.execute("DROP FUNCTION audit_uuid7()")
