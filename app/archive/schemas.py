from app.assessment.schemas import AssessmentRead
from app.cadre.schemas import CadreRead
from app.enrollment.schemas import EnrollmentRead
from app.schema_types import OutputModel
from app.study_log.schemas import StudyLogRead
from app.training_session.schemas import TrainingSessionRead


class ArchiveEnrollment(OutputModel):
    enrollment: EnrollmentRead
    training_session: TrainingSessionRead


class ArchiveRead(OutputModel):
    cadre: CadreRead
    study_logs: list[StudyLogRead]
    enrollments: list[ArchiveEnrollment]
    assessments: list[AssessmentRead]
