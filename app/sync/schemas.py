from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator

from app.cadre.rules import id_number_mismatch
from app.cadre.schemas import POST_TYPE_KEPT_TEXT, PROMOTED_ON_TEXT, IdNumber
from app.enums import CadreStatus, Gender, OrgUnitKind, PostType, Rank
from app.errors import ProblemFieldError
from app.i18n import N_
from app.schema_types import Bool, Code, InputModel, LocalDate, Name, OutputModel, ShortName

MAX_ITEMS = 10_000


def _checked_row(row: type[InputModel]) -> Any:
    """An item read as a plain object and checked on its own (a bad row is reported in the
    answer's `results`, it does not refuse the request), published as the schema it is checked
    against, so that a client's type is the row, not an open object."""
    return Annotated[dict[str, Any], BeforeValidator(lambda item: item, json_schema_input_type=row)]


class SyncMode(StrEnum):
    upsert = "upsert"
    snapshot = "snapshot"


class CadreSyncItem(InputModel):
    """One cadre as the HR system knows it; its unit is named by the unit's code."""

    hr_id: Code
    name: ShortName
    id_number: IdNumber
    gender: Gender
    birth_date: LocalDate
    org_unit_code: Code
    rank: Rank
    # No default advertised: a generated client would send it on every sync and silently turn
    # stored `leading` cadres back into `non_leading`.
    post_type: PostType | None = Field(default=None, description=POST_TYPE_KEPT_TEXT)
    position: Name | None = None
    promoted_on: LocalDate | None = Field(
        default=None,
        description=PROMOTED_ON_TEXT + ". Null names no date, as leaving it out does",
    )
    status: CadreStatus = CadreStatus.active

    @model_validator(mode="after")
    def _consistent_with_id_number(self) -> Self:
        if problem := id_number_mismatch(self.id_number, self.birth_date, self.gender):
            raise ValueError(problem)
        return self


class SnapshotOptions(InputModel):
    """How a sync request is read: an upsert of its items, or a whole subtree's snapshot."""

    mode: SyncMode = Field(
        default=SyncMode.upsert,
        description="`snapshot`: the items are every record of the `snapshot_of` subtree; "
        "active ones missing from them are deactivated",
    )
    dry_run: Bool = Field(default=False, description="Answer what would change; change nothing")
    snapshot_of: Code | None = Field(
        default=None,
        description="Snapshot mode: the code of the org unit whose whole subtree the items are",
    )
    force: Bool = Field(
        default=False,
        description="Deactivate even when more than the allowed share would go at once",
    )

    @model_validator(mode="after")
    def _snapshot_names_its_scope(self) -> Self:
        if (self.mode == SyncMode.snapshot) != (self.snapshot_of is not None):
            raise ValueError(N_("snapshot_of is required in snapshot mode, and only there"))
        return self


class CadreSync(SnapshotOptions):
    items: list[_checked_row(CadreSyncItem)] = Field(  # type: ignore[valid-type]
        max_length=MAX_ITEMS,
        description="Cadres as `CadreSyncItem` objects; each is checked on its own, so one bad "
        f"row does not sink the rest (at most {MAX_ITEMS} a request)",
    )


class SyncOutcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    deactivated = "deactivated"
    rejected = "rejected"


class SyncRowResult(OutputModel):
    index: int | None = Field(description="Position in `items`; null for a deactivation")
    hr_id: str | None
    outcome: SyncOutcome
    changed_fields: list[str] | None = None
    errors: list[ProblemFieldError] | None = None


class SyncCounts(OutputModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected: int = 0


class SyncReport(OutputModel):
    mode: SyncMode
    dry_run: bool
    counts: SyncCounts
    results: list[SyncRowResult]


class OrgUnitSyncItem(InputModel):
    code: Code
    name: Name
    kind: OrgUnitKind
    parent_code: Code | None = Field(default=None, description="Null for a root")
    active: Bool = True


class OrgUnitSync(SnapshotOptions):
    items: list[_checked_row(OrgUnitSyncItem)] = Field(  # type: ignore[valid-type]
        max_length=MAX_ITEMS,
        description="Org units as `OrgUnitSyncItem` objects, parents before or after their "
        "children; each is checked on its own",
    )


class OrgUnitSyncRowResult(OutputModel):
    index: int | None = Field(
        description="Position in `items`; null for a unit the snapshot left out (deactivated, or "
        "refused because something active is still under it)"
    )
    code: str | None
    outcome: SyncOutcome
    changed_fields: list[str] | None = None
    errors: list[ProblemFieldError] | None = None


class OrgUnitSyncReport(OutputModel):
    mode: SyncMode
    dry_run: bool
    counts: SyncCounts
    results: list[OrgUnitSyncRowResult]
