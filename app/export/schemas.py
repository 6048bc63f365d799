import uuid
from datetime import datetime

from pydantic import Field

from app.archive.formats import UnitExportFormat
from app.enums import Language
from app.export.models import ExportStatus
from app.schema_types import InputModel, OutputModel, Year


class ExportCreate(InputModel):
    """A unit's year archive, as `GET /org-units/{org_unit_id}/archive` gives it directly."""

    org_unit_id: uuid.UUID
    year: Year | None = Field(default=None, description="Default: this year")
    format: UnitExportFormat = UnitExportFormat.csv
    lang: Language = Field(
        default=Language.zh_cn,
        description="The language of the file's headers and enum values (the labels of `GET "
        "/api/v1/meta/labels`), as `lang` of the direct archive: zh-CN (default) or en",
    )


class ExportRead(OutputModel):
    id: uuid.UUID
    status: ExportStatus
    org_unit_id: uuid.UUID
    year: int
    format: UnitExportFormat
    lang: Language = Field(description="The language of the file's words")
    filename: str
    rows_done: int = Field(description="Rows written so far")
    rows_total: int | None = Field(description="Rows the file will have; known once running")
    size_bytes: int | None = Field(description="The file's length, once succeeded")
    sha256: str | None = Field(
        description="SHA-256 of the whole file (hex), once succeeded; also the `Repr-Digest` "
        "and the `ETag` of the file"
    )
    error_code: str | None = Field(description="Why the job failed (`status` failed)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime = Field(description="The job and its file are gone after this")
    file_url: str | None = Field(description="Where to download the file, once succeeded")
