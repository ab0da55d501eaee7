"""What the top bar's reminder reads: how many open tasks are offered to a user (the portal's 待办, the engine's
``inbox`` scope) and which of them arrived after a marker. Two small queries; nothing is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.identity.models import User
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.tasks.queries import scope_condition
from webapp.i18n import SHANGHAI

NEWEST = 5  # at most this many arrivals are named per answer


@dataclass(frozen=True)
class Inbox:
    """The user's open work: how many tasks, and the highest task id among them (0 when there is none)."""

    count: int
    latest: int


@dataclass(frozen=True)
class Arrival:
    """An open task offered to the user, as a reminder names it."""

    id: int
    node_name: str
    business_key: str
    customer: str | None


@dataclass(frozen=True)
class Since:
    """Where the last look ended: a task id (the ``latest`` marker this module hands out) or a moment."""

    task_id: int | None = None
    moment: datetime | None = None

    @classmethod
    def parse(cls, raw: str | None) -> Since | None:
        """A task id or an ISO date-time (without an offset: Beijing time); None for anything else."""
        text = (raw or "").strip()
        if not text:
            return None
        if text.isascii() and text.isdigit():
            return cls(task_id=int(text)) if len(text) <= 10 else None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return cls(moment=(moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)).astimezone(UTC))


def inbox(session: Session, user: User) -> Inbox:
    """Count the open tasks of the user's 待办 (assigned to them, or unclaimed in their posts' pools): one query."""
    count, latest = session.execute(
        select(func.count(), func.max(HumanTask.id)).where(scope_condition(user, "inbox"))
    ).one()
    return Inbox(int(count or 0), int(latest or 0))


def arrivals(session: Session, user: User, since: Since, limit: int = NEWEST) -> list[Arrival]:
    """The user's open tasks that arrived after ``since``, newest first, at most ``limit``: one query."""
    query = (
        select(HumanTask.id, HumanTask.node_name, HumanTask.business_key, ProcessInstance.customer)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(scope_condition(user, "inbox"))
    )
    if since.task_id is not None:
        query = query.where(HumanTask.id > since.task_id)
    if since.moment is not None:
        query = query.where(HumanTask.created_at > since.moment)
    rows = session.execute(query.order_by(HumanTask.id.desc()).limit(limit)).all()
    return [Arrival(r.id, r.node_name, r.business_key, r.customer) for r in rows]


def news(session: Session, user: User, since: Since | None) -> tuple[Inbox, list[Arrival], int]:
    """The inbox, what arrived after ``since`` (nothing without a marker) and the marker to ask with next time.

    The arrivals are looked up only when something newer can exist, so a quiet poll is one query."""
    box = inbox(session, user)
    if since is None:
        return box, [], box.latest
    latest = max(box.latest, since.task_id or 0)
    if box.count == 0 or (since.task_id is not None and box.latest <= since.task_id):
        return box, [], latest
    return box, arrivals(session, user, since), latest
