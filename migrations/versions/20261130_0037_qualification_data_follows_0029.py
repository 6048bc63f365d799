"""qualifications recorded before 0029 follow its rules

Migration 0029 changed two things for new rows only; this brings the rows already there in line:
- **Validity by 民法典 arts. 201–202** (docs/rules.md rule 13): a period in years now ends on the
  corresponding day (the month's last day where there is none), where it used to end the day
  before. A row whose `valid_until` is exactly the old rule's end (valid_from + N years − 1 day,
  PostgreSQL's date arithmetic clamping 29 February as the old code did) gets the new end; a row
  with any other end (there should be none) is left as it is.
- **Revoked with its certificate**: a qualification a class granted (`granted_by_form` set) before
  `certificate_id` existed is linked to the trainee's certificate of that class (the same cadre, a
  session of that form ending on `valid_from`) where exactly one matches; if that certificate is
  already revoked, the qualification is revoked with it, as 0029's trigger would have done.
Both are writes of the audit trigger's tables, attributed to no user (a migration).

Revision ID: 0037
Revises: 0036
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE cadre_qualification AS q
        SET valid_until = (q.valid_from + make_interval(years => t.validity_years))::date,
            version = q.version + 1, updated_at = now()
        FROM qualification_type AS t
        WHERE t.id = q.qualification_type_id
          AND q.valid_until
              = (q.valid_from + make_interval(years => t.validity_years))::date - 1
        """
    )
    op.execute(
        """
        WITH matched AS (
            SELECT q.id AS qualification_id, min(c.id::text)::uuid AS certificate_id
            FROM cadre_qualification AS q
            JOIN certificate AS c ON c.cadre_id = q.cadre_id
            JOIN training_session AS s ON s.id = c.training_session_id
            WHERE q.certificate_id IS NULL AND q.granted_by_form IS NOT NULL
              AND s.end_date = q.valid_from AND s.form = q.granted_by_form
            GROUP BY q.id
            HAVING count(*) = 1
        )
        UPDATE cadre_qualification AS q
        SET certificate_id = m.certificate_id,
            revoked_at = CASE
                WHEN q.revoked_at IS NULL AND c.revoked_at IS NOT NULL THEN c.revoked_at
                ELSE q.revoked_at END,
            revoke_reason = CASE
                WHEN q.revoked_at IS NULL AND c.revoked_at IS NOT NULL
                THEN '证书已撤销 (certificate revoked)'
                ELSE q.revoke_reason END,
            version = q.version + 1, updated_at = now()
        FROM matched AS m JOIN certificate AS c ON c.id = m.certificate_id
        WHERE q.id = m.qualification_id
          AND NOT EXISTS (
              SELECT 1 FROM cadre_qualification AS other
              WHERE other.certificate_id = m.certificate_id
                AND other.qualification_type_id = q.qualification_type_id
          )
        """
    )


def downgrade() -> None:
    """Nothing to undo: the old code reads both the new ends and the links."""
