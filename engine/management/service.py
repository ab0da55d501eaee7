"""Management service: the incidents and jobs an operator looks at, and trying failed work again.

Incidents are opened where the failure happens (the executor for a step, the job runner for a job); this
service lists them and retries them: a step runs again, a job gets fresh attempts, deadlines are recounted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.context import EngineContext
from engine.errors import Code, InvalidState, NotAllowed, NotFound
from engine.history.models import HistoryEvent
from engine.history.service import record
from engine.identity.access import oversees
from engine.identity.models import User
from engine.jobs.models import Job, JobStatus, WorkerHeartbeat
from engine.jobs.service import reset_job
from engine.runtime.executor import conflict_guard, load_definition
from engine.runtime.models import Incident, IncidentStatus, ProcessInstance
from engine.runtime.service import RuntimeService
from engine.tasks.models import HumanTask, TaskStatus


class ManagementService:
    """Incidents (list, retry) and jobs (list) for operators and supervisors."""

    def __init__(self, ctx: EngineContext, runtime: RuntimeService):
        self.ctx = ctx
        self.runtime = runtime

    def incidents(self, session: Session, *, status: str | None = "open", limit: int = 200) -> Sequence[Incident]:
        """Incidents, newest first (open ones by default)."""
        query = select(Incident).order_by(Incident.id.desc()).limit(limit)
        if status:
            query = query.where(Incident.status == status)
        return session.scalars(query).all()

    def jobs(self, session: Session, *, status: str | None = None, limit: int = 100) -> Sequence[Job]:
        """Durable jobs, newest first."""
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            query = query.where(Job.status == status)
        return session.scalars(query).all()

    def job_backlog(self, session: Session) -> list[tuple[str, str, int, datetime | None]]:
        """(kind, status, count, oldest due time) of the jobs not done yet (pending, running, failed)."""
        rows = session.execute(
            select(Job.kind, Job.status, func.count(), func.min(Job.due_at))
            .where(Job.status.in_((JobStatus.PENDING, JobStatus.RUNNING, JobStatus.FAILED)))
            .group_by(Job.kind, Job.status).order_by(Job.kind, Job.status)).tuples().all()
        return [(kind, status, count, oldest) for kind, status, count, oldest in rows]

    def workers(self, session: Session) -> Sequence[WorkerHeartbeat]:
        """Worker processes that announced themselves, the most recently seen first."""
        return session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_seen.desc()).limit(50)).all()

    def retry_incident(self, session: Session, incident_id: int, *, actor: User | None) -> Incident:
        """Try the failed thing again: a step is run again, a job gets fresh attempts, deadlines are
        recomputed. The incident is resolved when that succeeds, else updated."""
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist", details={"incident": incident_id})
        if incident.status != IncidentStatus.OPEN:
            raise InvalidState(f"incident {incident_id} is already {incident.status}", code=Code.INCIDENT_CLOSED,
                               details={"incident": incident_id, "status": str(incident.status)})
        instance = session.get(ProcessInstance, incident.instance_id) if incident.instance_id else None
        if actor is not None and actor.role != "admin" and (
                instance is None or not oversees(session, actor, instance.org_unit_id)):
            raise NotAllowed(f"{actor.username} may not retry incident {incident_id}")
        actor_id = actor.id if actor else None
        now = self.ctx.clock()
        if instance is not None:
            record(session, instance.id, "incident_retried", actor_id=actor_id, node_id=incident.node_id,
                   payload={"incident_id": incident.id, "attempt": incident.attempts + 1}, at=now)
        if incident.job_id is not None:
            reset_job(session, incident.job_id, now)  # resolved by the worker when the job succeeds
            return incident
        assert instance is not None
        if incident.kind == "calendar":
            self._retry_deadlines(session, instance, incident, actor_id, now)
            return incident
        with conflict_guard(f"work order {instance.business_key}"):
            op = self.runtime.open(session, instance, actor_id)
            task = op.spiff_task(incident.spiff_task_id) if incident.spiff_task_id else None
            op.advance(first=task if task is not None and task.state == TaskState.ERROR else None)
            if op.failure is None and (op.incident is None or op.incident.id != incident.id):
                _resolve(session, incident, instance.id, actor_id, op.now)
            op.save()
        return incident

    def _retry_deadlines(self, session: Session, instance: ProcessInstance, incident: Incident,
                         actor_id: int | None, now: datetime) -> None:
        """Recount the deadlines of the instance's open tasks now that the calendar may have the year; a
        deadline a supervisor extended is left as granted."""
        definition = load_definition(self.ctx, session, instance.definition_id)
        extended = select(HistoryEvent.human_task_id).where(HistoryEvent.instance_id == instance.id,
                                                            HistoryEvent.event_type == "task_extended",
                                                            HistoryEvent.human_task_id.is_not(None))
        rows = session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY,
            HumanTask.time_limit.is_not(None),
            HumanTask.id.not_in(extended))).all()
        problems = []
        for row in rows:
            spec = definition.find_task_spec(row.node_id)
            problem = self.ctx.sla.recount(session, row, definition.task_properties(spec)) if spec else None
            if problem:
                problems.append(problem)
        if problems:
            incident.attempts, incident.message, incident.updated_at = incident.attempts + 1, problems[0], now
        else:
            _resolve(session, incident, instance.id, actor_id, now)


def _resolve(session: Session, incident: Incident, instance_id: int, actor_id: int | None, now: datetime) -> None:
    incident.status, incident.resolved_at, incident.updated_at = IncidentStatus.RESOLVED, now, now
    incident.resolved_by_id = actor_id
    record(session, instance_id, "incident_resolved", actor_id=actor_id, node_id=incident.node_id,
           payload={"incident_id": incident.id}, at=now)
