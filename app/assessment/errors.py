from app.errors import Conflict, Forbidden, NotFound, ProblemFieldError, UnprocessableEntity


class AssessmentNotFound(NotFound):
    code = "assessment.not_found"
    title = "Assessment not found"


class AssessmentExists(Conflict):
    code = "assessment.exists"
    title = "The cadre already has an assessment for that year"


class TrainingRequirementUnmet(Conflict):
    code = "assessment.training_requirement_unmet"
    title = "An excellent rating needs the year's training requirement met at year end"


class OverrideForbidden(Forbidden):
    code = "assessment.override_forbidden"
    title = "Only an admin may record an excellent rating whose training requirement is unmet"


class OverrideNotNeeded(UnprocessableEntity):
    code = "assessment.override_not_needed"
    title = "override_reason is only for an excellent rating whose training requirement is unmet"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            errors=[
                ProblemFieldError(pointer="/body/override_reason", detail=detail, code=self.code)
            ],
        )
