"""The one shape every `make bench` measurement reports in, and how the table is printed.

Each measuring module (bench.http_reads, bench.reports, bench.bulk, ...) returns a list of
`Figure`s: what was measured, the figure, the yardstick measured in the same run, and the target
as a ratio to that yardstick. `bench.all` (the `make bench` entry point) prints them as one table.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# "higher": the figure should be at least `target` × the yardstick (throughput, rows/s);
# "lower": at most `target` × the yardstick (a time, a size).
Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class Figure:
    what: str
    value: float
    unit: str  # "req/s", "ms", "rows/s", "MB"
    yardstick: float | None = None  # the same unit, measured in the same run
    yardstick_what: str = ""
    target: float | None = None  # a ratio to the yardstick, or an absolute bound when no yardstick
    direction: Direction = "higher"
    before: str = ""  # the figure issue 16 measured before this round, as text ("13 %", "1.5×")
    detail: str = ""  # p50 / p99, rows, anything else worth a column

    @property
    def ratio(self) -> float | None:
        if self.yardstick in (None, 0):
            return None
        return self.value / self.yardstick

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.yardstick is not None else self.value
        if measured is None:
            return None
        return measured >= self.target if self.direction == "higher" else measured <= self.target


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def render(figures: Iterable[Figure]) -> str:
    """A Markdown table: what, figure, yardstick, ratio, target, before, met."""
    lines = [
        "| what | figure | yardstick | ratio | target | before | met | detail |",
        "|---|---:|---|---:|---|---|---|---|",
    ]
    for f in figures:
        ratio = f.ratio
        yardstick = (
            f"{_number(f.yardstick)} {f.unit} ({f.yardstick_what})"
            if f.yardstick is not None
            else ""
        )
        if f.target is None:
            target = ""
        else:
            sign = "≥" if f.direction == "higher" else "≤"
            target = f"{sign} {f.target:.3g}" + ("×" if f.yardstick is not None else f" {f.unit}")
        met = {True: "yes", False: "**no**", None: ""}[f.met]
        lines.append(
            f"| {f.what} | {_number(f.value)} {f.unit} | {yardstick} | "
            f"{'' if ratio is None else f'{ratio:.2f}×'} | {target} | {f.before} | {met} | "
            f"{f.detail} |"
        )
    return "\n".join(lines)
