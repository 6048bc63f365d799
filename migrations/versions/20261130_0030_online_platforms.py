"""online academies: platforms, learners, the records imported from them

`online_platform` (an online academy and its conversion table to 学时), `online_learner` (a
platform's learner account matched to a cadre) and `online_record` (a platform's record as it
sent it, kept as the source of the `online_course` study log it became, with the plausibility
flags it failed). All three carry the audit trail (migration 0013's trigger); only platforms
are in the change feed: learners and records are personal data kept for evidence, and the
logs they became are in the feed already. A record's IP address and device are hidden in the
trail (docs/rules.md, "Online academies").

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-30 09:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (carried by the change feed, columns skipped, hidden columns -> the name shown), as in
# migration 0013.
AUDITED: dict[str, tuple[bool, tuple[str, ...], dict[str, str]]] = {
    "online_platform": (True, (), {}),
    "online_learner": (False, (), {}),
    "online_record": (False, (), {"ip": "ip", "device": "device"}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _stamps(table: str) -> list[sa.Column[object] | sa.PrimaryKeyConstraint]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        "online_platform",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("conversion", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps("online_platform"),
        sa.UniqueConstraint("code", name=op.f("uq_online_platform_code")),
    )
    op.create_table(
        "online_learner",
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.String(length=64), nullable=False),
        sa.Column("cadre_id", sa.Uuid(), nullable=False),
        *_stamps("online_learner"),
        _fk("online_learner", "platform_id", "online_platform"),
        _fk("online_learner", "cadre_id", "cadre"),
        sa.UniqueConstraint(
            "platform_id", "learner_id", name=op.f("uq_online_learner_platform_id_learner_id")
        ),
    )
    op.create_index(op.f("ix_online_learner_cadre_id"), "online_learner", ["cadre_id"])
    op.create_table(
        "online_record",
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("cadre_id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.String(length=64), nullable=False),
        sa.Column("course_code", sa.String(length=64), nullable=False),
        sa.Column("course_title", sa.String(length=200), nullable=False),
        sa.Column("course_minutes", sa.Integer(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("test_passed", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("device", sa.String(length=200), nullable=True),
        sa.Column("hours", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("study_log_id", sa.Uuid(), nullable=False),
        sa.Column(
            "flags",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        *_stamps("online_record"),
        _fk("online_record", "platform_id", "online_platform"),
        _fk("online_record", "cadre_id", "cadre"),
        _fk("online_record", "study_log_id", "study_log"),
        sa.UniqueConstraint(
            "platform_id", "external_id", name=op.f("uq_online_record_platform_id_external_id")
        ),
        sa.UniqueConstraint("study_log_id", name=op.f("uq_online_record_study_log_id")),
        sa.CheckConstraint(
            "minutes > 0 AND (course_minutes IS NULL OR course_minutes > 0) AND hours >= 0",
            name=op.f("ck_online_record_positive_minutes"),
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at",
            name=op.f("ck_online_record_times_ordered"),
        ),
    )
    op.create_index(
        "ix_online_record_cadre_id_started_at", "online_record", ["cadre_id", "started_at"]
    )
    op.create_index("ix_online_record_started_at", "online_record", ["started_at"])
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
    op.drop_table("online_record")
    op.drop_table("online_learner")
    op.drop_table("online_platform")
