"""Warn and due times of a user task from its properties and a calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from engine.sla.durations import Duration


class Limit(Protocol):
    """What a deadline is computed from: a step's ``timeLimit``, its warning settings and its calendar (the
    repository's ``TaskProperties`` and :class:`StoredLimit` both are one)."""

    @property
    def time_limit(self) -> Duration | None: ...

    @property
    def warn_before(self) -> Duration | None: ...

    @property
    def warn_percent(self) -> int | None: ...

    @property
    def calendar(self) -> str: ...


@dataclass(frozen=True)
class StoredLimit:
    """A limit as a task row keeps it (a ``timeLimit`` expression is evaluated once when the task arrives)."""

    time_limit: Duration | None
    warn_before: Duration | None
    warn_percent: int | None
    calendar: str


class Calendar(Protocol):
    """A way of counting time towards a deadline."""

    def due(self, start: datetime, limit: Duration) -> datetime:
        """The deadline of ``limit`` counted from ``start``."""

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """Counted time between two instants."""

    def add_working(self, start: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of counted time after ``start``."""

    def before(self, end: datetime, lead: Duration) -> datetime:
        """The instant ``lead`` before ``end``, counted the way ``due`` counts forward."""


class ContinuousCalendar:
    """``24x7``: every second counts."""

    name = "24x7"

    def due(self, start: datetime, limit: Duration) -> datetime:
        return start + limit.total

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))

    def add_working(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount

    def before(self, end: datetime, lead: Duration) -> datetime:
        return end - lead.total


@dataclass(frozen=True)
class Deadlines:
    warn_at: datetime | None = None
    due_at: datetime | None = None


NO_DEADLINES = Deadlines()


def compute_deadlines(props: Limit, start: datetime, calendar: Calendar) -> Deadlines:
    """Due time from ``timeLimit``; warn time from ``warnBefore`` (lead) or ``warnPercent`` (share)."""
    if props.time_limit is None:
        return NO_DEADLINES
    due = calendar.due(start, props.time_limit)
    warn = None
    if props.warn_before is not None:
        warn = max(calendar.before(due, props.warn_before), start)  # a lead longer than the limit warns at once
    elif props.warn_percent is not None:
        budget = calendar.working_between(start, due)
        warn = calendar.add_working(start, budget * props.warn_percent / 100)
    return Deadlines(warn_at=warn, due_at=due)
