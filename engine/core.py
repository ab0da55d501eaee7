"""The process engine: one object that wires the services, Camunda style (repository, runtime, tasks, …)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from engine.context import EngineContext, EngineLimits
from engine.db import utcnow
from engine.history.service import HistoryService
from engine.identity.service import IdentityService
from engine.jobs.service import JobPolicy, JobService
from engine.registry import HandlerRegistry
from engine.repository.service import RepositoryService
from engine.runtime.service import RuntimeService
from engine.sla.calendar import DEFAULT_WINDOWS
from engine.sla.service import SlaService
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
        work_windows: tuple[tuple[time, time], ...] = DEFAULT_WINDOWS,
        limits: EngineLimits | None = None,
        job_policy: JobPolicy | None = None,
    ):
        self.ctx = EngineContext(handlers=handlers or HandlerRegistry(), clock=clock, limits=limits or EngineLimits(),
                                 sla=SlaService(work_windows))
        self.sla = self.ctx.sla
        self.identity = IdentityService()
        self.history = HistoryService()
        self.repository = RepositoryService(self.ctx)
        self.runtime = RuntimeService(self.ctx, self.identity)
        self.jobs = JobService(self.ctx, job_policy)
        self.tasks = TaskService(self.runtime)
