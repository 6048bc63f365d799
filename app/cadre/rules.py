"""The cadre's rules, as pure functions used by every path that writes a cadre (POST, PATCH,
PUT by HR id and the bulk sync): the resident ID number (GB 11643-1999) and the date of the
latest promotion into a leading post (docs/rules.md rule 4)."""

from datetime import date
from enum import Enum
from functools import lru_cache
from typing import Final, NamedTuple

from stdnum import numdb
from stdnum.cn import ric

from app.cadre.errors import PostTypeRequired
from app.enums import LEADING_RANKS, PROMOTION_MOVES, Gender, PostType, PromotionMove, Rank
from app.errors import ProblemFieldError
from app.i18n import N_

# --------------------------------------------------------------------------------------------
# The resident ID number
# --------------------------------------------------------------------------------------------


def normalise(value: str) -> str:
    """Validate length, digits, the birth date, the region code and the ISO 7064 check digit.

    `ric.validate` also insists that the county code existed in the birth year; real numbers
    break that (numbers issued in 1999 use the codes of 1999 for people born decades before,
    e.g. 琅琊区 341102 exists since 1992), so the region is only checked to be a known code.
    """
    number = value.strip().replace(" ", "").upper()
    if len(number) != 18 or not number[:17].isdigit():
        raise ValueError(N_("a resident ID number has 17 digits and a check character"))
    if number[-1] != ric.calc_check_digit(number):
        raise ValueError(N_("the check digit of the resident ID number does not match"))
    try:
        birth_date_of(number)
    except ValueError as exc:
        raise ValueError(N_("the resident ID number holds no valid birth date")) from exc
    if not _known_region(number[:6]):
        raise ValueError(N_("the resident ID number's region code is unknown"))
    return number


@lru_cache(maxsize=8192)
def _known_region(code: str) -> bool:
    info = {k for _part, props in numdb.get("cn/loc").info(code) for k in props}
    return "county" in info


def birth_date_of(number: str) -> date:
    # Parsed here rather than by stdnum, whose input cleaning dominates a bulk sync's time.
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def gender_of(number: str) -> Gender:
    # The 17th digit (sequence code) is odd for men, even for women.
    return Gender.male if int(number[16]) % 2 else Gender.female


def id_number_mismatch(number: str, birth_date: date, gender: Gender) -> str | None:
    """What in the record disagrees with its (valid) ID number, or None when all agree."""
    if birth_date_of(number) != birth_date:
        return N_("birth_date does not match the resident ID number")
    if gender_of(number) != gender:
        return N_("gender does not match the resident ID number")
    return None


def mask(number: str) -> str:
    """`******************`: no character of the number, at its length. A role that reads the
    cadre's unit knows the region code (a county's own, or one of its few older ones), so any
    character shown narrows the rest: with the last three and the birth date, one or two numbers
    fit. With none shown, and the birth date given as year and month only, thousands do."""
    return "*" * len(number)


# --------------------------------------------------------------------------------------------
# Promotion into a leading post (docs/rules.md rule 4; art. 14 ¶1 of the 2023 regulation)
# --------------------------------------------------------------------------------------------

# Lowest first: a larger number is a higher rank.
_RANK_ORDER: Final = {rank: n for n, rank in enumerate(reversed(list(Rank)))}


class Unnamed(Enum):
    """The write names no promotion date."""

    token = 0


NOT_NAMED: Final = Unnamed.token


class Post(NamedTuple):
    """What a cadre holds: a rank, as a leading post (领导职务) or as a grade alone (职级), and
    whether a write ever stated that post type (`stated`), as opposed to a creation that left it
    out (the default `non_leading`) or migration 0011, which inferred it from `promoted_on`."""

    rank: Rank
    post_type: PostType
    stated: bool


def is_promotion(before: Post, after: Post) -> bool:
    """Is the move from `before` to `after` a promotion into a leading post (提拔担任领导职务)?
    See `promotion_move`: only a higher rank or a grade turned into a post at the same rank."""
    return promotion_move(before, after) in PROMOTION_MOVES


