"""The scorecard's bodies (docs/rules.md, "Unit scorecard")."""

import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer, Strict

from app.enums import ScorecardIndicator, WeightsSource
from app.schema_types import Decimal2, InputModel, OutputModel, Score, Version

FOUR_PLACES = Decimal("0.0001")


def four_places(value: Decimal) -> Decimal:
    """A rate or a score as shown: four decimals, half up (docs/rules.md, "Unit scorecard")."""
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def _integer(value: object) -> object:
    # As app.schema_types: JSON Schema's integers include 3.0, but not true or "3".
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Weight = Annotated[int, Field(ge=0, le=100), BeforeValidator(_integer), Strict()]

# A figure from 0 to 1 (or a weighted score) with exactly four places, e.g. "0.7500".
Decimal4 = Annotated[
    Decimal,
    PlainSerializer(lambda v: str(four_places(v)), return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "decimal"}),
]


class IndicatorTarget(InputModel):
    weight: Weight = Field(description="0–100; the weights are relative (Σ w·rate / Σ w)")
    target_percent: Score | None = Field(
        default=None, description="The rate the unit is expected to reach, in percent (0–100)"
    )


class UnitTargetWrite(InputModel):
    """Every indicator's weight (at least one above 0) and optional target."""

    roll_call: IndicatorTarget
    five_year: IndicatorTarget
    annual: IndicatorTarget
    online: IndicatorTarget
    evaluation: IndicatorTarget
    plan: IndicatorTarget


class IndicatorTargetRead(OutputModel):
    weight: int
    target_percent: Decimal2 | None


class UnitTargetRead(OutputModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    year: int
    roll_call: IndicatorTargetRead
    five_year: IndicatorTargetRead
    annual: IndicatorTargetRead
    online: IndicatorTargetRead
    evaluation: IndicatorTargetRead
    plan: IndicatorTargetRead
    version: Version
    updated_at: datetime


class IndicatorWeightRead(OutputModel):
    indicator: ScorecardIndicator
    weight: int
    target_percent: Decimal2 | None


class IndicatorValueRead(OutputModel):
    indicator: ScorecardIndicator
    numerator: int
    denominator: int
    rate: Decimal4 | None = Field(
        description="numerator / denominator (roll-call: at most 1), four places; null when the "
        "denominator is 0 (the indicator is left out of the unit's score)"
    )
    rank: int | None = Field(description="The unit's place on this indicator (1 = best)")
    target_met: bool | None = Field(description="rate ≥ target; null without a target or rate")


class UnitScoreRead(OutputModel):
    org_unit_id: uuid.UUID
    code: str
    name: str
    score: Decimal4 | None = Field(
        description="Σ w·rate / Σ w over the indicators with a denominator, four places; null "
        "when no indicator has one"
    )
    rank: int | None = Field(description="1 = best; equal scores share a rank (1, 2, 2, 4)")
    indicators: list[IndicatorValueRead]


class UnitScorecardRead(OutputModel):
    org_unit_id: uuid.UUID
    year: int
    as_of: date = Field(description="The day the figures are taken on")
    policy_code: str
    weights_source: WeightsSource = Field(
        description="`unit_target`: the unit's target for the year; `equal`: it has none"
    )
    weights: list[IndicatorWeightRead]
    frozen: bool = Field(description="A past year's scorecard, stored at its first read")
    frozen_at: datetime | None
    units: list[UnitScoreRead]
