"""enrollment: leave exception (docs/rules.md rule 7, N6)

An enrollment may carry `leave_exception_reason`: the organiser's recorded exception to the leave
cap (art. 15 "原则上"). With it, closing the session completes the trainee even above 1/7 of the
credit hours. Existing enrollments have none.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "enrollment", sa.Column("leave_exception_reason", sa.String(length=500), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_enrollment_leave_exception_reason_not_empty"),
        "enrollment",
        "leave_exception_reason <> ''",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_enrollment_leave_exception_reason_not_empty"), "enrollment", type_="check"
    )
    op.drop_column("enrollment", "leave_exception_reason")
