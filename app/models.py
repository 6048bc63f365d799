"""Every ORM model, imported once so metadata is complete for Alembic and the mappers."""

from app.assessment.models import Assessment
from app.attendance.models import Attendance, LeaveRequest
from app.audit.models import AuditEvent
from app.cadre.models import Cadre
from app.calendar.models import CalendarFeed
from app.catalogue.models import Course, Teacher
from app.certificate.models import Certificate, CertificateSerial
from app.change_feed.models import ChangeEvent, ChangeFeedState
from app.compliance.models import CadreYearKind
from app.credit_policy.models import CreditPolicy
from app.db import Base
from app.enrollment.models import Enrollment
from app.evaluation.models import (
    EvaluationAnswer,
    EvaluationAnswered,
    EvaluationComment,
    EvaluationForm,
    EvaluationIndicator,
    SessionEvaluation,
)
from app.export.models import ExportChunk, ExportJob
from app.idempotency.models import IdempotencyRecord
from app.notification.models import Notification
from app.online.models import OnlineLearner, OnlinePlatform, OnlineRecord
from app.org_unit.models import OrgUnit
from app.qualification.models import CadreQualification, QualificationType
from app.scorecard.models import UnitScorecardSnapshot, UnitTarget
from app.study_log.models import StudyLog
from app.thesis.models import Thesis
from app.training_plan.models import TrainingPlan, TrainingPlanItem
from app.training_session.models import SessionAudience, SessionPart, TrainingSession
from app.user.models import RefreshToken, User
from app.webhook.models import WebhookDelivery, WebhookSubscription

__all__ = [
    "Assessment",
    "Attendance",
    "AuditEvent",
    "Base",
    "Cadre",
    "CadreQualification",
    "CadreYearKind",
    "CalendarFeed",
    "Certificate",
    "CertificateSerial",
    "ChangeEvent",
    "ChangeFeedState",
    "Course",
    "CreditPolicy",
    "Enrollment",
    "EvaluationAnswer",
    "EvaluationAnswered",
    "EvaluationComment",
    "EvaluationForm",
    "EvaluationIndicator",
    "ExportChunk",
    "ExportJob",
    "IdempotencyRecord",
    "LeaveRequest",
    "Notification",
    "OnlineLearner",
    "OnlinePlatform",
    "OnlineRecord",
    "OrgUnit",
    "QualificationType",
    "RefreshToken",
    "SessionAudience",
    "SessionEvaluation",
    "SessionPart",
    "StudyLog",
    "Teacher",
    "Thesis",
    "TrainingPlan",
    "TrainingPlanItem",
    "TrainingSession",
    "UnitScorecardSnapshot",
    "UnitTarget",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
]
