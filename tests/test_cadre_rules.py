"""The cadre's pure rules (app/cadre/rules.py): the promotion date of docs/rules.md rule 4, and
the resident ID number's consistency with the record."""

from datetime import date

import pytest

from app.cadre.rules import (
    NOT_NAMED,
    Post,
    Unnamed,
    after_hr_record,
    id_number_mismatch,
    is_promotion,
    normalise,
    promoted_on,
)
from app.enums import Gender
from app.enums import PostType as T
from app.enums import Rank as R

TODAY = date(2025, 6, 1)
EARLIER = date(2019, 9, 1)  # the date on record before the write
SENT = date(2025, 5, 20)  # a date HR names in the write

LEAD, GRADE = T.leading, T.non_leading


@pytest.mark.parametrize(
    ("before", "after", "promotion"),
    [
        # Into the leading ranks.
        ((R.township_section, GRADE), (R.county_division, LEAD), True),
        ((R.township_section, LEAD), (R.county_division, LEAD), True),  # 乡镇长 → 副县长
        ((R.section_member, GRADE), (R.county_division, LEAD), True),
        ((R.township_section, LEAD), (R.county_division, GRADE), False),  # → 四级调研员
        ((R.township_section, GRADE), (R.county_division, GRADE), False),  # 职级 alone
        # Within the leading ranks: a higher leading post is a new promotion (提拔).
        ((R.county_division, LEAD), (R.department_bureau, LEAD), True),
        ((R.department_bureau, LEAD), (R.provincial_ministerial, LEAD), True),
        ((R.county_division, GRADE), (R.department_bureau, LEAD), True),
        ((R.county_division, LEAD), (R.department_bureau, GRADE), False),  # → 二级巡视员
        ((R.county_division, GRADE), (R.department_bureau, GRADE), False),
        # The same rank: only a grade turned into a post.
        ((R.county_division, GRADE), (R.county_division, LEAD), True),  # 四级调研员 → 副县长
        ((R.department_bureau, GRADE), (R.department_bureau, LEAD), True),
        ((R.county_division, LEAD), (R.county_division, LEAD), False),
        ((R.county_division, LEAD), (R.county_division, GRADE), False),
        ((R.county_division, GRADE), (R.county_division, GRADE), False),
        # Leading posts below the leading ranks open no five-year requirement.
        ((R.township_section, GRADE), (R.township_section, LEAD), False),
        ((R.section_member, GRADE), (R.township_section, LEAD), False),
        # A lower rank is no promotion, whatever the post.
        ((R.department_bureau, LEAD), (R.county_division, LEAD), False),
        ((R.department_bureau, GRADE), (R.county_division, LEAD), False),
        ((R.county_division, LEAD), (R.township_section, LEAD), False),
    ],
)
def test_what_is_a_promotion_into_a_leading_post(
    before: tuple[R, T], after: tuple[R, T], promotion: bool
) -> None:
    assert is_promotion(Post(*before), Post(*after)) is promotion


@pytest.mark.parametrize(
    ("before", "after", "current", "sent", "expected"),
    [
        # A promotion naming no date: the day of the write.
        ((R.township_section, LEAD), (R.county_division, LEAD), None, NOT_NAMED, TODAY),
        ((R.township_section, GRADE), (R.county_division, LEAD), EARLIER, NOT_NAMED, TODAY),
        ((R.county_division, LEAD), (R.department_bureau, LEAD), EARLIER, NOT_NAMED, TODAY),
        ((R.county_division, GRADE), (R.county_division, LEAD), None, NOT_NAMED, TODAY),
        # A promotion naming its date: that date; an explicit null (PATCH) clears it.
        ((R.township_section, LEAD), (R.county_division, LEAD), None, SENT, SENT),
        ((R.township_section, LEAD), (R.county_division, LEAD), EARLIER, EARLIER, EARLIER),
        ((R.township_section, LEAD), (R.county_division, LEAD), EARLIER, None, None),
        # No promotion and no date: the date on record stays, whatever it is.
        ((R.township_section, GRADE), (R.county_division, GRADE), None, NOT_NAMED, None),
        ((R.township_section, GRADE), (R.county_division, GRADE), EARLIER, NOT_NAMED, EARLIER),
        ((R.county_division, LEAD), (R.county_division, LEAD), EARLIER, NOT_NAMED, EARLIER),
        ((R.department_bureau, LEAD), (R.county_division, LEAD), EARLIER, NOT_NAMED, EARLIER),
        ((R.county_division, LEAD), (R.county_division, GRADE), EARLIER, NOT_NAMED, EARLIER),
        ((R.township_section, GRADE), (R.township_section, LEAD), None, NOT_NAMED, None),
        # No promotion with a date, or null: what the write names.
        ((R.county_division, LEAD), (R.county_division, LEAD), EARLIER, SENT, SENT),
        ((R.section_member, GRADE), (R.section_member, GRADE), None, SENT, SENT),
        ((R.county_division, LEAD), (R.county_division, LEAD), EARLIER, None, None),
    ],
)
def test_promoted_on_after_a_write(
    before: tuple[R, T],
    after: tuple[R, T],
    current: date | None,
    sent: date | Unnamed | None,
    expected: date | None,
) -> None:
    got = promoted_on(Post(*before), Post(*after), current=current, sent=sent, today=TODAY)
    assert got == expected


