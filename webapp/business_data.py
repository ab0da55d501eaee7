"""A work order's business data as people read it: the fields of its forms under their labels, choices shown
by their option labels, times in the reader's time zone, and the engine's own variables kept apart.

A field shows the value of the last form that carried it (a 通过 after a 驳回 leaves the 审核说明 empty, not the
old reason); earlier values are its history, shown on hover with when, who and in which step."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.forms.schema import VALUE_TYPES
from engine.history.models import HistoryEvent
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus
from webapp.i18n import gettext, local_time


@dataclass
class Field:
    label: str
    options: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    subtype: str = ""


@dataclass(frozen=True)
class Change:
    """One form's value for a field: when, by whom, in which step."""

    at: datetime
    who: str
    step: str
    text: str


@dataclass
class Fact:
    label: str
    value: str  # "—" when the last form that carried the field left it empty
    history: list[Change] = field(default_factory=list)  # every value given, oldest first (the last is current)

    def __iter__(self):  # type: ignore[no-untyped-def]
        """``label, value`` for templates that unpack a fact."""
        return iter((self.label, self.value))

    @property
    def changed(self) -> bool:
        return len({c.text for c in self.history}) > 1

    def history_text(self) -> str:
        empty = gettext("（空）")
        return "\n".join(f"{local_time(c.at)} {c.step} · {c.who}：{c.text or empty}" for c in self.history)


@dataclass
class BusinessData:
    facts: list[Fact]  # the fields of the process's forms, in form order
    other: list[tuple[str, str]]  # (variable, value) for everything else (routing results, job replies …)


EMPTY = (None, "", [])


def business_data(session: Session, engine: ProcessEngine, instance: ProcessInstance) -> BusinessData:
    """The instance's current data split into labelled form fields (with their history) and other variables."""
    data = engine.runtime.instance_data(session, instance)
    definition = session.get(ProcessDefinition, instance.definition_id)
    fields: dict[str, Field] = {}
    keys_of: dict[str, set[str]] = {}  # form key → the field keys of that form
    for form_key, form_id in (definition.forms or {}).items() if definition else ():
        found: dict[str, Field] = {}
        _collect(engine.repository.forms.schema(session, form_id).get("components") or [], found)
        keys_of[form_key] = set(found)
        for key, spec in found.items():
            fields.setdefault(key, spec)
    history = _history(session, engine, instance, keys_of, fields)
    facts = []
    for key, spec in fields.items():
        changes = history.get(key, [])
        if changes:
            current = changes[-1].text
        elif key in data and data[key] not in EMPTY:
            current = _text(data[key], spec)
        else:
            continue
        if not current and not any(c.text for c in changes):
            continue
        facts.append(Fact(spec.label, current or "—", changes))
    other = [(key, _text(value, None)) for key, value in sorted(data.items())
             if key not in fields and key != "data_objects" and value not in (None, "", [], {})]
    return BusinessData(facts, other)


def _history(session: Session, engine: ProcessEngine, instance: ProcessInstance, keys_of: dict[str, set[str]],
             fields: dict[str, Field]) -> dict[str, list[Change]]:
    """Per field, the value each submitted form gave it (the start form, then every completed step)."""
    submissions: list[tuple[datetime, int | None, str, set[str], dict[str, Any]]] = []
    started = session.scalar(select(HistoryEvent).where(HistoryEvent.instance_id == instance.id,
                                                        HistoryEvent.event_type == "instance_started"))
    told = (started.payload or {}) if started is not None else {}
    if started is not None and isinstance(told.get("data"), dict):
        submissions.append((started.at, started.actor_id, gettext("发起"), keys_of.get(str(told.get("form")), set()),
                            told["data"]))
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                   HumanTask.status == TaskStatus.COMPLETED,
                                                   HumanTask.form_key.is_not(None))
                           .order_by(HumanTask.completed_at, HumanTask.id))
    for row in rows:
        if row.completed_at is not None:
            submissions.append((row.completed_at, row.completed_by_id, row.node_name,
                                keys_of.get(row.form_key or "", set()), row.data or {}))
    names = engine.identity.display_names(session, [who for _, who, _, _, _ in submissions])
    history: dict[str, list[Change]] = {}
    for at, who, step, keys, values in submissions:
        for key in keys:
            value = values.get(key)
            text = "" if value in EMPTY else _text(value, fields[key])
            history.setdefault(key, []).append(Change(at, names.get(who or 0, ""), step, text))
    return history


def _collect(components: list[dict[str, Any]], fields: dict[str, Field]) -> None:
    for c in components:
        if c.get("type") == "group" and not c.get("path"):
            _collect(c.get("components") or [], fields)
            continue
        key = c.get("key")
        if not key or c.get("type") not in VALUE_TYPES or key in fields:
            continue
        options = {str(o.get("value")): str(o.get("label", o.get("value"))) for o in c.get("values") or []}
        fields[key] = Field(str(c.get("label") or key), options, str(c.get("type")), str(c.get("subtype") or ""))


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
    if isinstance(value, str) and (spec is None or spec.kind == "datetime"):
        return _moment(value, spec)
    return str(value)


def _moment(text: str, spec: Field | None) -> str:
    """An ISO date-time (with an offset) in the reader's time zone; other text as it is."""
    if len(text) < 16 or text[4:5] != "-" or "T" not in text or (spec is not None and spec.subtype in ("date", "time")):
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return local_time(moment) if moment.tzinfo else moment.strftime("%Y-%m-%d %H:%M")
