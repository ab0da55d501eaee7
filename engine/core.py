"""The process engine: one object that wires the services, Camunda style (repository, runtime, tasks, …)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.context import EngineContext, EngineLimits
from engine.db import utcnow
from engine.history.service import HistoryService
from engine.identity.service import IdentityService
from engine.registry import HandlerRegistry
from engine.repository.properties import TaskProperties
from engine.repository.service import RepositoryService
from engine.runtime.service import RuntimeService
from engine.sla.deadlines import Calendar, ContinuousCalendar, Deadlines, compute_deadlines
from engine.tasks.service import TaskService


class ProcessEngine:
    """Entry point for callers: ``engine.runtime.start(session, …)``, ``engine.tasks.complete(session, …)``.

    Services never commit; each caller wraps one operation in ``with session.begin():``.
    """

    def __init__(
        self,
        handlers: HandlerRegistry | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        calendars: dict[str, Calendar] | None = None,
        limits: EngineLimits | None = None,
    ):
        self.ctx = EngineContext(handlers=handlers or HandlerRegistry(), clock=clock, limits=limits or EngineLimits())
        continuous = ContinuousCalendar()
        self.calendars: dict[str, Calendar] = {"24x7": continuous, "workday": continuous}
        self.calendars.update(calendars or {})
        self.identity = IdentityService()
        self.history = HistoryService()
        self.repository = RepositoryService(self.ctx)
        self.runtime = RuntimeService(self.ctx, self.deadlines)
        self.tasks = TaskService(self.runtime)

    def deadlines(self, props: object, start: datetime) -> Deadlines:
        """Warn and due time of a task with these properties arriving at ``start``."""
        assert isinstance(props, TaskProperties)
        return compute_deadlines(props, start, self.calendars[props.calendar])
