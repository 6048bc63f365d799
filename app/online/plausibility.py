"""The plausibility checks of an import batch (docs/rules.md, "Online academies"): pure
functions, no I/O. The import calls `flag` once a batch, after converting its good rows and
before writing them; a flagged row's log is created `pending`, with `describe(flags)` as its
review comment, and its record keeps the flags with their evidence.

The context (what the checks need beyond the batch: policy thresholds, the cadre's other
records of those days, centralised classes attended) is loaded by
`app.online.repository.plausibility_context`."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from app.json_types import JsonObject


@dataclass(frozen=True, slots=True)
class Converted:
    """One good row of an import batch, matched and converted, not written yet."""

    row: int  # its position among the request's rows
    external_id: str
    cadre_id: uuid.UUID
    learner_id: str
    course_code: str
    course_title: str
    course_minutes: int | None
    minutes: int
    completed: bool
    test_passed: bool
    started_at: datetime | None
    ended_at: datetime | None
    ip: str | None
    device: str | None
    hours: Decimal
    start_date: date  # the study log's dates (local dates of started_at..ended_at, or given)
    end_date: date


@dataclass(frozen=True, slots=True)
class Flag:
    """A check a record failed: the rule's stable name and the evidence for it (JSON)."""

    rule: str
    evidence: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlausibilityContext:
    """What the checks need beyond the batch. Empty for now: the checks fill it."""

    platform_id: uuid.UUID


def flag(batch: Sequence[Converted], context: PlausibilityContext) -> dict[int, list[Flag]]:
    """The flags of the batch's rows, keyed by position in `batch`; rows without a flag are
    absent."""
    return {}


def describe(flags: Sequence[Flag]) -> str:
    """The review comment of a flagged record's log: the rules it failed."""
    return "; ".join(f.rule for f in flags)