@pytest.mark.parametrize(
    ("post", "sent", "expected"),
    [
        ((R.county_division, LEAD), NOT_NAMED, None),  # creating a cadre is no promotion
        ((R.county_division, LEAD), None, None),
        ((R.county_division, LEAD), SENT, SENT),
        ((R.section_member, GRADE), SENT, SENT),  # HR's date is kept, whatever the post
    ],
)
def test_a_new_cadre_has_only_the_date_hr_sends(
    post: tuple[R, T], sent: date | Unnamed | None, expected: date | None
) -> None:
    assert promoted_on(None, Post(*post), current=None, sent=sent, today=TODAY) == expected


@pytest.mark.parametrize(
    ("before", "current", "rank", "post_type", "sent", "expected"),
    [
        # The post type left out is kept: a raise of a leading post is a promotion.
        ((R.township_section, LEAD), None, R.county_division, None, None, (LEAD, TODAY)),
        ((R.township_section, GRADE), None, R.county_division, None, None, (GRADE, None)),
        ((R.township_section, GRADE), None, R.county_division, LEAD, None, (LEAD, TODAY)),
        # The same record again, its date empty: nothing changes, the date set stays.
        ((R.county_division, LEAD), TODAY, R.county_division, LEAD, None, (LEAD, TODAY)),
        ((R.county_division, LEAD), TODAY, R.county_division, None, None, (LEAD, TODAY)),
        ((R.county_division, LEAD), EARLIER, R.county_division, None, SENT, (LEAD, SENT)),
        ((R.county_division, LEAD), EARLIER, R.county_division, GRADE, None, (GRADE, EARLIER)),
    ],
)
def test_hr_sends_its_whole_record(
    before: tuple[R, T],
    current: date | None,
    rank: R,
    post_type: T | None,
    sent: date | None,
    expected: tuple[T, date | None],
) -> None:
    got = after_hr_record(
        Post(*before), current=current, rank=rank, post_type=post_type, sent=sent, today=TODAY
    )
    assert got == expected


# 11010519491231002X: born 1949-12-31, sequence 002 (even: a woman).
@pytest.mark.parametrize(
    ("birth_date", "gender", "problem"),
    [
        (date(1949, 12, 31), Gender.female, None),
        (date(1949, 12, 30), Gender.female, "birth_date does not match"),
        (date(1949, 12, 31), Gender.male, "gender does not match"),
    ],
)
def test_the_record_agrees_with_its_id_number(
    birth_date: date, gender: Gender, problem: str | None
) -> None:
    found = id_number_mismatch("11010519491231002X", birth_date, gender)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("number", "accepted"),
    [
        ("11010519491231002X", "11010519491231002X"),
        (" 11010519491231002x ", "11010519491231002X"),  # spaces and a lower-case check
        ("110105194912310021", None),  # wrong check digit (X is right)
        ("110105194913310021", None),  # month 13 (its check digit right)
        ("999999194912310025", None),  # unknown region (its check digit right)
        ("1101051949123100", None),
    ],
)
def test_the_one_id_number_validator(number: str, accepted: str | None) -> None:
    if accepted is None:
        with pytest.raises(ValueError, match="resident ID number"):
            normalise(number)
    else:
        assert normalise(number) == accepted
