"""course and teacher catalogue

`teacher` (师资库) and `course` (课程库), each owned by an org unit and deactivated rather than
deleted (`active`); `session_part.course_id` and `session_part.teacher_id` name what a class
part teaches and who; `training_session.course_ids` lists a session's courses directly. Both new tables carry the audit trail and the change feed (migration
0013's trigger); the new columns of session_part are audited by the trigger it has.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 08:00:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (columns skipped, hidden columns -> the name shown), as in migration 0013; both feed.
AUDITED: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "teacher": ((), {}),
    "course": ((), {}),
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


def _owned(table: str) -> list[Any]:
    return [
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f(f"fk_{table}_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "teacher",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("specialties", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "internal",
                "external",
                name="teacherkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        *_owned("teacher"),
    )
    op.create_index(op.f("ix_teacher_org_unit_id"), "teacher", ["org_unit_id"])
    op.create_table(
        "course",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("topic_tags", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("default_hours", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("teacher_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        *_owned("course"),
        sa.CheckConstraint(
            "default_hours IS NULL OR default_hours > 0", name=op.f("ck_course_positive_hours")
        ),
    )
    op.create_index(op.f("ix_course_org_unit_id"), "course", ["org_unit_id"])
    for column, target in (("course_id", "course"), ("teacher_id", "teacher")):
        op.add_column("session_part", sa.Column(column, sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_session_part_{column}_{target}"),
            "session_part",
            target,
            [column],
            ["id"],
            ondelete="RESTRICT",
        )
        op.create_index(op.f(f"ix_session_part_{column}"), "session_part", [column])
    op.add_column(
        "training_session",
        sa.Column(
            "course_ids",
            postgresql.ARRAY(sa.Uuid()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )
    for table, (skipped, hidden) in AUDITED.items():
        arguments = ", ".join(_quote(a) for a in ("feed", ",".join(skipped), json.dumps(hidden)))
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    op.drop_column("training_session", "course_ids")
    for column, target in (("course_id", "course"), ("teacher_id", "teacher")):
        op.drop_index(op.f(f"ix_session_part_{column}"), table_name="session_part")
        op.drop_constraint(
            op.f(f"fk_session_part_{column}_{target}"), "session_part", type_="foreignkey"
        )
        op.drop_column("session_part", column)
    op.drop_table("course")
    op.drop_table("teacher")
