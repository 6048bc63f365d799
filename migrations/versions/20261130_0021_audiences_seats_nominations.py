"""audiences, seat quotas, nominations under review and the waitlist

`session_audience`: the org units a session is for, each with an optional seat quota (调训名额).
Existing sessions get the default audience: a department organiser's parent unit, any other
organiser's own unit, with no quota. `training_session.self_enrollment` (default true). The enrollment's
new statuses (nominated, rejected, substitute_requested, waitlisted) and origin (nomination),
with the audience unit it counts against, the nominating unit, the organiser's review reason and
the waitlist position (docs/rules.md rule 11). `session_audience` carries the audit trail and the
change feed is the session's and the enrollment's (migration 0013's trigger reads the catalog, so
the new enrollment columns are audited with no change).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = ("enrolled", "confirmed", "withdrawn", "completed", "dropped_out")
_NEW_STATUSES = (*_OLD_STATUSES, "nominated", "rejected", "substitute_requested", "waitlisted")
_OLD_ORIGINS = ("roll_call", "self")
_NEW_ORIGINS = (*_OLD_ORIGINS, "nomination")

_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(name: str, condition: str) -> None:
    op.drop_constraint(op.f(name), "enrollment", type_="check")
    op.create_check_constraint(op.f(name), "enrollment", condition)


def upgrade() -> None:
    op.add_column(
        "training_session",
        sa.Column("self_enrollment", sa.Boolean(), server_default="true", nullable=False),
    )
    op.create_table(
        "session_audience",
        sa.Column("training_session_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("seat_quota", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "seat_quota >= 0", name=op.f("ck_session_audience_seat_quota_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_session_audience_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["training_session_id"],
            ["training_session.id"],
            name=op.f("fk_session_audience_training_session_id_training_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_audience")),
        sa.UniqueConstraint(
            "training_session_id",
            "org_unit_id",
            name=op.f("uq_session_audience_training_session_id_org_unit_id"),
        ),
    )
    op.create_index(op.f("ix_session_audience_org_unit_id"), "session_audience", ["org_unit_id"])
    for event, transition in _TRANSITIONS.items():
        op.execute(
            f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON session_audience "
            f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail('trail', '', '{{}}')"
        )
    # The default audience of the sessions that exist: a department's parent, any other
    # organiser itself (its subtree: what it saw before).
    op.execute(
        "INSERT INTO session_audience (id, training_session_id, org_unit_id) "
        "SELECT audit_uuid7(), s.id, "
        "CASE WHEN u.kind = 'department' THEN coalesce(u.parent_id, u.id) ELSE u.id END "
        "FROM training_session AS s JOIN org_unit AS u ON u.id = s.organiser_org_unit_id"
    )

    op.add_column("enrollment", sa.Column("audience_org_unit_id", sa.Uuid(), nullable=True))
    op.add_column("enrollment", sa.Column("nominated_by_org_unit_id", sa.Uuid(), nullable=True))
    op.add_column("enrollment", sa.Column("review_reason", sa.String(length=500), nullable=True))
    op.add_column("enrollment", sa.Column("waitlist_position", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_enrollment_audience_org_unit_id_org_unit"),
        "enrollment",
        "org_unit",
        ["audience_org_unit_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("fk_enrollment_nominated_by_org_unit_id_org_unit"),
        "enrollment",
        "org_unit",
        ["nominated_by_org_unit_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    _replace_check("ck_enrollment_enrollmentstatus", _in("status", _NEW_STATUSES))
    _replace_check("ck_enrollment_enrollmentorigin", _in("origin", _NEW_ORIGINS))
    op.create_check_constraint(
        op.f("ck_enrollment_waitlist_position_iff_waitlisted"),
        "enrollment",
        "(status = 'waitlisted') = (waitlist_position IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f("ck_enrollment_review_reason_not_empty"), "enrollment", "review_reason <> ''"
    )
    op.create_index(
        "uq_enrollment_waitlist_position",
        "enrollment",
        ["training_session_id", "waitlist_position"],
        unique=True,
        postgresql_where=sa.text("waitlist_position IS NOT NULL"),
    )
    # Existing enrollments count against the default audience where their cadre falls in it.
    op.execute(
        "UPDATE enrollment AS e SET audience_org_unit_id = a.org_unit_id "
        "FROM session_audience AS a, cadre AS c, org_unit AS cu, org_unit AS au "
        "WHERE a.training_session_id = e.training_session_id AND c.id = e.cadre_id "
        "AND cu.id = c.org_unit_id AND au.id = a.org_unit_id "
        "AND cu.path >= au.path AND cu.path < substr(au.path, 1, length(au.path) - 1) || '0' "
        "AND e.audience_org_unit_id IS DISTINCT FROM a.org_unit_id"
    )


def downgrade() -> None:
    # Before 0020 there were no nominations and no waitlist: a nomination becomes a roll call,
    # a seat held under review an enrollment; the rows without a seat go (a completed nominee
    # keeps its enrollment: its study log references it). The counter follows.
    op.execute("DELETE FROM enrollment WHERE status IN ('waitlisted', 'rejected')")
    op.execute(
        "UPDATE enrollment SET status = 'enrolled' "
        "WHERE status IN ('nominated', 'substitute_requested')"
    )
    op.execute("UPDATE enrollment SET origin = 'roll_call' WHERE origin = 'nomination'")
    op.execute(
        "UPDATE training_session AS s SET enrolled = ("
        "SELECT count(*) FROM enrollment AS e WHERE e.training_session_id = s.id "
        "AND e.status IN ('enrolled', 'confirmed')) "
        "WHERE s.status NOT IN ('closed', 'cancelled')"
    )
    op.drop_index("uq_enrollment_waitlist_position", table_name="enrollment")
    op.drop_constraint(op.f("ck_enrollment_review_reason_not_empty"), "enrollment", type_="check")
    op.drop_constraint(
        op.f("ck_enrollment_waitlist_position_iff_waitlisted"), "enrollment", type_="check"
    )
    _replace_check("ck_enrollment_enrollmentorigin", _in("origin", _OLD_ORIGINS))
    _replace_check("ck_enrollment_enrollmentstatus", _in("status", _OLD_STATUSES))
    op.drop_constraint(
        op.f("fk_enrollment_nominated_by_org_unit_id_org_unit"), "enrollment", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_enrollment_audience_org_unit_id_org_unit"), "enrollment", type_="foreignkey"
    )
    for column in (
        "waitlist_position",
        "review_reason",
        "nominated_by_org_unit_id",
        "audience_org_unit_id",
    ):
        op.drop_column("enrollment", column)
    op.drop_table("session_audience")
    op.drop_column("training_session", "self_enrollment")
