"""Enumerations shared across domains. Each is a named schema in the contract."""

from enum import StrEnum


class OrgUnitKind(StrEnum):
    city = "city"
    county = "county"
    district = "district"
    department = "department"
    township = "township"
    other = "other"


class Rank(StrEnum):
    provincial_ministerial = "provincial_ministerial"
    department_bureau = "department_bureau"
    county_division = "county_division"
    township_section = "township_section"
    section_member = "section_member"


LEADING_RANKS = frozenset(
    {Rank.provincial_ministerial, Rank.department_bureau, Rank.county_division}
)


class PostType(StrEnum):
    """What a cadre's rank is held as: a leading post (领导职务) or a grade alone (职级)."""

    leading = "leading"
    non_leading = "non_leading"


class Gender(StrEnum):
    male = "male"
    female = "female"


class CadreStatus(StrEnum):
    active = "active"
    inactive = "inactive"


class TrainingForm(StrEnum):
    rotation_class = "rotation_class"
    special_class = "special_class"
    refresher = "refresher"
    seminar = "seminar"
    lecture = "lecture"
    online_class = "online_class"
    university_course = "university_course"
    study_tour = "study_tour"


class SessionStatus(StrEnum):
    draft = "draft"
    open = "open"
    running = "running"
    closed = "closed"
    cancelled = "cancelled"


class EnrollmentOrigin(StrEnum):
    roll_call = "roll_call"
    self = "self"
    nomination = "nomination"


class EnrollmentStatus(StrEnum):
    enrolled = "enrolled"
    confirmed = "confirmed"
    withdrawn = "withdrawn"
    completed = "completed"
    dropped_out = "dropped_out"
    nominated = "nominated"
    rejected = "rejected"
    substitute_requested = "substitute_requested"
    waitlisted = "waitlisted"


ACTIVE_ENROLLMENT_STATUSES = frozenset({EnrollmentStatus.enrolled, EnrollmentStatus.confirmed})
# The statuses that hold one of the session's seats (docs/rules.md rule 11): the trainees, a
# nomination under review, and one whose unit was asked for a substitute (the seat is kept for
# the unit's replacement).
SEAT_HOLDING_STATUSES = ACTIVE_ENROLLMENT_STATUSES | frozenset(
    {EnrollmentStatus.nominated, EnrollmentStatus.substitute_requested}
)


class NominationReviewAction(StrEnum):
    """The organiser's decision on a nomination (docs/rules.md rule 11)."""

    approve = "approve"
    reject = "reject"
    request_substitute = "request_substitute"


class NominationOutcome(StrEnum):
    """One row of a bulk nomination."""

    created = "created"
    waitlisted = "waitlisted"
    refused = "refused"


class StudyLogKind(StrEnum):
    centralised_training = "centralised_training"
    online_course = "online_course"
    central_group_study = "central_group_study"
    self_study = "self_study"
    lecture = "lecture"
    seminar = "seminar"
    reading_note = "reading_note"
    thesis = "thesis"
    teaching = "teaching"
    secondment = "secondment"
    job_rotation = "job_rotation"
    study_tour = "study_tour"


class StudyLogStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    voided = "voided"


class StudyLogSource(StrEnum):
    manual = "manual"
    session = "session"
    import_ = "import"


class AssessmentRating(StrEnum):
    excellent = "excellent"
    competent = "competent"
    basically_competent = "basically_competent"
    incompetent = "incompetent"


class Role(StrEnum):
    admin = "admin"
    org_admin = "org_admin"
    cadre = "cadre"
    hr_system = "hr_system"
    auditor = "auditor"


class AuditAction(StrEnum):
    create = "create"
    update = "update"
    delete = "delete"


class FeedEntity(StrEnum):
    """What the change feed carries: training records, what decides compliance, and the org
    units they hang from. Each is a table whose audit trigger also writes the feed (migration
    0013)."""

    org_unit = "org_unit"
    cadre = "cadre"
    enrollment = "enrollment"
    study_log = "study_log"
    assessment = "assessment"
    training_session = "training_session"
    credit_policy = "credit_policy"
    training_plan = "training_plan"
    training_plan_item = "training_plan_item"
    attendance = "attendance"
    leave_request = "leave_request"
    certificate = "certificate"
    qualification_type = "qualification_type"
    cadre_qualification = "cadre_qualification"
    course = "course"
    teacher = "teacher"
    evaluation_form = "evaluation_form"
    evaluation_indicator = "evaluation_indicator"
    session_evaluation = "session_evaluation"
    evaluation_answered = "evaluation_answered"
    online_platform = "online_platform"
    notification = "notification"
    unit_target = "unit_target"


class DayPeriod(StrEnum):
    """The half-day a session part (课次) takes: its default time window is the period's."""

    morning = "morning"
    afternoon = "afternoon"
    evening = "evening"


class AttendanceMark(StrEnum):
    """A trainee's attendance at one session part (docs/rules.md, rule 12)."""

    present = "present"
    late = "late"
    left_early = "left_early"
    absent = "absent"
    on_leave = "on_leave"


class AttendanceMethod(StrEnum):
    qr = "qr"
    manual = "manual"
    import_ = "import"
    card = "card"


class LeaveRequestStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    refused = "refused"


