"""bulk-write tuning: sums triggers without JIT, session indexes only for session logs

The per-cadre sums triggers aggregate a transition table whose size the planner cannot know; a
lateral generate_series makes it guess 1,000 rows a log, so a bulk import of 50,000 logs was
JIT-compiled at a cost of ~200 ms, more than the work itself, and its aggregation spilled to disk.
The functions now carry `SET jit = off` and enough work_mem, whoever writes the logs.

The study-log indexes on training_session_id and enrollment_id become partial: manual and
imported logs (most of them) have neither and no longer cost an index entry each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 05:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = ("insert", "update", "delete", "truncate")


def upgrade() -> None:
    for event in FUNCTIONS:
        op.execute(f"ALTER FUNCTION study_log_sums_{event}() SET jit = off")
        op.execute(f"ALTER FUNCTION study_log_sums_{event}() SET work_mem = '64MB'")
    # study_log holds millions of rows: the new indexes are built without blocking its writers
    # (CONCURRENTLY, outside a transaction), then swapped in under a short lock, which gives up
    # rather than queue the table's traffic behind a long reader. Running it again after a
    # failure starts over: what an earlier attempt built is dropped first.
    with op.get_context().autocommit_block():
        for name in ("ix_study_log_training_session_id", "uq_study_log_enrollment_id"):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_partial")
        op.create_index(
            "ix_study_log_training_session_id_partial",
            "study_log",
            ["training_session_id"],
            postgresql_where=sa.text("training_session_id IS NOT NULL"),
            postgresql_concurrently=True,
        )
        op.create_index(
            "uq_study_log_enrollment_id_partial",
            "study_log",
            ["enrollment_id"],
            unique=True,
            postgresql_where=sa.text("enrollment_id IS NOT NULL"),
            postgresql_concurrently=True,
        )
    op.execute("SET LOCAL lock_timeout = '10s'")
    op.drop_index("ix_study_log_training_session_id", table_name="study_log")
    op.drop_constraint("uq_study_log_enrollment_id", "study_log", type_="unique")
    for name in ("ix_study_log_training_session_id", "uq_study_log_enrollment_id"):
        op.execute(f"ALTER INDEX {name}_partial RENAME TO {name}")


def downgrade() -> None:
    op.drop_index("uq_study_log_enrollment_id", table_name="study_log")
    op.create_unique_constraint("uq_study_log_enrollment_id", "study_log", ["enrollment_id"])
    op.drop_index("ix_study_log_training_session_id", table_name="study_log")
    op.create_index("ix_study_log_training_session_id", "study_log", ["training_session_id"])
    for event in FUNCTIONS:
        op.execute(f"ALTER FUNCTION study_log_sums_{event}() RESET ALL")
