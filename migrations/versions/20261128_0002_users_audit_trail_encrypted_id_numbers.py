"""users, audit trail, encrypted id numbers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 02:35:53.747356
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.config import get_settings
from app.personal_data import IdNumberCipher

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_username", sa.String(length=64), nullable=True),
        sa.Column(
            "actor_role",
            sa.Enum(
                "admin",
                "org_admin",
                "cadre",
                "hr_system",
                "auditor",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "create",
                "update",
                "delete",
                name="auditaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_actor_id", "audit_event", ["actor_id"], unique=False)
    op.create_index(
        "ix_audit_event_entity", "audit_event", ["entity_type", "entity_id"], unique=False
    )
    op.create_index("ix_audit_event_occurred_at", "audit_event", ["occurred_at"], unique=False)
    op.create_table(
        "app_user",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "org_admin",
                "cadre",
                "hr_system",
                "auditor",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("org_unit_id", sa.Uuid(), nullable=True),
        sa.Column("cadre_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(role = 'cadre') = (cadre_id IS NOT NULL)", name=op.f("ck_app_user_cadre_has_cadre")
        ),
        sa.CheckConstraint(
            "(role = 'org_admin') = (org_unit_id IS NOT NULL)",
            name=op.f("ck_app_user_org_admin_has_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["cadre_id"], ["cadre.id"], name=op.f("fk_app_user_cadre_id_cadre"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_app_user_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("cadre_id", name=op.f("uq_app_user_cadre_id")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.add_column("cadre", sa.Column("id_number_ciphertext", sa.LargeBinary(), nullable=True))
    op.add_column("cadre", sa.Column("id_number_hash", sa.LargeBinary(), nullable=True))
    _encrypt_existing_id_numbers()
    op.alter_column("cadre", "id_number_ciphertext", nullable=False)
    op.alter_column("cadre", "id_number_hash", nullable=False)
    op.drop_constraint(op.f("uq_cadre_id_number"), "cadre", type_="unique")
    op.create_unique_constraint(op.f("uq_cadre_id_number_hash"), "cadre", ["id_number_hash"])
    op.drop_column("cadre", "id_number")
    # The audit trail is append-only, whatever the application does.
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )


APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _cipher() -> IdNumberCipher:
    return IdNumberCipher(get_settings().data_key_bytes)


def _encrypt_existing_id_numbers() -> None:
    conn = op.get_bind()
    cipher = _cipher()
    rows = conn.execute(sa.text("SELECT id, id_number FROM cadre")).all()
    for cadre_id, number in rows:
        conn.execute(
            sa.text(
                "UPDATE cadre SET id_number_ciphertext = :c, id_number_hash = :h WHERE id = :i"
            ),
            {"c": cipher.encrypt(number), "h": cipher.lookup_hash(number), "i": cadre_id},
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
    op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION audit_event_append_only()")
    op.add_column("cadre", sa.Column("id_number", sa.VARCHAR(length=18), nullable=True))
    conn = op.get_bind()
    cipher = _cipher()
    for cadre_id, blob in conn.execute(sa.text("SELECT id, id_number_ciphertext FROM cadre")).all():
        conn.execute(
            sa.text("UPDATE cadre SET id_number = :n WHERE id = :i"),
            {"n": cipher.decrypt(blob), "i": cadre_id},
        )
    op.alter_column("cadre", "id_number", nullable=False)
    op.drop_constraint(op.f("uq_cadre_id_number_hash"), "cadre", type_="unique")
    op.create_unique_constraint(op.f("uq_cadre_id_number"), "cadre", ["id_number"])
    op.drop_column("cadre", "id_number_hash")
    op.drop_column("cadre", "id_number_ciphertext")
    op.drop_table("app_user")
    op.drop_index("ix_audit_event_occurred_at", table_name="audit_event")
    op.drop_index("ix_audit_event_entity", table_name="audit_event")
    op.drop_index("ix_audit_event_actor_id", table_name="audit_event")
    op.drop_table("audit_event")
