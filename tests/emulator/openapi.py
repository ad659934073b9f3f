"""Checking JSON against LINE's official OpenAPI files (../shared/line-openapi).

The files are read at test time and never copied into the repository. OpenAPI
3.0 schemas become JSON Schema (draft 2020-12) with two translations:
``nullable: true`` and ``discriminator`` (dispatch on ``type`` to the mapped
schema, whose ``allOf`` refers back to the base without the dispatch so that
validation does not loop).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("KAIRAN_LINE_OPENAPI", ROOT.parent / "shared" / "line-openapi"))
BASE_SUFFIX = "__base"


def require_specs() -> Path:
    if not (SPEC_DIR / "messaging-api.yml").exists():
        pytest.skip(
            f"LINE's OpenAPI files are not at {SPEC_DIR} (set KAIRAN_LINE_OPENAPI); conformance not checked"
        )
    return SPEC_DIR


def _convert(node: Any, discriminated: set[str]) -> Any:
    if isinstance(node, list):
        return [_convert(item, discriminated) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _convert(value, discriminated) for key, value in node.items() if key != "discriminator"}
    if "allOf" in result:
        # A subtype's reference to its discriminated base points at the base without dispatch.
        result["allOf"] = [
            {"$ref": part["$ref"] + BASE_SUFFIX}
            if isinstance(part, dict) and part.get("$ref", "").split("/")[-1] in discriminated
            else part
            for part in result["allOf"]
        ]
    if result.pop("nullable", False):
        result = {"anyOf": [result, {"type": "null"}]}
    return result


def _dispatch(schema: dict[str, Any]) -> list[dict[str, Any]]:
    discriminator = schema["discriminator"]
    prop = discriminator["propertyName"]
    return [
        {"if": {"properties": {prop: {"const": value}}, "required": [prop]}, "then": {"$ref": target}}
        for value, target in discriminator.get("mapping", {}).items()
    ]


@cache
def load(name: str) -> dict[str, Any]:
    """One OpenAPI file with its component schemas converted to JSON Schema."""
    document: dict[str, Any] = yaml.safe_load((require_specs() / name).read_text(encoding="utf-8"))
    schemas = document.get("components", {}).get("schemas", {})
    discriminated = {
        key for key, value in schemas.items() if isinstance(value, dict) and "discriminator" in value
    }
    converted: dict[str, Any] = {}
    for key, value in schemas.items():
        plain = _convert(value, discriminated)
        if key in discriminated:
            converted[key + BASE_SUFFIX] = plain
            converted[key] = {
                "allOf": [{"$ref": f"#/components/schemas/{key}{BASE_SUFFIX}"}, *_dispatch(value)]
            }
        else:
            converted[key] = plain
    document["components"] = {**document.get("components", {}), "schemas": converted}
    document["paths"] = _convert(document.get("paths", {}), discriminated)
    return document


def validator(name: str, schema: dict[str, Any]) -> Draft202012Validator:
    document = load(name)
    root = {**schema, "components": document["components"]}
    return Draft202012Validator(root)


def schema_errors(name: str, schema_name: str, instance: Any) -> list[str]:
    """Messages for every way ``instance`` breaks ``components.schemas[schema_name]``."""
    v = validator(name, {"$ref": f"#/components/schemas/{schema_name}"})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)]


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


def operation(name: str, method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The (template, operation) of ``method path`` in one OpenAPI file."""
    paths = load(name)["paths"]
    # A literal path (/v2/bot/richmenu/list) wins over a template (/v2/bot/richmenu/{richMenuId}).
    for template in sorted(paths, key=lambda t: t.count("{")):
        item = paths[template]
        if _template_regex(template).match(path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in {name}")


def response_errors(name: str, method: str, path: str, status: int, body: Any) -> list[str]:
    """Where a response body breaks the schema LINE documents for that status."""
    template, op = operation(name, method, path)
    responses = op.get("responses", {})
    documented = (
        responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    )
    if documented is None:
        if status >= 400 and "ErrorResponse" in load(name)["components"]["schemas"]:
            # Many operations list only 200; every error of the Messaging API has LINE's common body.
            return schema_errors(name, "ErrorResponse", body)
        return [f"{method} {template} documents no {status} response (documented: {', '.join(responses)})"]
    content = documented.get("content", {})
    schema = next((c.get("schema") for t, c in content.items() if "json" in t), None)
    if schema is None:  # documented without a body (e.g. 202 Accepted): anything empty is fine
        return [] if body in (None, b"", "", {}) else [f"{method} {template} {status} documents no body"]
    v = validator(name, schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(body)]
