"""Credit policies (学时学分办法) as plain, immutable data (docs/rules.md).

Every threshold, factor, cap and fraction the rules use lives here, never in the engine: a
deployment adds its own `Policy` with an effective date and the engine evaluates each period
under the policy in force on its dates.
"""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from app.credit_policy.errors import NoPolicyForDate
from app.enums import LEADING_RANKS, Rank, StudyLogKind
from app.i18n import N_, _, gettext


class CreditMode(StrEnum):
    """How a study-log kind earns credit (docs/rules.md rule 3)."""

    per_hour = "per_hour"
    """`recorded hours × factor`."""
    per_item = "per_item"
    """A fixed credit per log; the recorded hours are ignored."""


@dataclass(frozen=True, slots=True)
class Ratio:
    """An exact fraction such as the leave cap 1/7, kept as integers so that comparisons are exact
    (`leave × 7 > hours`) rather than against a rounded 5.71."""

    numerator: int
    denominator: int

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class KindRule:
    """The credit rule of one study-log kind (docs/rules.md rule 3)."""

    kind: StudyLogKind
    mode: CreditMode
    factor: Decimal = Decimal(1)
    """Multiplier of the recorded hours (`per_hour` only)."""
    credit_per_item: Decimal = Decimal(0)
    """Credit of one log (`per_item` only)."""
    annual_cap: Decimal | None = None
    """Most credit hours this kind can give in one calendar year; `None` is no cap."""

    def describe(self) -> str:
        """The rule as an administrator reads it: `per_item 3, cap 24`, `per_hour × 1, no cap`."""
        if self.mode == CreditMode.per_hour:
            text = _("per_hour × {factor}").format(factor=_fmt(self.factor))
        else:
            text = _("per_item {credit}").format(credit=_fmt(self.credit_per_item))
        if self.annual_cap is None:
            return _("{rule}, no cap").format(rule=text)
        return _("{rule}, cap {cap}").format(rule=text, cap=_fmt(self.annual_cap))


