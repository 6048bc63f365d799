from app.errors import Conflict, NotFound


class AssessmentNotFound(NotFound):
    code = "assessment.not_found"
    title = "Assessment not found"


class AssessmentExists(Conflict):
    code = "assessment.exists"
    title = "The cadre already has an assessment for that year"


class TrainingRequirementUnmet(Conflict):
    code = "assessment.training_requirement_unmet"
    title = "An excellent rating needs the year's training requirement met at year end"
