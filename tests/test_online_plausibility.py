"""The five 刷课 checks as pure rules (docs/rules.md "Plausibility flags"), hand-computed, with
the edges: a value equal to its threshold is not "more than" it."""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.clock import LOCAL_TZ
from app.credit_policy.policy import CN_2023, Plausibility, Ratio, validate_policy
from app.online.plausibility import (
    ClassWindow,
    PlausibilityContext,
    PlausibilityRule,
    SourceKind,
    Watch,
    flag_watches,
    night_minutes,
    split_by_day,
)

A = uuid.UUID(int=1)
DAY = date(2026, 3, 10)
DEFAULTS = CN_2023.online_plausibility


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def watch(
    key: int | uuid.UUID,
    start: datetime | None,
    minutes: int,
    *,
    cadre: uuid.UUID = A,
    day: date = DAY,
    end: datetime | None = None,
    ip: str | None = None,
    device: str | None = None,
    course_minutes: int | None = None,
    completed: bool = False,
) -> Watch:
    if end is None and start is not None:
        end = start + timedelta(minutes=minutes)
    return Watch(
        key=key,
        cadre_id=cadre,
        day=day,
        minutes=minutes,
        started_at=start,
        ended_at=end,
        ip=ip,
        device=device,
        course_minutes=course_minutes,
        completed=completed,
    )


def rules_of(
    batch: list[Watch],
    *,
    stored: tuple[Watch, ...] = (),
    classes: tuple[ClassWindow, ...] = (),
    thresholds: Plausibility = DEFAULTS,
) -> dict[int | uuid.UUID, list[str]]:
    context = PlausibilityContext(
        thresholds=lambda _day: thresholds, stored=stored, stored_sources=stored, classes=classes
    )
    found = flag_watches(batch, context)
    return {key: [f.rule.value for f in flags] for key, flags in found.items()}


def test_cn_2023_thresholds() -> None:
    assert (
        Plausibility(
            daily_hours=Decimal(8),
            night_minutes=30,
            device_cadres=2,
            ip_cadres=30,
            watched_share=Ratio(1, 1),
        )
        == DEFAULTS
    )


def test_split_by_day_across_midnight() -> None:
    assert split_by_day(at(23), at(1, 30, DAY + timedelta(days=1))) == {
        DAY: timedelta(hours=1),
        DAY + timedelta(days=1): timedelta(hours=1, minutes=30),
    }
    # A UTC instant is read in local time: 16:00Z on the 9th is midnight of the 10th.
    utc = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert split_by_day(utc, utc + timedelta(hours=1)) == {DAY: timedelta(hours=1)}


def test_night_minutes_per_night() -> None:
    assert night_minutes(at(23), at(6, 0, DAY + timedelta(days=1))) == {
        DAY + timedelta(days=1): timedelta(hours=5)
    }
    assert night_minutes(at(5), at(6)) == {}
    assert night_minutes(at(4, 59), at(6)) == {DAY: timedelta(minutes=1)}


@pytest.mark.parametrize(
    ("sessions", "flagged"),
    [
        # (start hour, minutes) of each record of one cadre on one day
        ([(8, 240), (13, 240)], False),  # exactly 8 h: not more than 8
        ([(8, 240), (13, 241)], True),  # 8 h 01
        ([(6, 840)], True),  # a day of 14 hours
        ([(20, 300)], False),  # 20:00–01:00: 4 h today, 1 h tomorrow
    ],
)
def test_daily_hours(sessions: list[tuple[int, int]], flagged: bool) -> None:
    batch = [watch(i, at(h), m) for i, (h, m) in enumerate(sessions)]
    found = rules_of(batch)
    assert all(("daily_hours" in found.get(i, [])) is flagged for i in range(len(batch)))


