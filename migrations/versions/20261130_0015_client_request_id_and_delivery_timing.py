"""the audit trail keeps the client's X-Request-ID beside the server's own; a webhook attempt
without an HTTP answer has no duration

The request id of an audit row is always the server's own (`app.request_id`); a client's
`X-Request-ID` is recorded beside it as `client_request_id`, read by the audit trigger from the
transaction-local setting `app.client_request_id` that `app.db.attribute` sets. The change feed
carries the server's request id only, as before.

`webhook_delivery.duration_ms` is null for attempts that got no HTTP answer: their duration
would tell a closed port from a filtered one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# migration 0013's audit_trail(), plus `client_request_id` (the 8th argument).
TRAIL_FUNCTION = r"""
CREATE OR REPLACE FUNCTION audit_trail() RETURNS trigger LANGUAGE plpgsql
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

# migration 0013's audit_trail(), as it was.
TRAIL_FUNCTION_0013 = r"""
CREATE OR REPLACE FUNCTION audit_trail() RETURNS trigger LANGUAGE plpgsql
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
                                     action, entity_type, entity_id, changes)
            SELECT audit_uuid7(), $1, $2, $3, $4, $5, $6, entity_id, changes FROM changed
        )
        INSERT INTO change_event (action, entity_type, entity_id, changes, request_id)
        SELECT $5, $6, entity_id, changes, $4 FROM changed WHERE $7
    $sql$, changed)
    USING nullif(current_setting('app.actor_id', true), '')::uuid,
          nullif(current_setting('app.actor_username', true), ''),
          nullif(current_setting('app.actor_role', true), ''),
          nullif(current_setting('app.request_id', true), ''),
          action, TG_TABLE_NAME::text, feed;
    RETURN NULL;
END
$fn$
"""

# CREATE OR REPLACE drops the function's settings: pin its search path again (see 0013).
PIN_SEARCH_PATH = """
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_trail() SET search_path = %I, pg_temp', current_schema());
END
$$
"""


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("client_request_id", sa.String(128), nullable=True))
    op.execute(TRAIL_FUNCTION)
    op.execute(PIN_SEARCH_PATH)
    op.alter_column("webhook_delivery", "duration_ms", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE webhook_delivery SET duration_ms = 0 WHERE duration_ms IS NULL")
    op.alter_column("webhook_delivery", "duration_ms", existing_type=sa.Integer(), nullable=False)
    op.execute(TRAIL_FUNCTION_0013)
    op.execute(PIN_SEARCH_PATH)
    op.drop_column("audit_event", "client_request_id")
