"""The engine's input: study logs as plain values, and their pro-rata share of a period."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from app.credit_policy.engine.common import exact, overlap_days, to_decimal
from app.enums import StudyLogKind, StudyLogStatus
from app.i18n import N_

APPROVED_ONLY = N_("approved logs only, docs/rules.md rule 1")
# A figure with its unit in an explanation.
DAYS = N_("{figure} days")
HOURS = N_("{figure} h")


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One study log of one cadre. `id` breaks ties between logs starting on the same day and is
    compared as a string; dates are local dates (Asia/Shanghai), both ends inclusive."""

    id: str
    kind: StudyLogKind
    start_date: date
    end_date: date
    hours: Decimal
    days: Decimal
    status: StudyLogStatus

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise ValueError(f"study log {self.id}: end_date is before start_date")
        if exact(self.hours) < 0 or exact(self.days) < 0:
            raise ValueError(f"study log {self.id}: hours and days must be ≥ 0")

    @property
    def total_days(self) -> int:
        return (self.end_date - self.start_date).days + 1


@dataclass(frozen=True, slots=True)
class IgnoredLog:
    """A log in the evaluated period that does not count because it is not approved."""

    log_id: str
    kind: StudyLogKind
    status: StudyLogStatus


def date_order(log: LogRecord) -> tuple[date, str, date, str, Decimal, Decimal]:
    """docs/rules.md rule 3: caps are consumed in date order, ties by id. The remaining fields only
    make the order total, so that the result never depends on the order logs were given in."""
    return (log.start_date, log.id, log.end_date, log.kind.value, log.hours, log.days)


def exact_share(log: LogRecord, period_start: date, period_end: date) -> Fraction:
    """docs/rules.md rule 2: `overlap_days / total_days` of the log with an inclusive period."""
    inside = overlap_days(log.start_date, log.end_date, period_start, period_end)
    return Fraction(inside, log.total_days)


def share(log: LogRecord, period_start: date, period_end: date) -> Decimal:
    """docs/rules.md rule 2: the part of a log's calendar days (and so of its days and hours) that
    falls inside the inclusive period `period_start..period_end`, in [0, 1]."""
    return to_decimal(exact_share(log, period_start, period_end))


def split_by_status(
    logs: Iterable[LogRecord], period_start: date, period_end: date
) -> tuple[list[LogRecord], tuple[IgnoredLog, ...]]:
    """The approved logs, and the others that touch the period (listed in derivations so that an
    administrator sees why a pending or voided log is missing from the figures)."""
    approved: list[LogRecord] = []
    ignored: list[IgnoredLog] = []
    for log in logs:
        if log.status == StudyLogStatus.approved:
            approved.append(log)
        elif overlap_days(log.start_date, log.end_date, period_start, period_end):
            ignored.append(IgnoredLog(log.id, log.kind, log.status))
    ignored.sort(key=lambda item: item.log_id)
    return approved, tuple(ignored)
