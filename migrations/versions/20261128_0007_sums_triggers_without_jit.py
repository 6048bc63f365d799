"""sums triggers run without JIT

The per-cadre sums triggers aggregate a transition table whose size the planner cannot know; a
lateral generate_series makes it guess 1,000 rows a log, so a bulk import of 50,000 logs was
JIT-compiled at a cost of ~200 ms, more than the work itself. The functions now carry
`SET jit = off`, whoever writes the logs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 05:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = ("insert", "update", "delete", "truncate")


def upgrade() -> None:
    for event in FUNCTIONS:
        op.execute(f"ALTER FUNCTION study_log_sums_{event}() SET jit = off")


def downgrade() -> None:
    for event in FUNCTIONS:
        op.execute(f"ALTER FUNCTION study_log_sums_{event}() RESET jit")
