"""Numbers, dates and statuses shared by the engine's rules.

The engine computes on exact rationals (`Fraction`) built from the `Decimal` inputs: a pro-rata
share such as 9/14 has no finite decimal expansion, and a sum of rounded shares could fall a hair
short of a threshold it mathematically meets. Results are handed out as `Decimal` (unrounded,
34 significant digits); `q2` rounds to two places only where a figure is shown (docs/rules.md).
"""

from datetime import MAXYEAR, MINYEAR, date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from fractions import Fraction

from app.enums import Requirement, RequirementStatus

# Requirement and RequirementStatus live in app.enums (their labels are app.enum_labels')
__all__ = ["ONE_DAY", "Requirement", "RequirementStatus"]

ONE_DAY = timedelta(days=1)
_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)
_CENT = Decimal("0.01")


def exact(value: Decimal) -> Fraction:
    """The exact rational value of a decimal input; refuses NaN and infinities."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return Fraction(value)


def to_decimal(value: Fraction) -> Decimal:
    """An exact rational as a decimal (exact when it terminates, else 34 significant digits)."""
    if value.denominator == 1:
        return Decimal(value.numerator)
    return _CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def q2(value: Decimal) -> Decimal:
    """Round to two places for display, half up (四舍五入) as administrators count."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP, context=_CONTEXT)


def fmt(value: Decimal | Fraction) -> str:
    """A figure in an explanation: two places, without `.00` on whole numbers."""
    shown = q2(to_decimal(value) if isinstance(value, Fraction) else value)
    return str(shown.quantize(Decimal(1))) if shown == shown.to_integral_value() else str(shown)


def add_years(day: date, years: int) -> date:
    """`day` moved by whole calendar years; Feb 29 becomes Feb 28 in a common year. Clamped to
    `date.min`/`date.max`, so that absurd but representable dates never crash a computation."""
    year = day.year + years
    if year < MINYEAR:
        return date.min
    if year > MAXYEAR:
        return date.max
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def overlap_days(start: date, end: date, period_start: date, period_end: date) -> int:
    """Calendar days shared by two inclusive date ranges (0 when disjoint)."""
    return max(0, (min(end, period_end) - max(start, period_start)).days + 1)


def shortfall(actual: Fraction, required: Decimal | None) -> Fraction | None:
    """How much is missing to reach `required` (never negative); `None` without a threshold."""
    if required is None:
        return None
    return max(Fraction(0), exact(required) - actual)


def reaches(actual: Fraction, required: Decimal | None) -> bool:
    """Whether one alternative of a requirement is met; an absent alternative never is."""
    return required is not None and actual >= exact(required)


def optional_decimal(value: Fraction | None) -> Decimal | None:
    return None if value is None else to_decimal(value)
