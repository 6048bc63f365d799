from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class TrainingPlanNotFound(NotFound):
    code = "training_plan.not_found"
    title = N_("Training plan not found")


class TrainingPlanItemNotFound(NotFound):
    code = "training_plan.item_not_found"
    title = N_("Planned class not found")


class PlanExists(Conflict):
    code = "training_plan.exists"
    title = N_("The unit has a training plan for that year already")


class InvalidPlanTransition(Conflict):
    code = "training_plan.invalid_transition"
    title = N_("The plan cannot take that step from its current status")


class PlanNotEditable(Conflict):
    code = "training_plan.not_editable"
    title = N_("A plan's classes change only while it is a draft or returned")


class EmptyPlan(Conflict):
    code = "training_plan.empty"
    title = N_("A plan is submitted with at least one planned class")


class NotPlanManager(Forbidden):
    code = "training_plan.not_manager"
    title = N_("Only the unit's own administrators (or those above) may change its plan")


class NotPlanApprover(Forbidden):
    code = "training_plan.not_approver"
    title = N_("Only an administrator of the plan unit's parent unit may approve or return it")


class OwnSubmission(Forbidden):
    code = "training_plan.own_submission"
    title = N_("Who submitted a plan does not approve or return it")


class ReferencedPlanItemNotFound(UnprocessableEntity):
    code = "training_plan.item_reference_not_found"
    title = N_("The referenced planned class does not exist")


class PlanItemNotUsable(Conflict):
    code = "training_plan.item_not_usable"
    title = N_(
        "A session names only a planned class of an approved plan of its organiser or a unit "
        "above it, for its year"
    )
