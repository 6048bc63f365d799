"""Request fields with a default are optional, and a generated client must say so.

openapi-typescript 7 (and other generators) read a property's `default` as "always present"
(its `defaultNonNullable`, on by default): true of an answer, where the server fills it in, but
not of a request body, where leaving the field out is the very point of a default. So in the
schemas that only request bodies use, the default moves from `default` into words: "Default:
`active`." at the end of the property's description, unless the description already says
its default in words ("approved (default) or pending") or the default is `null` (an optional
field's absence says as much). Answers keep their schemas as they are;
a schema used by both a request and an answer (today only enums, which carry no default) is
left alone. tests/test_typescript_client.py holds the generated types to this.
"""

import json
import re
from typing import Any

_SCHEMA_REF = "#/components/schemas/"
# A description that already says the default ("Default: this year", "zh-CN (default) or en").
_STATES_DEFAULT = re.compile(r"\bdefault\b|默认", re.IGNORECASE)


def _reached(node: Any, schemas: dict[str, Any], found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
            name = ref.removeprefix(_SCHEMA_REF)
            if name not in found and name in schemas:
                found.add(name)
                _reached(schemas[name], schemas, found)
        for value in node.values():
            _reached(value, schemas, found)
    elif isinstance(node, list):
        for value in node:
            _reached(value, schemas, found)


def request_only_schemas(doc: dict[str, Any]) -> set[str]:
    """The component schemas reached from request bodies and never from an answer or a
    parameter."""
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    requests: set[str] = set()
    others: set[str] = set()
    for item in doc.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            _reached(op.get("requestBody", {}), schemas, requests)
            _reached(op.get("responses", {}), schemas, others)
            _reached(op.get("parameters", []), schemas, others)
    return requests - others


def describe_request_defaults(doc: dict[str, Any]) -> None:
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    for name in sorted(request_only_schemas(doc)):
        for prop in schemas[name].get("properties", {}).values():
            if "default" not in prop:
                continue
            default = prop.pop("default")
            text = prop.get("description", "").rstrip()
            if default is None or _STATES_DEFAULT.search(text):
                continue
            words = f"Default: `{json.dumps(default, ensure_ascii=False)}`."
            if text and not text.endswith((".", "。")):
                text += "."
            prop["description"] = f"{text} {words}" if text else words
