"""The pure rules of online academies (docs/rules.md, "Online academies"): a platform's
conversion of a record to 学时, and the check of one imported row. No I/O."""

import ipaddress
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.cadre.rules import normalise
from app.clock import LOCAL_TZ
from app.i18n import N_
from app.online.schemas import MAX_MINUTES
from app.schema_types import CODE_PATTERN, LINE_PATTERN, MAX_DATE, MIN_DATE

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Band:
    min_minutes: int
    hours: Decimal


@dataclass(frozen=True, slots=True)
class ConversionTable:
    """A platform's conversion (app.online.schemas.Conversion), bands by ascending minutes."""

    bands: tuple[Band, ...]
    test_bonus_hours: Decimal

    @classmethod
    def of(cls, stored: dict[str, Any]) -> "ConversionTable":
        """From the platform's `conversion` column (checked when it was written)."""
        bands = sorted(
            (Band(int(b["min_minutes"]), Decimal(str(b["hours"]))) for b in stored["bands"]),
            key=lambda b: b.min_minutes,
        )
        return cls(tuple(bands), Decimal(str(stored["test_bonus_hours"])))


def credited_minutes(minutes: int, course_minutes: int | None) -> int:
    """The minutes a record is converted by: those watched, at most the course's length
    (watching a 20-minute course twice is still a 20-minute course)."""
    return minutes if course_minutes is None else min(minutes, course_minutes)


def band_hours(table: ConversionTable, minutes: int) -> Decimal:
    """学时 of the highest band whose `min_minutes` the record reaches (none: nothing), before
    the test bonus: a record earning nothing here is the row error `earns_nothing`."""
    hours = _ZERO
    for band in table.bands:
        if minutes >= band.min_minutes:
            hours = band.hours
    return hours


def convert(table: ConversionTable, minutes: int, *, test_passed: bool) -> Decimal:
    """学时 of a completed record of `minutes` (≥ 1): its band's (`band_hours`), plus the test
    bonus when its test was passed."""
    return band_hours(table, minutes) + (table.test_bonus_hours if test_passed else _ZERO)


# --- one imported row -----------------------------------------------------------------------

FIELDS = frozenset(
    {
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
        "start_date",
        "end_date",
        "ip",
        "device",
    }
)
REQUIRED_COLUMNS = frozenset(
    {"learner_id", "external_id", "course_code", "course_title", "minutes", "completed"}
)
_CODE = re.compile(CODE_PATTERN)
_LINE = re.compile(LINE_PATTERN)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_INTEGER = re.compile(r"[1-9][0-9]{0,5}")
# A dotted quad as ipaddress writes it (no leading zeros): taken as it is, without parsing.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
MAX_SPAN = timedelta(hours=24)
"""The longest watched interval a record may give (docs/rules.md "Online academies"): one
course watched in one sitting; a longer span is the row error `implausible_span`."""
_TRUE = {True, "true", "1"}
_FALSE = {False, "false", "0"}


class RowError(ValueError):
    def __init__(self, field: str, detail: str, code: str = "invalid_row") -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.code = code


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A row whose fields are well formed; its learner is not matched yet."""

    learner_id: str
    id_number: str | None
    external_id: str
    course_code: str
    course_title: str
    course_minutes: int | None
    minutes: int
    test_passed: bool
    started_at: datetime | None
    ended_at: datetime | None
    start_date: date
    end_date: date
    ip: str | None
    device: str | None
    end_field: str = "end_date"  # the field the log's end date comes from


def _code(value: Any, limit: int = 64) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or not _CODE.match(value):
        raise ValueError(N_("a code: letters, digits, '.', '_' or '-', at most 64"))
    return value


def _line(value: Any, limit: int, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ValueError(N_("required"))
        return None
    if not isinstance(value, str) or len(value) > limit or not _LINE.fullmatch(value):
        raise ValueError(
            N_("one line of at most 200 characters, without control characters or outer spaces")
        )
    return value


def _minutes(value: Any, *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise ValueError(N_("required"))
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
        raise ValueError(N_("a whole number of minutes from 1 to 100000"))
    return value


def _bool(value: Any, *, default: bool | None) -> bool:
    if (value is None or value == "") and default is not None:
        return default
    if isinstance(value, str):
        value = value.lower()
    if value in _TRUE and (value is True or isinstance(value, str)):
        return True
    if value in _FALSE and (value is False or isinstance(value, str)):
        return False
    raise ValueError(N_("true or false"))


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(
            N_("an RFC 3339 date-time with a time zone, e.g. 2026-11-02T20:15:00+08:00")
        )
    try:
        instant = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            N_("an RFC 3339 date-time with a time zone, e.g. 2026-11-02T20:15:00+08:00")
        ) from None
    if not MIN_DATE <= instant.astimezone(LOCAL_TZ).date() <= MAX_DATE:
        raise ValueError(N_("a date between 1900-01-01 and 2199-12-31"))
    return instant


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(N_("a date as YYYY-MM-DD"))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(N_("a date as YYYY-MM-DD")) from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(N_("a date between 1900-01-01 and 2199-12-31"))
    return day


def _ip(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 45:
        raise ValueError(N_("an IPv4 or IPv6 address"))
    if _IPV4.fullmatch(value):
        return value
    if "%" in value:
        # A zone (fe80::1%eth0) names an interface of the sender's machine, not an address.
        raise ValueError(N_("an IPv4 or IPv6 address, without an interface zone after it"))
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(N_("an IPv4 or IPv6 address")) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:10.1.2.3 is 10.1.2.3: one source, grouped as one by `shared_source`.
        return str(address.ipv4_mapped)
    return str(address)


def _id_number(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 18:
        raise ValueError(N_("a resident ID number has 17 digits and a check character"))
    return normalise(value)


def _dates(
    started_at: datetime | None, ended_at: datetime | None, raw: dict[Any, Any]
) -> tuple[str, date, date]:
    """The log's dates: the local dates of started_at..ended_at, else those given."""
    start = started_at.astimezone(LOCAL_TZ).date() if started_at else _date(raw.get("start_date"))
    if start is None:
        raise ValueError(N_("started_at or start_date is required"))
    if ended_at is not None:
        end = ended_at.astimezone(LOCAL_TZ).date()
    else:
        end = _date(raw.get("end_date")) or start
    if end < start:
        return "end_date", start, end
    return "", start, end