def promotion_move(before: Post, after: Post) -> PromotionMove:
    """What the move from `before` to `after` is (docs/rules.md rule 4, and rule 15 which
    reports it).

    Only a leading post at a leading rank counts as a promotion into a leading post, reached
    either
    - by a higher rank (`higher_rank`): into the leading ranks, or from one leading rank to a
      higher one (a county head made a department head is promoted again, and owes the
      requirement anew); or
    - by turning a grade into a post at the same rank (`leading_post_same_rank`: 四级调研员 →
      副县长), where the grade was stated by a write. A `non_leading` that is only a default or
      migration 0011's inference says nothing of the cadre's post: the first `leading` stated
      for it is the record's classification of a post held all along (an existing 副县长 HR now
      describes), not a promotion that day (`post_type_classified`).
    A rise of grade alone (一级主任科员 → 四级调研员) is none (`grade_only`), nor a move to a lower
    rank, even into a leading post (`lower_rank`: a 二级巡视员, a department_bureau grade,
    appointed head of a city bureau, a county_division post, is not promoted), nor a leading post
    below the leading ranks (`below_leading_ranks`), nor the same post (`same_post`).
    """
    if after.post_type is not PostType.leading:
        return PromotionMove.grade_only
    if after.rank not in LEADING_RANKS:
        return PromotionMove.below_leading_ranks
    higher = _RANK_ORDER[after.rank] - _RANK_ORDER[before.rank]
    if higher > 0:
        return PromotionMove.higher_rank
    if higher < 0:
        return PromotionMove.lower_rank
    if before.post_type is PostType.leading:
        return PromotionMove.same_post
    if before.stated:
        return PromotionMove.leading_post_same_rank
    return PromotionMove.post_type_classified


def post_after(before: Post | None, *, rank: Rank, post_type: PostType | None) -> Post:
    """The post after a write of `rank` that names `post_type` (None: the write leaves it out).

    A post type named is stated from then on. Left out, a new cadre's is `non_leading`, not
    stated; an existing cadre's is kept, stated or not — except on a rise into or within the
    leading ranks: whether that is a promotion (a post) or a grade depends on the post type, and
    one never stated is a guess (a default, or migration 0011's inference). Guessing would give
    a grade a grace year or take one from a post, so the write must name it
    (`PostTypeRequired`, 422 `cadre.post_type_required`)."""
    if (
        post_type is None
        and before is not None
        and not before.stated
        and rank in LEADING_RANKS
        and _RANK_ORDER[rank] > _RANK_ORDER[before.rank]
    ):
        detail = (
            f"The rank rises from {before.rank.value} to {rank.value} and the cadre's post type "
            "was never stated: send post_type."
        )
        raise PostTypeRequired(
            detail,
            errors=[
                ProblemFieldError(
                    pointer="/body/post_type", detail=detail, code=PostTypeRequired.code
                )
            ],
        )
    if post_type is not None:
        return Post(rank, post_type, stated=True)
    if before is None:
        return Post(rank, PostType.non_leading, stated=False)
    return Post(rank, before.post_type, before.stated)


def promoted_on(
    before: Post | None,
    after: Post,
    *,
    current: date | None,
    sent: date | Unnamed | None,
    today: date,
) -> date | None:
    """The cadre's `promoted_on` after a write.

    `before` is None when the write creates the cadre, `current` is the stored date, `sent` is
    what the write names: a date, an explicit null (PATCH only: clears it), or NOT_NAMED.
    - What the write names always wins.
    - Creating a cadre is not a promotion: a new cadre has what HR sends, else none.
    - A write that promotes (`is_promotion`) and names no date: its effective date, `today`.
    - Otherwise the stored date stays.
    """
    if not isinstance(sent, Unnamed):
        return sent
    if before is not None and is_promotion(before, after):
        return today
    return current


def after_write(
    before: Post | None,
    *,
    current: date | None,
    rank: Rank,
    post_type: PostType | None,
    sent: date | Unnamed | None,
    today: date,
) -> tuple[Post, date | None]:
    """The post and `promoted_on` after any write of a cadre: POST (`before` None), PATCH, PUT
    by HR id and the bulk sync. `post_type` None: the write leaves it out; `sent` as for
    `promoted_on`."""
    after = post_after(before, rank=rank, post_type=post_type)
    return after, promoted_on(before, after, current=current, sent=sent, today=today)


def after_hr_record(
    before: Post | None,
    *,
    current: date | None,
    rank: Rank,
    post_type: PostType | None,
    sent: date | None,
    today: date,
) -> tuple[Post, date | None]:
    """The post and `promoted_on` after HR sends its whole record of a cadre (PUT by HR id,
    bulk sync; `before` None: a new cadre). A post type left out (None) is kept; an empty date
    names none, for HR not knowing the date must not erase the one a promotion set, and sending
    the same record again must change nothing. A date equal to the stored one names none either:
    a record read back and sent with a higher rank still promotes that day (as PATCH of the rank
    alone does), while HR naming a new date of its own always wins."""
    named: date | Unnamed = NOT_NAMED if sent is None or sent == current else sent
    return after_write(
        before, current=current, rank=rank, post_type=post_type, sent=named, today=today
    )
