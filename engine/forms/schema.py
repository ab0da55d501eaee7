"""Reading form-js (bpmn.io) schemas: which components carry data, and checking a schema is usable.

The post holder's browser shows a form with the form-js viewer, which evaluates FEEL expressions; the server
validates every submission again (:mod:`engine.forms.validation`) and evaluates none. So a schema is refused at
deploy (:func:`schema_problems`, naming the field) when it asks the viewer for a check the server cannot make:

* FEEL expressions (``=…``) in ``validate`` (``required``, ``min``, ``max``, ``minLength``, ``maxLength``,
  ``pattern``), and limits that are not numbers;
* a ``validate.validationType`` other than :data:`VALIDATION_TYPES` (the types the server checks);
* options from the data or an expression (``valuesKey``, ``valuesExpression``) instead of a ``values`` list: the
  server could not tell a chosen value from any other;
* a group with a ``path`` (its fields would be saved under the path, which the server neither reads nor checks)
  and a dynamic list that is not repeating (``isRepeating: false`` makes form-js save one object, not a list).

Conditions (``conditional.hide``) stay allowed. The server does not evaluate them; instead a field shown under a
condition, or inside a group shown under one, is never required on the server (:attr:`Field.required`): the
viewer leaves a hidden field out of what it submits and the server stores ``None`` (``[]``, ``False``) for it.
Its other rules (type, options, lengths, pattern, range) still hold whenever it has a value.
"""

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
OPTION_TYPES = {"select", "radio", "checklist", "taglist"}
# the values of ``validate.validationType`` engine/forms/validation.py checks ("" is form-js's "custom": none)
VALIDATION_TYPES = ("email", "phone")
NUMBER_RULES = ("min", "max")
LENGTH_RULES = ("minLength", "maxLength")


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    label: str
    component: dict[str, Any]
    conditional: bool = False  # inside a group shown under a condition

    @property
    def validate(self) -> dict[str, Any]:
        return self.component.get("validate") or {}

    @property
    def required(self) -> bool:
        # a field shown only under a condition (its own or its group's) cannot be required unconditionally
        return bool(self.validate.get("required")) and not (self.conditional or self.component.get("conditional"))

    @property
    def options(self) -> list[Any] | None:
        values = self.component.get("values")
        return [v.get("value") for v in values] if isinstance(values, list) else None


def fields(components: list[dict[str, Any]], conditional: bool = False) -> Iterator[Field]:
    """The value-carrying fields of a component list; groups without a path are flattened (a field of a group
    shown under a condition is conditional itself)."""
    for component in components:
        kind = component.get("type", "")
        if kind == "group" and not component.get("path"):
            yield from fields(component.get("components") or [], conditional or bool(component.get("conditional")))
            continue
        key = component.get("key") or component.get("path")
        if kind in VALUE_TYPES and key:
            yield Field(str(key), kind, str(component.get("label") or key), component, conditional)


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
                problems.extend(f"{where}field '{key}': {p}" for p in _unverifiable(component))
            if kind == "group" and component.get("path"):
                problems.append(f"{where}group '{component.get('label') or component.get('id') or ''}' has a path "
                                f"({component['path']!r}): the server does not read fields saved under a group's "
                                "path; remove the path")
            if kind == "dynamiclist" and component.get("isRepeating") is False:
                problems.append(f"{where}field '{key}': a dynamic list must repeat (isRepeating: true); the "
                                "server reads a list of rows")
            if kind == "dynamiclist":
                walk(component.get("components") or [], f"{where}{key}.", set())
            elif kind == "group":
                walk(component.get("components") or [], where, seen)

    walk(schema["components"], "", set())
    return problems


def _feel(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip().startswith("=")


def _unverifiable(component: dict[str, Any]) -> list[str]:
    """What in a field's ``validate`` and options the server could not check (the viewer would)."""
    problems = []
    rules = component.get("validate")
    if rules is not None and not isinstance(rules, dict):
        return ["'validate' must be an object"]
    rules = rules or {}
    for name in ("required", *NUMBER_RULES, *LENGTH_RULES, "pattern"):
        if _feel(rules.get(name)):
            problems.append(f"validate.{name} is an expression ({rules[name]!r}); the server cannot evaluate "
                            "expressions, use a fixed value")
    required = rules.get("required")
    if required is not None and not _feel(required) and not isinstance(required, bool):
        problems.append(f"validate.required must be true or false, not {required!r}")
    for name in NUMBER_RULES:
        value = rules.get(name)
        if value is not None and not _feel(value) and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append(f"validate.{name} must be a number, not {value!r}")
    for name in LENGTH_RULES:
        value = rules.get(name)
        if value is not None and not _feel(value) and (isinstance(value, bool) or not isinstance(value, int)
                                                       or value < 0):
            problems.append(f"validate.{name} must be a whole number of characters, not {value!r}")
    pattern = rules.get("pattern")
    if pattern and not _feel(pattern):
        if not isinstance(pattern, str):
            problems.append(f"pattern {pattern!r} must be text")
        else:
            try:
                re_compile(pattern)
            except ValueError as err:
                problems.append(f"pattern {pattern!r} is not a regular expression: {err}")
    kind = rules.get("validationType")
    if kind not in (None, "", *VALIDATION_TYPES):
        problems.append(f"validate.validationType {kind!r} cannot be checked by the server (it checks "
                        + ", ".join(VALIDATION_TYPES) + ")")
    if component.get("type") in OPTION_TYPES:
        values = component.get("values")
        if values is None:
            for source in ("valuesKey", "valuesExpression"):
                if component.get(source) not in (None, ""):
                    problems.append(f"options come from {source} ({component[source]!r}), which the server cannot "
                                    "check a choice against; list the options under 'values'")
        elif not isinstance(values, list) or not all(isinstance(v, dict) and "value" in v for v in values):
            problems.append("'values' must be a list of options, each with a 'value'")
    return problems


def re_compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ValueError(str(err)) from None
