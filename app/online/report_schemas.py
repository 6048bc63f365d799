"""The online-anomalies report as the API shows it (docs/rules.md "Plausibility flags")."""

import uuid
from datetime import date, datetime

from pydantic import Field

from app.enums import StudyLogStatus
from app.online.plausibility import PlausibilityRule, SourceKind
from app.schema_types import Decimal2, OutputModel


class RuleCounts(OutputModel):
    """Flags per rule (a record failing two rules counts in both)."""

    daily_hours: int
    centralised_overlap: int
    night: int
    shared_source: int
    too_fast: int


class UnitAnomalies(OutputModel):
    org_unit_id: uuid.UUID
    code: str
    name: str
    parent_id: uuid.UUID | None
    depth: int
    flagged_records: int = Field(description="The unit's own cadres' flagged records")
    flags: RuleCounts


class EvidenceRead(OutputModel):
    """What a flag found; each rule fills its fields (docs/rules.md), the others are null."""

    day: date | None = Field(description="The local day (or night) the rule looked at")
    hours: Decimal2 | None = Field(description="`daily_hours`: watched hours that day")
    minutes: int | None = Field(
        description="`night`: minutes after midnight; `too_fast`: watched minutes; "
        "`centralised_overlap`: minutes of overlap"
    )
    threshold: Decimal2 | None = Field(description="The policy's threshold the value exceeded")
    course_minutes: int | None = Field(description="`too_fast`: the course's length")
    source_kind: SourceKind | None = Field(description="`shared_source`: IP address or device")
    source: str | None = Field(description="`shared_source`: the address or device")
    cadres: int | None = Field(description="`shared_source`: distinct cadres it served that day")
    records: int | None = Field(description="`daily_hours`: records that day")
    training_session_id: uuid.UUID | None = Field(
        description="`centralised_overlap`: the class (a session of the service)"
    )
    study_log_id: uuid.UUID | None = Field(
        description="`centralised_overlap`: the class (a centralised log no session issued)"
    )
    class_title: str | None = Field(description="`centralised_overlap`: the class's title")
    overlap_from: datetime | None = Field(description="`centralised_overlap`: overlap start")
    overlap_to: datetime | None = Field(description="`centralised_overlap`: overlap end")


class FlagRead(OutputModel):
    rule: PlausibilityRule
    evidence: EvidenceRead


class FlaggedRecord(OutputModel):
    online_record_id: uuid.UUID
    platform_code: str
    external_id: str
    cadre_id: uuid.UUID
    cadre_name: str
    org_unit_id: uuid.UUID
    course_title: str
    minutes: int
    course_minutes: int | None
    started_at: datetime | None
    ended_at: datetime | None
    study_log_id: uuid.UUID
    study_log_status: StudyLogStatus = Field(description="`pending` until a reviewer decides")
    start_date: date
    flags: list[FlagRead]


class OnlineAnomaliesRead(OutputModel):
    org_unit_id: uuid.UUID
    year: int
    flagged_records: int = Field(description="Flagged records of the year in the subtree")
    flags: RuleCounts = Field(description="Flags per rule in the subtree")
    units: list[UnitAnomalies] = Field(description="Units with flagged records, in tree order")
    records: list[FlaggedRecord] = Field(
        description="The flagged records, latest first, at most `top` of them"
    )
    truncated: bool = Field(description="More flagged records than `top`")


def rule_counts(counts: dict[str, int]) -> RuleCounts:
    return RuleCounts(**{rule.value: counts.get(rule.value, 0) for rule in PlausibilityRule})