@dataclass(frozen=True, slots=True, kw_only=True)
class Plausibility:
    """The thresholds of the online-academy plausibility flags (刷课 checks, docs/rules.md
    "Plausibility flags"). Each flag fires on MORE than its threshold: a value equal to it passes.
    """

    daily_hours: Decimal = Decimal(8)
    """`daily_hours`: most watched clock time of one cadre on one local day, in hours."""
    night_minutes: int = 30
    """`night`: most minutes of one cadre's study between 00:00 and 05:00 local in one night."""
    device_cadres: int = 2
    """`shared_source`: most distinct cadres one device may serve on one local day."""
    ip_cadres: int = 30
    """`shared_source`: most distinct cadres one IP address may serve on one local day (an office
    behind one address is normal, so it is higher than the device's)."""
    watched_share: Ratio = Ratio(1, 1)
    """`too_fast`: a completed record must have watched at least this share of the course's
    length; 1/1 is the whole course."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """One effective-dated rule set. `effective_to` is inclusive; `None` is open-ended.

    A requirement (five-year, annual, online) applies to the ranks in its `*_applies_to`; a
    threshold of `None` means that alternative does not exist (e.g. `chuzhou-2007` has no hours
    alternative to its 90 days). `leading_ranks` names the rank group shown in explanations
    and snapshots ("leading cadre" or "other cadre").
    """

    code: str
    name: str
    effective_from: date
    effective_to: date | None = None
    kind_rules: Mapping[StudyLogKind, KindRule] = field(hash=False)
    leading_ranks: frozenset[Rank]
    centralised_kinds: frozenset[StudyLogKind]
    online_kinds: frozenset[StudyLogKind]

    five_year_applies_to: frozenset[Rank]
    five_year_years: int = 5
    five_year_required_days: Decimal | None
    five_year_required_hours: Decimal | None
    grace_years: int = 1

    annual_applies_to: frozenset[Rank]
    annual_required_days: Decimal | None
    annual_required_hours: Decimal | None
    annual_hours_kinds: frozenset[StudyLogKind]
    """docs/rules.md rule 5: the kinds whose credited hours (after caps) count toward the annual
    hours alternative. `cn-2023`: centralised training only (N3); a local 学时学分制 may list
    every kind. A posted policy that omits it gets its `centralised_kinds`."""

    online_applies_to: frozenset[Rank]
    online_required_hours: Decimal | None

    leave_cap: Ratio = Ratio(1, 7)
    """docs/rules.md rule 7: leave above this fraction of a class's credit hours withdraws the
    trainee."""
    roll_call: Ratio = Ratio(1, 5)
    """docs/rules.md rule 8: the share of a unit's active cadres to train each year."""
    online_plausibility: Plausibility = Plausibility()
    """docs/rules.md "Plausibility flags": the thresholds of the 刷课 checks on online records."""

    def __post_init__(self) -> None:
        # A read-only copy: a policy is shared by every computation and must not change under it.
        object.__setattr__(self, "kind_rules", MappingProxyType(dict(self.kind_rules)))

    def in_force_on(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


def _kind_table() -> dict[StudyLogKind, KindRule]:
    """docs/rules.md rule 3, the default table."""
    k = StudyLogKind
    rules = [
        KindRule(kind=k.centralised_training, mode=CreditMode.per_hour),
        KindRule(kind=k.online_course, mode=CreditMode.per_hour),
        KindRule(kind=k.lecture, mode=CreditMode.per_hour),
        KindRule(kind=k.seminar, mode=CreditMode.per_hour),
        KindRule(
            kind=k.central_group_study,
            mode=CreditMode.per_item,
            credit_per_item=Decimal(3),
            annual_cap=Decimal(24),
        ),
        KindRule(kind=k.self_study, mode=CreditMode.per_hour, annual_cap=Decimal(20)),
        KindRule(
            kind=k.reading_note,
            mode=CreditMode.per_item,
            credit_per_item=Decimal(2),
            annual_cap=Decimal(12),
        ),
        KindRule(
            kind=k.thesis,
            mode=CreditMode.per_item,
            credit_per_item=Decimal(12),
            annual_cap=Decimal(24),
        ),
        KindRule(
            kind=k.teaching, mode=CreditMode.per_hour, factor=Decimal(2), annual_cap=Decimal(24)
        ),
        KindRule(kind=k.secondment, mode=CreditMode.per_hour, annual_cap=Decimal(48)),
        KindRule(kind=k.job_rotation, mode=CreditMode.per_hour, annual_cap=Decimal(48)),
        KindRule(kind=k.study_tour, mode=CreditMode.per_hour, annual_cap=Decimal(48)),
    ]
    return {rule.kind: rule for rule in rules}


ALL_RANKS = frozenset(Rank)
OTHER_RANKS = ALL_RANKS - LEADING_RANKS

CN_2023 = Policy(
    code="cn-2023",
    name="干部教育培训工作条例 (2023) and the 2023–2027 national plan",
    # The default policy also covers the years before 2023: cadres' records go back further, and a
    # date with no policy in force could not be evaluated at all. A deployment that adds an older
    # policy (such as `chuzhou-2007`) starts this one later with `dataclasses.replace`.
    effective_from=date(1900, 1, 1),
    effective_to=None,
    kind_rules=_kind_table(),
    leading_ranks=LEADING_RANKS,
    centralised_kinds=frozenset({StudyLogKind.centralised_training}),
    online_kinds=frozenset({StudyLogKind.online_course}),
    # N1/N2: ≥ 3 months (90 days) or ≥ 550 hours per 5 years; 1 year of grace after promotion.
    five_year_applies_to=LEADING_RANKS,
    five_year_years=5,
    five_year_required_days=Decimal(90),
    five_year_required_hours=Decimal(550),
    grace_years=1,
    # N3: other cadres ≥ 12 days or ≥ 90 hours per year of centralised training (revision 2:
    # self-study, online courses and the like do not count toward it).
    annual_applies_to=OTHER_RANKS,
    annual_required_days=Decimal(12),
    annual_required_hours=Decimal(90),
    annual_hours_kinds=frozenset({StudyLogKind.centralised_training}),
    # N5: everyone ≥ 50 hours of online learning per year.
    online_applies_to=ALL_RANKS,
    online_required_hours=Decimal(50),
    leave_cap=Ratio(1, 7),
    roll_call=Ratio(1, 5),
)

CHUZHOU_2007 = Policy(
    code="chuzhou-2007",
    name="滁州市组工干部教育培训 (2007)",
    effective_from=date(2007, 1, 1),
    effective_to=None,
    kind_rules=_kind_table(),
    leading_ranks=LEADING_RANKS,
    centralised_kinds=frozenset({StudyLogKind.centralised_training}),
    online_kinds=frozenset({StudyLogKind.online_course}),
    # The seed article: every cadre ≥ 3 months of off-job training per 5 years, no hours
    # alternative, and no separate annual or online requirement.
    five_year_applies_to=ALL_RANKS,
    five_year_years=5,
    five_year_required_days=Decimal(90),
    five_year_required_hours=None,
    grace_years=1,
    annual_applies_to=frozenset(),
    annual_required_days=None,
    annual_required_hours=None,
    # No annual requirement applies; the figure shown for information is the seed's 学时学分制,
    # which credits self-study, central-group study and off-job training alike: every kind.
    annual_hours_kinds=frozenset(StudyLogKind),
    online_applies_to=frozenset(),
    online_required_hours=None,
    leave_cap=Ratio(1, 7),
    roll_call=Ratio(1, 5),
)

BUILT_IN_POLICIES: tuple[Policy, ...] = (CN_2023,)
"""The policies of a fresh deployment: `cn-2023` alone (docs/rules.md "default policy")."""


def policy_in_force(policies: Sequence[Policy], on: date) -> Policy:
    """The one policy whose effective range contains `on` (both ends inclusive); the one place
    that decides it. None or several: `NoPolicyForDate` (409 `credit_policy.none_in_force`)."""
    found = [policy for policy in policies if policy.in_force_on(on)]
    if not found:
        raise NoPolicyForDate(_("no credit policy is in force on {day}").format(day=on.isoformat()))
    if len(found) > 1:
        codes = ", ".join(sorted(policy.code for policy in found))
        raise NoPolicyForDate(
            _("several credit policies are in force on {day}: {codes}").format(
                day=on.isoformat(), codes=codes
            )
        )
    return found[0]


def _check_amount(errors: list[str], what: str, value: Decimal | None) -> None:
    if value is not None and (not value.is_finite() or value < 0):
        errors.append(f"{what} must be a finite number ≥ 0, not {value}")


def _check_ratio(errors: list[str], what: str, ratio: Ratio, *, share: bool = False) -> None:
    if ratio.numerator < 0 or ratio.denominator <= 0:
        errors.append(f"{what} must be a fraction ≥ 0 with a positive denominator, not {ratio}")
    elif share and ratio.numerator > ratio.denominator:
        errors.append(f"{what} is a share: at most 1, not {ratio}")


def _check_requirement(
    errors: list[str], what: str, applies_to: frozenset[Rank], *thresholds: Decimal | None
) -> None:
    if applies_to and all(threshold is None for threshold in thresholds):
        errors.append(f"the {what} requirement applies to some ranks but has no threshold")


def annual_hours_kinds_problems(
    annual_hours_kinds: Iterable[StudyLogKind],
    ruled_kinds: Iterable[StudyLogKind],
    *,
    hours_required: bool,
    language: str = "en",
) -> list[str]:
    """What is wrong with a policy's `annual_hours_kinds` (docs/rules.md rule 5): a kind without
    a credit rule credits nothing, and an empty list would make a required hours alternative
    impossible to meet."""
    ruled = set(ruled_kinds)
    kinds = sorted(set(annual_hours_kinds))
    errors = [
        gettext(
            N_("annual_hours_kinds lists {kind}, which has no rule in kind_rules"), language
        ).format(kind=kind)
        for kind in kinds
        if kind not in ruled
    ]
    if hours_required and not kinds:
        empty = N_(
            "annual_hours_kinds is empty, so the annual hours alternative could never be met; "
            "set annual_required_hours to null instead"
        )
        errors.append(gettext(empty, language))
    return errors


def validate_policy(policy: Policy) -> None:
    """Raise `ValueError` listing every problem of one policy."""
    errors: list[str] = []
    if not policy.code.strip():
        errors.append("code must not be empty")
    if policy.effective_to is not None and policy.effective_to < policy.effective_from:
        errors.append("effective_to is before effective_from")
    for kind, rule in policy.kind_rules.items():
        if rule.kind != kind:
            errors.append(f"the rule filed under {kind} is for {rule.kind}")
        if rule.mode not in set(CreditMode):
            errors.append(f"{kind} mode must be one of {', '.join(CreditMode)}, not {rule.mode}")
        _check_amount(errors, f"{kind} factor", rule.factor)
        _check_amount(errors, f"{kind} credit_per_item", rule.credit_per_item)
        _check_amount(errors, f"{kind} annual_cap", rule.annual_cap)
    if policy.five_year_years < 1:
        errors.append("five_year_years must be at least 1")
    if policy.grace_years < 0:
        errors.append("grace_years must be ≥ 0")
    for name in (
        "five_year_required_days",
        "five_year_required_hours",
        "annual_required_days",
        "annual_required_hours",
        "online_required_hours",
    ):
        _check_amount(errors, name, getattr(policy, name))
    _check_requirement(
        errors,
        "five-year",
        policy.five_year_applies_to,
        policy.five_year_required_days,
        policy.five_year_required_hours,
    )
    _check_requirement(
        errors,
        "annual",
        policy.annual_applies_to,
        policy.annual_required_days,
        policy.annual_required_hours,
    )
    _check_requirement(errors, "online", policy.online_applies_to, policy.online_required_hours)
    errors += annual_hours_kinds_problems(
        policy.annual_hours_kinds,
        policy.kind_rules,
        hours_required=bool(policy.annual_applies_to) and policy.annual_required_hours is not None,
    )
    _check_ratio(errors, "leave_cap", policy.leave_cap)
    _check_ratio(errors, "roll_call", policy.roll_call)
    _check_ratio(
        errors,
        "online_plausibility.watched_share",
        policy.online_plausibility.watched_share,
        share=True,
    )
    _check_amount(errors, "online_plausibility.daily_hours", policy.online_plausibility.daily_hours)
    for name in ("night_minutes", "device_cadres", "ip_cadres"):
        if getattr(policy.online_plausibility, name) < 0:
            errors.append(f"online_plausibility.{name} must be ≥ 0")
    if errors:
        raise ValueError(f"credit policy {policy.code!r}: " + "; ".join(errors))


def validate_policies(policies: Sequence[Policy]) -> None:
    """Raise `ValueError` when a policy is invalid, two share a code, or their effective ranges
    overlap (a date must have exactly one policy in force)."""
    for policy in policies:
        validate_policy(policy)
    codes = [policy.code for policy in policies]
    duplicated = sorted({code for code in codes if codes.count(code) > 1})
    if duplicated:
        raise ValueError(f"duplicate credit policy codes: {', '.join(duplicated)}")
    ordered = sorted(policies, key=lambda policy: policy.effective_from)
    for earlier, later in itertools.pairwise(ordered):
        if earlier.effective_to is None or later.effective_from <= earlier.effective_to:
            raise ValueError(
                f"credit policies {earlier.code!r} and {later.code!r} have overlapping "
                "effective ranges"
            )
