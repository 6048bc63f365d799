"""The zh-CN and en labels of the enums in app.enums, and `label()`, which names a value in the
request's language.

A leaf module (it imports only app.enums and app.i18n), so that the engine's derivation texts can
name a rank, a study-log kind or a requirement in Chinese without importing the domains that
app.labels gathers the other enums from. app.labels publishes these tables with the rest
(`x-enum-labels`, `GET /api/v1/meta/labels`). The Chinese terms are the ones an organisation
department uses (docs/rules.md, "Conventions").
"""

from collections.abc import Mapping
from enum import StrEnum

from app.enums import (
    AssessmentRating,
    AttendanceMark,
    AttendanceMethod,
    AuditAction,
    CadreStatus,
    CertificateStatus,
    ComplianceInclude,
    DayPeriod,
    EnrollmentOrigin,
    EnrollmentStatus,
    EvaluationGroupBy,
    EvaluationStatus,
    EvaluationSubject,
    EvaluationWithheld,
    FeedEntity,
    Gender,
    Language,
    LeaveRequestStatus,
    NominationOutcome,
    NominationReviewAction,
    NotificationKind,
    OrgUnitKind,
    PlanStatus,
    PostType,
    PromotionMove,
    PromotionOutcome,
    QualificationStatus,
    Rank,
    RankGroup,
    Requirement,
    RequirementStatus,
    Role,
    ScorecardIndicator,
    SessionStatus,
    StudyLogKind,
    StudyLogSource,
    StudyLogStatus,
    TeacherKind,
    ThesisGrade,
    ThesisKind,
    TrainingForm,
    WeightsSource,
)
from app.i18n import current_language

__all__ = ["ENUM_LABELS", "label", "term"]

