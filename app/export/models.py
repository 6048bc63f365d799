import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.archive.formats import UnitExportFormat
from app.db import Base, IdMixin, TimestampMixin
from app.db_types import enum_column
from app.enums import Language


class ExportStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    expired = "expired"


class ExportJob(IdMixin, TimestampMixin, Base):
    """A unit's year archive to be written by the export worker for the user who asked.

    The worker holds a job by a lease (`lease_token`, `lease_expires_at`) that it renews by
    heartbeat; a job whose lease ran out is taken over by another worker. Progress and the lease
    are bookkeeping the audit trigger skips (migration 0016); the status and the file's figures
    are audited."""

    __tablename__ = "export_job"

    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"))
    year: Mapped[int]
    format: Mapped[UnitExportFormat] = mapped_column(enum_column(UnitExportFormat))
    lang: Mapped[Language] = mapped_column(enum_column(Language), server_default="zh-CN")
    status: Mapped[ExportStatus] = mapped_column(enum_column(ExportStatus))
    filename: Mapped[str] = mapped_column(String(300))
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    chunk_bytes: Mapped[int | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    lease_token: Mapped[uuid.UUID | None]
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_export_job_requested_by_id", "requested_by", "id"),
        Index(
            "ix_export_job_open",
            "created_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_export_job_expires_at", "expires_at"),
    )


class ExportChunk(IdMixin, Base):
    """One piece of a finished (or growing) export file, `chunk_bytes` of its job long (the
    last one shorter): byte `n` of the file is in chunk `n // chunk_bytes`. The bytes never
    enter the audit trail (migration 0016)."""

    __tablename__ = "export_chunk"

    export_job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("export_job.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("uq_export_chunk_export_job_id_seq", "export_job_id", "seq", unique=True),
    )
