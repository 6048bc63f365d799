"""The one clock of the rules: "today" is the local date in Asia/Shanghai (docs/rules.md, rule 2
and rule 10). Tests pin it with `pinned(...)` so that examples written for fixed dates (a promotion
on 2025-06-01, a log that may not end after today) run the same on any day."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

_pinned: date | None = None
_pinned_now: datetime | None = None


def now() -> datetime:
    """The current instant (UTC), or the instant a test pinned: the sign-in codes and their
    windows (docs/rules.md, rule 12) read it, so tests set the time instead of sleeping."""
    if _pinned_now is not None:
        return _pinned_now
    return datetime.now(UTC)


def local_today() -> date:
    """The current local date, or the date a test pinned."""
    if _pinned is not None:
        return _pinned
    if _pinned_now is not None:
        return _pinned_now.astimezone(LOCAL_TZ).date()
    return datetime.now(LOCAL_TZ).date()


@contextmanager
def pinned(day: date) -> Iterator[None]:
    """Within the block, `local_today()` answers `day` (for tests; the service never pins)."""
    global _pinned
    before, _pinned = _pinned, day
    try:
        yield
    finally:
        _pinned = before


@contextmanager
def pinned_at(instant: datetime) -> Iterator[None]:
    """Within the block, `now()` answers `instant` (and `local_today()` its local date, unless
    a day is pinned too); for tests."""
    global _pinned_now
    assert instant.tzinfo is not None
    before, _pinned_now = _pinned_now, instant
    try:
        yield
    finally:
        _pinned_now = before
