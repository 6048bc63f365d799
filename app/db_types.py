"""Column types shared by the ORM models."""

from enum import StrEnum

from sqlalchemy import Enum


def enum_column(enum: type[StrEnum]) -> Enum:
    """A VARCHAR with a CHECK constraint: adding a value later is a plain migration, unlike a
    native enum."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        name=enum.__name__.lower(),
        validate_strings=True,
    )
