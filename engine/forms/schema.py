"""Reading form-js (bpmn.io) schemas: which components carry data, and checking a schema is usable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# components that hold a value, and the Python shape of that value
VALUE_TYPES = {
    "textfield": "string", "textarea": "string", "select": "option", "radio": "option", "checkbox": "boolean",
    "checklist": "options", "taglist": "options", "number": "number", "datetime": "datetime",
    "filepicker": "files", "dynamiclist": "list",
}
CONTAINERS = {"group", "dynamiclist"}
STATIC = {"text", "html", "spacer", "separator", "image", "button", "iframe", "table", "expression",
          "documentPreview"}


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    label: str
    component: dict[str, Any]

    @property
    def validate(self) -> dict[str, Any]:
        return self.component.get("validate") or {}

    @property
    def required(self) -> bool:
        # a field shown only under a condition cannot be required unconditionally
        return bool(self.validate.get("required")) and not self.component.get("conditional")

    @property
    def options(self) -> list[Any] | None:
        values = self.component.get("values")
        return [v.get("value") for v in values] if isinstance(values, list) else None


def fields(components: list[dict[str, Any]]) -> Iterator[Field]:
    """The value-carrying fields of a component list; groups without a path are flattened."""
    for component in components:
        kind = component.get("type", "")
        if kind == "group" and not component.get("path"):
            yield from fields(component.get("components") or [])
            continue
        key = component.get("key") or component.get("path")
        if kind in VALUE_TYPES and key:
            yield Field(str(key), kind, str(component.get("label") or key), component)


def schema_problems(schema: Any) -> list[str]:
    """Why a form schema cannot be used (empty when it can)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("components"), list):
        return ["a form-js schema is a JSON object with a 'components' list"]
    problems = []

    def walk(components: list[dict[str, Any]], where: str, seen: set[str]) -> None:
        """``seen``: keys of the level being read (a list's fields are a level of their own; a group's are not)."""
        for component in components:
            kind = component.get("type")
            if kind not in VALUE_TYPES and kind not in CONTAINERS and kind not in STATIC:
                problems.append(f"{where}component type '{kind}' is not supported")
                continue
            key = component.get("key") or component.get("path")
            if kind in VALUE_TYPES:
                if not key or not str(key).isidentifier() or str(key).startswith("_"):
                    problems.append(f"{where}field key {key!r} must be a name (letters, digits, '_', not starting "
                                    "with '_')")
                elif key in seen:
                    problems.append(f"{where}field key '{key}' appears twice")
                seen.add(str(key))
            pattern = (component.get("validate") or {}).get("pattern")
            if pattern:
                try:
                    re_compile(pattern)
                except ValueError as err:
                    problems.append(f"{where}field '{key}': pattern {pattern!r} is not a regular expression: {err}")
            if kind == "dynamiclist":
                walk(component.get("components") or [], f"{where}{key}.", set())
            elif kind == "group":
                walk(component.get("components") or [], where, seen)

    walk(schema["components"], "", set())
    return problems


def re_compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ValueError(str(err)) from None
