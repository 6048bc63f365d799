"""unit scorecard (目标责任制): targets and frozen snapshots

`unit_target`: per org unit and year, the weight (and optionally the target, in percent) of each
of the six scorecard indicators with which the unit scores its child units (docs/rules.md,
"Unit scorecard"); audited and in the change feed. `unit_scorecard_snapshot`: a past year's
scorecard of a unit's children, stored by the first read after the year ended (or by
`python -m app.cli freeze-scorecards`) and served unchanged from then on; audited (trail only).

Revision ID: 0034
Revises: 0032
Create Date: 2026-11-30 10:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0034"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDICATORS = ("roll_call", "five_year", "annual", "online", "evaluation", "plan")

# table: (carried by the change feed, columns skipped, hidden columns -> the name shown), as in
# migration 0013.
AUDITED: dict[str, tuple[bool, tuple[str, ...], dict[str, str]]] = {
    "unit_target": (True, (), {}),
    "unit_scorecard_snapshot": (False, (), {}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    weights = [sa.Column(f"{i}_weight", sa.Integer(), nullable=False) for i in INDICATORS]
    targets = [sa.Column(f"{i}_target", sa.Numeric(5, 2), nullable=True) for i in INDICATORS]
    op.create_table(
        "unit_target",
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        *weights,
        *targets,
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_unit_target_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_target")),
        sa.UniqueConstraint("org_unit_id", "year", name=op.f("uq_unit_target_org_unit_id_year")),
        sa.CheckConstraint("year BETWEEN 1900 AND 2199", name=op.f("ck_unit_target_year_range")),
        sa.CheckConstraint(
            " AND ".join(f"{i}_weight BETWEEN 0 AND 100" for i in INDICATORS)
            + " AND "
            + " + ".join(f"{i}_weight" for i in INDICATORS)
            + " > 0",
            name=op.f("ck_unit_target_weights_valid"),
        ),
        sa.CheckConstraint(
            " AND ".join(
                f"({i}_target IS NULL OR {i}_target BETWEEN 0 AND 100)" for i in INDICATORS
            ),
            name=op.f("ck_unit_target_targets_valid"),
        ),
    )
    op.create_table(
        "unit_scorecard_snapshot",
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scorecard", postgresql.JSONB(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_unit_scorecard_snapshot_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_scorecard_snapshot")),
        sa.UniqueConstraint(
            "org_unit_id", "year", name=op.f("uq_unit_scorecard_snapshot_org_unit_id_year")
        ),
    )
    for table, (feed, skipped, hidden) in AUDITED.items():
        arguments = ", ".join(
            _quote(a) for a in ("feed" if feed else "trail", ",".join(skipped), json.dumps(hidden))
        )
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    op.drop_table("unit_scorecard_snapshot")
    op.drop_table("unit_target")
