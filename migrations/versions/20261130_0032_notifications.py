"""notifications to cadres (the outbox)

`notification`: one message to a cadre (docs/notifications.md), written in the transaction of
its cause or by the reminder job, one per `dedupe_key`. Audited and in the change feed through
migration 0013's trigger, so the webhook worker delivers each as entity `notification`.

Revision ID: 0032
Revises: 0030
Create Date: 2026-11-30 09:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0032"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (columns skipped, hidden columns -> the name shown), as in migration 0013; both feed.
AUDITED: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "notification": ((), {}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
_KINDS = (
    "nominated",
    "waitlisted",
    "promoted_from_waitlist",
    "session_changed",
    "session_cancelled",
    "session_starting",
    "evaluation_opened",
    "requirement_at_risk",
    "qualification_expiring",
)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("cadre_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                *_KINDS,
                name="notificationkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("training_session_id", sa.Uuid(), nullable=True),
        sa.Column("enrollment_id", sa.Uuid(), nullable=True),
        sa.Column("cadre_qualification_id", sa.Uuid(), nullable=True),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("dedupe_key <> ''", name=op.f("ck_notification_dedupe_key_not_empty")),
        sa.ForeignKeyConstraint(
            ["cadre_id"],
            ["cadre.id"],
            name=op.f("fk_notification_cadre_id_cadre"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["training_session_id"],
            ["training_session.id"],
            name=op.f("fk_notification_training_session_id_training_session"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollment.id"],
            name=op.f("fk_notification_enrollment_id_enrollment"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["cadre_qualification_id"],
            ["cadre_qualification.id"],
            name=op.f("fk_notification_cadre_qualification_id_cadre_qualification"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_dedupe_key")),
    )
    op.create_index(
        "ix_notification_cadre_unread",
        "notification",
        ["cadre_id", sa.text("(read_at IS NULL) DESC"), sa.text("id DESC")],
    )
    op.create_index(
        op.f("ix_notification_training_session_id"), "notification", ["training_session_id"]
    )
    op.create_index(op.f("ix_notification_enrollment_id"), "notification", ["enrollment_id"])
    op.create_index(
        op.f("ix_notification_cadre_qualification_id"), "notification", ["cadre_qualification_id"]
    )
    for table, (skipped, hidden) in AUDITED.items():
        arguments = ", ".join(_quote(a) for a in ("feed", ",".join(skipped), json.dumps(hidden)))
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    op.drop_table("notification")
