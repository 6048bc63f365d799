from app.errors import Conflict, Forbidden, NotFound, ProblemFieldError, UnprocessableEntity
from app.i18n import N_


class AssessmentNotFound(NotFound):
    code = "assessment.not_found"
    title = N_("Assessment not found")


class AssessmentExists(Conflict):
    code = "assessment.exists"
    title = N_("The cadre already has an assessment for that year")


class TrainingRequirementUnmet(Conflict):
    code = "assessment.training_requirement_unmet"
    title = N_("An excellent rating needs the year's training requirement met at year end")


class OverrideForbidden(Forbidden):
    code = "assessment.override_forbidden"
    title = N_("Only an admin may record an excellent rating whose training requirement is unmet")


class OverrideNotNeeded(UnprocessableEntity):
    code = "assessment.override_not_needed"
    title = N_(
        "override_reason is only for an excellent rating whose training requirement is unmet"
    )

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            errors=[
                ProblemFieldError(pointer="/body/override_reason", detail=detail, code=self.code)
            ],
        )