def test_daily_hours_adds_the_stored_records_and_gives_evidence() -> None:
    stored = (watch(uuid.UUID(int=99), at(8), 420),)  # 7 h already stored
    context = PlausibilityContext(thresholds=lambda _d: DEFAULTS, stored=stored)
    found = flag_watches([watch(0, at(16), 61)], context)
    (only,) = found[0]
    assert only.rule == PlausibilityRule.daily_hours
    assert only.evidence.day == DAY
    assert only.evidence.hours == Decimal("8.02")
    assert only.evidence.threshold == Decimal(8)
    assert only.evidence.records == 2
    assert [f.rule for f in found[uuid.UUID(int=99)]] == [PlausibilityRule.daily_hours]
    assert rules_of([watch(0, at(16), 60)], stored=stored) == {}  # 8 h exactly


def test_daily_hours_without_times_counts_minutes_on_the_day() -> None:
    assert rules_of([watch(0, None, 480), watch(1, None, 1)]) == {
        0: ["daily_hours"],
        1: ["daily_hours"],
    }
    assert rules_of([watch(0, None, 480)]) == {}


@pytest.mark.parametrize(
    ("start", "minutes", "flagged"),
    [
        (at(0), 30, False),  # 00:00–00:30: exactly 30 minutes
        (at(0), 31, True),
        (at(4, 30), 60, False),  # 04:30–05:30: 30 minutes of night
        (at(4, 29), 60, True),  # 31 minutes of night
        (at(23, 40), 51, True),  # 23:40–00:31 next day: 31 minutes of that night
        (at(5), 600, False),  # daytime
    ],
)
def test_night(start: datetime, minutes: int, flagged: bool) -> None:
    assert ("night" in rules_of([watch(0, start, minutes)]).get(0, [])) is flagged


def test_night_adds_records_of_the_same_night() -> None:
    found = rules_of([watch(0, at(1), 20), watch(1, at(3), 11)])
    assert found == {0: ["night"], 1: ["night"]}


def test_shared_device_edges_and_stored_cadres() -> None:
    cadres = [uuid.UUID(int=n) for n in range(1, 13)]
    two = [watch(i, at(9), 30, cadre=c, device="D1") for i, c in enumerate(cadres[:2])]
    assert rules_of(two) == {}  # two cadres on one device: not more than 2
    three = [*two, watch(2, at(10), 30, cadre=cadres[2], device="D1")]
    assert rules_of(three) == {0: ["shared_source"], 1: ["shared_source"], 2: ["shared_source"]}
    # The third cadre was stored before: the batch's two are flagged, and the stored record
    # of the device-day the batch pushed over the threshold too.
    stored = (watch(uuid.UUID(int=500), at(8), 30, cadre=cadres[2], device="D1"),)
    assert rules_of(two, stored=stored) == {
        0: ["shared_source"],
        1: ["shared_source"],
        uuid.UUID(int=500): ["shared_source"],
    }
    # Another day does not count.
    other_day = (
        watch(
            uuid.UUID(int=501),
            at(8, day=DAY - timedelta(days=1)),
            30,
            cadre=cadres[2],
            device="D1",
            day=DAY - timedelta(days=1),
        ),
    )
    assert rules_of(two, stored=other_day) == {}
    # One cadre twelve times is one cadre.
    same = [watch(i, at(9), 5, device="D1") for i in range(12)]
    assert rules_of(same) == {}


def test_shared_ip_threshold_and_evidence() -> None:
    office = [watch(i, at(9), 30, cadre=uuid.UUID(int=i + 1), ip="10.0.0.1") for i in range(30)]
    assert rules_of(office) == {}
    office.append(watch(30, at(9), 30, cadre=uuid.UUID(int=31), ip="10.0.0.1"))
    context = PlausibilityContext(thresholds=lambda _d: DEFAULTS)
    found = flag_watches(office, context)
    assert len(found) == 31
    evidence = found[30][0].evidence
    assert (evidence.source_kind, evidence.source, evidence.cadres, evidence.threshold) == (
        SourceKind.ip,
        "10.0.0.1",
        31,
        Decimal(30),
    )


