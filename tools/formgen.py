"""Small builders for form-js (bpmn.io) schemas, so the task forms read like the data they collect."""

from __future__ import annotations

import zlib
from typing import Any

REGIONS = [("GZ", "广州"), ("SZ", "深圳"), ("DG", "东莞")]


def form(key: str, *components: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": "https://unpkg.com/@bpmn-io/form-json-schema/resources/schema.json", "schemaVersion": 16,
            "exporter": {"name": "EOMS", "version": "1.0"}, "type": "default", "id": key,
            "components": list(components)}


def _v(required: bool, **rules: Any) -> dict[str, Any]:
    out = {"required": True} if required else {}
    out.update({k: v for k, v in rules.items() if v is not None})
    return out


def text(key: str, label: str, *, required: bool = False, max_length: int | None = 200, pattern: str | None = None,
         kind: str | None = None, description: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": "textfield", "id": f"Field_{key}", "key": key, "label": label,
                         "validate": _v(required, maxLength=max_length, pattern=pattern, validationType=kind)}
    if description:
        c["description"] = description
    return c


def area(key: str, label: str, *, required: bool = False, max_length: int = 2000) -> dict[str, Any]:
    return {"type": "textarea", "id": f"Field_{key}", "key": key, "label": label,
            "validate": _v(required, maxLength=max_length)}


def number(key: str, label: str, *, required: bool = False, minimum: float | None = None,
           maximum: float | None = None, integer: bool = True) -> dict[str, Any]:
    c: dict[str, Any] = {"type": "number", "id": f"Field_{key}", "key": key, "label": label,
                         "validate": _v(required, min=minimum, max=maximum)}
    if integer:
        c["decimalDigits"] = 0
    return c


def choice(key: str, label: str, options: list[tuple[str, str]], *, required: bool = True,
           radio: bool = False) -> dict[str, Any]:
    return {"type": "radio" if radio else "select", "id": f"Field_{key}", "key": key, "label": label,
            "values": [{"value": v, "label": t} for v, t in options], "validate": _v(required)}


def verdict(key: str, label: str, ok: str = "通过", no: str = "驳回") -> dict[str, Any]:
    return choice(key, label, [("pass", ok), ("reject", no)], radio=True)


def checkbox(key: str, label: str, *, required: bool = False) -> dict[str, Any]:
    return {"type": "checkbox", "id": f"Field_{key}", "key": key, "label": label, "validate": _v(required)}


def checklist(key: str, label: str, options: list[tuple[str, str]], *, required: bool = True) -> dict[str, Any]:
    return {"type": "checklist", "id": f"Field_{key}", "key": key, "label": label,
            "values": [{"value": v, "label": t} for v, t in options], "validate": _v(required)}


def date(key: str, label: str, *, required: bool = True, subtype: str = "date") -> dict[str, Any]:
    c = {"type": "datetime", "id": f"Field_{key}", "key": key, "subtype": subtype, "validate": _v(required)}
    c["dateLabel" if subtype != "time" else "timeLabel"] = label
    if subtype == "datetime":
        c["timeLabel"] = "时间"
    c["label"] = label
    return c


def files(key: str, label: str, *, required: bool = False, accept: str = ".pdf,.doc,.docx",
          multiple: bool = False) -> dict[str, Any]:
    return {"type": "filepicker", "id": f"Field_{key}", "key": key, "label": label, "accept": accept,
            "multiple": multiple, "validate": _v(required)}


def repeat(path: str, label: str, *components: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"type": "dynamiclist", "id": f"Field_{path}", "path": path, "label": label, "isRepeating": True,
            "defaultRepetitions": 1, "allowAddRemove": True, "components": list(components),
            "validate": _v(required)}


def note(text_md: str) -> dict[str, Any]:
    return {"type": "text", "id": f"Text_{zlib.crc32(text_md.encode()):08x}", "text": text_md}
