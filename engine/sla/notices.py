"""Who is told when a task reaches a deadline level or is urged, and what the engine tells listeners.

The engine decides *who* (the assignee, else every holder of the task's post in its unit; the supervisors
for an escalation) and records it in the history; the ``handlers`` package turns each notice into an SMS job
with a Chinese template. The engine itself sends nothing and holds no message wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from engine.identity.models import User
from engine.identity.service import IdentityService
from engine.tasks.models import HumanTask

# listener event → what it means; each is emitted with a :class:`Notice` as its subject
NOTICE_EVENTS = {
    "task_warned": "the task reached its warning time",
    "task_overdue": "the task passed its due time",
    "task_escalated": "an overdue task is escalated to the supervisors of its unit",
    "task_urged": "a supervisor urged (催办) the task",
    "extension_requested": "the task's holder asked the supervisors for more time",
    "task_reworked": "a reviewer sent the work back (驳回/退回) to this step, with a reason",
}


@dataclass(frozen=True)
class Notice:
    """Something about ``task`` that ``recipients`` (user ids) should hear of, once per ``key``."""

    event: str
    task: HumanTask
    recipients: list[int]
    key: str
    actor: User | None = None
    details: dict[str, Any] = field(default_factory=dict)


def holders(session: Session, identity: IdentityService, row: HumanTask) -> list[int]:
    """The assignee, or every holder of the task's post in its org unit when nobody has claimed it."""
    if row.assignee_id:
        return [row.assignee_id]
    if row.post_id is None:
        return []
    return [u.id for u in identity.holders(session, row.post_id, row.org_unit_id)]


def supervisors(session: Session, identity: IdentityService, row: HumanTask) -> list[int]:
    """The supervisors of the task's unit (or of the nearest unit above that has one)."""
    return [u.id for u in identity.supervisors_for(session, row.org_unit_id)]
