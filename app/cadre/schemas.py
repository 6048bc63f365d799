import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from app.cadre.id_number import birth_date_of, gender_of, normalise
from app.enums import CadreStatus, Gender, Rank
from app.schema_types import Code, InputModel, LocalDate, Name, OutputModel, ShortName

IdNumber = Annotated[
    str,
    Field(
        min_length=18,
        max_length=18,
        pattern=r"^[0-9]{17}[0-9Xx]$",
        description="Resident ID number (GB 11643), validated with its check digit",
        examples=["11010519491231002X"],
    ),
    AfterValidator(normalise),
]


class _CadreFields(InputModel):
    name: ShortName
    id_number: IdNumber
    gender: Gender
    birth_date: LocalDate
    org_unit_id: uuid.UUID
    rank: Rank
    position: Name | None = None
    promoted_on: LocalDate | None = Field(
        default=None,
        description="Date of the last promotion (starts the grace year of SPEC §3 rule 4)",
    )

    @model_validator(mode="after")
    def _consistent_with_id_number(self) -> Self:
        if birth_date_of(self.id_number) != self.birth_date:
            raise ValueError("birth_date does not match the resident ID number")
        if gender_of(self.id_number) != self.gender:
            raise ValueError("gender does not match the resident ID number")
        return self


class CadreCreate(_CadreFields):
    hr_id: Code = Field(description="The provincial HR system's key for this person")


class CadreUpsert(_CadreFields):
    """Body of the idempotent upsert keyed by HR id; `status` lets HR reactivate a cadre."""

    status: CadreStatus = CadreStatus.active


class CadreUpdate(InputModel):
    name: ShortName | None = None
    id_number: IdNumber | None = None
    gender: Gender | None = None
    birth_date: LocalDate | None = None
    org_unit_id: uuid.UUID | None = None
    rank: Rank | None = None
    position: Name | None = None
    promoted_on: LocalDate | None = None
    status: CadreStatus | None = None


class CadreRead(OutputModel):
    id: uuid.UUID
    hr_id: str
    name: str
    id_number: str = Field(
        description="Masked (`3411**********1234`) except where the caller may see it whole"
    )
    gender: Gender
    birth_date: date
    org_unit_id: uuid.UUID
    rank: Rank
    position: str | None
    promoted_on: date | None
    status: CadreStatus
    version: int
    created_at: datetime
    updated_at: datetime
