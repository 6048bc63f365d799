"""The plan workflow (docs/rules.md, "Training plans"): pure rules, no I/O.

draft → submitted (by the unit's managers: its own or an ancestor's org_admin, or an admin);
submitted → approved or returned (by an org_admin of the plan unit's parent unit, or an admin;
never by the user who submitted it); returned → submitted again after edits. Classes change only
in draft or returned; approved is final."""

from enum import StrEnum

from app.enums import PlanStatus


class PlanStep(StrEnum):
    submit = "submit"
    approve = "approve"
    return_ = "return"


# step → (the statuses it starts from, the status it leads to)
STEPS: dict[PlanStep, tuple[frozenset[PlanStatus], PlanStatus]] = {
    PlanStep.submit: (frozenset({PlanStatus.draft, PlanStatus.returned}), PlanStatus.submitted),
    PlanStep.approve: (frozenset({PlanStatus.submitted}), PlanStatus.approved),
    PlanStep.return_: (frozenset({PlanStatus.submitted}), PlanStatus.returned),
}

EDITABLE = frozenset({PlanStatus.draft, PlanStatus.returned})


def next_status(current: PlanStatus, step: PlanStep) -> PlanStatus | None:
    """The status `step` leads to from `current`, or None when it may not be taken."""
    sources, target = STEPS[step]
    return target if current in sources else None


def editable(status: PlanStatus) -> bool:
    return status in EDITABLE


def in_subtree(unit_path: str, top_path: str) -> bool:
    """The unit is `top` or below it (materialised paths `/<root>/.../<unit>/`)."""
    return unit_path.startswith(top_path)
