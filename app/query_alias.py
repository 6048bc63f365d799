"""Deprecated query-parameter aliases: an old name kept working next to the stable one.

Both may be sent only with the same value; different values answer 422 `validation_failed`
with a field error `alias_conflict` on the old name.
"""

from typing import TypeVar

from app.errors import ProblemFieldError, UnprocessableEntity
from app.i18n import _

T = TypeVar("T")


def resolve_alias(name: str, value: T | None, alias: str, alias_value: T | None) -> T | None:
    """The value of `name`, or of its deprecated `alias` when only that one was sent."""
    if value is not None and alias_value is not None and value != alias_value:
        detail = _("`{alias}` is a deprecated alias of `{name}`; send only `{name}`").format(
            alias=alias, name=name
        )
        raise UnprocessableEntity(
            detail,
            errors=[
                ProblemFieldError(pointer=f"/query/{alias}", detail=detail, code="alias_conflict")
            ],
        )
    return value if value is not None else alias_value
