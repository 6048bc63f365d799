"""export jobs and their files

A unit's year archive written by the export worker (`python -m app.cli export-worker`) into
`export_chunk` rows, so every API replica serves the file any worker wrote. Both tables carry
the audit trail (migration 0013's trigger): a job's request, status and file figures are
audited; its lease and progress are bookkeeping and skipped, and a chunk's bytes never enter
the trail (its job and number do).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 03:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (columns skipped, hidden columns -> the name shown), as in migration 0013.
AUDITED: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "export_job": (
        ("rows_done", "rows_total", "attempts", "lease_token", "lease_expires_at", "started_at"),
        {},
    ),
    "export_chunk": (("data",), {}),
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
        "export_job",
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "format",
            sa.Enum(
                "csv",
                "xlsx",
                name="unitexportformat",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                "expired",
                name="exportstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("chunk_bytes", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_export_job_org_unit_id_org_unit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["app_user.id"],
            name=op.f("fk_export_job_requested_by_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
    )
    op.create_index("ix_export_job_requested_by_id", "export_job", ["requested_by", "id"])
    op.create_index(
        "ix_export_job_open",
        "export_job",
        ["created_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index("ix_export_job_expires_at", "export_job", ["expires_at"])
    op.create_table(
        "export_chunk",
        sa.Column("export_job_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_job_id"],
            ["export_job.id"],
            name=op.f("fk_export_chunk_export_job_id_export_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_chunk")),
    )
    op.create_index(
        "uq_export_chunk_export_job_id_seq", "export_chunk", ["export_job_id", "seq"], unique=True
    )
    # The files are compressed already (XLSX) or compress poorly in 1 MiB pieces: stored as is.
    op.execute("ALTER TABLE export_chunk ALTER COLUMN data SET STORAGE EXTERNAL")
    for table, (skipped, hidden) in AUDITED.items():
        arguments = ", ".join(_quote(a) for a in ("trail", ",".join(skipped), json.dumps(hidden)))
        for event, transition in _TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
            )


def downgrade() -> None:
    op.drop_table("export_chunk")
    op.drop_table("export_job")
