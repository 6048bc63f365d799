"""anonymous evaluation (评课)

Forms (`evaluation_form`, versioned by lineage and revision, with `evaluation_indicator`), the
form attached to a session (`session_evaluation`), the marker that an enrollment has answered
(`evaluation_answered`), and the answers themselves (`evaluation_answer`, `evaluation_comment`).
The first four carry the audit trail and the change feed (migration 0013's trigger). The two
answer tables carry NO trigger, no timestamp and no reference to a person, and their ids are
random (gen_random_uuid), never a time-ordered UUIDv7: docs/evaluation.md says why.

`training_session.closed_on` records the local day a session closed (the evaluation opens on
it); closed sessions are backfilled from their last update, at Asia/Shanghai.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 08:45:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (columns skipped, hidden columns -> the name shown), as in migration 0013; all feed.
# evaluation_answer and evaluation_comment are deliberately absent (docs/evaluation.md).
AUDITED: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "evaluation_form": ((), {}),
    "evaluation_indicator": ((), {}),
    "session_evaluation": ((), {}),
    "evaluation_answered": ((), {}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _subject() -> sa.Enum:
    return sa.Enum(
        "session",
        "course",
        "teacher",
        name="evaluationsubject",
        native_enum=False,
        create_constraint=True,
        length=32,
    )


def _created_updated() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="RESTRICT"
    )


def _random_id() -> sa.Column[object]:
    return sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def _forms() -> None:
    op.create_table(
        "evaluation_form",
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lineage_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("allow_comments", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_created_updated(),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_evaluation_form_revision_positive")),
        sa.CheckConstraint("char_length(name) > 0", name=op.f("ck_evaluation_form_name_not_empty")),
        _fk("evaluation_form", "org_unit_id", "org_unit"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_form")),
        sa.UniqueConstraint(
            "lineage_id", "revision", name=op.f("uq_evaluation_form_lineage_id_revision")
        ),
    )
    op.create_index(op.f("ix_evaluation_form_org_unit_id"), "evaluation_form", ["org_unit_id"])
    op.create_table(
        "evaluation_indicator",
        sa.Column("form_id", sa.Uuid(), nullable=False),
        sa.Column("subject", _subject(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("weight", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_evaluation_indicator_position_positive")),
        sa.CheckConstraint(
            "weight > 0 AND weight <= 100", name=op.f("ck_evaluation_indicator_weight_range")
        ),
        _fk("evaluation_indicator", "form_id", "evaluation_form"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_indicator")),
        sa.UniqueConstraint(
            "form_id",
            "subject",
            "code",
            name=op.f("uq_evaluation_indicator_form_id_subject_code"),
        ),
        sa.UniqueConstraint(
            "form_id",
            "subject",
            "position",
            name=op.f("uq_evaluation_indicator_form_id_subject_position"),
        ),
    )


def _per_session() -> None:
    op.create_table(
        "session_evaluation",
        sa.Column("training_session_id", sa.Uuid(), nullable=False),
        sa.Column("form_id", sa.Uuid(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=True),
        sa.Column("open_days", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_created_updated(),
        sa.CheckConstraint(
            "open_days BETWEEN 1 AND 365", name=op.f("ck_session_evaluation_open_days_range")
        ),
        _fk("session_evaluation", "training_session_id", "training_session"),
        _fk("session_evaluation", "form_id", "evaluation_form"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_evaluation")),
        sa.UniqueConstraint(
            "training_session_id", name=op.f("uq_session_evaluation_training_session_id")
        ),
    )
    op.create_index(op.f("ix_session_evaluation_form_id"), "session_evaluation", ["form_id"])
    op.create_table(
        "evaluation_answered",
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_created_updated(),
        _fk("evaluation_answered", "enrollment_id", "enrollment"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_answered")),
        sa.UniqueConstraint("enrollment_id", name=op.f("uq_evaluation_answered_enrollment_id")),
    )


def _answers() -> None:
    op.create_table(
        "evaluation_answer",
        _random_id(),
        sa.Column("training_session_id", sa.Uuid(), nullable=False),
        sa.Column("form_id", sa.Uuid(), nullable=False),
        sa.Column("subject", _subject(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("scores", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.CheckConstraint(
            "array_ndims(scores) = 1 AND array_length(scores, 1) >= 1 "
            "AND array_position(scores, NULL) IS NULL "
            "AND 1 <= ALL(scores) AND 5 >= ALL(scores)",
            name=op.f("ck_evaluation_answer_scores_valid"),
        ),
        _fk("evaluation_answer", "training_session_id", "training_session"),
        _fk("evaluation_answer", "form_id", "evaluation_form"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_answer")),
    )
    op.create_index(
        op.f("ix_evaluation_answer_training_session_id"),
        "evaluation_answer",
        ["training_session_id", "subject", "subject_id"],
    )
    op.create_index(
        op.f("ix_evaluation_answer_subject"), "evaluation_answer", ["subject", "subject_id"]
    )
    op.create_table(
        "evaluation_comment",
        _random_id(),
        sa.Column("training_session_id", sa.Uuid(), nullable=False),
        sa.Column("subject", _subject(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "char_length(body) BETWEEN 1 AND 2000", name=op.f("ck_evaluation_comment_body_length")
        ),
        _fk("evaluation_comment", "training_session_id", "training_session"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_comment")),
    )
    op.create_index(
        op.f("ix_evaluation_comment_training_session_id"),
        "evaluation_comment",
        ["training_session_id", "subject", "subject_id"],
    )


def upgrade() -> None:
    op.add_column("training_session", sa.Column("closed_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE training_session SET closed_on = (updated_at AT TIME ZONE 'Asia/Shanghai')::date,"
        " version = version + 1 WHERE status = 'closed'"
    )
    _forms()
    _per_session()
    _answers()
    for table, (skipped, hidden) in AUDITED.items():
        arguments = ", ".join(_quote(a) for a in ("feed", ",".join(skipped), json.dumps(hidden)))
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    op.drop_table("evaluation_comment")
    op.drop_table("evaluation_answer")
    op.drop_table("evaluation_answered")
    op.drop_table("session_evaluation")
    op.drop_table("evaluation_indicator")
    op.drop_table("evaluation_form")
    op.drop_column("training_session", "closed_on")