@pytest.mark.parametrize(
    ("minutes", "course", "completed", "share", "flagged"),
    [
        (45, 45, True, Ratio(1, 1), False),  # the whole course
        (44, 45, True, Ratio(1, 1), True),
        (10, 45, False, Ratio(1, 1), False),  # not reported completed
        (10, None, True, Ratio(1, 1), False),  # no course length
        (36, 40, True, Ratio(9, 10), False),  # 90 % of 40 = 36
        (35, 40, True, Ratio(9, 10), True),
    ],
)
def test_too_fast(
    minutes: int, course: int | None, completed: bool, share: Ratio, flagged: bool
) -> None:
    thresholds = replace(DEFAULTS, watched_share=share)
    batch = [watch(0, None, minutes, course_minutes=course, completed=completed)]
    assert ("too_fast" in rules_of(batch, thresholds=thresholds).get(0, [])) is flagged


def _part(start: datetime, end: datetime) -> ClassWindow:
    return ClassWindow(
        cadre_id=A,
        starts_at=start,
        ends_at=end,
        title="县处级干部进修班",
        training_session_id=uuid.UUID(int=7),
    )


@pytest.mark.parametrize(
    ("start", "minutes", "flagged"),
    [
        (at(8), 30, False),  # 08:00–08:30, the part starts at 08:30: touching is no overlap
        (at(8), 31, True),  # one minute inside
        (at(12), 60, False),  # the lunch break between the parts
        (at(14, 30), 10, True),  # inside the afternoon part
        (at(17, 30), 60, False),  # the part ended at 17:30
        (at(20), 60, False),  # the evening, no part
    ],
)
def test_centralised_overlap_with_part_windows(
    start: datetime, minutes: int, flagged: bool
) -> None:
    parts = (_part(at(8, 30), at(12)), _part(at(14, 30), at(17, 30)))
    found = rules_of([watch(0, start, minutes)], classes=parts)
    assert ("centralised_overlap" in found.get(0, [])) is flagged


def test_centralised_overlap_evidence_and_whole_days() -> None:
    whole_day = ClassWindow(
        cadre_id=A,
        starts_at=at(0),
        ends_at=at(0, 0, DAY + timedelta(days=1)),
        title="脱产培训",
        study_log_id=uuid.UUID(int=8),
    )
    context = PlausibilityContext(thresholds=lambda _d: DEFAULTS, classes=(whole_day,))
    (found,) = flag_watches([watch(0, at(21), 50)], context)[0]
    assert found.evidence.overlap_from == at(21)
    assert found.evidence.overlap_to == at(21, 50)
    assert found.evidence.minutes == 50
    assert found.evidence.study_log_id == uuid.UUID(int=8)
    # A record without times is its whole day; another cadre's class is not this cadre's.
    assert rules_of([watch(0, None, 30)], classes=(whole_day,)) == {0: ["centralised_overlap"]}
    other = replace(whole_day, cadre_id=uuid.UUID(int=2))
    assert rules_of([watch(0, at(21), 50)], classes=(other,)) == {}


def test_several_rules_in_rule_order() -> None:
    record = watch(0, at(0), 600, device="D", course_minutes=900, completed=True)
    assert rules_of([record]) == {0: ["daily_hours", "night", "too_fast"]}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"night_minutes": -1}, "online_plausibility.night_minutes"),
        ({"daily_hours": Decimal("-0.5")}, "online_plausibility.daily_hours"),
        ({"watched_share": Ratio(1, 0)}, "online_plausibility.watched_share"),
        ({"watched_share": Ratio(3, 2)}, "online_plausibility.watched_share"),
    ],
)
def test_a_policy_with_bad_thresholds_is_invalid(change: dict[str, Any], problem: str) -> None:
    policy = replace(CN_2023, online_plausibility=replace(DEFAULTS, **change))
    with pytest.raises(ValueError, match=problem):
        validate_policy(policy)
