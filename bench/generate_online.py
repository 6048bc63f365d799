"""A month of a county's online-academy records, with PLANTED cheats (刷课) and honest records
near every plausibility threshold but under it (docs/rules.md "Plausibility flags").

Importable (the done-when test, tests/test_online_done_when.py, and bench/online_flags.py use it)
and deterministic: the same learners, month and seed give the same rows.

The planted cheats, each failing exactly one check under the `cn-2023` thresholds:
- `shared_source`: one device (and one address) serving twelve cadres on day 3;
- `daily_hours`: a day of 14 hours (seven 2-hour courses, 06:00–20:00) on day 5;
- `night`: 01:00–02:00 on day 7, and 02:00–03:30 on day 8;
- `centralised_overlap`: 09:00–09:45 on day 11, during a part of a residential class (days
  10–12, parts 08:30–12:00 and 14:30–17:30) the cadre attends;
- `too_fast`: courses reported completed after 20 of 45 and 30 of 90 minutes, on day 14.
Honest records at the edges: a day of exactly 8 hours, exactly 30 minutes after midnight, a
home device shared by exactly two cadres, one office address serving exactly 30 cadres on one
day, completed courses watched for exactly their length, study in the class's evening and study
ending exactly when a part begins. Every other honest record is daytime, at most two courses a
cadre a day, on the cadre's own device and its office's address (30 cadres an office).
"""

import calendar
import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.clock import LOCAL_TZ

Row = str | int | bool | None
OFFICE_SIZE = 30
MIN_LEARNERS = OFFICE_SIZE + 1


@dataclass(frozen=True, slots=True)
class Course:
    code: str
    title: str
    minutes: int


COURSES: tuple[Course, ...] = (
    Course("YN-C001", "习近平新时代中国特色社会主义思想概论", 45),
    Course("YN-C002", "党的二十大精神专题", 60),
    Course("YN-C003", "依法行政与法治政府建设", 30),
    Course("YN-C004", "乡村振兴战略专题", 90),
    Course("YN-C005", "数字政府建设", 20),
    Course("YN-C006", "领导干部应急管理能力", 120),
)
_BY_MINUTES = {course.minutes: course for course in COURSES}


@dataclass(frozen=True, slots=True)
class Learner:
    learner_id: str
    id_number: str | None = None


@dataclass(frozen=True, slots=True)
class ClassPart:
    part_date: date
    start_time: time
    end_time: time


@dataclass(frozen=True, slots=True)
class ResidentialClass:
    """The centralised class (脱产) the `centralised_overlap` cheater attends: the test or the
    bench creates it with these parts and a completed enrollment."""

    learner: Learner
    start_date: date
    end_date: date
    parts: tuple[ClassPart, ...]


@dataclass(slots=True)
class OnlineMonth:
    rows: list[dict[str, Row]] = field(default_factory=list)
    planted: dict[str, str] = field(default_factory=dict)
    """external_id → the one rule its record must fail."""
    near: dict[str, str] = field(default_factory=dict)
    """external_id → the rule it is honestly at the edge of (must not be flagged)."""
    residential_class: ResidentialClass | None = None

    @property
    def honest(self) -> list[str]:
        return [
            str(row["external_id"]) for row in self.rows if row["external_id"] not in self.planted
        ]


@dataclass(slots=True)
class _Builder:
    month: OnlineMonth
    learners: Sequence[Learner]
    year: int
    month_no: int
    prefix: str
    reserved: set[tuple[int, int]] = field(default_factory=set)

    def day(self, n: int) -> date:
        return date(self.year, self.month_no, n)

    def office_ip(self, index: int) -> str:
        return f"10.53.{index // OFFICE_SIZE}.1"

    def own_device(self, index: int) -> str:
        return f"DEV-{self.learners[index].learner_id}"

    def add(
        self,
        index: int,
        day: int,
        start: time,
        course: Course,
        *,
        minutes: int | None = None,
        ip: str | None = "",
        device: str | None = "",
        planted: str | None = None,
        near: str | None = None,
    ) -> str:
        learner = self.learners[index]
        watched = course.minutes if minutes is None else minutes
        started = datetime.combine(self.day(day), start, LOCAL_TZ)
        external_id = f"{self.prefix}-{len(self.month.rows) + 1:06d}"
        row: dict[str, Row] = {
            "learner_id": learner.learner_id,
            "external_id": external_id,
            "course_code": course.code,
            "course_title": course.title,
            "course_minutes": course.minutes,
            "minutes": watched,
            # Only completed records are imported (an unfinished one is a row error).
            "completed": True,
            "test_passed": len(self.month.rows) % 3 == 0,
            "started_at": started.isoformat(),
            "ended_at": (started + timedelta(minutes=watched)).isoformat(),
            "ip": self.office_ip(index) if ip == "" else ip,
            "device": self.own_device(index) if device == "" else device,
        }
        if learner.id_number is not None:
            row["id_number"] = learner.id_number
        self.month.rows.append(row)
        self.reserved.add((index, day))
        if planted is not None:
            self.month.planted[external_id] = planted
        if near is not None:
            self.month.near[external_id] = near
        return external_id


