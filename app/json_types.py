"""`JsonValue`: any JSON value, as the engine builds one (an assessment's training snapshot) and
as the contract names one (a column's value in a change, app.change_feed.schemas).

A leaf module. Recursive, so a client's type is a JSON value, never `unknown`, except for an
array inside an array (no column holds one): TypeScript's generated types cannot recurse through
an array (TS2502), and the contract must compile under `tsc --strict`
(tests/test_typescript_client.py).
"""

from typing import Any

from typing_extensions import TypeAliasType

__all__ = ["JsonArray", "JsonObject", "JsonValue"]

JsonObject = TypeAliasType("JsonObject", "dict[str, JsonValue]")
JsonArray = TypeAliasType(
    "JsonArray", "list[str | int | float | bool | JsonObject | list[Any] | None]"
)
JsonValue = TypeAliasType("JsonValue", "str | int | float | bool | JsonArray | JsonObject | None")
