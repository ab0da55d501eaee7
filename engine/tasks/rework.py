"""Work sent back (驳回 / 退回): the reviewer's reason, and the notice to whoever gets the work again.

A form field carries a rejection reason when the analyst marks it (form-js custom property ``rejectReason``)
or, failing that, when its key ends in ``reason``. A step reopened by a rejecting form (the projection flags its
``task_created`` event ``rework``) or by a 退回 tells its holders why, through the ``task_reworked`` notice
(an SMS in ``handlers/sms``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.context import EngineContext
from engine.forms.schema import fields
from engine.history.models import HistoryEvent
from engine.identity.models import User
from engine.identity.service import IdentityService
from engine.sla.notices import Notice, holders
from engine.tasks.models import HumanTask

MAX_REASON = 200  # characters of the reason an SMS carries


def form_reason(schema: dict[str, Any] | None, data: dict[str, Any] | None) -> str:
    """The rejection reason a completed form carries ('' when it carries none)."""
    if not schema or not data:
        return ""
    candidates = list(fields(schema.get("components") or []))
    marked = [f for f in candidates if (f.component.get("properties") or {}).get("rejectReason")]
    for f in marked or [f for f in candidates if f.key.lower().endswith("reason")]:
        value = data.get(f.key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def reworked(session: Session, created: list[HumanTask]) -> list[HumanTask]:
    """The rows among ``created`` that the projection flagged as rework (a jump back on the path)."""
    if not created:
        return []
    found = session.execute(
        select(HistoryEvent.human_task_id, HistoryEvent.payload)
        .where(HistoryEvent.event_type == "task_created", HistoryEvent.human_task_id.in_([r.id for r in created]))
    ).all()
    flagged = {task_id for task_id, payload in found if (payload or {}).get("rework")}
    return [r for r in created if r.id in flagged]


def notify_rework(ctx: EngineContext, session: Session, identity: IdentityService, now: datetime,
                  rows: list[HumanTask], *, actor: User, from_step: str, reason: str, event_id: int) -> None:
    """Tell the holders of each reopened row who sent it back, from which step, and why."""
    for row in rows:
        notice = Notice("task_reworked", row, holders(session, identity, row), f"rework:{row.id}:{event_id}",
                        actor=actor, details={"reason": reason[:MAX_REASON], "from_step": from_step})
        ctx.emit("task_reworked", session, now, notice)
