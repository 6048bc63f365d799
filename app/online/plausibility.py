"""The plausibility flags of online-academy records (刷课 checks, docs/rules.md "Plausibility
flags"): five pure rules over plain data, each returning the evidence it found.

`flag_all(batch, context)` is called once per import batch, before anything is written. A flag
puts the record's study log on hold as `pending`; it never refuses a row. The stored records of
the same cadres, days and sources count toward the totals; when the batch pushes a group over its
threshold, the group's stored records are flagged too (their logs are put back to `pending`
through `app.study_log.bulk.hold_for_review` when no person reviewed them).

Times: a record's watched interval is `[started_at, ended_at)`; with one end only, the other is
that end ± `minutes`; with neither, the record has no interval and counts `minutes` on its `day`
(the local date its log is dated). Local days and nights are Asia/Shanghai.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from app.clock import LOCAL_TZ
from app.credit_policy.policy import Plausibility
from app.i18n import _
from app.json_types import JsonObject

NIGHT_END = time(5, 0)
"""`night`: study between local midnight and this time counts."""


class PlausibilityRule(StrEnum):
    """The five 刷课 checks (docs/rules.md "Plausibility flags")."""

    daily_hours = "daily_hours"
    centralised_overlap = "centralised_overlap"
    night = "night"
    shared_source = "shared_source"
    too_fast = "too_fast"


class SourceKind(StrEnum):
    """What a `shared_source` flag found shared."""

    ip = "ip"
    device = "device"


@dataclass(frozen=True, slots=True)
class Converted:
    """One good row of an import batch, matched and converted, not written yet."""

    row: int  # its position among the request's rows
    external_id: str
    cadre_id: uuid.UUID
    learner_id: str
    course_code: str
    course_title: str
    course_minutes: int | None
    minutes: int
    completed: bool
    test_passed: bool
    started_at: datetime | None
    ended_at: datetime | None
    ip: str | None
    device: str | None
    hours: Decimal
    start_date: date  # the study log's dates (local dates of started_at..ended_at, or given)
    end_date: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Watch:
    """One online record as the rules see it: a row of the batch or one already stored."""

    key: int | uuid.UUID
    """The batch's row index, or a stored record's id."""
    cadre_id: uuid.UUID
    day: date
    """The local date the record's log is dated (its start)."""
    minutes: int
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ip: str | None = None
    device: str | None = None
    course_minutes: int | None = None
    completed: bool = False

    def interval(self) -> tuple[datetime, datetime] | None:
        """The watched clock interval, or None when the record gives no time at all."""
        span = timedelta(minutes=self.minutes)
        if self.started_at is not None and self.ended_at is not None:
            return self.started_at, max(self.ended_at, self.started_at)
        if self.started_at is not None:
            return self.started_at, self.started_at + span
        if self.ended_at is not None:
            return self.ended_at - span, self.ended_at
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassWindow:
    """A stretch of a centralised class (脱产) the cadre attended: a part's window, or a whole
    local day of a class without parts (or of a centralised log no session issued)."""

    cadre_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    title: str
    training_session_id: uuid.UUID | None = None
    study_log_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """What a flag found. Every rule fills the fields it names in docs/rules.md; the others stay
    None."""

    day: date | None = None
    hours: Decimal | None = None
    minutes: int | None = None
    threshold: Decimal | None = None
    course_minutes: int | None = None
    source_kind: SourceKind | None = None
    source: str | None = None
    cadres: int | None = None
    records: int | None = None
    training_session_id: uuid.UUID | None = None
    study_log_id: uuid.UUID | None = None
    class_title: str | None = None
    overlap_from: datetime | None = None
    overlap_to: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Flag:
    rule: PlausibilityRule
    evidence: Evidence

    def as_json(self) -> JsonObject:
        """The stored form, in `online_record.flags`: {"rule", "evidence"} with every evidence
        field (null where the rule has none)."""
        evidence: JsonObject = {}
        for name in Evidence.__dataclass_fields__:
            value = getattr(self.evidence, name)
            if isinstance(value, datetime | date | uuid.UUID):
                evidence[name] = (
                    value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
                )
            elif isinstance(value, Decimal):
                evidence[name] = str(value)
            else:
                evidence[name] = value
        return {"rule": self.rule.value, "evidence": evidence}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlausibilityContext:
    """What the database knows that the rules need, loaded in a few set-based queries."""

    thresholds: Callable[[date], Plausibility]
    """The thresholds of the credit policy in force on a local day."""
    stored: Sequence[Watch] = ()
    """Stored records of the batch's cadres on the batch's days (for `daily_hours`, `night`)."""
    stored_sources: Sequence[Watch] = ()
    """Stored records sharing an IP address or device with the batch on its days."""
    classes: Sequence[ClassWindow] = field(default_factory=tuple)


