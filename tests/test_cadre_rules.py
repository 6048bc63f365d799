"""The cadre's pure rules (app/cadre/rules.py): the promotion date of docs/rules.md rule 4, and
the resident ID number's consistency with the record."""

from datetime import date

import pytest

from app.cadre.errors import PostTypeRequired
from app.cadre.rules import (
    NOT_NAMED,
    Post,
    Unnamed,
    after_hr_record,
    id_number_mismatch,
    is_promotion,
    normalise,
    post_after,
    promoted_on,
)
from app.enums import Gender
from app.enums import PostType as T
from app.enums import Rank as R

TODAY = date(2025, 6, 1)
EARLIER = date(2019, 9, 1)  # the date on record before the write
SENT = date(2025, 5, 20)  # a date HR names in the write

LEAD, GRADE = T.leading, T.non_leading
TS, CD, DB = R.township_section, R.county_division, R.department_bureau
STATED, INFERRED = True, False  # named by a write; a creation's default or migration 0011's guess

Held = tuple[R, T] | tuple[R, T, bool]


def _post(held: Held) -> Post:
    """A post written (rank, type) is stated unless the case says otherwise."""
    return Post(*held) if len(held) == 3 else Post(*held, STATED)


@pytest.mark.parametrize(
    ("before", "after", "promotion"),
    [
        # Into the leading ranks.
        ((TS, GRADE), (CD, LEAD), True),
        ((TS, LEAD), (CD, LEAD), True),  # 乡镇长 → 副县长
        ((R.section_member, GRADE), (CD, LEAD), True),
        ((TS, LEAD), (CD, GRADE), False),  # → 四级调研员
        ((TS, GRADE), (CD, GRADE), False),  # 职级 alone
        # Within the leading ranks: a higher leading post is a new promotion (提拔).
        ((CD, LEAD), (DB, LEAD), True),
        ((DB, LEAD), (R.provincial_ministerial, LEAD), True),
        ((CD, GRADE), (DB, LEAD), True),
        ((CD, LEAD), (DB, GRADE), False),  # → 二级巡视员
        ((CD, GRADE), (DB, GRADE), False),
        # The same rank: only a grade, stated as such, turned into a post.
        ((CD, GRADE), (CD, LEAD), True),  # 四级调研员 → 副县长
        ((DB, GRADE), (DB, LEAD), True),
        ((CD, LEAD), (CD, LEAD), False),
        ((CD, LEAD), (CD, GRADE), False),
        ((CD, GRADE), (CD, GRADE), False),
        # A grade never stated (a default, or migration 0011's inference) is no evidence of a
        # grade: the first `leading` stated at the same rank classifies a 县长 held all along.
        ((CD, GRADE, INFERRED), (CD, LEAD), False),
        ((DB, GRADE, INFERRED), (DB, LEAD), False),
        ((CD, LEAD, INFERRED), (CD, LEAD), False),
        ((CD, GRADE, INFERRED), (CD, GRADE), False),
        # ... but a higher rank into or within the leading ranks still is a promotion.
        ((TS, GRADE, INFERRED), (CD, LEAD), True),
        ((CD, GRADE, INFERRED), (DB, LEAD), True),
        ((CD, LEAD, INFERRED), (DB, LEAD), True),
        # Leading posts below the leading ranks open no five-year requirement.
        ((TS, GRADE), (TS, LEAD), False),
        ((R.section_member, GRADE), (TS, LEAD), False),
        # A lower rank is no promotion, whatever the post.
        ((DB, LEAD), (CD, LEAD), False),
        ((DB, GRADE), (CD, LEAD), False),
        ((CD, LEAD), (TS, LEAD), False),
    ],
)
def test_what_is_a_promotion_into_a_leading_post(
    before: Held, after: Held, promotion: bool
) -> None:
    assert is_promotion(_post(before), _post(after)) is promotion


