"""annual training plans

`training_plan` (one per org unit and year: draft → submitted → approved, or returned with a
reason) and its planned classes `training_plan_item`; `training_session.plan_item_id` names the
planned class a session holds. Both new tables carry the audit trail and the change feed
(migration 0013's trigger); the new column of training_session is audited by the trigger it has.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 07:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (columns skipped, hidden columns -> the name shown), as in migration 0013; both feed.
AUDITED: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "training_plan": ((), {}),
    "training_plan_item": ((), {}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _timestamps() -> list[sa.Column[object]]:
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
    op.create_table(
        "training_plan",
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "approved",
                "returned",
                name="planstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "year BETWEEN 1900 AND 2199", name=op.f("ck_training_plan_year_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_training_plan_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["app_user.id"],
            name=op.f("fk_training_plan_submitted_by_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["app_user.id"],
            name=op.f("fk_training_plan_decided_by_app_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_plan")),
        sa.UniqueConstraint("org_unit_id", "year", name=op.f("uq_training_plan_org_unit_id_year")),
    )
    op.create_index(
        op.f("ix_training_plan_org_unit_id"), "training_plan", ["org_unit_id"], unique=False
    )
    op.create_table(
        "training_plan_item",
        sa.Column("training_plan_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "form",
            sa.Enum(
                "rotation_class",
                "special_class",
                "refresher",
                "seminar",
                "lecture",
                "online_class",
                "university_course",
                "study_tour",
                name="trainingform",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("centralised", sa.Boolean(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("days", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("credit_hours", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("target_ranks", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("topic_tags", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("planned_seats", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "month BETWEEN 1 AND 12", name=op.f("ck_training_plan_item_month_in_range")
        ),
        sa.CheckConstraint(
            "days > 0 AND credit_hours > 0", name=op.f("ck_training_plan_item_positive_size")
        ),
        sa.CheckConstraint("planned_seats > 0", name=op.f("ck_training_plan_item_seats_positive")),
        sa.ForeignKeyConstraint(
            ["training_plan_id"],
            ["training_plan.id"],
            name=op.f("fk_training_plan_item_training_plan_id_training_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_plan_item")),
    )
    op.create_index(
        op.f("ix_training_plan_item_training_plan_id"),
        "training_plan_item",
        ["training_plan_id"],
        unique=False,
    )
    op.add_column("training_session", sa.Column("plan_item_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_training_session_plan_item_id_training_plan_item"),
        "training_session",
        "training_plan_item",
        ["plan_item_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index(
        op.f("ix_training_session_plan_item_id"),
        "training_session",
        ["plan_item_id"],
        unique=False,
    )
    for table, (skipped, hidden) in AUDITED.items():
        arguments = ", ".join(_quote(a) for a in ("feed", ",".join(skipped), json.dumps(hidden)))
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_training_session_plan_item_id"), table_name="training_session")
    op.drop_constraint(
        op.f("fk_training_session_plan_item_id_training_plan_item"),
        "training_session",
        type_="foreignkey",
    )
    op.drop_column("training_session", "plan_item_id")
    op.drop_table("training_plan_item")
    op.drop_table("training_plan")
