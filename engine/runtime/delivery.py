"""Delivering signals and messages (part of :class:`engine.runtime.service.RuntimeService`).

``broadcast_signal`` and ``send_message`` are the one API the CLI, the web and the integration API use; an
instance that throws a signal or message its own process does not catch goes the same way when it is saved.
Everything happens in the caller's transaction; each receiver runs in a SAVEPOINT, so a receiver that fails
(its incident is kept) or refuses does not undo the others. A chain of instances signalling each other is
bounded (``MAX_DELIVERIES`` per transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition, SignalEventDefinition
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.context import EngineContext
from engine.errors import Code, EomsError, InvalidInput, NotAllowed
from engine.history.service import record
from engine.identity.models import OrgUnit, User
from engine.repository.models import ProcessDefinition
from engine.runtime.events import describe, subscribers
from engine.runtime.executor import conflict_guard, open_instance
from engine.runtime.models import InstanceStatus, ProcessInstance
from engine.runtime.numbering import new_business_key
from engine.spiff.event_names import MESSAGE, SIGNAL

MAX_DELIVERIES = 500
_QUEUE, _BUSY = "eoms_event_queue", "eoms_event_delivering"


@dataclass
class Delivery:
    """What a signal or message reached: instances it woke, instances it started, receivers that failed."""

    woken: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class DeliveryActions:
    """Signals and messages between instances."""

    ctx: EngineContext

    def broadcast_signal(self, session: Session, name: str, payload: dict[str, Any] | None = None,
                         *, actor: User | None = None, org_code: str | None = None) -> Delivery:
        """Throw signal ``name``: every waiting instance catches it, every signal start event starts."""
        _may_throw(actor)
        return self._deliver(session, SIGNAL, _name(name), payload or {}, actor, self._org_of(session, org_code),
                             source=None)

    def send_message(self, session: Session, name: str, payload: dict[str, Any] | None = None,
                     *, actor: User | None = None, org_code: str | None = None) -> Delivery:
        """Send message ``name`` to the first instance that waits for it and catches it (its correlation
        decides), else start a process whose start event receives it."""
        _may_throw(actor)
        return self._deliver(session, MESSAGE, _name(name), payload or {}, actor, self._org_of(session, org_code),
                             source=None)

    def deliver_thrown(self, session: Session, source: ProcessInstance, events: list[Any]) -> None:
        """The events an instance threw and its process did not catch (called when the instance is saved)."""
        queue = session.info.setdefault(_QUEUE, [])
        queue.extend((source, event) for event in events)
        if session.info.get(_BUSY):
            return  # the delivery already under way on this session takes it
        session.info[_BUSY] = True
        try:
            delivered = 0
            while queue and delivered < MAX_DELIVERIES:
                origin, event = queue.pop(0)
                found = describe(event)
                if found is None:
                    continue
                kind, name, payload = found
                self._deliver(session, kind, name, payload, None, origin.org_unit_id, source=origin)
                delivered += 1
            queue.clear()
        finally:
            session.info[_BUSY] = False

    # -- internals ---------------------------------------------------------------------------------------
    def _deliver(self, session: Session, kind: str, name: str, payload: dict[str, Any],
                 actor: User | None, org_unit_id: int, *, source: ProcessInstance | None) -> Delivery:
        result = Delivery()
        instances, definitions = subscribers(session, kind, name)
        for instance_id in instances:
            if source is not None and instance_id == source.id:
                continue
            if self._wake(session, instance_id, kind, name, payload, actor, result) and kind == MESSAGE:
                return result
        for definition_id in definitions:
            self._start_by_event(session, definition_id, kind, name, payload, actor, org_unit_id, result)
            if kind == MESSAGE and result.started:
                break
        if source is not None:
            record(session, source.id, f"{kind}_thrown", at=self.ctx.clock(),
                   payload={"name": name, "woken": result.woken, "started": result.started})
        return result

    def _wake(self, session: Session, instance_id: int, kind: str, name: str,
              payload: dict[str, Any], actor: User | None, result: Delivery) -> bool:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None or instance.status != InstanceStatus.RUNNING:
            return False
        try:
            with session.begin_nested():
                catch_event(self.ctx, session, instance, kind, name, payload, actor.id if actor else None)
        except WorkflowException:  # waits for it, but its correlation does not match
            return False
        except EomsError as err:
            result.failed.append(f"{instance.business_key}: {err}")
            return False
        result.woken.append(instance_id)
        return True

    def _start_by_event(self, session: Session, definition_id: int, kind: str, name: str,
                        payload: dict[str, Any], actor: User | None, org_unit_id: int, result: Delivery) -> None:
        row = session.get(ProcessDefinition, definition_id)
        org = session.get(OrgUnit, org_unit_id)
        if row is None or org is None:
            return
        try:
            with session.begin_nested():
                instance = self.start(session, row.key, business_key=new_business_key(session, row.key,
                                                                                      self.ctx.clock()),
                                      data=dict(payload), actor=actor, org_code=org.code,
                                      validate_start_form=False, started_by=(kind, name)).instance
                catch_event(self.ctx, session, instance, kind, name, payload, actor.id if actor else None)
        except (EomsError, WorkflowException) as err:
            result.failed.append(f"{row.key}: {err}")
            return
        result.started.append(instance.id)

    def _org_of(self, session: Session, org_code: str | None) -> int:
        if org_code:
            org = session.scalar(select(OrgUnit).where(OrgUnit.code == org_code))
        else:
            org = session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1))
        if org is None:
            what = f"org unit '{org_code}' does not exist" if org_code else "there is no org unit yet"
            raise InvalidInput(what, {"org": "unknown"})
        return org.id


def catch_event(ctx: EngineContext, session: Session, instance: ProcessInstance, kind: str, name: str,
                payload: dict[str, Any], actor_id: int | None) -> None:
    """``instance`` catches signal or message ``name`` and runs on (SpiffWorkflow's ``WorkflowException`` when
    it does not wait for it); the one way an event from outside enters an instance."""
    with conflict_guard(f"work order {instance.business_key}"):
        op = open_instance(ctx, session, instance, actor_id)
        op.workflow.send_event(_event(kind, name, payload))
        record(session, instance.id, f"{kind}_received", actor_id=actor_id, at=op.now,
               payload={kind: name, "keys": sorted(payload)[:20]})
        op.advance()
        op.save()


def _may_throw(actor: User | None) -> None:
    """Signals reach work orders in every unit: only supervisors, administrators and the system send them."""
    if actor is not None and actor.role not in ("supervisor", "admin"):
        raise NotAllowed(f"{actor.username} may not send signals or messages")


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("a signal or message needs a name of 1-200 characters", {"name": "required"},
                           code=Code.INPUT_INVALID)
    return name


def _event(kind: str, name: str, payload: dict[str, Any]) -> BpmnEvent:
    definition = SignalEventDefinition(name) if kind == SIGNAL else MessageEventDefinition(name)
    return BpmnEvent(definition, dict(payload))