@pytest.mark.parametrize(
    ("before", "rank", "named", "after"),
    [
        # A new cadre: the post type named is stated; left out, non_leading and not stated.
        (None, CD, None, (CD, GRADE, INFERRED)),
        (None, CD, GRADE, (CD, GRADE, STATED)),
        (None, CD, LEAD, (CD, LEAD, STATED)),
        # An existing cadre: left out, the post type is kept as it was, stated or not.
        ((CD, LEAD, INFERRED), CD, None, (CD, LEAD, INFERRED)),
        ((CD, GRADE, STATED), DB, None, (DB, GRADE, STATED)),
        # Named, it is stated from then on, even unchanged.
        ((CD, LEAD, INFERRED), CD, LEAD, (CD, LEAD, STATED)),
        ((CD, GRADE, INFERRED), CD, GRADE, (CD, GRADE, STATED)),
        ((CD, LEAD, STATED), CD, GRADE, (CD, GRADE, STATED)),
    ],
)
def test_the_post_after_a_write(
    before: tuple[R, T, bool] | None, rank: R, named: T | None, after: tuple[R, T, bool]
) -> None:
    held = None if before is None else Post(*before)
    assert post_after(held, rank=rank, post_type=named) == Post(*after)


@pytest.mark.parametrize(
    ("before", "after", "current", "sent", "expected"),
    [
        # A promotion naming no date: the day of the write.
        ((TS, LEAD), (CD, LEAD), None, NOT_NAMED, TODAY),
        ((TS, GRADE), (CD, LEAD), EARLIER, NOT_NAMED, TODAY),
        ((CD, LEAD), (DB, LEAD), EARLIER, NOT_NAMED, TODAY),
        ((CD, GRADE), (CD, LEAD), None, NOT_NAMED, TODAY),
        # The same, the grade never stated: no promotion, the date on record stays.
        ((CD, GRADE, INFERRED), (CD, LEAD), None, NOT_NAMED, None),
        ((CD, GRADE, INFERRED), (CD, LEAD), EARLIER, NOT_NAMED, EARLIER),
        ((TS, GRADE, INFERRED), (CD, LEAD), None, NOT_NAMED, TODAY),
        # A promotion naming its date: that date; an explicit null (PATCH) clears it.
        ((TS, LEAD), (CD, LEAD), None, SENT, SENT),
        ((TS, LEAD), (CD, LEAD), EARLIER, EARLIER, EARLIER),
        ((TS, LEAD), (CD, LEAD), EARLIER, None, None),
        ((CD, GRADE, INFERRED), (CD, LEAD), None, SENT, SENT),
        # No promotion and no date: the date on record stays, whatever it is.
        ((TS, GRADE), (CD, GRADE), None, NOT_NAMED, None),
        ((TS, GRADE), (CD, GRADE), EARLIER, NOT_NAMED, EARLIER),
        ((CD, LEAD), (CD, LEAD), EARLIER, NOT_NAMED, EARLIER),
        ((DB, LEAD), (CD, LEAD), EARLIER, NOT_NAMED, EARLIER),
        ((CD, LEAD), (CD, GRADE), EARLIER, NOT_NAMED, EARLIER),
        ((TS, GRADE), (TS, LEAD), None, NOT_NAMED, None),
        # No promotion with a date, or null: what the write names.
        ((CD, LEAD), (CD, LEAD), EARLIER, SENT, SENT),
        ((R.section_member, GRADE), (R.section_member, GRADE), None, SENT, SENT),
        ((CD, LEAD), (CD, LEAD), EARLIER, None, None),
    ],
)
def test_promoted_on_after_a_write(
    before: Held,
    after: Held,
    current: date | None,
    sent: date | Unnamed | None,
    expected: date | None,
) -> None:
    got = promoted_on(_post(before), _post(after), current=current, sent=sent, today=TODAY)
    assert got == expected


@pytest.mark.parametrize(
    ("post", "sent", "expected"),
    [
        ((CD, LEAD), NOT_NAMED, None),  # creating a cadre is no promotion
        ((CD, LEAD), None, None),
        ((CD, LEAD), SENT, SENT),
        ((R.section_member, GRADE), SENT, SENT),  # HR's date is kept, whatever the post
    ],
)
def test_a_new_cadre_has_only_the_date_hr_sends(
    post: tuple[R, T], sent: date | Unnamed | None, expected: date | None
) -> None:
    assert promoted_on(None, _post(post), current=None, sent=sent, today=TODAY) == expected


