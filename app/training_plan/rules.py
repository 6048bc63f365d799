"""The plan workflow (docs/rules.md, "Training plans"): pure rules, no I/O.

draft → submitted (by the unit's managers); submitted → approved or returned (by an
administrator of a unit strictly above the plan's unit, or an admin); returned → submitted
again after edits. Classes change only in draft or returned; approved is final."""

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


def strictly_above(actor_path: str, unit_path: str) -> bool:
    """The actor's unit is an ancestor of the unit, not the unit itself (materialised paths
    `/<root>/.../<unit>/`): the plan's parent lies in the actor's subtree."""
    return unit_path != actor_path and unit_path.startswith(actor_path)
