"""calendar feed token version

`calendar_feed.token_version`: the user's `token_version` when the feed's address was given
out (docs/calendars.md). The feed answers only while the user's is unchanged, so whatever ends
the user's sign-ins everywhere (a password change, a role or binding change, deactivation)
ends the calendar address too. Existing feeds take their user's current version, so they keep
working. Audited as the feed's other columns are (migration 0033's trigger records it).

Revision ID: 0039
Revises: 0038
Create Date: 2026-11-30 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "calendar_feed",
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        "UPDATE calendar_feed f SET token_version = u.token_version "
        "FROM app_user u WHERE u.cadre_id = f.cadre_id"
    )


def downgrade() -> None:
    op.drop_column("calendar_feed", "token_version")
