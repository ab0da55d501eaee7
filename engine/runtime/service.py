"""Runtime service: start, cancel and inspect instances; list and retry incidents."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.context import EngineContext
from engine.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from engine.history.service import record
from engine.identity.access import in_scope, oversees
from engine.identity.models import OrgUnit, User
from engine.repository.models import ProcessDefinition
from engine.runtime.executor import (
    InstanceOperation,
    conflict_guard,
    load_definition,
    new_instance,
    open_instance,
)
from engine.runtime.models import Incident, ProcessInstance
from engine.sla.deadlines import Deadlines
from engine.tasks.models import HumanTask

MAX_DATA_BYTES = 256 * 1024


@dataclass
class StartResult:
    instance: ProcessInstance
    tasks: list[HumanTask] = field(default_factory=list)
    incident: Incident | None = None


def check_data(data: Any, what: str = "data") -> dict[str, Any]:
    """Instance and task data must be a JSON object with plain keys, of bounded size."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object, not {type(data).__name__}", {what: "not an object"})
    for key in data:
        if not isinstance(key, str) or not key or key.startswith("_"):
            raise InvalidInput(f"{what} key {key!r} is not allowed (keys must not be empty or start with '_')",
                               {str(key): "reserved name"})
    try:
        size = len(json.dumps(data, default=str))
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"{what} is not JSON-serializable: {err}", {what: "not JSON"}) from None
    if size > MAX_DATA_BYTES:
        raise InvalidInput(f"{what} is {size} bytes; the limit is {MAX_DATA_BYTES}", {what: "too large"})
    return data


class RuntimeService:
    """Instances: start, cancel, look up; incidents: list, retry."""

    def __init__(self, ctx: EngineContext, deadlines: Callable[[object, datetime], Deadlines]):
        self.ctx = ctx
        self._deadlines = deadlines

    def start(self, session: Session, process_key: str, *, business_key: str, data: dict[str, Any],
              actor: User, org_code: str | None = None) -> StartResult:
        """Start the latest version of ``process_key`` for work order ``business_key``."""
        business_key = (business_key or "").strip()
        if not business_key or len(business_key) > 200:
            raise InvalidInput("business key must be 1-200 characters", {"business_key": "required"})
        check_data(data)
        definition_row = session.scalar(
            select(ProcessDefinition).where(ProcessDefinition.key == process_key)
            .order_by(ProcessDefinition.version.desc()).limit(1)
        )
        if definition_row is None:
            raise NotFound(f"process '{process_key}' is not deployed")
        org = actor.org_unit
        if org_code:
            org = session.scalar(select(OrgUnit).where(OrgUnit.code == org_code))
            if org is None:
                raise NotFound(f"org unit '{org_code}' does not exist")
            if not in_scope(session, actor, org.id):
                raise NotAllowed(f"{actor.username} may not start work in org unit '{org_code}'")
        duplicate = session.scalar(
            select(ProcessInstance.id).where(
                ProcessInstance.process_key == process_key, ProcessInstance.business_key == business_key,
                ProcessInstance.status != "cancelled",
            ).limit(1)
        )
        if duplicate is not None:
            raise InvalidInput(f"business key '{business_key}' is already used by instance {duplicate} of "
                               f"'{process_key}'", {"business_key": "already used"})
        definition = load_definition(self.ctx, session, definition_row.id)
        now = self.ctx.clock()
        instance = ProcessInstance(
            definition_id=definition_row.id, process_key=process_key, business_key=business_key,
            org_unit_id=org.id, status="running", state="{}", serializer_version="", started_at=now,
            started_by_id=actor.id,
        )
        with conflict_guard(f"work order {business_key}"):
            session.add(instance)
            session.flush()
            record(session, instance.id, "instance_started", actor_id=actor.id, at=now,
                   payload={"process_key": process_key, "version": definition_row.version})
            op = new_instance(self.ctx, session, instance, definition, data, actor.id, self._deadlines)
            op.advance()
            tasks = op.save()
        return StartResult(instance, tasks, op.incident)

    def get(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"instance {instance_id} does not exist")
        return instance

    def open(self, session: Session, instance: ProcessInstance, actor_id: int | None) -> InstanceOperation:
        """Restore an instance for a change (used by the task service and the scheduler)."""
        if instance.status != "running":
            raise InvalidState(f"instance {instance.id} is {instance.status}")
        return open_instance(self.ctx, session, instance, actor_id, self._deadlines)

    def cancel(self, session: Session, instance_id: int, *, actor: User, reason: str) -> ProcessInstance:
        """Cancel a running instance (supervisors of its org unit and admins); its open tasks close."""
        instance = self.get(session, instance_id)
        if not oversees(session, actor, instance.org_unit_id):
            raise NotAllowed(f"{actor.username} may not cancel instance {instance_id}")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput("a reason is required to cancel", {"reason": "required"})
        with conflict_guard(f"work order {instance.business_key}"):
            op = self.open(session, instance, actor.id)
            op.workflow.cancel()
            instance.status = "cancelled"
            instance.ended_at = op.now
            instance.end_reason = reason
            record(session, instance.id, "instance_cancelled", actor_id=actor.id, at=op.now,
                   payload={"reason": reason})
            op.save(reason="instance cancelled")
            for incident in self._open_incidents(session, instance.id):
                incident.status, incident.resolved_at, incident.resolved_by_id = "resolved", op.now, actor.id
        return instance

    def incidents(self, session: Session, *, status: str | None = "open", limit: int = 200) -> Sequence[Incident]:
        query = select(Incident).order_by(Incident.id.desc()).limit(limit)
        if status:
            query = query.where(Incident.status == status)
        return session.scalars(query).all()

    def retry_incident(self, session: Session, incident_id: int, *, actor: User | None) -> Incident:
        """Run the failed step again; the incident is resolved when it succeeds, else updated."""
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if incident.status != "open":
            raise InvalidState(f"incident {incident_id} is already {incident.status}")
        instance = self.get(session, incident.instance_id)
        if actor is not None and actor.role != "admin" and not oversees(session, actor, instance.org_unit_id):
            raise NotAllowed(f"{actor.username} may not retry incident {incident_id}")
        actor_id = actor.id if actor else None
        with conflict_guard(f"work order {instance.business_key}"):
            op = self.open(session, instance, actor_id)
            record(session, instance.id, "incident_retried", actor_id=actor_id, node_id=incident.node_id,
                   payload={"incident_id": incident.id, "attempt": incident.attempts + 1}, at=op.now)
            task = op.spiff_task(incident.spiff_task_id) if incident.spiff_task_id else None
            if task is not None and task.state == TaskState.ERROR:
                op.run_task(task)
            else:
                op.advance()
            if op.failure is None and (op.incident is None or op.incident.id != incident.id):
                incident.status, incident.resolved_at, incident.updated_at = "resolved", op.now, op.now
                incident.resolved_by_id = actor_id
                record(session, instance.id, "incident_resolved", actor_id=actor_id, node_id=incident.node_id,
                       payload={"incident_id": incident.id}, at=op.now)
            op.save()
        return incident

    def _open_incidents(self, session: Session, instance_id: int) -> Sequence[Incident]:
        return session.scalars(
            select(Incident).where(Incident.instance_id == instance_id, Incident.status == "open")
        ).all()
