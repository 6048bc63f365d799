"""a webhook attempt without an HTTP answer has no duration

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


def upgrade() -> None:
    op.alter_column("webhook_delivery", "duration_ms", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE webhook_delivery SET duration_ms = 0 WHERE duration_ms IS NULL")
    op.alter_column("webhook_delivery", "duration_ms", existing_type=sa.Integer(), nullable=False)
