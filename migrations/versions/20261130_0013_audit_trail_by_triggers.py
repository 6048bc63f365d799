"""the database writes the audit trail and the change feed

Every insert, update and delete of an audited table leaves its audit rows (and, for the tables
the change feed carries, its change events) through one statement-level trigger function reading
the statement's transition tables, whatever wrote the rows: an ORM flush, a Core statement, a
COPY or SQL inside a CTE. Who did it and from which request come from transaction-local settings
(`app.actor_id`, `app.actor_username`, `app.actor_role`, `app.request_id`, and a client's own
`X-Request-ID` as `app.client_request_id`, kept beside the server's, never in its place) that
`app.db.attribute` sets.

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
Revises: 0012
Create Date: 2026-11-30 00:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
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

# The expression of one row's `changes`, for a table and an operation, built from the catalog on
# each statement (so a column added later is audited with no change here) and run set-wise over
# the statement's transition tables: `n` the new row, `o` the old one. Create: every column not
# null (`jsonb_build_object` of them all, minus the keys of those that are null). Update:
# {column: {before, after}} of the columns that changed (minus the keys of those that did not).
# Numeric columns as text keep their scale ("12.50"); hidden columns show only "<changed>".
CHANGES_FUNCTION = r"""
CREATE FUNCTION audit_changes_sql(rel oid, op text, skipped text[], hidden jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
    WITH col AS (
        SELECT a.attname::text AS name,
               coalesce(hidden ->> a.attname, a.attname) AS shown,
               hidden ? a.attname AS is_hidden,
               a.atttypid = 'numeric'::regtype AS is_numeric,
               NOT a.attnotnull AS nullable,
               (row_number() OVER (ORDER BY a.attnum) - 1) / 40 AS chunk
        FROM pg_attribute AS a
        WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attname <> ALL(skipped)
    ), expr AS (
        SELECT chunk, shown,
               CASE WHEN op = 'INSERT' THEN
                        CASE WHEN is_hidden
                             THEN format('CASE WHEN n.%I IS NOT NULL THEN ''<changed>'' END', name)
                             WHEN is_numeric THEN format('n.%I::text', name)
                             ELSE format('n.%I', name) END
                    ELSE format(
                        'CASE WHEN n.%1$I IS DISTINCT FROM o.%1$I THEN %2$s END', name,
                        CASE WHEN is_hidden THEN '''<changed>'''
                             WHEN is_numeric
                             THEN format('jsonb_build_object(''before'', o.%1$I::text, '
                                         '''after'', n.%1$I::text)', name)
                             ELSE format('jsonb_build_object(''before'', o.%1$I, '
                                         '''after'', n.%1$I)', name) END)
               END AS value,
               CASE WHEN op <> 'INSERT'
                    THEN format('CASE WHEN n.%1$I IS NOT DISTINCT FROM o.%1$I THEN %2$L END',
                                name, shown)
                    WHEN nullable THEN format('CASE WHEN n.%I IS NULL THEN %L END', name, shown)
               END AS dropped
        FROM col
    ), chunks AS (
        SELECT format('jsonb_build_object(%s)',
                      string_agg(format('%L, %s', shown, value), ', ')) AS object,
               string_agg(dropped, ', ') AS dropped
        FROM expr GROUP BY chunk
    )
    SELECT format('((%s) - ARRAY[%s]::text[])',
                  coalesce(string_agg(object, ' || '), '''{}''::jsonb'),
                  coalesce(string_agg(dropped, ', '), ''))
    FROM chunks
$$
"""

TRAIL_FUNCTION = r"""
CREATE FUNCTION audit_trail() RETURNS trigger LANGUAGE plpgsql
SET jit = off SET work_mem = '64MB' AS $fn$
DECLARE
    -- Arguments: 'feed' (the change feed carries the table) or 'trail', the columns skipped
    -- (comma separated), and the hidden columns as a JSON object {column: name shown}.
    feed boolean := TG_ARGV[0] = 'feed';
    skipped text[] := ARRAY['id', 'version', 'created_at', 'updated_at']
                      || string_to_array(TG_ARGV[1], ',');
    hidden jsonb := TG_ARGV[2]::jsonb;
    action text := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update'
                              ELSE 'delete' END;
    changed text;
BEGIN
    changed := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT n.id, %s FROM new_rows AS n',
                                  audit_changes_sql(TG_RELID, TG_OP, skipped, hidden))
        WHEN 'UPDATE' THEN format('SELECT * FROM (SELECT n.id, %s AS changes '
                                  'FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id) AS u '
                                  'WHERE changes <> ''{}''::jsonb',
                                  audit_changes_sql(TG_RELID, TG_OP, skipped, hidden))
        ELSE 'SELECT o.id, ''{}''::jsonb FROM old_rows AS o' END;
    EXECUTE format($sql$
        WITH changed (entity_id, changes) AS (%s),
        audited AS (
            INSERT INTO audit_event (id, actor_id, actor_username, actor_role, request_id,
                                     client_request_id, action, entity_type, entity_id,
                                     changes)
            SELECT audit_uuid7(), $1, $2, $3, $4, $8, $5, $6, entity_id, changes FROM changed
        )
        INSERT INTO change_event (action, entity_type, entity_id, changes, request_id)
        SELECT $5, $6, entity_id, changes, $4 FROM changed WHERE $7
    $sql$, changed)
    USING nullif(current_setting('app.actor_id', true), '')::uuid,
          nullif(current_setting('app.actor_username', true), ''),
          nullif(current_setting('app.actor_role', true), ''),
          nullif(current_setting('app.request_id', true), ''),
          action, TG_TABLE_NAME::text, feed,
          nullif(current_setting('app.client_request_id', true), '');
    RETURN NULL;
END
$fn$
"""

_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# The functions that name tables resolve them in the schema they were created in, and the
# session's temporary schema last: a temporary table named audit_event cannot capture the trail.
# (audit_uuid7 names none and stays without a SET clause, so that it can be inlined: it runs once
# a row.)
PIN_SEARCH_PATH = """
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_trail() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION audit_changes_sql(oid, text, text[], jsonb) '
                   'SET search_path = %I, pg_temp', current_schema());
END
$$
"""


def upgrade() -> None:
    # The server's request id is the trail's; a client's X-Request-ID is kept beside it.
    op.add_column("audit_event", sa.Column("client_request_id", sa.String(128), nullable=True))
    op.execute(UUID7_FUNCTION)
    op.execute(CHANGES_FUNCTION)
    op.execute(TRAIL_FUNCTION)
    op.execute(PIN_SEARCH_PATH)
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
    op.execute("DROP FUNCTION audit_changes_sql(oid, text, text[], jsonb)")
    op.execute("DROP FUNCTION audit_uuid7()")
    op.drop_column("audit_event", "client_request_id")
