"""the language of an export job's file

`export_job.lang`: the language of the file's headers and enum labels, as `?lang=` of the
direct unit archive (zh-CN or en). Jobs queued before it keep the language their file had:
zh-CN. The column is audited (the trigger of migration 0013 reads the catalog).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "export_job",
        sa.Column(
            "lang",
            sa.Enum(
                "zh-CN",
                "en",
                name="language",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="zh-CN",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("export_job", "lang")
