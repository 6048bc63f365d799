"""The training condition of an `excellent` annual assessment (docs/rules.md rule 9)."""

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from enum import Enum

from app.credit_policy.engine.common import Requirement, RequirementStatus, q2
from app.credit_policy.engine.compliance import compliance
from app.credit_policy.engine.records import LogRecord
from app.credit_policy.policy import Policy
from app.enum_labels import term
from app.enums import Rank
from app.i18n import _, current_language
from app.json_types import JsonValue

_DERIVATION_FIELDS = frozenset({"logs", "credits", "ignored_logs"})


def to_jsonable(value: object) -> JsonValue:
    """A result as JSON values: decimals as strings with two places, dates in ISO 8601, enums
    by value, dataclasses as objects."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Decimal):
        return str(q2(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: to_jsonable(getattr(value, item.name)) for item in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _figures(block: object) -> JsonValue:
    """A block's figures and explanation, without the per-log derivation."""
    assert dataclasses.is_dataclass(block)
    return {
        item.name: to_jsonable(getattr(block, item.name))
        for item in dataclasses.fields(block)
        if item.name not in _DERIVATION_FIELDS
    }


def excellent_allowed(
    logs: Iterable[LogRecord],
    year: int,
    rank: Rank,
    promoted_on: date | None,
    policies: Sequence[Policy],
) -> tuple[bool, dict[str, JsonValue]]:
    """docs/rules.md rule 9: may the cadre be rated `excellent` for `year`?

    Decided on Dec 31 of `year`, under the policy in force that day: every requirement that
    applies to the rank must hold — the five-year one `met` or `in_grace`, the annual one `met`.
    Under `cn-2023` that is the five-year rule for leading ranks and the annual rule for the
    others; the online requirement is not part of the condition (rule 9 names only those two).
    Returns the decision and the snapshot stored with the assessment.
    """
    year_end = date(year, 12, 31)
    state = compliance(logs, year_end, rank, promoted_on, policies)
    checks: dict[Requirement, bool] = {}
    if state.five_year.status is not RequirementStatus.not_applicable:
        checks[Requirement.five_year] = state.five_year.status in {
            RequirementStatus.met,
            RequirementStatus.in_grace,
        }
    if state.annual.status is not RequirementStatus.not_applicable:
        checks[Requirement.annual] = state.annual.status is RequirementStatus.met
    allowed = all(checks.values())
    if not checks:
        reason = _("no training requirement applies to this rank")
    elif allowed:
        reason = _("training requirement met at year end: {requirements}").format(
            requirements=_(", ").join(term(name) for name in checks)
        )
    else:
        reason = _("training requirement not met at year end: {requirements}").format(
            requirements=_(", ").join(term(name) for name, ok in checks.items() if not ok)
        )
    snapshot: dict[str, JsonValue] = {
        "year": year,
        "as_of": year_end.isoformat(),
        "policy_code": state.five_year.policy_code,
        "rank": rank.value,
        "rank_group": state.rank_group,
        "promoted_on": to_jsonable(promoted_on),
        "requirements": list(checks),
        "excellent_allowed": allowed,
        "reason": reason,
        # the language of `reason` and of the blocks' explanations (docs/rules.md rule 9)
        "lang": current_language.get(),
        "five_year": _figures(state.five_year),
        "annual": _figures(state.annual),
        "online": _figures(state.online),
    }
    return allowed, snapshot
