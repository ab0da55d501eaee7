"""The process engine: one object that wires the services, Camunda style (repository, runtime, tasks, …)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.attachments.service import AttachmentPolicy, AttachmentService
from engine.context import EngineContext, EngineLimits
from engine.db import utcnow
from engine.forms.service import FormService
from engine.history.service import HistoryService
from engine.identity.service import IdentityService
from engine.jobs.service import JobPolicy, JobService
from engine.management.service import ManagementService
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
        attachments: AttachmentPolicy | None = None,
    ):
        self.ctx = EngineContext(handlers=handlers or HandlerRegistry(), clock=clock, limits=limits or EngineLimits(),
                                 sla=SlaService(work_windows))
        self.sla = self.ctx.sla
        self.identity = IdentityService()
        self.history = HistoryService()
        self.forms = FormService(clock)
        self.repository = RepositoryService(clock, self.ctx.codec, self.ctx.handlers, self.forms)
        self.runtime = RuntimeService(self.ctx, self.identity, self.forms)
        self.ctx.deliver = self.runtime.deliver_thrown
        self.jobs = JobService(self.ctx.handlers, clock, job_policy, reply=self._deliver_reply)
        self.attachments = AttachmentService(attachments or AttachmentPolicy(Path("instance") / "storage"))
        self.tasks = TaskService(self.runtime, self.forms, self.attachments)
        self.management = ManagementService(self.ctx, self.runtime)

    def _deliver_reply(self, session: Session, reply: dict[str, Any], outcome: dict[str, Any]) -> None:
        """A job's outcome goes back to its instance as the BPMN message the job was told to answer with."""
        self.runtime.correlate(session, int(reply["instance_id"]), str(reply["message"]), outcome)
