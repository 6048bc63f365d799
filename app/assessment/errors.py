from app.errors import Conflict, NotFound


class AssessmentNotFound(NotFound):
    code = "assessment.not_found"
    title = "Assessment not found"


class AssessmentExists(Conflict):
    code = "assessment.exists"
    title = "The cadre already has an assessment for that year"
