"""theses leave the change feed

A thesis is a cadre's own writing, graded by its organiser: no operation of the thesis API is
open to `hr_system`, yet the change feed (read by `hr_system` and delivered by webhooks) carried
each thesis's title, grade and grade comment. The thesis table's audit triggers now write the
audit trail only ('trail'), as the refresh tokens' and export jobs' do; the audit trail keeps
every change (the body hidden, as before).

Revision ID: 0036
Revises: 0029
Create Date: 2026-11-30 09:40:00
"""

import json
from collections.abc import Sequence

from alembic import op

revision: str = "0036"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HIDDEN = {"body": "body"}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _triggers(mode: str) -> None:
    arguments = ", ".join(_quote(a) for a in (mode, "", json.dumps(_HIDDEN)))
    for event, transition in _TRANSITIONS.items():
        op.execute(f"DROP TRIGGER audit_trail_{event} ON thesis")
        op.execute(
            f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON thesis "
            f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
        )


def upgrade() -> None:
    op.execute("DELETE FROM change_event WHERE entity_type = 'thesis'")
    _triggers("trail")


def downgrade() -> None:
    _triggers("feed")
