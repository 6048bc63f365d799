"""The one clock of the rules: "today" is the local date in Asia/Shanghai (docs/rules.md, rule 2
and rule 10). Tests pin it with `pinned(...)` so that examples written for fixed dates (a promotion
on 2025-06-01, a log that may not end after today) run the same on any day."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

_pinned: date | None = None


def local_today() -> date:
    """The current local date, or the date a test pinned."""
    if _pinned is not None:
        return _pinned
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
