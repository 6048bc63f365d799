"""The words people read for every enum value the API exposes, in zh-CN and en.

Data, kept next to the enums: one entry per enum class, one `(zh-CN, en)` pair per value. They are
published in the contract (`x-enum-labels` on each enum schema, app.openapi) and at
`GET /api/v1/meta/labels` (app.meta), so that web and mobile clients show the same words. The
Chinese terms are the ones an organisation department uses (docs/rules.md, "Terms": ranks,
post types, study-log kinds, requirement statuses). tests/test_labels.py fails when a value of
an enum in the contract has no label.
"""

from collections.abc import Mapping
from enum import StrEnum

from app.archive.formats import ExportFormat, UnitExportFormat
from app.credit_policy.engine.common import Requirement, RequirementStatus
from app.credit_policy.policy import CreditMode
from app.enums import (
    AssessmentRating,
    AuditAction,
    CadreStatus,
    EnrollmentOrigin,
    EnrollmentStatus,
    FeedEntity,
    Gender,
    Language,
    OrgUnitKind,
    PostType,
    Rank,
    Role,
    SessionStatus,
    StudyLogKind,
    StudyLogSource,
    StudyLogStatus,
    TrainingForm,
)

# Re-exported: the language of labels is also the one of archives (app.archive.columns).
from app.export.models import ExportStatus
from app.sign_in_sheet.schemas import SheetFormat
from app.sync.schemas import SyncMode, SyncOutcome
from app.user.schemas import GrantType

# enum class → value → (zh-CN, en)
# `Language` is app.enums', re-exported: the language of labels is the one of archives too.
__all__ = ["LABELS", "LabelTable", "Language", "label_table", "schema_labels"]

LABELS: Mapping[type[StrEnum], Mapping[StrEnum, tuple[str, str]]] = {
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
    },
    EnrollmentStatus: {
        EnrollmentStatus.enrolled: ("已报名", "Enrolled"),
        EnrollmentStatus.confirmed: ("已确认", "Confirmed"),
        EnrollmentStatus.withdrawn: ("已退出", "Withdrawn"),
        EnrollmentStatus.completed: ("已结业", "Completed"),
        EnrollmentStatus.dropped_out: ("退学", "Dropped out"),
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
    },
    CreditMode: {
        CreditMode.per_hour: ("按学时计", "Per hour"),
        CreditMode.per_item: ("按篇次计", "Per item"),
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
    ExportFormat: {
        ExportFormat.json: ("JSON", "JSON"),
        ExportFormat.csv: ("CSV", "CSV"),
        ExportFormat.xlsx: ("Excel 工作簿", "Excel workbook"),
    },
    UnitExportFormat: {
        UnitExportFormat.csv: ("CSV", "CSV"),
        UnitExportFormat.xlsx: ("Excel 工作簿", "Excel workbook"),
    },
    ExportStatus: {
        ExportStatus.queued: ("排队中", "Queued"),
        ExportStatus.running: ("生成中", "Running"),
        ExportStatus.succeeded: ("已完成", "Succeeded"),
        ExportStatus.failed: ("失败", "Failed"),
        ExportStatus.expired: ("已过期", "Expired"),
    },
    GrantType: {
        GrantType.password: ("密码登录", "Password"),
        GrantType.client_credentials: ("客户端凭证", "Client credentials"),
        GrantType.refresh_token: ("刷新令牌", "Refresh token"),
    },
    SyncMode: {
        SyncMode.upsert: ("增量同步", "Upsert"),
        SyncMode.snapshot: ("全量同步", "Snapshot"),
    },
    SyncOutcome: {
        SyncOutcome.created: ("新增", "Created"),
        SyncOutcome.updated: ("已更新", "Updated"),
        SyncOutcome.unchanged: ("无变化", "Unchanged"),
        SyncOutcome.deactivated: ("已停用", "Deactivated"),
        SyncOutcome.rejected: ("已拒绝", "Rejected"),
    },
    SheetFormat: {
        SheetFormat.pdf: ("PDF（可打印）", "PDF (printable)"),
        SheetFormat.xlsx: ("Excel 工作簿", "Excel workbook"),
    },
}

# schema name (the enum's class name) → value → language → label
LabelTable = dict[str, dict[str, dict[str, str]]]


def label_table(language: Language | None = None) -> LabelTable:
    """Every enum by its schema name → value → {language: label}; one language when given."""
    languages = [language] if language is not None else list(Language)
    return {
        cls.__name__: {
            str(value): {lang.value: pair[0 if lang == Language.zh_cn else 1] for lang in languages}
            for value, pair in values.items()
        }
        for cls, values in LABELS.items()
    }


def schema_labels(name: str) -> dict[str, dict[str, str]] | None:
    """The `x-enum-labels` of an enum schema: language → value → label; None if not labelled."""
    table = label_table().get(name)
    if table is None:
        return None
    return {
        lang.value: {value: labels[lang.value] for value, labels in table.items()}
        for lang in Language
    }
