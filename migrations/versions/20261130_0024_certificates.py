"""certificates (结业证书): issued at a session's close, verified by a public code

`certificate` holds one certificate per completed enrollment: its serial per organiser and year
(`{year}-{seq:04d}`, gap-free: `certificate_serial` keeps each organiser's last number of a
year, taken by an UPSERT that locks the counter row until the closing transaction ends), the
hours and days of the study log it certifies, and a random verification code (printed on the
PDF, so kept as is; unique, so indexed). Voiding the study log revokes the certificate: a row
trigger on `study_log` sets `revoked_at` (the study_log domain sits below certificate and cannot
call it; docs/certificates.md). Certificates join the audit trail and the change feed (the
verification code stays out of both).

Revision ID: 0024
Revises: 0022
Create Date: 2026-11-30 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.create_table(
        "certificate_serial",
        sa.Column("organiser_org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organiser_org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_certificate_serial_organiser_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "organiser_org_unit_id", "year", name=op.f("pk_certificate_serial")
        ),
    )
    op.create_table(
        "certificate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("organiser_org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("cadre_id", sa.Uuid(), nullable=False),
        sa.Column("training_session_id", sa.Uuid(), nullable=False),
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("study_log_id", sa.Uuid(), nullable=False),
        sa.Column("hours", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("days", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("verification_code", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("seq > 0", name=op.f("ck_certificate_seq_positive")),
        sa.ForeignKeyConstraint(
            ["organiser_org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_certificate_organiser_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["cadre_id"],
            ["cadre.id"],
            name=op.f("fk_certificate_cadre_id_cadre"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["training_session_id"],
            ["training_session.id"],
            name=op.f("fk_certificate_training_session_id_training_session"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollment.id"],
            name=op.f("fk_certificate_enrollment_id_enrollment"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["study_log_id"],
            ["study_log.id"],
            name=op.f("fk_certificate_study_log_id_study_log"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint(
            "organiser_org_unit_id",
            "year",
            "seq",
            name=op.f("uq_certificate_organiser_org_unit_id_year_seq"),
        ),
        sa.UniqueConstraint("enrollment_id", name=op.f("uq_certificate_enrollment_id")),
        sa.UniqueConstraint("study_log_id", name=op.f("uq_certificate_study_log_id")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_certificate_verification_code")),
    )
    op.create_index(op.f("ix_certificate_cadre_id"), "certificate", ["cadre_id"])
    op.create_index(
        op.f("ix_certificate_training_session_id"), "certificate", ["training_session_id"]
    )
    # Voiding a study log revokes its certificate (docs/certificates.md).
    op.execute(
        """
        CREATE FUNCTION certificate_revoke_on_void() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE certificate SET revoked_at = now(), updated_at = now()
            WHERE study_log_id = NEW.id AND revoked_at IS NULL;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER certificate_revoke_on_void AFTER UPDATE OF status ON study_log "
        "FOR EACH ROW WHEN (NEW.status = 'voided' AND OLD.status IS DISTINCT FROM 'voided') "
        "EXECUTE FUNCTION certificate_revoke_on_void()"
    )
    arguments = "'feed', 'verification_code', '{}'"
    for event, transition in _TRANSITIONS.items():
        op.execute(
            f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON certificate "
            f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER certificate_revoke_on_void ON study_log")
    op.execute("DROP FUNCTION certificate_revoke_on_void()")
    op.drop_table("certificate")
    op.drop_table("certificate_serial")
