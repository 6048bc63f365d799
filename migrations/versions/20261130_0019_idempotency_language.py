"""the language of a stored idempotent answer

`idempotency_record.content_language`: the language the first answer's texts were written in
(app/i18n.py), so that a replay says the language of the body it repeats, whatever the
replaying request's Accept-Language. Records stored before it have none: their replay says the
replaying request's language, as before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("idempotency_record", sa.Column("content_language", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("idempotency_record", "content_language")
