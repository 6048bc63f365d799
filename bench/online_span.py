"""What one implausible row cost the online import (issue 15 §1, review finding 1), in-process:
the pure plausibility checks (`app.online.plausibility.flag_all`) of one record watched from
1900-01-02 to 2026-11-28, which the checks walked day by day before the row error
`implausible_span`, against the yardstick of the same checks of one 45-minute record; and what
the import's row check (`app.online.rules.parse_row`) costs for that row now (it refuses it).
The database part of the old path (one policy lookup per day in `app.online.checks`) is not
included: the figures are a lower bound of what the row cost.

    python -m bench.online_span
"""

import time
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from app.clock import LOCAL_TZ
from app.credit_policy.policy import Plausibility
from app.online import plausibility, rules
from app.online.plausibility import Converted, PlausibilityContext

CADRE = uuid.UUID(int=1)


def _record(started_at: datetime, ended_at: datetime) -> Converted:
    return Converted(
        row=0,
        external_id="R-1",
        cadre_id=CADRE,
        learner_id="u-1",
        course_code="C1",
        course_title="党史",
        course_minutes=45,
        minutes=45,
        completed=True,
        test_passed=False,
        started_at=started_at,
        ended_at=ended_at,
        ip="10.1.2.3",
        device="dev-1",
        hours=Decimal(1),
        start_date=started_at.astimezone(LOCAL_TZ).date(),
        end_date=ended_at.astimezone(LOCAL_TZ).date(),
    )


def _cpu(work: Callable[[], object], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        work()
    return (time.process_time() - start) / repeat


def main() -> None:
    context = PlausibilityContext(thresholds=lambda _day: Plausibility())
    span = _record(
        datetime(1900, 1, 2, 8, tzinfo=LOCAL_TZ), datetime(2026, 11, 28, 8, tzinfo=LOCAL_TZ)
    )
    normal = _record(
        datetime(2026, 11, 2, 20, tzinfo=LOCAL_TZ), datetime(2026, 11, 2, 20, 45, tzinfo=LOCAL_TZ)
    )
    raw = {
        "learner_id": "u-1",
        "external_id": "R-1",
        "course_code": "C1",
        "course_title": "党史",
        "minutes": 45,
        "completed": True,
        "started_at": "1900-01-02T08:00:00+08:00",
        "ended_at": "2026-11-28T08:00:00+08:00",
    }

    def refused() -> None:
        try:
            rules.parse_row(raw)
        except rules.RowError as exc:
            if exc.code != "implausible_span":
                raise
        else:
            raise SystemExit("the span was not refused")

    days = (date(2026, 11, 28) - date(1900, 1, 2)).days + 1
    old = _cpu(lambda: plausibility.flag_all([span], context), 3)
    yardstick = _cpu(lambda: plausibility.flag_all([normal], context), 2000)
    now = _cpu(refused, 2000)
    print(f"checks of one record spanning {days:,} days (the old path): {old:.3f} s CPU")
    print(f"yardstick, checks of one 45-minute record: {yardstick * 1e6:.0f} µs CPU")
    print(f"the row check refusing the span now (implausible_span): {now * 1e6:.0f} µs CPU")
    print(f"50,000 such rows before: {old * 50_000 / 3600:.1f} h of CPU on the event loop")


if __name__ == "__main__":
    main()