def _plant(b: _Builder) -> None:
    course = _BY_MINUTES
    # shared_source: twelve cadres on one device and one address on day 3.
    for index in range(12):
        b.add(index, 3, time(14), course[30], ip="198.51.100.7", device="DEV-FARM-01",
              planted="shared_source")  # fmt: skip
    # daily_hours: 06:00–20:00, seven 2-hour courses.
    for n in range(7):
        b.add(12, 5, time(6 + 2 * n), course[120], planted="daily_hours")
    # night: 60 and 90 minutes after midnight.
    b.add(13, 7, time(1), course[60], planted="night")
    b.add(14, 8, time(2), course[90], planted="night")
    # centralised_overlap: during the morning part of day 11 of the class (days 10–12).
    parts = tuple(
        ClassPart(b.day(d), start, end)
        for d in (10, 11, 12)
        for start, end in ((time(8, 30), time(12)), (time(14, 30), time(17, 30)))
    )
    b.month.residential_class = ResidentialClass(
        learner=b.learners[15], start_date=b.day(10), end_date=b.day(12), parts=parts
    )
    b.add(15, 11, time(9), course[45], planted="centralised_overlap")
    # too_fast: completed after less than the course's length.
    b.add(16, 14, time(10), course[45], minutes=20, planted="too_fast")
    b.add(17, 14, time(15), course[90], minutes=30, planted="too_fast")


def _near(b: _Builder) -> None:
    course = _BY_MINUTES
    # Exactly 8 hours in one day.
    for start in (time(8), time(10), time(13), time(15)):
        b.add(18, 5, start, course[120], near="daily_hours")
    # Exactly 30 minutes after midnight.
    b.add(19, 7, time(0), course[30], near="night")
    # A home device shared by exactly two cadres.
    for index in (20, 21):
        b.add(index, 9, time(20), course[45], device="DEV-HOME-01", near="shared_source")
    # The residential class: the evening of day 10, and ending exactly when day 12's part begins.
    b.add(15, 10, time(19), course[60], near="centralised_overlap")
    b.add(15, 12, time(7, 45), course[45], near="centralised_overlap")
    b.reserved.update((15, d) for d in (10, 11, 12))
    # One office address serving exactly 30 cadres on day 16.
    for index in range(OFFICE_SIZE):
        b.add(index, 16, time(10), course[45], near="shared_source")
    # A course completed after exactly its length.
    b.add(22, 14, time(9), course[90], near="too_fast")


def _honest(b: _Builder, rng: random.Random, records_per_cadre: int) -> None:
    days = calendar.monthrange(b.year, b.month_no)[1]
    for index in range(len(b.learners)):
        free = [d for d in range(1, days + 1) if (index, d) not in b.reserved]
        for day in sorted(rng.sample(free, min(len(free), records_per_cadre))):
            for slot in range(rng.choice((1, 1, 2))):
                course = rng.choice(COURSES)
                # Mornings (08:00–09:59) and afternoons (14:00–15:59): two courses of at most
                # 2 hours each stay under 8 hours and never cross midnight.
                start = time(8 + 6 * slot + rng.randrange(2), rng.randrange(60))
                # Some platforms send no address or device for some records.
                no_source = rng.random() < 0.1
                b.add(
                    index,
                    day,
                    start,
                    course,
                    ip=None if no_source else "",
                    device=None if no_source else "",
                )


def generate_month(
    learners: Sequence[Learner],
    *,
    year: int = 2026,
    month: int = 3,
    seed: int = 15,
    records_per_cadre: int = 8,
    prefix: str = "YN",
) -> OnlineMonth:
    """The rows of one month for `learners` (at least 31: one office of 30 and one more), in
    the online-records import's columns, with the planted cheats and the edge cases."""
    if len(learners) < MIN_LEARNERS:
        raise ValueError(f"generate_month needs at least {MIN_LEARNERS} learners")
    builder = _Builder(OnlineMonth(), learners, year, month, prefix)
    _plant(builder)
    _near(builder)
    _honest(builder, random.Random(seed), records_per_cadre)
    return builder.month


CSV_COLUMNS = (
    "learner_id",
    "id_number",
    "external_id",
    "course_code",
    "course_title",
    "course_minutes",
    "minutes",
    "completed",
    "test_passed",
    "started_at",
    "ended_at",
    "ip",
    "device",
)


def to_csv(rows: Sequence[dict[str, Row]]) -> str:
    """The rows as the import's CSV (booleans `true`/`false`, absent values empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = [row.get(column) for column in CSV_COLUMNS]
        writer.writerow(
            ["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in values]
        )
    return buffer.getvalue()
