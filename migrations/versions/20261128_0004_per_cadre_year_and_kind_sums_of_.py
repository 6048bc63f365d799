"""per cadre, year and kind sums of approved logs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 03:08:12.378272
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Each approved log's contribution to each calendar year it touches, pro rata by calendar days
# (docs/rules.md rule 2). `{rows}` is study_log or a trigger's transition table; `{sign}` is 1 or -1.
CONTRIBUTIONS = """
SELECT l.cadre_id, y.year, l.kind,
       SUM({sign} * l.hours * s.overlap / s.total) AS hours,
       SUM({sign} * l.days * s.overlap / s.total) AS days,
       SUM({sign} * s.overlap::numeric / s.total) AS items
FROM {rows} l
CROSS JOIN LATERAL generate_series(
    EXTRACT(YEAR FROM l.start_date)::int, EXTRACT(YEAR FROM l.end_date)::int
) AS y(year)
CROSS JOIN LATERAL (
    SELECT LEAST(l.end_date, make_date(y.year, 12, 31))
           - GREATEST(l.start_date, make_date(y.year, 1, 1)) + 1 AS overlap,
           l.end_date - l.start_date + 1 AS total
) AS s
WHERE l.status = 'approved'
GROUP BY l.cadre_id, y.year, l.kind
"""

UPSERT = """
INSERT INTO cadre_year_kind AS t (cadre_id, year, kind, hours, days, items)
SELECT cadre_id, year, kind, SUM(hours), SUM(days), SUM(items)
FROM ({contributions}) AS c
GROUP BY cadre_id, year, kind
ORDER BY cadre_id, year, kind
ON CONFLICT (cadre_id, year, kind) DO UPDATE
SET hours = t.hours + EXCLUDED.hours,
    days = t.days + EXCLUDED.days,
    items = t.items + EXCLUDED.items
"""


def _function(name: str, contributions: str) -> str:
    body = UPSERT.format(contributions=contributions)
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body};\nRETURN NULL;\nEND\n$$"
    )


def upgrade() -> None:
    op.create_table(
        "cadre_year_kind",
        sa.Column("cadre_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("hours", sa.Numeric(), nullable=False),
        sa.Column("days", sa.Numeric(), nullable=False),
        sa.Column("items", sa.Numeric(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cadre_id"],
            ["cadre.id"],
            name=op.f("fk_cadre_year_kind_cadre_id_cadre"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cadre_id", "year", "kind", name=op.f("pk_cadre_year_kind")),
    )
    op.create_index(
        "ix_cadre_year_kind_kind_year",
        "cadre_year_kind",
        ["kind", "year"],
        unique=False,
        postgresql_include=["cadre_id", "hours", "days"],
    )
    op.create_index(
        "ix_cadre_year_kind_year",
        "cadre_year_kind",
        ["year"],
        unique=False,
        postgresql_include=["cadre_id", "kind", "hours", "days", "items"],
    )
    op.drop_index("ix_study_log_cadre_id_start_date", table_name="study_log")
    op.create_index(
        "ix_study_log_cadre_id_end_date",
        "study_log",
        ["cadre_id", "end_date"],
        unique=False,
        postgresql_include=["id", "kind", "start_date", "hours", "days", "status"],
    )
    op.create_index("ix_study_log_end_date", "study_log", ["end_date"], unique=False)
    op.create_index(
        "ix_study_log_long",
        "study_log",
        ["end_date"],
        unique=False,
        postgresql_where=sa.text("end_date - start_date > 366"),
    )
    op.create_index(
        "ix_study_log_kind_start_date", "study_log", ["kind", "start_date"], unique=False
    )

    inserted = CONTRIBUTIONS.format(rows="new_rows", sign=1)
    deleted = CONTRIBUTIONS.format(rows="old_rows", sign=-1)
    op.execute(_function("study_log_sums_insert", inserted))
    op.execute(_function("study_log_sums_delete", deleted))
    op.execute(_function("study_log_sums_update", f"{inserted} UNION ALL {deleted}"))
    op.execute(
        "CREATE TRIGGER study_log_sums_insert AFTER INSERT ON study_log "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION study_log_sums_insert()"
    )
    op.execute(
        "CREATE TRIGGER study_log_sums_update AFTER UPDATE ON study_log "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION study_log_sums_update()"
    )
    op.execute(
        "CREATE TRIGGER study_log_sums_delete AFTER DELETE ON study_log "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION study_log_sums_delete()"
    )
    op.execute(
        "CREATE FUNCTION study_log_sums_truncate() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\nDELETE FROM cadre_year_kind;\nRETURN NULL;\nEND\n$$"
    )
    op.execute(
        "CREATE TRIGGER study_log_sums_truncate AFTER TRUNCATE ON study_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION study_log_sums_truncate()"
    )
    op.execute(UPSERT.format(contributions=CONTRIBUTIONS.format(rows="study_log", sign=1)))


def downgrade() -> None:
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER study_log_sums_{event} ON study_log")
        op.execute(f"DROP FUNCTION study_log_sums_{event}()")
    op.drop_index("ix_study_log_kind_start_date", table_name="study_log")
    op.drop_index("ix_study_log_long", table_name="study_log")
    op.drop_index("ix_study_log_end_date", table_name="study_log")
    op.drop_index("ix_study_log_cadre_id_end_date", table_name="study_log")
    op.create_index(
        "ix_study_log_cadre_id_start_date", "study_log", ["cadre_id", "start_date"], unique=False
    )
    op.drop_index("ix_cadre_year_kind_year", table_name="cadre_year_kind")
    op.drop_index("ix_cadre_year_kind_kind_year", table_name="cadre_year_kind")
    op.drop_table("cadre_year_kind")
