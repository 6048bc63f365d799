"""The scorecard's arithmetic, pure (docs/rules.md, "Unit scorecard"): rates kept exact as
fractions, the weighted score over the indicators that have a denominator, the display
rounding (four places, half up) and the competition ranking ("1224")."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from app.enums import ScorecardIndicator

INDICATORS = tuple(ScorecardIndicator)


def rate(indicator: ScorecardIndicator, numerator: int, denominator: int) -> Fraction | None:
    """numerator / denominator, exact; None without a denominator. Roll-call fulfilment counts
    at most the quota: a unit training more than a fifth scores 1, not more."""
    if denominator <= 0:
        return None
    value = Fraction(numerator, denominator)
    if indicator is ScorecardIndicator.roll_call:
        value = min(value, Fraction(1))
    return value


def weighted_score(
    rates: Mapping[ScorecardIndicator, Fraction | None], weights: Mapping[ScorecardIndicator, int]
) -> Fraction | None:
    """Σ w·rate / Σ w over the indicators with a rate; None when their weights add up to 0."""
    total = sum((weights[i] for i, r in rates.items() if r is not None), 0)
    if total == 0:
        return None
    return sum((weights[i] * r for i, r in rates.items() if r is not None), Fraction(0)) / total


def shown(value: Fraction) -> Decimal:
    """Four decimals, half up, from the exact value (no double rounding)."""
    scaled = value * 10_000
    whole = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(whole).scaleb(-4)


def competition_ranks(values: Sequence[Decimal | None]) -> list[int | None]:
    """1 = highest; equal values share a rank and the next rank skips (1, 2, 2, 4); None for a
    missing value."""
    present = sorted((v for v in values if v is not None), reverse=True)
    first: dict[Decimal, int] = {}
    for position, value in enumerate(present, start=1):
        first.setdefault(value, position)
    return [None if v is None else first[v] for v in values]
