"""theses and reflections (调研文章 / 学习心得)

`thesis`: a trainee's writing, handed in with a session it took part in or alone with its own
study log of kind `thesis` (exactly one of the two), graded 优秀 / 合格 / 不合格 by the organiser.
One of a kind per cadre per session, one per study log. Audited and in the change feed through
migration 0013's trigger.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30 09:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (columns skipped, hidden columns -> the name shown), as in migration 0013; both feed
# (migration 0036 takes theses off the change feed).
# The body is hidden, not copied: up to 50,000 characters of a person's own writing would be
# written twice (before and after) into the audit trail at every edit, kept there after the
# thesis is corrected, and sent to every change-feed subscriber (HR systems) that has no use for
# it. The trail still shows that the body was written or changed ("<changed>"), by whom and when;
# the title, the grade and its comment are audited in full.
AUDITED: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "thesis": ((), {"body": "body"}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.create_table(
        "thesis",
        sa.Column("cadre_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "thesis",
                "reflection",
                name="thesiskind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("training_session_id", sa.Uuid(), nullable=True),
        sa.Column("study_log_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "grade",
            sa.Enum(
                "excellent",
                "pass",
                "fail",
                name="thesisgrade",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grade_comment", sa.String(length=2000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "(training_session_id IS NULL) <> (study_log_id IS NULL)",
            name=op.f("ck_thesis_one_subject"),
        ),
        sa.CheckConstraint("title <> ''", name=op.f("ck_thesis_title_not_empty")),
        sa.CheckConstraint(
            "body <> '' AND char_length(body) <= 50000", name=op.f("ck_thesis_body_length")
        ),
        sa.CheckConstraint(
            "(grade IS NULL) = (graded_at IS NULL)", name=op.f("ck_thesis_graded_when")
        ),
        sa.CheckConstraint(
            "grade IS NOT NULL OR grade_comment IS NULL",
            name=op.f("ck_thesis_comment_with_grade"),
        ),
        sa.ForeignKeyConstraint(
            ["cadre_id"], ["cadre.id"], name=op.f("fk_thesis_cadre_id_cadre"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["training_session_id"],
            ["training_session.id"],
            name=op.f("fk_thesis_training_session_id_training_session"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["study_log_id"],
            ["study_log.id"],
            name=op.f("fk_thesis_study_log_id_study_log"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thesis")),
        sa.UniqueConstraint(
            "training_session_id",
            "cadre_id",
            "kind",
            name=op.f("uq_thesis_session_cadre_kind"),
        ),
    )
    op.create_index(op.f("ix_thesis_cadre_id"), "thesis", ["cadre_id"])
    op.create_index(
        "uq_thesis_study_log_id",
        "thesis",
        ["study_log_id"],
        unique=True,
        postgresql_where=sa.text("study_log_id IS NOT NULL"),
    )
    for table, (skipped, hidden) in AUDITED.items():
        arguments = ", ".join(_quote(a) for a in ("feed", ",".join(skipped), json.dumps(hidden)))
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    op.drop_table("thesis")
