"""A platform's conversion of a record to 学时 (docs/rules.md, "Online academies"), with the
Yunnan table: a course of ≥ 30 min = 1 学时, ≥ 15 and < 30 = 0.5, < 15 = 0.25, a passed test
adds 0.5. Hand-computed, at the band edges."""

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.online import rules
from app.online.schemas import Conversion

YUNNAN: dict[str, Any] = {
    "bands": [
        {"min_minutes": 1, "hours": "0.25"},
        {"min_minutes": 15, "hours": "0.5"},
        {"min_minutes": 30, "hours": "1"},
    ],
    "test_bonus_hours": "0.5",
}
TABLE = rules.ConversionTable.of(YUNNAN)


@pytest.mark.parametrize(
    ("minutes", "test_passed", "hours"),
    [
        (1, False, "0.25"),
        (14, False, "0.25"),
        (15, False, "0.5"),
        (29, False, "0.5"),
        (30, False, "1"),
        (240, False, "1"),
        (14, True, "0.75"),
        (15, True, "1.0"),
        (29, True, "1.0"),
        (30, True, "1.5"),
    ],
)
def test_yunnan_bands_at_their_edges(minutes: int, test_passed: bool, hours: str) -> None:
    assert rules.convert(TABLE, minutes, test_passed=test_passed) == Decimal(hours)


def test_below_the_lowest_band_earns_only_the_test_bonus() -> None:
    table = rules.ConversionTable.of(
        {"bands": [{"min_minutes": 10, "hours": "1"}], "test_bonus_hours": "0"}
    )
    assert rules.convert(table, 9, test_passed=True) == Decimal(0)
    assert rules.convert(table, 10, test_passed=False) == Decimal(1)


@pytest.mark.parametrize(
    ("minutes", "course_minutes", "credited"),
    [(45, None, 45), (45, 20, 20), (10, 20, 10), (20, 20, 20)],
)
def test_minutes_beyond_the_course_length_earn_nothing_more(
    minutes: int, course_minutes: int | None, credited: int
) -> None:
    assert rules.credited_minutes(minutes, course_minutes) == credited


def test_a_stored_table_reads_back_as_written() -> None:
    """The API's model orders the bands; the stored JSON converts as the model does."""
    shuffled = {**YUNNAN, "bands": list(reversed(YUNNAN["bands"]))}
    model = Conversion.model_validate(shuffled)
    assert [b.min_minutes for b in model.bands] == [1, 15, 30]
    assert rules.ConversionTable.of(shuffled) == TABLE


@pytest.mark.parametrize(
    "bands",
    [
        [],
        [{"min_minutes": 15, "hours": "1"}, {"min_minutes": 15, "hours": "2"}],
        [{"min_minutes": 15, "hours": "1"}, {"min_minutes": 30, "hours": "0.5"}],
        [{"min_minutes": 0, "hours": "1"}],
        [{"min_minutes": 15, "hours": "0"}],
        [{"min_minutes": 15.5, "hours": "1"}],
    ],
)
def test_a_table_that_cannot_convert_is_refused(bands: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        Conversion.model_validate({"bands": bands, "test_bonus_hours": "0.5"})


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"minutes": "0"}, "minutes", "invalid_row"),
        ({"minutes": 0}, "minutes", "invalid_row"),
        ({"minutes": "-5"}, "minutes", "invalid_row"),
        ({"minutes": "12.5"}, "minutes", "invalid_row"),
        ({"minutes": True}, "minutes", "invalid_row"),
        ({"completed": "false"}, "completed", "not_completed"),
        ({"completed": "yes"}, "completed", "invalid_row"),
        ({"ip": "300.1.1.1"}, "ip", "invalid_row"),
        ({"started_at": "2026-11-02T20:15:00"}, "started_at", "invalid_row"),
        ({"ended_at": "2026-11-01T20:15:00+08:00"}, "ended_at", "invalid_row"),
        ({"started_at": "", "start_date": ""}, "start_date", "invalid_row"),
        ({"id_number": "123"}, "id_number", "invalid_row"),
        ({"colour": "red"}, "colour", "invalid_row"),
    ],
)
def test_a_bad_field_is_a_row_error(fields: dict[str, Any], field: str, code: str) -> None:
    raw = {
        "learner_id": "u1",
        "external_id": "r1",
        "course_code": "C1",
        "course_title": "党史",
        "minutes": "30",
        "completed": "true",
        "started_at": "2026-11-02T20:15:00+08:00",
        **fields,
    }
    with pytest.raises(rules.RowError) as caught:
        rules.parse_row(raw)
    assert (caught.value.field, caught.value.code) == (field, code)


