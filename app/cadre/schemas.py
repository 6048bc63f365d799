import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from app.cadre.rules import id_number_mismatch, normalise
from app.enums import CadreStatus, Gender, PostType, Rank
from app.pagination import Page
from app.schema_types import Code, InputModel, LocalDate, Name, OutputModel, ShortName, Version

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

POST_TYPE_TEXT = (
    "`leading` (领导职务) or `non_leading` (职级, a grade alone). Naming it states it "
    "(`post_type_stated`). Turning a stated `non_leading` into `leading` at the same leading rank "
    "is a promotion into a leading post; a `non_leading` never stated (a creation's default, or "
    "inferred when post types were introduced) turned `leading` at the same rank is a "
    "classification, not a promotion (docs/rules.md rule 4)"
)
POST_TYPE_KEPT_TEXT = (
    POST_TYPE_TEXT
    + ". Left out: the stored post type is kept (a new cadre: non_leading, not stated)"
)
POST_TYPE_STATED_TEXT = (
    "Read-only. True once a write named `post_type`; false while it is only the default of a "
    "creation that left it out, or inferred from `promoted_on` when post types were introduced "
    "(`leading` where a promotion was recorded, else `non_leading`). While false, the first "
    "`leading` stated at the same rank sets no `promoted_on` (docs/rules.md rule 4)"
)
PROMOTED_ON_TEXT = (
    "Date of the latest promotion into a leading post; it starts the grace year of "
    "docs/rules.md rule 4. A date sent always wins. Creating a cadre is no promotion: a new cadre "
    "has the date sent, else none. A write that names no date keeps the stored one, unless it "
    "promotes the cadre into a leading post (a higher leading rank, or a stated `non_leading` to "
    "`leading`, with `post_type` `leading`): then the date becomes the day of the write"
)


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
        description=PROMOTED_ON_TEXT + ". Null names no date, as leaving it out does",
    )

    @model_validator(mode="after")
    def _consistent_with_id_number(self) -> Self:
        if problem := id_number_mismatch(self.id_number, self.birth_date, self.gender):
            raise ValueError(problem)
        return self


class CadreCreate(_CadreFields):
    hr_id: Code = Field(description="The provincial HR system's key for this person")
    # No default advertised: generated clients send advertised defaults, and a `non_leading`
    # sent is stated (docs/rules.md rule 4) — the first `leading` at the same rank would then
    # be a promotion.
    post_type: PostType | None = Field(
        default=None,
        description=POST_TYPE_TEXT + ". Left out (or null): non_leading, not stated",
    )

    def named_post_type(self) -> PostType | None:
        """The post type the client sent; None when it left the field out."""
        return self.post_type


class CadreUpsert(_CadreFields):
    """Body of the idempotent upsert keyed by HR id; `status` lets HR reactivate a cadre."""

    # No default advertised: a generated client would send it on every write and silently
    # turn a stored `leading` back into `non_leading`.
    post_type: PostType | None = Field(default=None, description=POST_TYPE_KEPT_TEXT)
    status: CadreStatus = CadreStatus.active

    def named_post_type(self) -> PostType | None:
        return self.post_type


class CadreUpdate(InputModel):
    name: ShortName | None = None
    id_number: IdNumber | None = None
    gender: Gender | None = None
    birth_date: LocalDate | None = None
    org_unit_id: uuid.UUID | None = None
    rank: Rank | None = None
    post_type: PostType | None = Field(default=None, description=POST_TYPE_TEXT)
    position: Name | None = None
    promoted_on: LocalDate | None = Field(
        default=None, description=PROMOTED_ON_TEXT + ". Null clears it"
    )
    status: CadreStatus | None = None


class CadreRead(OutputModel):
    id: uuid.UUID
    hr_id: str
    name: str
    id_number: str = Field(
        description="Whole for admin and hr_system on single reads; masked in every list and "
        "for every other role (`******************`: no character shown)"
    )
    gender: Gender
    birth_date: date | None = Field(
        description="Whole for admin and hr_system; null for every other role, who read "
        "`birth_month` (the day and the unit's region code would leave a masked ID number few "
        "candidates)"
    )
    birth_month: str = Field(
        description="出生年月, `YYYY-MM`, for every role", examples=["1986-06"]
    )
    org_unit_id: uuid.UUID
    rank: Rank
    post_type: PostType = Field(description="`leading` (领导职务) or `non_leading` (职级)")
    post_type_stated: bool = Field(description=POST_TYPE_STATED_TEXT)
    position: str | None
    promoted_on: date | None = Field(
        description="Date of the latest promotion into a leading post (docs/rules.md rule 4)"
    )
    status: CadreStatus
    version: Version
    created_at: datetime
    updated_at: datetime


class CadrePage(Page[CadreRead]):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CadreFilter:
    """What `GET /cadres` narrows the list to (every filter optional)."""

    org_unit_id: uuid.UUID | None = None  # the unit's whole subtree
    rank: Rank | None = None
    status: CadreStatus | None = None
    hr_id: str | None = None
    id_number: str | None = None
    q: str | None = None  # start of the name
