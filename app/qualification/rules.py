"""Rule 13 (docs/rules.md): a qualification's validity and its status on a day. Pure: no I/O."""

import calendar
import datetime as dt
import uuid
from collections.abc import Sequence

from app.enums import QualificationStatus


def _add_years(day: dt.date, years: int) -> dt.date:
    """`day` moved by whole calendar years; 29 February becomes 28 February in a common year."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return day.replace(year=year)


def valid_until(valid_from: dt.date, validity_years: int) -> dt.date:
    """The last valid day, inclusive, by the Civil Code (民法典) arts. 201–202 (rule 13).

    Art. 201: the day the credential is granted is not counted; the period runs from the next
    day. Art. 202: a period in years ends on the corresponding day of its last year, or, where
    that month has no such day, on the month's last day. So 2024-03-01 + 3 years is valid
    through 2027-03-01; 2024-02-29 + 3 years through 2027-02-28; + 4 years through 2028-02-29.
    """
    if validity_years < 1:
        raise ValueError("validity_years must be at least 1")
    return _add_years(valid_from, validity_years)


def status_on(
    day: dt.date,
    *,
    valid_from: dt.date,
    valid_until: dt.date,
    revoked: bool,
    expiring_days: int,
) -> QualificationStatus | None:
    """The status on `day`, or None before `valid_from` (not yet held).

    `revoked` wins over everything. After `valid_until`: `expired`. Within the last
    `expiring_days` days (valid_until − expiring_days + 1 … valid_until): `expiring`.
    Otherwise `valid`.
    """
    if revoked:
        return QualificationStatus.revoked
    if day < valid_from:
        return None
    if day > valid_until:
        return QualificationStatus.expired
    if (valid_until - day).days < expiring_days:
        return QualificationStatus.expiring
    return QualificationStatus.valid


def counts_as_held(status: QualificationStatus | None) -> bool:
    """A post is covered on a day when the qualification is `valid` or `expiring` (rule 13)."""
    return status in (QualificationStatus.valid, QualificationStatus.expiring)


def requires(
    *,
    required_post_types: Sequence[str],
    required_ranks: Sequence[str],
    required_org_unit_ids: Sequence[uuid.UUID],
    post_type: str,
    rank: str,
    unit_path_ids: Sequence[uuid.UUID],
) -> bool:
    """Whether a type (in force at the cadre's unit) requires the cadre: every non-empty list
    must match (a post type, a rank, an org unit that is the cadre's unit or above it). A type
    with all three lists empty requires nobody: it is only held, never demanded (rule 13)."""
    if not (required_post_types or required_ranks or required_org_unit_ids):
        return False
    if required_post_types and post_type not in required_post_types:
        return False
    if required_ranks and rank not in required_ranks:
        return False
    return not required_org_unit_ids or any(u in unit_path_ids for u in required_org_unit_ids)
