"""Rule 13 (docs/rules.md): validity and status of a qualification, with hand-computed dates."""

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.enums import QualificationStatus as S
from app.qualification.rules import counts_as_held, requires, status_on, valid_until

D = dt.date


@pytest.mark.parametrize(
    ("valid_from", "years", "expected"),
    [
        # Civil Code arts. 201–202: the grant day is not counted; the period ends on the
        # corresponding day of the last year, or the month's last day where there is none.
        (D(2024, 3, 1), 3, D(2027, 3, 1)),
        (D(2024, 2, 29), 3, D(2027, 2, 28)),  # no 29 February in 2027: its last day
        (D(2024, 2, 29), 4, D(2028, 2, 29)),  # 2028 has the corresponding day
        (D(2024, 2, 29), 1, D(2025, 2, 28)),
        (D(2026, 1, 1), 1, D(2027, 1, 1)),  # one year
        (D(2026, 12, 31), 1, D(2027, 12, 31)),  # year end
        (D(2026, 12, 31), 2, D(2028, 12, 31)),
        (D(2025, 3, 1), 3, D(2028, 3, 1)),
    ],
)
def test_valid_until(valid_from: dt.date, years: int, expected: dt.date) -> None:
    assert valid_until(valid_from, years) == expected


def test_validity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        valid_until(D(2026, 1, 1), 0)


FROM = D(2026, 3, 1)
UNTIL = D(2029, 3, 1)  # 3 years (arts. 201–202)


@pytest.mark.parametrize(
    ("day", "revoked", "expected"),
    [
        (D(2026, 2, 28), False, None),  # the day before valid_from: not held yet
        (FROM, False, S.valid),  # the first day
        (D(2028, 12, 1), False, S.valid),  # 90 days before the last day: still valid
        (D(2028, 12, 2), False, S.expiring),  # the first expiring day: 89 days remain
        (UNTIL, False, S.expiring),  # the last valid day
        (D(2029, 3, 2), False, S.expired),  # the day after
        (D(2027, 6, 1), True, S.revoked),  # revocation wins
        (D(2030, 1, 1), True, S.revoked),
    ],
)
def test_status_on_with_90_day_window(day: dt.date, revoked: bool, expected: S | None) -> None:
    got = status_on(day, valid_from=FROM, valid_until=UNTIL, revoked=revoked, expiring_days=90)
    assert got == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2028, 1, 30), S.valid),  # 30 days before 2028-02-29
        (D(2028, 1, 31), S.expiring),  # first of the last 30 days (Jan 31 … Feb 29)
        (D(2028, 2, 29), S.expiring),  # leap day as the last valid day
        (D(2028, 3, 1), S.expired),
    ],
)
def test_status_across_a_leap_day(day: dt.date, expected: S) -> None:
    until = valid_until(D(2024, 2, 29), 4)
    assert until == D(2028, 2, 29)
    assert (
        status_on(
            day, valid_from=D(2024, 2, 29), valid_until=until, revoked=False, expiring_days=30
        )
        == expected
    )


def test_zero_window_never_expiring() -> None:
    assert (
        status_on(UNTIL, valid_from=FROM, valid_until=UNTIL, revoked=False, expiring_days=0)
        == S.valid
    )


@pytest.mark.parametrize(
    ("status", "held"),
    [(S.valid, True), (S.expiring, True), (S.expired, False), (S.revoked, False), (None, False)],
)
def test_counts_as_held(status: S | None, held: bool) -> None:
    assert counts_as_held(status) is held


CITY, COUNTY = uuid.uuid4(), uuid.uuid4()


@pytest.mark.parametrize(
    ("post_types", "ranks", "units", "expected"),
    [
        ([], [], [], False),  # nothing listed: held, never demanded
        (["leading"], [], [], True),
        (["non_leading"], [], [], False),
        (["leading"], ["county_division"], [], True),
        (["leading"], ["township_section"], [], False),  # every non-empty list must match
        ([], [], [COUNTY], True),  # the cadre's own unit
        ([], [], [CITY], True),  # a unit above it
        ([], [], [uuid.uuid4()], False),
    ],
)
def test_requires(
    post_types: list[str], ranks: list[str], units: list[uuid.UUID], expected: bool
) -> None:
    assert (
        requires(
            required_post_types=post_types,
            required_ranks=ranks,
            required_org_unit_ids=units,
            post_type="leading",
            rank="county_division",
            unit_path_ids=[CITY, COUNTY],
        )
        is expected
    )


ORDER = [None, S.valid, S.expiring, S.expired]


@given(
    valid_from=st.dates(min_value=D(1990, 1, 1), max_value=D(2100, 12, 31)),
    years=st.integers(min_value=1, max_value=50),
    window=st.integers(min_value=0, max_value=400),
    first=st.dates(min_value=D(1985, 1, 1), max_value=D(2160, 12, 31)),
    second=st.dates(min_value=D(1985, 1, 1), max_value=D(2160, 12, 31)),
)
def test_status_only_moves_forward_and_the_last_day_is_held(
    valid_from: dt.date, years: int, window: int, first: dt.date, second: dt.date
) -> None:
    until = valid_until(valid_from, years)
    assert until == _anniversary(valid_from, years)

    def status(day: dt.date) -> S | None:
        return status_on(
            day, valid_from=valid_from, valid_until=until, revoked=False, expiring_days=window
        )

    early, late = sorted((first, second))
    assert ORDER.index(status(early)) <= ORDER.index(status(late))
    assert counts_as_held(status(until))
    assert status(until + dt.timedelta(days=1)) == S.expired


def _anniversary(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return D(day.year + years, 2, 28)
