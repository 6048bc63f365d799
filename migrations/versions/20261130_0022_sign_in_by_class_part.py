"""sign-in by class part: session parts, attendance, leave requests (docs/rules.md rule 11)

A session may be divided into parts (`session_part`: a day's morning, afternoon or evening, its
credit hours and its sign-in window in local time). Each enrollment's mark at a part is an
`attendance` row (present, late, left early, absent, on leave; how, when, from which device,
and the proxy sign-in flag); a trainee asks leave for parts by a `leave_request`. In a session
with parts, leave is computed from attendance: `enrollment.leave_override_reason` records why a
typed leave_hours overrides it, and `training_session.close_force_reason` why a session was
closed with unmarked parts. Attendance and leave requests join the change feed; parts carry
the audit trail (migration 0013's trigger). Existing sessions have no parts, and their leave
stays typed.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 07:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (carried by the change feed, columns skipped, hidden columns), as in migration 0013.
AUDITED: dict[str, tuple[bool, tuple[str, ...], dict[str, str]]] = {
    "session_part": (False, (), {}),
    "leave_request": (True, (), {}),
    "attendance": (True, (), {}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.add_column(
        "enrollment", sa.Column("leave_override_reason", sa.String(length=500), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_enrollment_leave_override_reason_not_empty"),
        "enrollment",
        "leave_override_reason <> ''",
    )
    op.add_column(
        "training_session", sa.Column("close_force_reason", sa.String(length=500), nullable=True)
    )
    op.create_table(
        "session_part",
        sa.Column("training_session_id", sa.Uuid(), nullable=False),
        sa.Column("part_date", sa.Date(), nullable=False),
        sa.Column("period", _enum("dayperiod", "morning", "afternoon", "evening"), nullable=False),
        sa.Column("credit_hours", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        *_stamps(),
        sa.CheckConstraint("credit_hours > 0", name=op.f("ck_session_part_positive_hours")),
        sa.CheckConstraint("end_time > start_time", name=op.f("ck_session_part_window_ordered")),
        sa.ForeignKeyConstraint(
            ["training_session_id"],
            ["training_session.id"],
            name=op.f("fk_session_part_training_session_id_training_session"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_part")),
        sa.UniqueConstraint(
            "training_session_id",
            "part_date",
            "period",
            name=op.f("uq_session_part_training_session_id_part_date_period"),
        ),
    )
    op.create_index(
        op.f("ix_session_part_training_session_id"), "session_part", ["training_session_id"]
    )
    op.create_table(
        "leave_request",
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("session_part_ids", sa.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            _enum("leaverequeststatus", "pending", "approved", "refused"),
            nullable=False,
        ),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "cardinality(session_part_ids) > 0", name=op.f("ck_leave_request_parts_given")
        ),
        sa.CheckConstraint("reason <> ''", name=op.f("ck_leave_request_reason_not_empty")),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollment.id"],
            name=op.f("fk_leave_request_enrollment_id_enrollment"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leave_request")),
    )
    op.create_index(op.f("ix_leave_request_enrollment_id"), "leave_request", ["enrollment_id"])
    op.create_table(
        "attendance",
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("session_part_id", sa.Uuid(), nullable=False),
        sa.Column(
            "mark",
            _enum("attendancemark", "present", "late", "left_early", "absent", "on_leave"),
            nullable=False,
        ),
        sa.Column(
            "method", _enum("attendancemethod", "qr", "manual", "import", "card"), nullable=False
        ),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.String(length=200), nullable=True),
        sa.Column("minutes_missed", sa.Integer(), nullable=False),
        sa.Column("leave_request_id", sa.Uuid(), nullable=True),
        sa.Column("flag_reason", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "minutes_missed >= 0 AND (minutes_missed = 0 OR mark IN ('late', 'left_early'))",
            name=op.f("ck_attendance_minutes_missed_only_late_or_early"),
        ),
        sa.CheckConstraint(
            "leave_request_id IS NULL OR mark = 'on_leave'",
            name=op.f("ck_attendance_leave_request_only_on_leave"),
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollment.id"],
            name=op.f("fk_attendance_enrollment_id_enrollment"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["leave_request_id"],
            ["leave_request.id"],
            name=op.f("fk_attendance_leave_request_id_leave_request"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_part_id"],
            ["session_part.id"],
            name=op.f("fk_attendance_session_part_id_session_part"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint(
            "enrollment_id",
            "session_part_id",
            name=op.f("uq_attendance_enrollment_id_session_part_id"),
        ),
    )
    op.create_index(op.f("ix_attendance_session_part_id"), "attendance", ["session_part_id"])
    op.create_index("ix_attendance_part_device", "attendance", ["session_part_id", "device_id"])
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
    op.drop_table("attendance")
    op.drop_table("leave_request")
    op.drop_table("session_part")
    op.drop_column("training_session", "close_force_reason")
    op.drop_constraint(
        op.f("ck_enrollment_leave_override_reason_not_empty"), "enrollment", type_="check"
    )
    op.drop_column("enrollment", "leave_override_reason")
