"""Impact preview (时限影响预估): how the steps completed in the last days would have fared under a version's
time limits and calendars, against what actually happened. Read from the KPI facts; nothing is changed."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.errors import EomsError
from engine.repository.graph import NS
from engine.repository.properties import TaskProperties, parse_task_properties
from engine.repository.xmlsafe import load_bpmn_xml
from engine.runtime.models import ProcessInstance
from engine.sla.durations import parse_duration
from engine.spiff.scripting import SandboxEnvironment
from handlers.kpi.models import KpiStep

MAX_FACTS = 5000
USER_TASKS = ("userTask", "manualTask", "task")


@dataclass
class StepImpact:
    """One step: its limits, and how many completions were (and would have been) on time."""

    node_id: str
    name: str
    limit: str  # the new version's limit, as written ("PT4H", "=expression", "" for none)
    calendar: str
    count: int = 0
    actual_on_time: int = 0
    actual_overdue: int = 0
    new_on_time: int = 0
    new_overdue: int = 0
    changed: list[str] = field(default_factory=list)  # facts whose verdict changes, business keys (first 10)
    problem: str = ""

    @property
    def actual_rate(self) -> float | None:
        counted = self.actual_on_time + self.actual_overdue
        return self.actual_on_time / counted if counted else None

    @property
    def new_rate(self) -> float | None:
        counted = self.new_on_time + self.new_overdue
        return self.new_on_time / counted if counted else None


def steps_of(content: bytes) -> list[tuple[str, str, dict[str, str]]]:
    """(id, name, EOMS properties) of the tasks people do in the executable processes of a diagram."""
    root = load_bpmn_xml(content, "impact.bpmn").getroot()
    found = []
    for process in root.iterfind("bpmn:process", NS):
        if process.get("isExecutable", "false").lower() != "true":
            continue
        for tag in USER_TASKS:
            for el in process.iter(f"{{{NS['bpmn']}}}{tag}"):
                props = {p.get("name") or "": p.get("value") or "" for p in el.iterfind(
                    "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}
                found.append((el.get("id") or "", el.get("name") or el.get("id") or "", props))
    return found


def preview(s: Session, pe: ProcessEngine, key: str, content: bytes, now: datetime, days: int = 30
            ) -> list[StepImpact]:
    """Every step of ``content`` with the completions of the last ``days`` days measured both ways."""
    since = now - timedelta(days=days)
    results = []
    data_cache: dict[int, dict[str, Any]] = {}
    sandbox = SandboxEnvironment()
    for node_id, name, raw in steps_of(content):
        props, problems = parse_task_properties(raw)
        step = StepImpact(node_id, name, raw.get("timeLimit", ""), props.calendar if raw.get("timeLimit") else "",
                          problem="; ".join(f"{p}: {m}" for p, m in problems))
        facts = s.scalars(select(KpiStep).where(KpiStep.process_key == key, KpiStep.node_id == node_id,
                                                KpiStep.completed_at >= since)
                          .order_by(KpiStep.completed_at).limit(MAX_FACTS)).all()
        for fact in facts:
            step.count += 1
            if fact.on_time is True:
                step.actual_on_time += 1
            elif fact.on_time is False:
                step.actual_overdue += 1
            verdict = _verdict(s, pe, fact, props, sandbox, data_cache)
            if verdict is None:
                continue
            if verdict:
                step.new_on_time += 1
            else:
                step.new_overdue += 1
            if fact.on_time is not None and verdict != fact.on_time and len(step.changed) < 10:
                step.changed.append(fact.business_key)
        results.append(step)
    return results


def _verdict(s: Session, pe: ProcessEngine, fact: KpiStep, props: TaskProperties, sandbox: SandboxEnvironment,
             cache: dict[int, dict[str, Any]]) -> bool | None:
    """Whether the completion would have been on time under ``props`` (None: no limit, or not computable)."""
    if props.time_limit_expr:
        try:
            if fact.instance_id not in cache:
                cache[fact.instance_id] = pe.runtime.instance_data(s, s.get(ProcessInstance, fact.instance_id))
            value = sandbox.evaluate(props.time_limit_expr, dict(cache[fact.instance_id]))
            props = replace(props, time_limit=parse_duration(str(value)), time_limit_expr=None)
        except (EomsError, ValueError):
            return None
    if props.time_limit is None:
        return None
    times = pe.sla.deadlines(s, props, fact.created_at, timedelta(seconds=fact.paused_seconds or 0))
    return times.due_at is not None and fact.completed_at <= times.due_at