def local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TZ)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ)


def split_by_day(start: datetime, end: datetime) -> dict[date, timedelta]:
    """The length of `[start, end)` on each local day it touches."""
    cursor = local(start)
    end = local(end)
    if cursor.date() == end.date():  # the common case: one day
        return {cursor.date(): end - cursor} if end > cursor else {}
    out: dict[date, timedelta] = {}
    while cursor < end:
        next_midnight = _midnight(cursor.date() + timedelta(days=1))
        piece_end = min(end, next_midnight)
        out[cursor.date()] = out.get(cursor.date(), timedelta()) + (piece_end - cursor)
        cursor = piece_end
    return out


def night_minutes(start: datetime, end: datetime) -> dict[date, timedelta]:
    """The length of `[start, end)` between 00:00 and 05:00 local, per night (keyed by the date
    the night's morning belongs to)."""
    start, end = local(start), local(end)
    first, last = start.date(), end.date()
    if first == last and start.time() >= NIGHT_END:  # the common case: daytime
        return {}
    out: dict[date, timedelta] = {}
    day = first
    while day <= last:
        lo = max(start, _midnight(day))
        hi = min(end, datetime.combine(day, NIGHT_END, LOCAL_TZ))
        if hi > lo:
            out[day] = hi - lo
        day += timedelta(days=1)
    return out


def _hours(span: timedelta) -> Decimal:
    return (Decimal(int(span.total_seconds())) / 3600).quantize(Decimal("0.01"))


def _watched_by_day(watch: Watch) -> dict[date, timedelta]:
    interval = watch.interval()
    if interval is None:
        return {watch.day: timedelta(minutes=watch.minutes)}
    return split_by_day(*interval)


def daily_hours(
    batch: Sequence[Watch], stored: Iterable[Watch], thresholds: Callable[[date], Plausibility]
) -> dict[int | uuid.UUID, list[Flag]]:
    """More than `daily_hours` of watched clock time by one cadre on one local day, adding up the
    batch's records and the stored ones. Every record watched that day is flagged, the stored
    ones too, when the day has a batch record (`flag_all`)."""
    totals: dict[tuple[uuid.UUID, date], timedelta] = defaultdict(timedelta)
    counts: dict[tuple[uuid.UUID, date], int] = defaultdict(int)
    batch_on: dict[tuple[uuid.UUID, date], list[int | uuid.UUID]] = defaultdict(list)
    batch_keys = {w.key for w in batch}
    for watch in [*batch, *(w for w in stored if w.key not in batch_keys)]:
        for day, span in _watched_by_day(watch).items():
            totals[watch.cadre_id, day] += span
            counts[watch.cadre_id, day] += 1
            batch_on[watch.cadre_id, day].append(watch.key)
    flags: dict[int | uuid.UUID, list[Flag]] = defaultdict(list)
    for (cadre_id, day), keys in sorted(batch_on.items(), key=lambda item: item[0][1]):
        if not batch_keys.intersection(keys):
            continue  # a group of stored records only: the batch did not change it
        limit = thresholds(day).daily_hours
        hours = _hours(totals[cadre_id, day])
        if Decimal(int(totals[cadre_id, day].total_seconds())) > limit * 3600:
            evidence = Evidence(
                day=day, hours=hours, threshold=limit, records=counts[cadre_id, day]
            )
            for key in keys:
                flags[key].append(Flag(rule=PlausibilityRule.daily_hours, evidence=evidence))
    return flags


