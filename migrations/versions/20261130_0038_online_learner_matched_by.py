"""who matched an online learner account

`online_learner.matched_by`: `id_number` (an import row's ID number, by admin or hr_system),
`org_admin` or `admin` (`PUT /online-platforms/{id}/learners/{learner_id}`). An ID-number match
overrides an org_admin's mapping; an org_admin may not re-point an ID-number match (docs/rules.md
"Online academies"). Accounts matched before are taken as an org_admin's: the next ID-number
match corrects them if they are wrong.

Revision ID: 0038
Revises: 0034
Create Date: 2026-11-30 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "online_learner",
        sa.Column("matched_by", sa.String(length=16), nullable=False, server_default="org_admin"),
    )
    op.alter_column("online_learner", "matched_by", server_default=None)
    op.create_check_constraint(
        op.f("ck_online_learner_matched_by_known"),
        "online_learner",
        "matched_by IN ('id_number', 'org_admin', 'admin')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_online_learner_matched_by_known"), "online_learner", type_="check")
    op.drop_column("online_learner", "matched_by")
