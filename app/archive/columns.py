"""The columns of the archive files in the reader's language: a header per column (zh-CN, en) and
enum values as the labels of app.labels. zh-CN is the default; `?lang=en` gives English, whose
headers are the column names the files had before they spoke Chinese."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.enums import Language
from app.labels import LABELS

_YES_NO = {Language.zh_cn: ("是", "否"), Language.en: ("yes", "no")}


@dataclass(frozen=True)
class Column:
    """A file's column: its English name, its Chinese header and the enum of its values."""

    name: str
    zh_cn: str
    enum: type[StrEnum] | None = None

    def header(self, lang: Language) -> str:
        return self.zh_cn if lang is Language.zh_cn else self.name


def header(columns: Sequence[Column], lang: Language) -> list[str]:
    return [column.header(lang) for column in columns]


class Labeller:
    """Rows as a person reads them: enum values as their labels, yes/no for booleans. The
    labels of each column are looked up once, not per row (a unit's export has millions)."""

    def __init__(self, columns: Sequence[Column], lang: Language) -> None:
        index = 0 if lang is Language.zh_cn else 1
        self.tables: list[dict[str, str] | None] = [
            {str(member): pair[index] for member, pair in LABELS[c.enum].items()}
            if c.enum is not None
            else None
            for c in columns
        ]
        self.yes, self.no = _YES_NO[lang]

    def __call__(self, row: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for table, value in zip(self.tables, row, strict=True):
            if isinstance(value, bool):
                out.append(self.yes if value else self.no)
            elif table is not None and value is not None:
                # a value without a label (a snapshot of an older revision) stays as it is
                out.append(table.get(value, value))
            else:
                out.append(value)
        return out