def _check_span(started_at: datetime | None, ended_at: datetime | None, minutes: int) -> None:
    """A record's watched interval is at most MAX_SPAN: `ended_at - started_at`, or with one
    end only, `minutes` (the other end is that end ± minutes). Without times, nothing to span."""
    if started_at and ended_at:
        if ended_at - started_at > MAX_SPAN:
            raise RowError(
                "ended_at",
                N_("more than 24 hours after started_at: not one sitting"),
                "implausible_span",
            )
    elif (started_at or ended_at) and timedelta(minutes=minutes) > MAX_SPAN:
        raise RowError(
            "minutes",
            N_("more than 24 hours from one time: not one sitting"),
            "implausible_span",
        )


def parse_row(raw: Any) -> ParsedRow:
    """One row's fields, well formed, or RowError naming the field ("" for the row). A record
    not completed earns nothing and is refused (`not_completed`): imported once completed, it
    is created then."""
    if not isinstance(raw, dict):
        raise RowError("", N_("each row is an object"))
    if not raw.keys() <= FIELDS:
        if None in raw:  # a CSV line with more cells than the header
            raise RowError("", N_("more cells than the header row names"))
        raise RowError(
            sorted(k for k in raw if k not in FIELDS)[0], N_("not a field of an online record")
        )
    field = "learner_id"
    try:
        learner_id = _code(raw.get("learner_id"))
        field = "id_number"
        id_number = _id_number(raw.get("id_number"))
        field = "external_id"
        external_id = _line(raw.get("external_id"), 128, required=True)
        assert external_id is not None
        field = "course_code"
        course_code = _code(raw.get("course_code"))
        field = "course_title"
        course_title = _line(raw.get("course_title"), 200, required=True)
        assert course_title is not None
        field = "course_minutes"
        course_minutes = _minutes(raw.get("course_minutes"), required=False)
        field = "minutes"
        minutes = _minutes(raw.get("minutes"), required=True)
        assert minutes is not None
        field = "completed"
        if not _bool(raw.get("completed"), default=None):
            raise RowError(field, N_("not completed: it earns nothing yet"), "not_completed")
        field = "test_passed"
        test_passed = _bool(raw.get("test_passed"), default=False)
        field = "started_at"
        started_at = _instant(raw.get("started_at"))
        field = "ended_at"
        ended_at = _instant(raw.get("ended_at"))
        if started_at and ended_at and ended_at < started_at:
            raise ValueError(N_("before started_at"))
        _check_span(started_at, ended_at, minutes)
        field = "start_date"
        misordered, start, end = _dates(started_at, ended_at, raw)
        if misordered:
            field = misordered
            raise ValueError(N_("before start_date"))
        field = "ip"
        ip = _ip(raw.get("ip"))
        field = "device"
        device = _line(raw.get("device"), 200, required=False)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, RowError):
            raise
        raise RowError(field, str(exc)) from None
    return ParsedRow(
        learner_id=learner_id,
        id_number=id_number,
        external_id=external_id,
        course_code=course_code,
        course_title=course_title,
        course_minutes=course_minutes,
        minutes=minutes,
        test_passed=test_passed,
        started_at=started_at,
        ended_at=ended_at,
        start_date=start,
        end_date=end,
        ip=ip,
        device=device,
        end_field="ended_at"
        if ended_at
        else "end_date"
        if raw.get("end_date") not in (None, "")
        else "started_at"
        if started_at
        else "start_date",
    )
