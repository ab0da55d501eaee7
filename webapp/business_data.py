"""A work order's business data as people read it: the fields of its forms under their labels, choices shown
by their option labels, and the engine's own variables kept apart."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.forms.schema import VALUE_TYPES
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from webapp.i18n import gettext


@dataclass
class Field:
    label: str
    options: dict[str, str] = field(default_factory=dict)
    kind: str = ""


@dataclass
class BusinessData:
    facts: list[tuple[str, str]]  # (label, value) for the fields of the process's forms, in form order
    other: list[tuple[str, str]]  # (variable, value) for everything else (routing results, job replies …)


def business_data(session: Session, engine: ProcessEngine, instance: ProcessInstance) -> BusinessData:
    """The instance's current data split into labelled form fields and other variables."""
    data = engine.runtime.instance_data(session, instance)
    definition = session.get(ProcessDefinition, instance.definition_id)
    fields: dict[str, Field] = {}
    for form_id in (definition.forms or {}).values() if definition else ():
        _collect(engine.repository.forms.schema(session, form_id).get("components") or [], fields)
    facts = [(spec.label, _text(data[key], spec)) for key, spec in fields.items()
             if key in data and data[key] not in (None, "", [])]
    other = [(key, _text(value, None)) for key, value in sorted(data.items())
             if key not in fields and key != "data_objects" and value not in (None, "", [], {})]
    return BusinessData(facts, other)


def _collect(components: list[dict[str, Any]], fields: dict[str, Field]) -> None:
    for c in components:
        if c.get("type") == "group" and not c.get("path"):
            _collect(c.get("components") or [], fields)
            continue
        key = c.get("key")
        if not key or c.get("type") not in VALUE_TYPES or key in fields:
            continue
        options = {str(o.get("value")): str(o.get("label", o.get("value"))) for o in c.get("values") or []}
        fields[key] = Field(str(c.get("label") or key), options, str(c.get("type")))


def _text(value: Any, spec: Field | None) -> str:
    if isinstance(value, bool):
        return gettext("是") if value else gettext("否")
    if spec is not None and spec.kind == "filepicker" and isinstance(value, list):
        return gettext("附件 %(n)s 个", n=len(value))
    if spec is not None and spec.kind == "dynamiclist" and isinstance(value, list):
        return gettext("%(n)s 条", n=len(value))
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return "、".join(spec.options.get(str(v), str(v)) if spec else str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if spec is not None and spec.options:
        return spec.options.get(str(value), str(value))
    return str(value)
