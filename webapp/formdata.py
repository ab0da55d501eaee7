"""Turning a posted HTML form back into the nested data a form-js schema describes (the engine validates it)."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.forms.schema import VALUE_TYPES

_INDEX = re.compile(r"^\[(\d+)\]\.")


def parse_form(components: list[dict[str, Any]], form: MultiDict[str, str], prefix: str = "") -> dict[str, Any]:
    """Values for every field of ``components`` found in ``form`` (names as the renderer writes them)."""
    data: dict[str, Any] = {}
    for c in components:
        kind = c.get("type")
        if kind == "group" and not c.get("path"):
            data.update(parse_form(c.get("components") or [], form, prefix))
            continue
        key = c.get("key") or c.get("path")
        if not key or kind not in VALUE_TYPES:
            continue
        name = f"{prefix}{key}"
        if kind == "dynamiclist":
            indexes = sorted({int(m.group(1)) for field in form
                              if field.startswith(name) and (m := _INDEX.match(field[len(name):]))})
            data[key] = [parse_form(c.get("components") or [], form, f"{name}[{i}].") for i in indexes]
        elif kind == "checkbox":
            data[key] = name in form
        elif kind in ("checklist", "taglist", "filepicker"):
            data[key] = form.getlist(name)
        elif name in form:
            data[key] = form.get(name, "")
    return data


def file_fields(components: list[dict[str, Any]]) -> list[str]:
    """The keys of the top-level filepicker fields (uploads arrive as ``<key>__upload``)."""
    return [str(c.get("key")) for c in components if c.get("type") == "filepicker" and c.get("key")]