# enum class → value → (zh-CN, en)
ENUM_LABELS: Mapping[type[StrEnum], Mapping[StrEnum, tuple[str, str]]] = {
    Language: {
        Language.zh_cn: ("简体中文", "Simplified Chinese"),
        Language.en: ("英文", "English"),
    },
    OrgUnitKind: {
        OrgUnitKind.city: ("市", "City"),
        OrgUnitKind.county: ("县", "County"),
        OrgUnitKind.district: ("区", "District"),
        OrgUnitKind.department: ("部门", "Department"),
        OrgUnitKind.township: ("乡镇", "Township"),
        OrgUnitKind.other: ("其他", "Other"),
    },
    # 职务层次 (docs/rules.md, "Rank groups")
    Rank: {
        Rank.provincial_ministerial: ("省部级", "Provincial or ministerial level"),
        Rank.department_bureau: ("厅局级", "Department or bureau level"),
        Rank.county_division: ("县处级", "County or division level"),
        Rank.township_section: ("乡科级", "Township or section level"),
        Rank.section_member: ("科员及以下", "Section member and below"),
    },
    PostType: {
        PostType.leading: ("领导职务", "Leading post"),
        PostType.non_leading: ("职级", "Grade (non-leading)"),
    },
    Gender: {
        Gender.male: ("男", "Male"),
        Gender.female: ("女", "Female"),
    },
    CadreStatus: {
        CadreStatus.active: ("在册", "Active"),
        CadreStatus.inactive: ("不在册", "Inactive"),
    },
    # 培训形式: the kind of class a training session is
    TrainingForm: {
        TrainingForm.rotation_class: ("轮训班", "Rotation class"),
        TrainingForm.special_class: ("专题培训班", "Thematic class"),
        TrainingForm.refresher: ("进修班", "Refresher class"),
        TrainingForm.seminar: ("研讨班", "Seminar"),
        TrainingForm.lecture: ("专题讲座", "Lecture"),
        TrainingForm.online_class: ("网络培训班", "Online class"),
        TrainingForm.university_course: ("高校培训", "University course"),
        TrainingForm.study_tour: ("外出考察", "Study tour"),
    },
    SessionStatus: {
        SessionStatus.draft: ("草稿", "Draft"),
        SessionStatus.open: ("报名中", "Open for enrollment"),
        SessionStatus.running: ("进行中", "Running"),
        SessionStatus.closed: ("已结业", "Closed"),
        SessionStatus.cancelled: ("已取消", "Cancelled"),
    },
    EnrollmentOrigin: {
        EnrollmentOrigin.roll_call: ("组织调训", "Roll call"),
        EnrollmentOrigin.self: ("个人报名", "Self-enrolled"),
        EnrollmentOrigin.nomination: ("单位推荐", "Nominated by the unit"),
    },
    EnrollmentStatus: {
        EnrollmentStatus.enrolled: ("已报名", "Enrolled"),
        EnrollmentStatus.confirmed: ("已确认", "Confirmed"),
        EnrollmentStatus.withdrawn: ("已退出", "Withdrawn"),
        EnrollmentStatus.completed: ("已结业", "Completed"),
        EnrollmentStatus.dropped_out: ("退学", "Dropped out"),
        EnrollmentStatus.nominated: ("待审核", "Nominated, awaiting review"),
        EnrollmentStatus.rejected: ("审核未通过", "Rejected"),
        EnrollmentStatus.substitute_requested: ("需调换人选", "Substitute requested"),
        EnrollmentStatus.waitlisted: ("候补", "Waitlisted"),
    },
    # 学习形式 (docs/rules.md, "Study-log kinds")
    StudyLogKind: {
        StudyLogKind.centralised_training: ("集中培训", "Centralised training"),
        StudyLogKind.online_course: ("网络培训", "Online course"),
        StudyLogKind.central_group_study: ("中心组学习", "Central group study"),
        StudyLogKind.self_study: ("自学", "Self-study"),
        StudyLogKind.lecture: ("专题讲座", "Lecture"),
        StudyLogKind.seminar: ("研讨交流", "Seminar"),
        StudyLogKind.reading_note: ("读书笔记", "Reading note"),
        StudyLogKind.thesis: ("调研文章/论文", "Research paper or thesis"),
        StudyLogKind.teaching: ("授课", "Teaching"),
        StudyLogKind.secondment: ("挂职锻炼", "Secondment"),
        StudyLogKind.job_rotation: ("交流轮岗", "Job rotation"),
        StudyLogKind.study_tour: ("外出考察", "Study tour"),
    },
    StudyLogStatus: {
        StudyLogStatus.pending: ("待审核", "Pending review"),
        StudyLogStatus.approved: ("已通过", "Approved"),
        StudyLogStatus.rejected: ("已驳回", "Rejected"),
        StudyLogStatus.voided: ("已作废", "Voided"),
    },
    StudyLogSource: {
        StudyLogSource.manual: ("手工录入", "Entered by hand"),
        StudyLogSource.session: ("培训班结业生成", "Issued by a closed session"),
        StudyLogSource.import_: ("批量导入", "Imported"),
    },
    # 考核等次 (年度考核)
    AssessmentRating: {
        AssessmentRating.excellent: ("优秀", "Excellent"),
        AssessmentRating.competent: ("称职", "Competent"),
        AssessmentRating.basically_competent: ("基本称职", "Basically competent"),
        AssessmentRating.incompetent: ("不称职", "Incompetent"),
    },
    Role: {
        Role.admin: ("系统管理员", "Administrator"),
        Role.org_admin: ("单位管理员", "Unit administrator"),
        Role.cadre: ("干部", "Cadre"),
        Role.hr_system: ("人事系统", "HR system"),
        Role.auditor: ("审计员", "Auditor"),
    },
    AuditAction: {
        AuditAction.create: ("新增", "Created"),
        AuditAction.update: ("修改", "Updated"),
        AuditAction.delete: ("删除", "Deleted"),
    },
    FeedEntity: {
        FeedEntity.org_unit: ("组织单位", "Org unit"),
        FeedEntity.cadre: ("干部", "Cadre"),
        FeedEntity.enrollment: ("报名", "Enrollment"),
        FeedEntity.study_log: ("学习记录", "Study log"),
        FeedEntity.assessment: ("年度考核", "Assessment"),
        FeedEntity.training_session: ("培训班", "Training session"),
        FeedEntity.credit_policy: ("学时认定政策", "Credit policy"),
        FeedEntity.training_plan: ("年度培训计划", "Training plan"),
        FeedEntity.training_plan_item: ("计划班次", "Planned class"),
        FeedEntity.attendance: ("考勤", "Attendance"),
        FeedEntity.leave_request: ("请假申请", "Leave request"),
        FeedEntity.certificate: ("结业证书", "Certificate"),
        FeedEntity.qualification_type: ("资格类型", "Qualification type"),
        FeedEntity.cadre_qualification: ("干部资格", "Cadre qualification"),
        FeedEntity.course: ("课程", "Course"),
        FeedEntity.teacher: ("师资", "Teacher"),
        FeedEntity.evaluation_form: ("评估表", "Evaluation form"),
        FeedEntity.evaluation_indicator: ("评估指标", "Evaluation indicator"),
        FeedEntity.session_evaluation: ("培训班评估", "Session evaluation"),
        FeedEntity.evaluation_answered: ("已参评记录", "Evaluation answered"),
        FeedEntity.online_platform: ("网络学院平台", "Online platform"),
        FeedEntity.notification: ("通知", "Notification"),
        FeedEntity.unit_target: ("单位目标", "Unit target"),
    },
    # requirement blocks (docs/rules.md, "Statuses")
    RequirementStatus: {
        RequirementStatus.met: ("已达标", "Met"),
        RequirementStatus.in_grace: ("宽限期内", "In grace"),
        RequirementStatus.not_met: ("未达标", "Not met"),
        RequirementStatus.not_applicable: ("不适用", "Not applicable"),
    },
    Requirement: {
        Requirement.five_year: ("五年脱产培训要求", "Five-year requirement"),
        Requirement.annual: ("年度学习要求", "Annual requirement"),
    },
    # 领导干部 / 其他干部: the policy's `leading_ranks` or not (docs/rules.md, "Rank groups")
    RankGroup: {
        RankGroup.leading: ("领导干部", "Leading ranks"),
        RankGroup.other: ("其他干部", "Other ranks"),
    },
    PlanStatus: {
        PlanStatus.draft: ("草稿", "Draft"),
        PlanStatus.submitted: ("已报送", "Submitted"),
        PlanStatus.approved: ("已批准", "Approved"),
        PlanStatus.returned: ("已退回", "Returned"),
    },
    NominationReviewAction: {
        NominationReviewAction.approve: ("审核通过", "Approve"),
        NominationReviewAction.reject: ("退回", "Reject"),
        NominationReviewAction.request_substitute: ("要求调换人选", "Ask for a substitute"),
    },
    NominationOutcome: {
        NominationOutcome.created: ("已推荐", "Nominated"),
        NominationOutcome.waitlisted: ("已列入候补", "Waitlisted"),
        NominationOutcome.refused: ("未受理", "Refused"),
    },
    # sign-in by class part (docs/rules.md, rule 12)
    DayPeriod: {
        DayPeriod.morning: ("上午", "Morning"),
        DayPeriod.afternoon: ("下午", "Afternoon"),
        DayPeriod.evening: ("晚上", "Evening"),
    },
    AttendanceMark: {
        AttendanceMark.present: ("出勤", "Present"),
        AttendanceMark.late: ("迟到", "Late"),
        AttendanceMark.left_early: ("早退", "Left early"),
        AttendanceMark.absent: ("缺勤", "Absent"),
        AttendanceMark.on_leave: ("请假", "On leave"),
    },
    AttendanceMethod: {
        AttendanceMethod.qr: ("扫码签到", "QR code"),
        AttendanceMethod.manual: ("手工签到", "Manual"),
        AttendanceMethod.import_: ("导入", "Import"),
        AttendanceMethod.card: ("刷卡签到", "Card"),
    },
    LeaveRequestStatus: {
        LeaveRequestStatus.pending: ("待审批", "Pending"),
        LeaveRequestStatus.approved: ("已批准", "Approved"),
        LeaveRequestStatus.refused: ("未批准", "Refused"),
    },
    CertificateStatus: {
        CertificateStatus.valid: ("有效", "Valid"),
        CertificateStatus.revoked: ("已撤销", "Revoked"),
    },
    QualificationStatus: {
        QualificationStatus.valid: ("有效", "Valid"),
        QualificationStatus.expiring: ("即将到期", "Expiring"),
        QualificationStatus.expired: ("已过期", "Expired"),
        QualificationStatus.revoked: ("已撤销", "Revoked"),
    },
    TeacherKind: {
        TeacherKind.internal: ("内部师资", "Internal"),
        TeacherKind.external: ("外聘师资", "External"),
    },
    ThesisKind: {
        ThesisKind.thesis: ("调研文章", "Thesis"),
        ThesisKind.reflection: ("学习心得", "Reflection"),
    },
    ThesisGrade: {
        ThesisGrade.excellent: ("优秀", "Excellent"),
        ThesisGrade.pass_: ("合格", "Pass"),
        ThesisGrade.fail: ("不合格", "Fail"),
    },
    # anonymous evaluation (docs/evaluation.md)
    EvaluationSubject: {
        EvaluationSubject.session: ("培训班", "Session"),
        EvaluationSubject.course: ("课程", "Course"),
        EvaluationSubject.teacher: ("授课教师", "Teacher"),
    },
    EvaluationStatus: {
        EvaluationStatus.scheduled: ("未开始", "Scheduled"),
        EvaluationStatus.open: ("评估中", "Open"),
        EvaluationStatus.closed: ("已结束", "Closed"),
    },
    EvaluationGroupBy: {
        EvaluationGroupBy.session: ("按班次", "By session"),
        EvaluationGroupBy.course: ("按课程", "By course"),
        EvaluationGroupBy.teacher: ("按教师", "By teacher"),
        EvaluationGroupBy.provider: ("按承办机构", "By provider"),
        EvaluationGroupBy.year: ("按年度", "By year"),
    },
    EvaluationWithheld: {
        EvaluationWithheld.not_closed: ("评估尚未结束", "Evaluation not closed yet"),
        EvaluationWithheld.too_few_answers: ("参评人数不足", "Too few answers"),
    },
    # the promotion check (docs/rules.md rule 15)
    PromotionOutcome: {
        PromotionOutcome.meets: ("符合培训要求", "Meets"),
        PromotionOutcome.needs_catch_up: ("提任后补训", "Needs catch-up"),
        PromotionOutcome.not_met: ("未达培训要求", "Not met"),
        PromotionOutcome.not_applicable: ("不适用", "Not applicable"),
    },
    PromotionMove: {
        PromotionMove.higher_rank: ("提拔至更高层次领导职务", "Higher rank, leading post"),
        PromotionMove.leading_post_same_rank: (
            "同层次职级转任领导职务",
            "Leading post at the same rank",
        ),
        PromotionMove.post_type_classified: ("职务类别补录", "Post type classified"),
        PromotionMove.same_post: ("同职务", "Same post"),
        PromotionMove.lower_rank: ("较低层次", "Lower rank"),
        PromotionMove.grade_only: ("职级晋升或转任职级", "Grade only"),
        PromotionMove.below_leading_ranks: ("非县处级以上", "Below the leading ranks"),
    },
    # notifications to cadres (docs/notifications.md)
    NotificationKind: {
        NotificationKind.nominated: ("已被推荐参训", "Nominated"),
        NotificationKind.waitlisted: ("已列入候补", "Waitlisted"),
        NotificationKind.promoted_from_waitlist: ("候补转正", "Promoted from the waitlist"),
        NotificationKind.session_changed: ("培训班有变更", "Session changed"),
        NotificationKind.session_cancelled: ("培训班已取消", "Session cancelled"),
        NotificationKind.session_starting: ("培训班即将开班", "Session starting soon"),
        NotificationKind.evaluation_opened: ("培训评估已开放", "Evaluation open"),
        NotificationKind.requirement_at_risk: ("学时要求存在风险", "Requirement at risk"),
        NotificationKind.qualification_expiring: ("资格即将到期", "Qualification expiring"),
    },
    # the unit scorecard (目标责任制, docs/rules.md)
    ScorecardIndicator: {
        ScorecardIndicator.roll_call: ("点名调学完成率", "Roll-call fulfilment"),
        ScorecardIndicator.five_year: ("五年达标率", "Five-year compliance"),
        ScorecardIndicator.annual: ("年度达标率", "Annual compliance"),
        ScorecardIndicator.online: ("网络学习达标率", "Online compliance"),
        ScorecardIndicator.evaluation: ("评估参与率", "Evaluation participation"),
        ScorecardIndicator.plan: ("计划完成率", "Plan fulfilment"),
    },
    WeightsSource: {
        WeightsSource.unit_target: ("单位目标权重", "The unit's target"),
        WeightsSource.equal: ("等权重", "Equal weights"),
    },
    ComplianceInclude: {
        ComplianceInclude.derivation: ("计算过程", "Derivation"),
    },
}


def label(value: StrEnum, language: str | None = None) -> str:
    """The label of an enum value in `language` (by default the request's)."""
    zh, en = ENUM_LABELS[type(value)][value]
    return zh if (language or current_language.get()) == Language.zh_cn else en


def term(value: StrEnum) -> str:
    """How a derivation text names an enum value: its Chinese label in zh-CN; in en the value
    itself (`section_member`, `centralised_training`), the word the API and docs/rules.md use."""
    if current_language.get() == Language.zh_cn:
        return label(value, Language.zh_cn)
    return str(value)
