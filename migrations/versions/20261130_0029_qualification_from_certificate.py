"""qualifications granted by a certificate, types granted by courses, one course title per unit

`cadre_qualification.certificate_id`: the certificate a class granted it by (null when recorded
by hand); a certificate grants a type once. When a certificate is revoked (migration 0024's
trigger, on voiding the study log), a row trigger revokes the qualifications it granted, with
a stable reason, so the audit trail and the change feed see it as every write (docs/rules.md
rule 13). `qualification_type.granting_course_ids`: the catalogue courses whose teaching grants
the type. `course`: one active title per org unit (case and surrounding spaces ignored).

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-30 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cadre_qualification", sa.Column("certificate_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cadre_qualification_certificate_id_certificate"),
        "cadre_qualification",
        "certificate",
        ["certificate_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index(
        "uq_cadre_qualification_certificate",
        "cadre_qualification",
        ["certificate_id", "qualification_type_id"],
        unique=True,
        postgresql_where=sa.text("certificate_id IS NOT NULL"),
    )
    op.add_column(
        "qualification_type",
        sa.Column(
            "granting_course_ids",
            sa.ARRAY(sa.Uuid()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
    )
    op.alter_column("qualification_type", "granting_course_ids", server_default=None)
    # Two active courses of one unit may already share a title: the index would then fail with
    # a bare "could not create unique index". Stop first, naming them, so that an administrator
    # renames or deactivates one (the previous release's API can) and runs the upgrade again.
    op.execute(
        """
        DO $$
        DECLARE
            found text;
        BEGIN
            SELECT string_agg(format('%s: %s', org_unit_id, titles), '; ') INTO found
            FROM (
                SELECT org_unit_id, string_agg(quote_literal(title), ', ') AS titles
                FROM course WHERE active
                GROUP BY org_unit_id, lower(btrim(title)) HAVING count(*) > 1
            ) AS duplicates;
            IF found IS NOT NULL THEN
                RAISE EXCEPTION 'active courses of one unit share a title (rename or deactivate '
                    'one of each, then upgrade again): %', found;
            END IF;
        END $$
        """
    )
    op.create_index(
        "uq_course_title",
        "course",
        ["org_unit_id", sa.text("lower(btrim(title))")],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    # The reason is one stable text in both languages: the trigger knows no request language.
    op.execute(
        """
        CREATE FUNCTION cadre_qualification_revoke_with_certificate() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE cadre_qualification
            SET revoked_at = NEW.revoked_at, revoke_reason = '证书已撤销 (certificate revoked)',
                version = version + 1, updated_at = now()
            WHERE certificate_id = NEW.id AND revoked_at IS NULL;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER cadre_qualification_revoke_with_certificate "
        "AFTER UPDATE OF revoked_at ON certificate "
        "FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL) "
        "EXECUTE FUNCTION cadre_qualification_revoke_with_certificate()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER cadre_qualification_revoke_with_certificate ON certificate")
    op.execute("DROP FUNCTION cadre_qualification_revoke_with_certificate()")
    op.drop_index("uq_course_title", table_name="course")
    op.drop_column("qualification_type", "granting_course_ids")
    op.drop_index("uq_cadre_qualification_certificate", table_name="cadre_qualification")
    op.drop_constraint(
        op.f("fk_cadre_qualification_certificate_id_certificate"),
        "cadre_qualification",
        type_="foreignkey",
    )
    op.drop_column("cadre_qualification", "certificate_id")
