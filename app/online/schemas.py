import itertools
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict, StringConstraints, field_validator

from app.imports.schemas import MAX_ROWS, ImportProblem, ImportReport
from app.pagination import Page
from app.schema_types import (
    COMPONENT_REF,
    LINE_PATTERN,
    Bool,
    Code,
    Decimal2,
    Hours,
    InputModel,
    Instant,
    LocalDate,
    Name,
    OutputModel,
    PositiveHours,
    Version,
)

MAX_BANDS = 20
# A record's minutes, and a band's: a day and more is no course.
MAX_MINUTES = 100_000


def _integer(value: object) -> object:
    # As app.schema_types: 30.0 is 30, true and "30" are not integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Minutes = Annotated[int, Field(ge=1, le=MAX_MINUTES), BeforeValidator(_integer), Strict()]
# The platform's id of a record: one line (its own format, not necessarily a code).
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=LINE_PATTERN)]


class ConversionBand(InputModel):
    """A record of at least `min_minutes` earns `hours` (the highest band that applies)."""

    min_minutes: Minutes
    hours: PositiveHours


class Conversion(InputModel):
    """From what a platform reports to 学时 (docs/rules.md, "Online academies"): the highest
    band whose `min_minutes` the record's minutes reach (no band: nothing), plus
    `test_bonus_hours` when its test was passed. The Yunnan table: `[{"min_minutes": 1,
    "hours": "0.25"}, {"min_minutes": 15, "hours": "0.5"}, {"min_minutes": 30, "hours": "1"}]`,
    `test_bonus_hours: "0.5"`."""

    bands: list[ConversionBand] = Field(min_length=1, max_length=MAX_BANDS)
    test_bonus_hours: Hours

    @field_validator("bands")
    @classmethod
    def _ordered(cls, bands: list[ConversionBand]) -> list[ConversionBand]:
        bands = sorted(bands, key=lambda b: b.min_minutes)
        for low, high in itertools.pairwise(bands):
            if low.min_minutes == high.min_minutes:
                raise ValueError("two bands with the same min_minutes")
            if high.hours < low.hours:
                raise ValueError("a longer band earns fewer hours than a shorter one")
        return bands


class ConversionBandRead(OutputModel):
    min_minutes: int
    hours: Decimal2


class ConversionRead(OutputModel):
    bands: list[ConversionBandRead]
    test_bonus_hours: Decimal2


class OnlinePlatformCreate(InputModel):
    code: Code = Field(description="The platform's code, e.g. YN-GBWX; `?platform=` of imports")
    name: Name
    conversion: Conversion


class OnlinePlatformUpdate(InputModel):
    name: Name | None = None
    conversion: Conversion | None = Field(
        default=None, description="Applies to records imported from now on"
    )
    active: Bool | None = Field(default=None, description="false: its records are refused")


class OnlinePlatformRead(OutputModel):
    id: uuid.UUID
    code: str
    name: str
    conversion: ConversionRead
    active: bool
    version: Version
    created_at: datetime
    updated_at: datetime


class OnlinePlatformPage(Page[OnlinePlatformRead]):
    pass


class OnlineLearnerPut(InputModel):
    cadre_id: uuid.UUID = Field(description="The cadre whose account `learner_id` is")


class OnlineLearnerRead(OutputModel):
    id: uuid.UUID
    platform_id: uuid.UUID
    learner_id: str
    cadre_id: uuid.UUID
    version: Version
    created_at: datetime
    updated_at: datetime


class OnlineRecordImportRow(InputModel):
    """One record of an online platform, as it exports it (docs/rules.md, "Online academies").
    The learner is matched by `learner_id` (a known account), else by `id_number` (admin and
    hr_system only), which teaches the platform the account."""

    learner_id: Code = Field(description="The learner's account on the platform")
    id_number: str | None = Field(
        default=None, max_length=18, description="Resident ID number (admin, hr_system only)"
    )
    external_id: ExternalId = Field(
        description="The platform's id of the record: imported once per platform"
    )
    course_code: Code
    course_title: Name
    course_minutes: Minutes | None = Field(default=None, description="The course's length")
    minutes: Minutes = Field(description="Minutes watched")
    completed: Bool = Field(description="Only completed records earn 学时 (else a row error)")
    test_passed: Bool | None = Field(default=None, description="false if absent")
    started_at: Instant | None = None
    ended_at: Instant | None = None
    start_date: LocalDate | None = Field(
        default=None, description="The log's first day, if started_at is absent"
    )
    end_date: LocalDate | None = Field(
        default=None, description="The log's last day, if ended_at is absent"
    )
    ip: str | None = Field(default=None, max_length=45, description="IPv4 or IPv6 address")
    device: Name | None = Field(default=None, description="The platform's device id")


class OnlineRecordImport(InputModel):
    items: list[Any] = Field(
        max_length=MAX_ROWS,
        description="Records as `OnlineRecordImportRow` objects. Each row is checked on its "
        "own: a bad row is reported in the answer's `problems` with its position, and the good "
        "rows are imported (or, with `dry_run`, checked); it is not a 422 of the whole body",
        json_schema_extra={"items": {COMPONENT_REF: "OnlineRecordImportRow"}},
    )


class OnlineImportReport(ImportReport):
    flagged: int = Field(description="Rows created `pending`: a plausibility check flagged them")
    notices: list[ImportProblem] = Field(
        description="Rows imported with something to say, as `problems` are given: "
        "`learner_rematched` (the row's ID number matched an account an org_admin had matched "
        "to another cadre: the account is the ID number's cadre's now)"
    )
