"""rules revision 2: annual_hours_kinds in credit policies, override_reason in assessments

The installed `cn-2023` definition (migration 0003) is brought up to revision 2: its annual
requirement counts the hours of centralised training only (docs/rules.md rule 5). Every other
stored policy is a deployment's own (a 学时学分制 such as `chuzhou-2007`): under revision 1 its
annual hours were the credited hours of every kind it credits, and it keeps computing what it
did, so its `annual_hours_kinds` is written out as every kind of its `kind_rules`. A deployment
that wants the national reading posts a new policy. The policies' `version` moves on, so their
ETags change.

Assessments get `override_reason` (docs/rules.md rule 9). Frozen training snapshots are not
rewritten: they are the evidence a rating was decided on, under the rules of that day.

The downgrade removes the field from every stored definition (the code of revision 0009 refuses
a definition with an unknown field) and drops the column.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE credit_policy
        SET definition = jsonb_set(
                definition,
                '{annual_hours_kinds}',
                CASE WHEN code = 'cn-2023' THEN CAST('["centralised_training"]' AS jsonb)
                     ELSE COALESCE(
                         (SELECT jsonb_agg(rule -> 'kind')
                          FROM jsonb_array_elements(definition -> 'kind_rules') AS rule),
                         CAST('[]' AS jsonb)) END),
            version = version + 1,
            updated_at = now()
        WHERE definition -> 'annual_hours_kinds' IS NULL OR code = 'cn-2023'
        """
    )
    op.add_column("assessment", sa.Column("override_reason", sa.String(length=2000)))


def downgrade() -> None:
    op.drop_column("assessment", "override_reason")
    op.execute(
        """
        UPDATE credit_policy
        SET definition = definition - 'annual_hours_kinds',
            version = version + 1,
            updated_at = now()
        WHERE definition -> 'annual_hours_kinds' IS NOT NULL
        """
    )