def night(
    batch: Sequence[Watch], stored: Iterable[Watch], thresholds: Callable[[date], Plausibility]
) -> dict[int | uuid.UUID, list[Flag]]:
    """More than `night_minutes` of study by one cadre between 00:00 and 05:00 local in one
    night (batch and stored records together). Records without times cannot tell."""
    totals: dict[tuple[uuid.UUID, date], timedelta] = defaultdict(timedelta)
    batch_on: dict[tuple[uuid.UUID, date], list[int | uuid.UUID]] = defaultdict(list)
    batch_keys = {w.key for w in batch}
    for watch in [*batch, *(w for w in stored if w.key not in batch_keys)]:
        interval = watch.interval()
        if interval is None:
            continue
        for day, span in night_minutes(*interval).items():
            totals[watch.cadre_id, day] += span
            batch_on[watch.cadre_id, day].append(watch.key)
    flags: dict[int | uuid.UUID, list[Flag]] = defaultdict(list)
    for (cadre_id, day), keys in batch_on.items():
        if not batch_keys.intersection(keys):
            continue
        limit = thresholds(day).night_minutes
        total = totals[cadre_id, day]
        if total > timedelta(minutes=limit):
            evidence = Evidence(
                day=day, minutes=int(total.total_seconds() // 60), threshold=Decimal(limit)
            )
            for key in keys:
                flags[key].append(Flag(rule=PlausibilityRule.night, evidence=evidence))
    return flags


def shared_source(
    batch: Sequence[Watch], stored: Iterable[Watch], thresholds: Callable[[date], Plausibility]
) -> dict[int | uuid.UUID, list[Flag]]:
    """One IP address (more than `ip_cadres`) or one device (more than `device_cadres`) serving
    that many distinct cadres on one local day — the record's start day — across the batch and
    the stored records."""
    cadres: dict[tuple[SourceKind, str, date], set[uuid.UUID]] = defaultdict(set)
    batch_on: dict[tuple[SourceKind, str, date], list[int | uuid.UUID]] = defaultdict(list)
    batch_keys = {w.key for w in batch}
    for watch in [*batch, *(w for w in stored if w.key not in batch_keys)]:
        for kind, value in ((SourceKind.ip, watch.ip), (SourceKind.device, watch.device)):
            if value is None or value == "":
                continue
            cadres[kind, value, watch.day].add(watch.cadre_id)
            batch_on[kind, value, watch.day].append(watch.key)
    flags: dict[int | uuid.UUID, list[Flag]] = defaultdict(list)
    for (kind, value, day), keys in batch_on.items():
        if not batch_keys.intersection(keys):
            continue
        policy = thresholds(day)
        limit = policy.ip_cadres if kind == SourceKind.ip else policy.device_cadres
        served = len(cadres[kind, value, day])
        if served > limit:
            evidence = Evidence(
                day=day, source_kind=kind, source=value, cadres=served, threshold=Decimal(limit)
            )
            for key in keys:
                flags[key].append(Flag(rule=PlausibilityRule.shared_source, evidence=evidence))
    return flags


def too_fast(
    batch: Sequence[Watch], thresholds: Callable[[date], Plausibility]
) -> dict[int | uuid.UUID, list[Flag]]:
    """A record reported completed whose watched minutes are fewer than `watched_share` of the
    course's length (1/1: shorter than the course). No course length: nothing to compare."""
    flags: dict[int | uuid.UUID, list[Flag]] = defaultdict(list)
    for watch in batch:
        if not watch.completed or watch.course_minutes is None:
            continue
        share = thresholds(watch.day).watched_share
        # minutes / course < num / den, in integers.
        if watch.minutes * share.denominator < watch.course_minutes * share.numerator:
            evidence = Evidence(
                day=watch.day,
                minutes=watch.minutes,
                course_minutes=watch.course_minutes,
                threshold=(
                    Decimal(watch.course_minutes * share.numerator) / share.denominator
                ).quantize(Decimal("0.01")),
            )
            flags[watch.key].append(Flag(rule=PlausibilityRule.too_fast, evidence=evidence))
    return flags


def _whole_day(day: date) -> tuple[datetime, datetime]:
    return _midnight(day), _midnight(day + timedelta(days=1))


def centralised_overlap(
    batch: Sequence[Watch], classes: Iterable[ClassWindow]
) -> dict[int | uuid.UUID, list[Flag]]:
    """A record whose watched interval overlaps (by more than zero time) a window of a
    centralised class its cadre attended. A record without times is taken as its whole day."""
    by_cadre: dict[uuid.UUID, list[ClassWindow]] = defaultdict(list)
    for window in classes:
        by_cadre[window.cadre_id].append(window)
    flags: dict[int | uuid.UUID, list[Flag]] = defaultdict(list)
    for watch in batch:
        interval = watch.interval() or _whole_day(watch.day)
        for window in sorted(by_cadre.get(watch.cadre_id, ()), key=lambda w: w.starts_at):
            lo, hi = max(interval[0], window.starts_at), min(interval[1], window.ends_at)
            if hi > lo:
                evidence = Evidence(
                    day=local(lo).date(),
                    minutes=int((hi - lo).total_seconds() // 60),
                    training_session_id=window.training_session_id,
                    study_log_id=window.study_log_id,
                    class_title=window.title,
                    overlap_from=lo,
                    overlap_to=hi,
                )
                flags[watch.key].append(
                    Flag(rule=PlausibilityRule.centralised_overlap, evidence=evidence)
                )
                break
    return flags


def flag_watches(
    batch: Sequence[Watch], context: PlausibilityContext
) -> dict[int | uuid.UUID, list[Flag]]:
    """Every flag of every batch record, keyed by the record's key; records without a flag are
    absent. Flags come in the order of `PlausibilityRule`."""
    found: list[Mapping[int | uuid.UUID, list[Flag]]] = [
        daily_hours(batch, context.stored, context.thresholds),
        centralised_overlap(batch, context.classes),
        night(batch, context.stored, context.thresholds),
        shared_source(batch, context.stored_sources, context.thresholds),
        too_fast(batch, context.thresholds),
    ]
    out: dict[int | uuid.UUID, list[Flag]] = {}
    for rule_flags in found:
        for key, flags in rule_flags.items():
            out.setdefault(key, []).extend(flags)
    return out


def watch_of(position: int, row: Converted) -> Watch:
    return Watch(
        key=position,
        cadre_id=row.cadre_id,
        day=row.start_date,
        minutes=row.minutes,
        started_at=row.started_at,
        ended_at=row.ended_at,
        ip=row.ip or None,
        device=row.device or None,
        course_minutes=row.course_minutes,
        completed=row.completed,
    )


def flag_all(
    batch: Sequence[Converted], context: PlausibilityContext
) -> tuple[dict[int, list[Flag]], dict[uuid.UUID, list[Flag]]]:
    """The flags of the batch's rows, keyed by position in `batch`, and those of the stored
    records of a group (cadre-day, night, address-day, device-day) the batch is part of and
    that is over its threshold, keyed by record id: splitting the uploads does not hide the
    first records of a group. Records without a flag are absent."""
    found = flag_watches([watch_of(i, row) for i, row in enumerate(batch)], context)
    return (
        {key: flags for key, flags in found.items() if isinstance(key, int)},
        {key: flags for key, flags in found.items() if isinstance(key, uuid.UUID)},
    )


def flag(batch: Sequence[Converted], context: PlausibilityContext) -> dict[int, list[Flag]]:
    """The flags of the batch's rows, keyed by position in `batch`; rows without a flag are
    absent."""
    return flag_all(batch, context)[0]


def _reason(found: Flag) -> str:
    e = found.evidence
    match found.rule:
        case PlausibilityRule.daily_hours:
            return _("{hours} h watched on {day}, more than {limit} h").format(
                hours=e.hours, day=e.day, limit=e.threshold
            )
        case PlausibilityRule.centralised_overlap:
            return _("studied during the centralised class {title} ({start}–{end})").format(
                title=e.class_title,
                start=e.overlap_from and local(e.overlap_from).strftime("%Y-%m-%d %H:%M"),
                end=e.overlap_to and local(e.overlap_to).strftime("%H:%M"),
            )
        case PlausibilityRule.night:
            return _(
                "{minutes} min of study between 00:00 and 05:00 on {day}, more than {limit}"
            ).format(minutes=e.minutes, day=e.day, limit=e.threshold)
        case PlausibilityRule.shared_source:
            return _("one {source} served {cadres} cadres on {day}, more than {limit}").format(
                source=_("IP address") if e.source_kind == SourceKind.ip else _("device"),
                cadres=e.cadres,
                day=e.day,
                limit=e.threshold,
            )
        case PlausibilityRule.too_fast:
            return _("completed after {minutes} of the course's {course} min").format(
                minutes=e.minutes, course=e.course_minutes
            )


def describe(flags: Sequence[Flag]) -> str:
    """The review comment of a flagged record's log: why it is on hold, in the request's
    language."""
    return _("Plausibility check (刷课): {reasons}").format(
        reasons="; ".join(_reason(found) for found in flags)
    )
