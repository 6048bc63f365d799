"""The credit policy as the API and the database see it, and its conversion to the engine's."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from app.credit_policy.policy import (
    CreditMode,
    KindRule,
    Plausibility,
    Policy,
    Ratio,
    annual_hours_kinds_problems,
)
from app.enums import Rank, StudyLogKind
from app.i18n import N_, current_language
from app.schema_types import (
    Code,
    Decimal2,
    Hours,
    InputModel,
    Int,
    LocalDate,
    Name,
    OutputModel,
    Version,
)

RankSet = Annotated[list[Rank], Field(max_length=len(Rank))]
KindSet = Annotated[list[StudyLogKind], Field(max_length=len(StudyLogKind))]


class KindRuleSchema(InputModel):
    kind: StudyLogKind
    mode: CreditMode
    factor: Hours = Field(default=Decimal(1), description="per_hour: hours × factor")
    credit_per_item: Hours = Field(default=Decimal(0), description="per_item: credit per log")
    annual_cap: Hours | None = Field(default=None, description="Most credit a year; null: none")


class RatioSchema(InputModel):
    numerator: Int = Field(ge=0, le=1000)
    denominator: Int = Field(ge=1, le=1000)


_DEFAULTS = Plausibility()


class PlausibilitySchema(InputModel):
    """The thresholds of the online-academy 刷课 checks (docs/rules.md "Plausibility flags"). A
    flag fires on MORE than its threshold."""

    daily_hours: Hours = Field(
        default=_DEFAULTS.daily_hours,
        description="`daily_hours`: most watched clock time of one cadre on one local day",
    )
    night_minutes: Int = Field(
        default=_DEFAULTS.night_minutes,
        ge=0,
        le=300,
        description="`night`: most minutes of study between 00:00 and 05:00 local in one night",
    )
    device_cadres: Int = Field(
        default=_DEFAULTS.device_cadres,
        ge=0,
        le=100_000,
        description="`shared_source`: most distinct cadres one device may serve in a day",
    )
    ip_cadres: Int = Field(
        default=_DEFAULTS.ip_cadres,
        ge=0,
        le=100_000,
        description="`shared_source`: most distinct cadres one IP address may serve in a day",
    )
    watched_share: RatioSchema = Field(
        default_factory=lambda: RatioSchema(numerator=1, denominator=1),
        description="`too_fast`: the share of a course's length a completed record must have "
        "watched (1/1: all of it), at most 1 (numerator ≤ denominator)",
    )

    @model_validator(mode="after")
    def _share_at_most_one(self) -> Self:
        if self.watched_share.numerator > self.watched_share.denominator:
            raise ValueError(
                N_("watched_share is a share: its numerator is at most its denominator")
            )
        return self


class CreditPolicyDefinition(InputModel):
    """Every threshold, factor, cap and rank group of the rules (docs/rules.md) — data, not code."""

    kind_rules: list[KindRuleSchema] = Field(max_length=len(StudyLogKind))
    leading_ranks: RankSet
    centralised_kinds: KindSet
    online_kinds: KindSet
    five_year_applies_to: RankSet
    five_year_years: Int = Field(default=5, ge=1, le=20)
    five_year_required_days: Hours | None
    five_year_required_hours: Hours | None
    grace_years: Int = Field(default=1, ge=0, le=10)
    annual_applies_to: RankSet
    annual_required_days: Hours | None
    annual_required_hours: Hours | None
    annual_hours_kinds: KindSet | None = Field(
        default=None,
        description="Kinds whose credited hours (after caps) count toward the annual hours "
        "alternative (docs/rules.md rule 5). `cn-2023`: centralised_training only; a local "
        "学时学分制 may list every kind. Omitted: the policy's `centralised_kinds`.",
    )
    online_applies_to: RankSet
    online_required_hours: Hours | None
    leave_cap: RatioSchema = Field(description="Leave above this share of a class withdraws (1/7)")
    roll_call: RatioSchema = Field(description="Share of active cadres to train each year (1/5)")
    online_plausibility: PlausibilitySchema = Field(
        default_factory=PlausibilitySchema,
        description='Thresholds of the online 刷课 checks (docs/rules.md "Plausibility flags"); '
        "omitted: the defaults of cn-2023",
    )

    @model_validator(mode="after")
    def _kinds_once(self) -> Self:
        kinds = [rule.kind for rule in self.kind_rules]
        if len(kinds) != len(set(kinds)):
            raise ValueError(N_("each study-log kind may have one rule only"))
        if self.annual_hours_kinds is None:
            self.annual_hours_kinds = sorted(set(self.centralised_kinds))
        problems = annual_hours_kinds_problems(
            self.annual_hours_kinds,
            kinds,
            hours_required=bool(self.annual_applies_to) and self.annual_required_hours is not None,
            language=current_language.get(),
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class CreditPolicyCreate(CreditPolicyDefinition):
    code: Code
    name: Name
    effective_from: LocalDate = Field(
        description="First day in force. An open-ended policy in force before it ends the day "
        "before (that is how a deployment switches policy)."
    )
    effective_to: LocalDate | None = Field(default=None, description="Last day in force")


class KindRuleRead(OutputModel):
    kind: StudyLogKind
    mode: CreditMode
    factor: Decimal2 = Field(description="per_hour: hours × factor")
    credit_per_item: Decimal2 = Field(description="per_item: credit per log")
    annual_cap: Decimal2 | None = Field(description="Most credit a year; null: none")


class RatioRead(OutputModel):
    numerator: int
    denominator: int


class PlausibilityRead(OutputModel):
    daily_hours: Decimal2 = Field(description="`daily_hours` threshold, hours a day")
    night_minutes: int = Field(description="`night` threshold, minutes a night")
    device_cadres: int = Field(description="`shared_source` threshold, cadres per device a day")
    ip_cadres: int = Field(description="`shared_source` threshold, cadres per IP address a day")
    watched_share: RatioRead = Field(description="`too_fast`: share of the course to watch")


class CreditPolicyDefinitionRead(OutputModel):
    """A policy's rules as it is applied (docs/rules.md): what `createCreditPolicy` took, with
    its defaults filled in (`annual_hours_kinds` included)."""

    kind_rules: list[KindRuleRead]
    leading_ranks: list[Rank]
    centralised_kinds: list[StudyLogKind]
    online_kinds: list[StudyLogKind]
    five_year_applies_to: list[Rank]
    five_year_years: int
    five_year_required_days: Decimal2 | None
    five_year_required_hours: Decimal2 | None
    grace_years: int
    annual_applies_to: list[Rank]
    annual_required_days: Decimal2 | None
    annual_required_hours: Decimal2 | None
    annual_hours_kinds: list[StudyLogKind] = Field(
        description="Kinds whose credited hours (after caps) count toward the annual hours "
        "alternative (docs/rules.md rule 5)"
    )
    online_applies_to: list[Rank]
    online_required_hours: Decimal2 | None
    leave_cap: RatioRead = Field(description="Leave above this share of a class withdraws")
    roll_call: RatioRead = Field(description="Share of active cadres to train each year")
    online_plausibility: PlausibilityRead = Field(
        description='Thresholds of the online 刷课 checks (docs/rules.md "Plausibility flags")'
    )


class CreditPolicyRead(OutputModel):
    id: uuid.UUID
    code: str
    name: str
    effective_from: date
    effective_to: date | None
    definition: CreditPolicyDefinitionRead
    version: Version
    created_at: datetime

    @field_validator("definition", mode="before")
    @classmethod
    def _as_applied(cls, stored: object) -> object:
        """The stored definition read as the engine reads it (defaults filled in)."""
        if isinstance(stored, dict):
            return CreditPolicyDefinition.model_validate(stored).model_dump()
        return stored


def definition_json(definition: CreditPolicyDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", include=set(CreditPolicyDefinition.model_fields))


def _plausibility_schema(p: Plausibility) -> PlausibilitySchema:
    return PlausibilitySchema(
        daily_hours=p.daily_hours,
        night_minutes=p.night_minutes,
        device_cadres=p.device_cadres,
        ip_cadres=p.ip_cadres,
        watched_share=RatioSchema(
            numerator=p.watched_share.numerator, denominator=p.watched_share.denominator
        ),
    )


def definition_of(policy: Policy) -> dict[str, Any]:
    """The stored form of an engine policy (used to install the built-in ones)."""
    defn = CreditPolicyDefinition(
        kind_rules=[
            KindRuleSchema(
                kind=rule.kind,
                mode=rule.mode,
                factor=rule.factor,
                credit_per_item=rule.credit_per_item,
                annual_cap=rule.annual_cap,
            )
            for rule in policy.kind_rules.values()
        ],
        leading_ranks=sorted(policy.leading_ranks),
        centralised_kinds=sorted(policy.centralised_kinds),
        online_kinds=sorted(policy.online_kinds),
        five_year_applies_to=sorted(policy.five_year_applies_to),
        five_year_years=policy.five_year_years,
        five_year_required_days=policy.five_year_required_days,
        five_year_required_hours=policy.five_year_required_hours,
        grace_years=policy.grace_years,
        annual_applies_to=sorted(policy.annual_applies_to),
        annual_required_days=policy.annual_required_days,
        annual_required_hours=policy.annual_required_hours,
        annual_hours_kinds=sorted(policy.annual_hours_kinds),
        online_applies_to=sorted(policy.online_applies_to),
        online_required_hours=policy.online_required_hours,
        leave_cap=RatioSchema(
            numerator=policy.leave_cap.numerator, denominator=policy.leave_cap.denominator
        ),
        roll_call=RatioSchema(
            numerator=policy.roll_call.numerator, denominator=policy.roll_call.denominator
        ),
        online_plausibility=_plausibility_schema(policy.online_plausibility),
    )
    return definition_json(defn)


def to_policy(
    *,
    code: str,
    name: str,
    effective_from: date,
    effective_to: date | None,
    definition: dict[str, Any],
) -> Policy:
    d = CreditPolicyDefinition.model_validate(definition)
    return Policy(
        code=code,
        name=name,
        effective_from=effective_from,
        effective_to=effective_to,
        kind_rules={
            r.kind: KindRule(
                kind=r.kind,
                mode=r.mode,
                factor=r.factor,
                credit_per_item=r.credit_per_item,
                annual_cap=r.annual_cap,
            )
            for r in d.kind_rules
        },
        leading_ranks=frozenset(d.leading_ranks),
        centralised_kinds=frozenset(d.centralised_kinds),
        online_kinds=frozenset(d.online_kinds),
        five_year_applies_to=frozenset(d.five_year_applies_to),
        five_year_years=d.five_year_years,
        five_year_required_days=d.five_year_required_days,
        five_year_required_hours=d.five_year_required_hours,
        grace_years=d.grace_years,
        annual_applies_to=frozenset(d.annual_applies_to),
        annual_required_days=d.annual_required_days,
        annual_required_hours=d.annual_required_hours,
        annual_hours_kinds=frozenset(
            d.centralised_kinds if d.annual_hours_kinds is None else d.annual_hours_kinds
        ),
        online_applies_to=frozenset(d.online_applies_to),
        online_required_hours=d.online_required_hours,
        leave_cap=Ratio(d.leave_cap.numerator, d.leave_cap.denominator),
        roll_call=Ratio(d.roll_call.numerator, d.roll_call.denominator),
        online_plausibility=Plausibility(
            daily_hours=d.online_plausibility.daily_hours,
            night_minutes=d.online_plausibility.night_minutes,
            device_cadres=d.online_plausibility.device_cadres,
            ip_cadres=d.online_plausibility.ip_cadres,
            watched_share=Ratio(
                d.online_plausibility.watched_share.numerator,
                d.online_plausibility.watched_share.denominator,
            ),
        ),
    )


class CreditPolicyList(BaseModel):
    items: list[CreditPolicyRead]
