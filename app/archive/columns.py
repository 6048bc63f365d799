"""The columns of the archive files in the reader's language: a header per column (zh-CN, en) and
enum values as the labels of app.labels. zh-CN is the default; `?lang=en` gives English, whose
headers are the column names the files had before they spoke Chinese."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.labels import LABELS, Language

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


def _label(enum: type[StrEnum], value: object, lang: Language) -> object:
    try:
        member = enum(str(value))
    except ValueError:
        return value  # a value without a label (a snapshot of an older revision) stays as it is
    pair = LABELS[enum].get(member)
    if pair is None:
        return value
    return pair[0] if lang is Language.zh_cn else pair[1]


def localise(columns: Sequence[Column], row: Sequence[Any], lang: Language) -> list[Any]:
    """The row as a person reads it: enum values as labels, yes/no for booleans."""
    out: list[Any] = []
    for column, value in zip(columns, row, strict=True):
        if value is None:
            out.append(None)
        elif isinstance(value, bool):
            out.append(_YES_NO[lang][0 if value else 1])
        elif column.enum is not None:
            out.append(_label(column.enum, value, lang))
        else:
            out.append(value)
    return out