@pytest.mark.parametrize(
    ("ip", "kept"),
    [
        ("10.1.2.3", "10.1.2.3"),
        ("255.255.255.255", "255.255.255.255"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("::FFFF:0a01:0203", "10.1.2.3"),
        ("fe80::1", "fe80::1"),
    ],
)
def test_an_ip_address_is_kept_in_its_canonical_form(ip: str, kept: str) -> None:
    raw = {
        "learner_id": "u1",
        "external_id": "r1",
        "course_code": "C1",
        "course_title": "党史",
        "minutes": 30,
        "completed": True,
        "start_date": "2026-11-02",
        "ip": ip,
    }
    assert rules.parse_row(raw).ip == kept


@pytest.mark.parametrize(
    "ip",
    ["256.1.1.1", "010.1.2.3", "1.2.3", "1.2.3.4.5", "::g", "x", "fe80::1%eth0", "fe80::1%1"],
)
def test_a_bad_ip_address_is_a_row_error(ip: str) -> None:
    raw = {
        "learner_id": "u1",
        "external_id": "r1",
        "course_code": "C1",
        "course_title": "党史",
        "minutes": 30,
        "completed": True,
        "start_date": "2026-11-02",
        "ip": ip,
    }
    with pytest.raises(rules.RowError) as caught:
        rules.parse_row(raw)
    assert caught.value.field == "ip"


def test_the_log_dates_are_the_local_dates_of_the_times() -> None:
    """A record started at 23:30 Beijing time on 2 November, written in UTC, is dated 2
    November; one that runs past midnight ends on the 3rd."""
    row = rules.parse_row(
        {
            "learner_id": "u1",
            "external_id": "r1",
            "course_code": "C1",
            "course_title": "党史",
            "minutes": 45,
            "completed": True,
            "started_at": "2026-11-02T15:30:00Z",
            "ended_at": "2026-11-02T16:15:00Z",
        }
    )
    assert (str(row.start_date), str(row.end_date)) == ("2026-11-02", "2026-11-03")


_bands = st.lists(
    st.tuples(st.integers(1, 600), st.integers(1, 800)),
    min_size=1,
    max_size=6,
    unique_by=lambda b: b[0],
)


@given(bands=_bands, bonus=st.integers(0, 200), a=st.integers(1, 1000), b=st.integers(1, 1000))
def test_more_minutes_never_earn_less_and_a_passed_test_adds_its_bonus(
    bands: list[tuple[int, int]], bonus: int, a: int, b: int
) -> None:
    """Any table the API accepts (bands whose hours do not fall as minutes grow)."""
    ordered = sorted(bands)
    hours = sorted(h for _, h in ordered)
    stored = {
        "bands": [
            {"min_minutes": m, "hours": str(Decimal(h) / 4)}
            for (m, _), h in zip(ordered, hours, strict=True)
        ],
        "test_bonus_hours": str(Decimal(bonus) / 4),
    }
    Conversion.model_validate(stored)
    table = rules.ConversionTable.of(stored)
    low, high = sorted((a, b))
    assert rules.convert(table, low, test_passed=False) <= rules.convert(
        table, high, test_passed=False
    )
    assert (
        rules.convert(table, a, test_passed=True) - rules.convert(table, a, test_passed=False)
        == Decimal(bonus) / 4
    )


_SPAN_ROW: dict[str, Any] = {
    "learner_id": "u1",
    "external_id": "r1",
    "course_code": "C1",
    "course_title": "党史",
    "minutes": 30,
    "completed": True,
}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            {"started_at": "1900-01-02T08:00:00+08:00", "ended_at": "2026-11-28T08:00:00+08:00"},
            "ended_at",
        ),
        (
            {"started_at": "2026-11-02T08:00:00+08:00", "ended_at": "2026-11-03T08:00:01+08:00"},
            "ended_at",
        ),
        ({"started_at": "2026-11-02T08:00:00+08:00", "minutes": 1441}, "minutes"),
        (
            {"start_date": "2026-11-01", "ended_at": "2026-11-02T08:00:00+08:00", "minutes": 1441},
            "minutes",
        ),
    ],
)
def test_a_span_of_more_than_24_hours_is_a_row_error(fields: dict[str, Any], field: str) -> None:
    """docs/rules.md "Online academies": one record is one sitting of at most 24 hours."""
    with pytest.raises(rules.RowError) as caught:
        rules.parse_row({**_SPAN_ROW, **fields})
    assert (caught.value.field, caught.value.code) == (field, "implausible_span")


@pytest.mark.parametrize(
    "fields",
    [
        {"started_at": "2026-11-02T08:00:00+08:00", "ended_at": "2026-11-03T08:00:00+08:00"},
        {"started_at": "2026-11-02T08:00:00+08:00", "minutes": 1440},
        {"start_date": "2026-11-02", "ended_at": "2026-11-02T08:00:00+08:00", "minutes": 1440},
        {"start_date": "2026-11-02", "minutes": 100_000},
    ],
)
def test_a_span_of_24_hours_or_a_record_without_times_passes(fields: dict[str, Any]) -> None:
    rules.parse_row({**_SPAN_ROW, **fields})