@pytest.mark.parametrize(
    ("before", "rank"),
    [
        ((TS, GRADE, INFERRED), CD),  # into the leading ranks
        ((TS, LEAD, INFERRED), CD),
        ((CD, LEAD, INFERRED), DB),  # within them
        ((R.section_member, GRADE, INFERRED), CD),
    ],
)
def test_a_rise_into_the_leading_ranks_needs_a_stated_post_type(
    before: tuple[R, T, bool], rank: R
) -> None:
    """A post type never stated is a guess: a rise that would promote a post and not a grade
    must name it (422 cadre.post_type_required), whatever the guess."""
    with pytest.raises(PostTypeRequired) as refused:
        post_after(Post(*before), rank=rank, post_type=None)
    assert refused.value.errors is not None
    assert refused.value.errors[0].pointer == "/body/post_type"
    # Named, it is decided; stated already, it is kept; below the leading ranks, no question.
    assert post_after(Post(*before), rank=rank, post_type=LEAD).stated
    assert post_after(Post(before[0], before[1], STATED), rank=rank, post_type=None).stated
    assert post_after(Post(R.section_member, GRADE, INFERRED), rank=TS, post_type=None) == Post(
        TS, GRADE, INFERRED
    )


@pytest.mark.parametrize(
    ("before", "current", "rank", "post_type", "sent", "expected"),
    [
        # The post type left out is kept: a raise of a leading post is a promotion.
        ((TS, LEAD), None, CD, None, None, (LEAD, STATED, TODAY)),
        ((TS, GRADE), None, CD, None, None, (GRADE, STATED, None)),
        ((TS, GRADE), None, CD, LEAD, None, (LEAD, STATED, TODAY)),
        # The same record again, its date empty: nothing changes, the date set stays.
        ((CD, LEAD), TODAY, CD, LEAD, None, (LEAD, STATED, TODAY)),
        ((CD, LEAD), TODAY, CD, None, None, (LEAD, STATED, TODAY)),
        ((CD, LEAD), EARLIER, CD, None, SENT, (LEAD, STATED, SENT)),
        ((CD, LEAD), EARLIER, CD, GRADE, None, (GRADE, STATED, EARLIER)),
        # The record read back and sent with a higher rank: the stored date names none, so the
        # rise promotes that day (as a PATCH of the rank alone); a new date of HR's own wins.
        ((CD, LEAD), EARLIER, DB, LEAD, EARLIER, (LEAD, STATED, TODAY)),
        ((CD, LEAD), EARLIER, DB, LEAD, SENT, (LEAD, STATED, SENT)),
        # The same record again, its stored date in it: nothing changes.
        ((CD, LEAD), EARLIER, CD, LEAD, EARLIER, (LEAD, STATED, EARLIER)),
        # The reviewer's case: a county leader created without a post type (or inferred by
        # migration 0011), then HR states `leading`: classified, not promoted today ...
        ((CD, GRADE, INFERRED), None, CD, LEAD, None, (LEAD, STATED, None)),
        # ... unless HR had stated the grade: 四级调研员 → 副县长 is a promotion.
        ((CD, GRADE, STATED), None, CD, LEAD, None, (LEAD, STATED, TODAY)),
        # An inferred `leading` (a promotion on record) stays inferred while HR leaves it out.
        ((CD, LEAD, INFERRED), EARLIER, CD, None, None, (LEAD, INFERRED, EARLIER)),
        # A new cadre (PUT or sync creating it): no promotion; stated only if named.
        (None, None, CD, None, None, (GRADE, INFERRED, None)),
        (None, None, CD, LEAD, SENT, (LEAD, STATED, SENT)),
    ],
)
def test_hr_sends_its_whole_record(
    before: Held | None,
    current: date | None,
    rank: R,
    post_type: T | None,
    sent: date | None,
    expected: tuple[T, bool, date | None],
) -> None:
    held = None if before is None else _post(before)
    post, got = after_hr_record(
        held, current=current, rank=rank, post_type=post_type, sent=sent, today=TODAY
    )
    assert (post.rank, post.post_type, post.stated, got) == (rank, *expected)


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
