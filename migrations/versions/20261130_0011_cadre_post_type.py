"""cadre.post_type: a leading post (领导职务) or a grade alone (职级)

The grace year follows a promotion into a leading post only (docs/rules.md rule 4). Until now
every promotion recorded was read as one, so the cadres that have a `promoted_on` are marked
`leading`, the others `non_leading` (the default). Those post types are inferred, not stated:
`post_type_stated` is false for every existing cadre, so the first `leading` a write states for
one of them is a classification, not a promotion into a leading post that day; only a
`non_leading` stated by a write and then turned `leading` at the same rank is.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cadre",
        sa.Column(
            "post_type",
            sa.Enum(
                "leading",
                "non_leading",
                name="posttype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="non_leading",
            nullable=False,
        ),
    )
    op.add_column(
        "cadre",
        sa.Column("post_type_stated", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute("UPDATE cadre SET post_type = 'leading' WHERE promoted_on IS NOT NULL")


def downgrade() -> None:
    op.drop_column("cadre", "post_type_stated")
    op.drop_column("cadre", "post_type")
