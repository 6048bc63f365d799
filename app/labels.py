"""The words people read for every enum value the API exposes, in zh-CN and en.

Data, kept next to the enums: one entry per enum class, one `(zh-CN, en)` pair per value. They are
published in the contract (`x-enum-labels` on each enum schema, app.openapi) and at
`GET /api/v1/meta/labels` (app.meta), so that web and mobile clients show the same words. The
Chinese terms are the ones an organisation department uses (docs/rules.md, "Conventions":
ranks, post types, study-log kinds, requirement statuses). tests/test_labels.py fails when a
value of an enum in the contract has no label.
"""

from collections.abc import Mapping
from enum import StrEnum

from app.archive.formats import ExportFormat, UnitExportFormat
from app.attendance.schemas import MarkOutcome
from app.credit_policy.policy import CreditMode
from app.enum_labels import ENUM_LABELS
from app.enums import Language
from app.export.models import ExportStatus
from app.online.plausibility import PlausibilityRule, SourceKind
from app.sign_in_sheet.schemas import SheetFormat
from app.sync.schemas import SyncMode, SyncOutcome
from app.thesis.schemas import CollectionFormat
from app.user.schemas import GrantType

__all__ = ["LABELS", "LabelTable", "label_table", "schema_labels"]

# enum class → value → (zh-CN, en): the enums of app.enums (app.enum_labels), then the others
LABELS: Mapping[type[StrEnum], Mapping[StrEnum, tuple[str, str]]] = {
    **ENUM_LABELS,
    CreditMode: {
        CreditMode.per_hour: ("按学时计", "Per hour"),
        CreditMode.per_item: ("按篇次计", "Per item"),
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
    MarkOutcome: {
        MarkOutcome.marked: ("已记录", "Marked"),
        MarkOutcome.unchanged: ("未变化", "Unchanged"),
        MarkOutcome.rejected: ("已拒绝", "Rejected"),
    },
    SheetFormat: {
        SheetFormat.pdf: ("PDF（可打印）", "PDF (printable)"),
        SheetFormat.xlsx: ("Excel 工作簿", "Excel workbook"),
    },
    CollectionFormat: {
        CollectionFormat.pdf: ("PDF（可打印）", "PDF (printable)"),
        CollectionFormat.docx: ("Word 文档", "Word document"),
    },
    PlausibilityRule: {
        PlausibilityRule.daily_hours: ("单日学时过长", "Too many hours in a day"),
        PlausibilityRule.centralised_overlap: ("与脱产培训时间重叠", "During a centralised class"),
        PlausibilityRule.night: ("深夜学习", "Study at night"),
        PlausibilityRule.shared_source: ("同一IP或设备多人使用", "Shared IP address or device"),
        PlausibilityRule.too_fast: ("学习时长短于课程时长", "Shorter than the course"),
    },
    SourceKind: {
        SourceKind.ip: ("IP 地址", "IP address"),
        SourceKind.device: ("设备", "Device"),
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
