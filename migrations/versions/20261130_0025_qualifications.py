"""qualifications with validity, 持证上岗 (docs/rules.md rule 13)

`qualification_type`: a credential owned by an org unit, valid a number of years, required of
cadres by post type, rank or org unit, and granted by session forms. `cadre_qualification`: one
cadre's qualification (recorded by hand with evidence, or granted), valid `valid_from` …
`valid_until` inclusive, revoked with a reason. Both carry the audit trail and the change feed
(migration 0013's trigger).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 07:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (carried by the change feed, columns skipped, hidden columns), as in migration 0013.
AUDITED: dict[str, tuple[bool, tuple[str, ...], dict[str, str]]] = {
    "qualification_type": (True, (), {}),
    "cadre_qualification": (True, (), {}),
}
_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
_FORMS = (
    "rotation_class",
    "special_class",
    "refresher",
    "seminar",
    "lecture",
    "online_class",
    "university_course",
    "study_tour",
)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "qualification_type",
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("validity_years", sa.Integer(), nullable=False),
        sa.Column("required_post_types", sa.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("required_ranks", sa.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("required_org_unit_ids", sa.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("granting_forms", sa.ARRAY(sa.String(length=32)), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "validity_years BETWEEN 1 AND 50", name=op.f("ck_qualification_type_validity_in_range")
        ),
        sa.CheckConstraint("name <> ''", name=op.f("ck_qualification_type_name_not_empty")),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_qualification_type_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualification_type")),
        sa.UniqueConstraint(
            "org_unit_id", "name", name=op.f("uq_qualification_type_org_unit_id_name")
        ),
    )
    op.create_index(
        op.f("ix_qualification_type_org_unit_id"), "qualification_type", ["org_unit_id"]
    )
    op.create_table(
        "cadre_qualification",
        sa.Column("cadre_id", sa.Uuid(), nullable=False),
        sa.Column("qualification_type_id", sa.Uuid(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column(
            "granted_by_form",
            sa.Enum(
                *_FORMS, name="trainingform", native_enum=False, create_constraint=True, length=32
            ),
            nullable=True,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "valid_until >= valid_from", name=op.f("ck_cadre_qualification_period_ordered")
        ),
        sa.CheckConstraint(
            "evidence <> ''", name=op.f("ck_cadre_qualification_evidence_not_empty")
        ),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoke_reason IS NULL)",
            name=op.f("ck_cadre_qualification_revocation_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["cadre_id"],
            ["cadre.id"],
            name=op.f("fk_cadre_qualification_cadre_id_cadre"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["qualification_type_id"],
            ["qualification_type.id"],
            name=op.f("fk_cadre_qualification_qualification_type_id_qualification_type"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cadre_qualification")),
        sa.UniqueConstraint(
            "cadre_id",
            "qualification_type_id",
            "valid_from",
            name=op.f("uq_cadre_qualification_held"),
        ),
    )
    op.create_index(op.f("ix_cadre_qualification_cadre_id"), "cadre_qualification", ["cadre_id"])
    op.create_index(
        op.f("ix_cadre_qualification_qualification_type_id"),
        "cadre_qualification",
        ["qualification_type_id"],
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
    op.drop_table("cadre_qualification")
    op.drop_table("qualification_type")
