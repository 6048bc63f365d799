"""The Chinese resident ID number (GB 11643-1999): validation and masking."""

from datetime import date
from functools import lru_cache

from stdnum import numdb
from stdnum.cn import ric

from app.enums import Gender


def normalise(value: str) -> str:
    """Validate length, digits, the birth date, the region code and the ISO 7064 check digit.

    `ric.validate` also insists that the county code existed in the birth year; real numbers
    break that (numbers issued in 1999 use the codes of 1999 for people born decades before,
    e.g. 琅琊区 341102 exists since 1992), so the region is only checked to be a known code.
    """
    number = value.strip().replace(" ", "").upper()
    if len(number) != 18 or not number[:17].isdigit():
        raise ValueError("a resident ID number has 17 digits and a check character")
    if number[-1] != ric.calc_check_digit(number):
        raise ValueError("the check digit of the resident ID number does not match")
    try:
        birth_date_of(number)
    except ValueError as exc:
        raise ValueError("the resident ID number holds no valid birth date") from exc
    if not _known_region(number[:6]):
        raise ValueError("the resident ID number's region code is unknown")
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


def mask(number: str) -> str:
    """`3411**********1234`: region prefix and last four only."""
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"
