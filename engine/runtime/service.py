"""Runtime service: start, cancel and inspect instances; list and retry incidents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.context import EngineContext
from engine.errors import Code, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.forms.service import FormService
from engine.history.service import record
from engine.identity.access import in_scope, oversees
from engine.identity.models import OrgUnit, User
from engine.identity.service import IdentityService
from engine.jobs.service import cancel_jobs
from engine.repository.models import ProcessDefinition
from engine.runtime.delivery import DeliveryActions, catch_event
from engine.runtime.executor import (
    InstanceOperation,
    conflict_guard,
    load_definition,
    new_instance,
    open_instance,
)
from engine.runtime.migration import MigrationCheck, target_of
from engine.runtime.migration import check as check_migration
from engine.runtime.migration import migrate as migrate_instance
from engine.runtime.models import Incident, IncidentStatus, InstanceStatus, ProcessInstance, insert_unless_key_taken
from engine.spiff.event_names import MESSAGE
from engine.spiff.stepping import all_tasks
from engine.spiff.timers import fire_start_timers
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


class RuntimeService(DeliveryActions):
    """Instances: start, cancel, look up; incidents: list, retry."""

    def __init__(self, ctx: EngineContext, identity: IdentityService, forms: FormService):
        self.ctx = ctx
        self.identity = identity
        self.forms = forms

    def start(self, session: Session, process_key: str, *, business_key: str, data: dict[str, Any],
              actor: User | None, org_code: str | None = None, fire_start_timer: bool = False,
              validate_start_form: bool = True, started_by: tuple[str, str] | None = None,
              context: dict[str, Any] | None = None) -> StartResult:
        """Start the latest version of ``process_key`` for work order ``business_key``.

        ``context``: variables the caller adds beside what the start form says (the project the order belongs to);
        they are not form fields, so the form does not check them, and they may not overwrite a form's field.

        ``actor`` None is the system (a timer start): it needs ``org_code``. ``fire_start_timer`` makes a timer
        start event fire at once (the scheduler decided it is due). ``started_by`` (kind, name): a signal or
        message starts it, only through the start events that catch it.
        """
        business_key = (business_key or "").strip()
        if not business_key or len(business_key) > 200:
            raise InvalidInput("business key must be 1-200 characters", {"business_key": "required"})
        check_data(data)
        definition_row = session.scalar(
            select(ProcessDefinition).where(ProcessDefinition.key == process_key)
            .order_by(ProcessDefinition.version.desc()).limit(1)
        )
        if definition_row is None:
            raise NotFound(f"process '{process_key}' is not deployed", details={"process": process_key})
        org = self._start_org(session, actor, org_code)
        if self._open_with_key(session, process_key, business_key) is not None:
            raise self._duplicate(session, process_key, business_key)
        definition = load_definition(self.ctx, session, definition_row.id)
        if definition.start_form and validate_start_form:
            data = self.forms.validate(session, definition.start_form, definition.forms[definition.start_form], data)
        if context:
            check_data(context)
            clash = sorted(set(context) & set(data))
            if clash or not all(isinstance(k, str) and k.isidentifier() for k in context):
                raise InvalidInput(f"context variables {clash or list(context)} clash with the form or are not names",
                                   {"context": "invalid"})
            data = {**data, **context}
        now = self.ctx.clock()
        actor_id = actor.id if actor else None
        instance = ProcessInstance(
            definition_id=definition_row.id, process_key=process_key, business_key=business_key,
            org_unit_id=org.id, status=InstanceStatus.RUNNING, state="{}", serializer_version="", started_at=now,
            started_by_id=actor_id,
        )
        instance.take_search_fields(data)
        inserted = insert_unless_key_taken(session, instance)
        if inserted is None:  # the same business key started a moment ago by someone else (checked just above)
            raise InvalidInput(f"business key '{business_key}' was just used by another instance of '{process_key}'",
                               {"business_key": "already used"})
        instance = inserted
        with conflict_guard(f"work order {business_key}"):
            started = {"process_key": process_key, "version": definition_row.version}
            if definition.start_form:  # what the start form said, for the history of each business field
                started["form"], started["data"] = definition.start_form, data
            record(session, instance.id, "instance_started", actor_id=actor_id, at=now, payload=started)
            op = new_instance(self.ctx, session, instance, definition, data, actor_id, started_by)
            op.known_rows = []  # a new instance has no task rows yet
            op.advance()  # the start event now waits on its timer
            if fire_start_timer and fire_start_timers(op.workflow, now) and op.failure is None:
                op.advance()
            tasks = op.save()
        return StartResult(instance, tasks, op.incident)

    def _start_org(self, session: Session, actor: User | None, org_code: str | None) -> OrgUnit:
        if not org_code:
            if actor is None:
                raise InvalidInput("a system start needs an org unit", {"org": "required"})
            return actor.org_unit
        org = session.scalar(select(OrgUnit).where(OrgUnit.code == org_code))
        if org is None:
            raise NotFound(f"org unit '{org_code}' does not exist")
        if actor is not None and not in_scope(session, actor, org.id):
            raise NotAllowed(f"{actor.username} may not start work in org unit '{org_code}'")
        return org

    @staticmethod
    def _open_with_key(session: Session, process_key: str, business_key: str) -> int | None:
        return session.scalar(
            select(ProcessInstance.id).where(
                ProcessInstance.process_key == process_key, ProcessInstance.business_key == business_key,
                ProcessInstance.status != InstanceStatus.CANCELLED,
            ).limit(1)
        )

    def _duplicate(self, session: Session, process_key: str, business_key: str) -> InvalidInput:
        other = self._open_with_key(session, process_key, business_key)
        return InvalidInput(f"business key '{business_key}' is already used by instance {other} of '{process_key}'",
                            {"business_key": "already used"})

    def get(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"instance {instance_id} does not exist")
        return instance

    def open(self, session: Session, instance: ProcessInstance, actor_id: int | None) -> InstanceOperation:
        """Restore an instance for a change (used by the task service and the scheduler)."""
        if instance.status != InstanceStatus.RUNNING:
            raise InvalidState(f"instance {instance.id} is {instance.status}", code=Code.INSTANCE_NOT_RUNNING,
                               details={"instance": instance.id, "status": str(instance.status)})
        return open_instance(self.ctx, session, instance, actor_id)

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
            instance.status = InstanceStatus.CANCELLED
            instance.ended_at = op.now
            instance.end_reason = reason
            record(session, instance.id, "instance_cancelled", actor_id=actor.id, at=op.now,
                   payload={"reason": reason})
            cancel_jobs(session, instance.id, op.now)  # a queued activation must not configure a cancelled order
            self.ctx.emit("instance_cancelled", session, op.now, instance)
            op.save(reason="instance cancelled")
            for incident in self._open_incidents(session, instance.id):
                incident.status, incident.resolved_at = IncidentStatus.RESOLVED, op.now
                incident.resolved_by_id = actor.id
        return instance

    def task_data(self, session: Session, row: HumanTask) -> dict[str, Any]:
        """The current data of an open task (what its form starts from), read from the instance state."""
        instance = self.get(session, row.instance_id)
        op = open_instance(self.ctx, session, instance, None)
        task = op.spiff_task(row.spiff_task_id)
        return dict(task.data) if task is not None else {}

    def instance_data(self, session: Session, instance: ProcessInstance) -> dict[str, Any]:
        """The business data as it stands: the final data of a finished instance, else the data of the step
        that changed last."""
        op = open_instance(self.ctx, session, instance, None)
        if op.workflow.data:
            return dict(op.workflow.data)
        latest = max(all_tasks(op.workflow), key=lambda t: t.last_state_change, default=None)
        return dict(latest.data) if latest is not None else {}

    def task_form(self, session: Session, row: HumanTask) -> dict[str, Any] | None:
        """The form-js schema pinned for the task's step in its process version, if the step has a form."""
        if not row.form_key:
            return None
        instance = self.get(session, row.instance_id)
        definition = load_definition(self.ctx, session, instance.definition_id)
        form_id = definition.forms.get(row.form_key)
        return self.forms.schema(session, form_id) if form_id else None

    def start_form(self, session: Session, process_key: str) -> tuple[str, dict[str, Any]] | None:
        """The start form (key, schema) of the newest version of a process, if it has one."""
        row = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == process_key)
                             .order_by(ProcessDefinition.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"process '{process_key}' is not deployed", details={"process": process_key})
        definition = load_definition(self.ctx, session, row.id)
        key = definition.start_form
        return (key, self.forms.schema(session, definition.forms[key])) if key else None

    def starts_by_hand(self, session: Session, process_key: str) -> bool:
        """Whether the newest version of a process has a plain start event (no timer, message or signal), so a
        caller may start it with :meth:`start` (with or without a start form)."""
        row = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == process_key)
                             .order_by(ProcessDefinition.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"process '{process_key}' is not deployed", details={"process": process_key})
        spec = load_definition(self.ctx, session, row.id).spec
        return any(isinstance(ts, StartEvent) and isinstance(ts.event_definition, NoneEventDefinition)
                   for ts in spec.task_specs.values())

    def correlate(self, session: Session, instance_id: int, message: str, payload: dict[str, Any],
                  *, actor_id: int | None = None) -> ProcessInstance:
        """Deliver message ``message`` with ``payload`` to a waiting instance and run it on."""
        instance = self.get(session, instance_id)
        if instance.status != InstanceStatus.RUNNING:
            raise InvalidState(f"instance {instance.id} is {instance.status}", code=Code.INSTANCE_NOT_RUNNING,
                               details={"instance": instance.id, "status": str(instance.status)})
        try:
            catch_event(self.ctx, session, instance, MESSAGE, message, payload, actor_id)
        except WorkflowException:
            raise InvalidState(f"instance {instance_id} is not waiting for message '{message}'",
                               code=Code.MESSAGE_NOT_WAITING, details={"message": message}) from None
        return instance

    def migrate(self, session: Session, process_key: str, instance_ids: Sequence[int], *, version: int | None = None,
                actor: User | None = None, dry_run: bool = False) -> list[MigrationCheck]:
        """Move running work orders of ``process_key`` to ``version`` (default: the newest), each in its own
        SAVEPOINT; ``dry_run`` only says, per instance, whether it can move and why not. Analysts and
        administrators only."""
        if actor is not None and actor.role not in ("analyst", "admin"):
            raise NotAllowed(f"{actor.username} may not migrate work orders")
        target = target_of(session, process_key, version)
        results = []
        for instance_id in dict.fromkeys(instance_ids):
            instance = self.get(session, instance_id)
            if instance.process_key != process_key:
                raise InvalidInput(f"work order {instance.business_key} is not a '{process_key}' order",
                                   {"instances": "another process"})
            actor_id = actor.id if actor else None
            if dry_run:
                with session.begin_nested() as savepoint:
                    results.append(check_migration(self.ctx, session, instance, target.id, actor_id))
                    savepoint.rollback()
                continue
            with conflict_guard(f"work order {instance.business_key}"), session.begin_nested():
                results.append(migrate_instance(self.ctx, session, instance, target.id, actor_id))
        return results

    def _open_incidents(self, session: Session, instance_id: int) -> Sequence[Incident]:
        return session.scalars(
            select(Incident).where(Incident.instance_id == instance_id, Incident.status == IncidentStatus.OPEN)
        ).all()
