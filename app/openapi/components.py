"""Component schemas as the contract names them: the form bodies FastAPI names
`Body_<operationId>` get names of their own (`FORM_SCHEMAS`), and a schema's
`{COMPONENT_REF: "Name"}` marker (app.schema_types) becomes a `$ref`."""

from typing import Any

from app.schema_types import COMPONENT_REF

# FastAPI names a form body `Body_<operationId>`: a generated client shows that name.
FORM_SCHEMAS = {"Body_issueToken": "TokenRequest", "Body_revokeToken": "TokenRevocation"}


def rename_schemas(doc: dict[str, Any], names: dict[str, str]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    refs = {
        f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in names.items()
    }

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("$ref") in refs:
                node["$ref"] = refs[node["$ref"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for old, new in names.items():
        if old in schemas:
            schema = schemas.pop(old)
            schema["title"] = new
            schemas[new] = schema
    walk(doc.get("paths", {}))


def resolve_component_refs(node: Any) -> None:
    """`{COMPONENT_REF: "Name"}` (app.schema_types) becomes `{"$ref": ".../Name"}`."""
    if isinstance(node, dict):
        name = node.pop(COMPONENT_REF, None)
        if isinstance(name, str):
            node["$ref"] = f"#/components/schemas/{name}"
        for value in node.values():
            resolve_component_refs(value)
    elif isinstance(node, list):
        for value in node:
            resolve_component_refs(value)