class Language(StrEnum):
    """A language labels and files are given in: simplified Chinese (the default) or English."""

    zh_cn = "zh-CN"
    en = "en"


class RequirementStatus(StrEnum):
    """Status of a requirement block (docs/rules.md rules 4–6)."""

    met = "met"
    in_grace = "in_grace"
    not_met = "not_met"
    not_applicable = "not_applicable"


class Requirement(StrEnum):
    """A requirement the training condition of an `excellent` assessment holds to (docs/rules.md
    rule 9): the five-year one (rule 4) and the annual one (rule 5); the online one is not."""

    five_year = "five_year"
    annual = "annual"


class RankGroup(StrEnum):
    """The rank group of a cadre under a policy: `leading` when the rank is one of the policy's
    `leading_ranks` (docs/rules.md, "Rank groups"), `other` otherwise."""

    leading = "leading"
    other = "other"


class PlanStatus(StrEnum):
    """A year's training plan (年度培训计划): drafted, submitted to the unit above, approved or
    returned with a reason (docs/rules.md, "Training plans")."""

    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    returned = "returned"


class CertificateStatus(StrEnum):
    """A certificate is valid until its study log is voided (docs/certificates.md)."""

    valid = "valid"
    revoked = "revoked"


class QualificationStatus(StrEnum):
    """A cadre's qualification (持证上岗) on a given day (docs/rules.md, rule 13)."""

    valid = "valid"
    expiring = "expiring"
    expired = "expired"
    revoked = "revoked"


class TeacherKind(StrEnum):
    """A catalogue teacher (师资库) is the organisation's own (internal) or invited (external)."""

    internal = "internal"
    external = "external"


class ThesisKind(StrEnum):
    """A trainee's writing (docs/rules.md, "Theses and reflections"): a study (调研文章) or a
    reflection (学习心得)."""

    thesis = "thesis"
    reflection = "reflection"


class ThesisGrade(StrEnum):
    """The organiser's grade of a thesis: 优秀, 合格 or 不合格."""

    excellent = "excellent"
    pass_ = "pass"  # noqa: S105 (a grade, not a password)
    fail = "fail"


class EvaluationSubject(StrEnum):
    """What an evaluation indicator, answer or comment rates (docs/evaluation.md)."""

    session = "session"
    course = "course"
    teacher = "teacher"


class EvaluationStatus(StrEnum):
    """A session's evaluation on a day (docs/rules.md, rule 14): attached but not open yet,
    open for answers, or closed."""

    scheduled = "scheduled"
    open = "open"
    closed = "closed"


class EvaluationGroupBy(StrEnum):
    """How the evaluation report groups answers (docs/rules.md, rule 14)."""

    session = "session"
    course = "course"
    teacher = "teacher"
    provider = "provider"
    year = "year"


class EvaluationWithheld(StrEnum):
    """Why an evaluation report shows no figures (or comments) for a group (docs/rules.md,
    rule 14): the evaluation is not closed yet, or fewer answers than the minimum."""

    not_closed = "not_closed"
    too_few_answers = "too_few_answers"


class PromotionOutcome(StrEnum):
    """The answer of the promotion check (docs/rules.md rule 15)."""

    meets = "meets"
    needs_catch_up = "needs_catch_up"
    not_met = "not_met"
    not_applicable = "not_applicable"


class PromotionMove(StrEnum):
    """What a move from a cadre's post to a target post is, by rule 4's definition of a
    promotion into a leading post (docs/rules.md rules 4 and 15). Only `higher_rank` and
    `leading_post_same_rank` are promotions into a leading post."""

    higher_rank = "higher_rank"
    leading_post_same_rank = "leading_post_same_rank"
    post_type_classified = "post_type_classified"
    same_post = "same_post"
    lower_rank = "lower_rank"
    grade_only = "grade_only"
    below_leading_ranks = "below_leading_ranks"


PROMOTION_MOVES = frozenset({PromotionMove.higher_rank, PromotionMove.leading_post_same_rank})
"""The moves that are promotions into a leading post (提拔担任领导职务, N2, rule 4)."""


class NotificationKind(StrEnum):
    """What a notification to a cadre is about (docs/notifications.md): written with its cause
    (an enrollment's or a session's change, an evaluation opened early) or by the reminder job
    (`python -m app.cli remind`)."""

    nominated = "nominated"
    waitlisted = "waitlisted"
    promoted_from_waitlist = "promoted_from_waitlist"
    session_changed = "session_changed"
    session_cancelled = "session_cancelled"
    session_starting = "session_starting"
    evaluation_opened = "evaluation_opened"
    requirement_at_risk = "requirement_at_risk"
    qualification_expiring = "qualification_expiring"


class ScorecardIndicator(StrEnum):
    """The indicators of the unit scorecard (目标责任制, docs/rules.md, "Unit scorecard")."""

    roll_call = "roll_call"
    five_year = "five_year"
    annual = "annual"
    online = "online"
    evaluation = "evaluation"
    plan = "plan"


class WeightsSource(StrEnum):
    """Where a scorecard's weights come from: the unit's target for the year, or equal weights
    when it has none."""

    unit_target = "unit_target"
    equal = "equal"


class ComplianceInclude(StrEnum):
    """What the compliance read adds to its figures on request (`?include=`)."""

    derivation = "derivation"
