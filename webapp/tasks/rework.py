"""Why work came back (退回 / 驳回): the reason of the return action, or of the form field with which a reviewer
rejected, shown at the top of the reopened task and in the timeline entry of the rejection (issue 12, bug 1).

Which form field carries the reason is the engine's rule (``engine.tasks.rework.form_reason``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.tasks.models import HumanTask
from engine.tasks.rework import form_reason
from webapp.orders.views_data import InstanceView


@dataclass(frozen=True)
class Rejection:
    """Who sent the work back, from which step, and why."""

    actor: str
    step: str
    reason: str
    event_id: int


def rejections(s: Session, pe: ProcessEngine, view: InstanceView) -> dict[int, Rejection]:
    """Per reworked task row (id), the rejection that reopened it."""
    rows = {t.id: t for t in view.tasks}
    found: dict[int, Rejection] = {}
    last: Rejection | None = None
    back_to = ""  # the step a 退回 reopens (its new row need not count as rework on the reset path)
    for event in view.events:
        payload = event.payload or {}
        if event.event_type == "task_returned" and payload.get("reason"):
            step = rows[event.human_task_id].node_name if event.human_task_id in rows else ""
            last = Rejection(view.names.get(event.actor_id or 0, ""), step, str(payload["reason"]), event.id)
            back_to = str(payload.get("to_node") or "")
        elif event.event_type == "task_completed" and event.human_task_id in rows:
            reason = _form_reason(s, pe, view, rows[event.human_task_id])
            last = Rejection(view.names.get(event.actor_id or 0, ""), rows[event.human_task_id].node_name, reason,
                             event.id) if reason else None
            back_to = ""
        elif event.event_type == "task_created" and event.human_task_id in rows:
            reopened = payload.get("rework") or (back_to and event.node_id == back_to)
            if reopened and last is not None:
                found[event.human_task_id] = last
            last, back_to = None, ""  # a reason explains only the step it sent the work back to
    return found


def _form_reason(s: Session, pe: ProcessEngine, view: InstanceView, row: HumanTask) -> str:
    form_id = (view.definition.forms or {}).get(row.form_key or "")
    return form_reason(pe.forms.schema(s, form_id), row.data) if form_id and row.data else ""
