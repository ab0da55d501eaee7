"""TM Forum adapter: work orders sent in through the TMF APIs and the events sent back to their listeners.

When something happens to an order a client sent (a step done, a deadline warning, the end), a ``tmf.sync``
job is queued in the same transaction. The job runs after that transaction committed, so it sees the order
as it now stands: it compares the resource with what the client's listeners were last told and publishes
what is new — the creation, each milestone, each jeopardy alert, each change of state — through the hub's
outbox (``hub.publish``), which sends them in order, signed, once each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.jobs.service import enqueue
from engine.registry import HandlerRegistry, JobContext, ListenerContext
from engine.runtime.models import ProcessInstance
from handlers.tmf import hub, serviceorder, troubleticket
from handlers.tmf.models import ExternalOrder

SYNC_JOB = "tmf.sync"


@dataclass(frozen=True)
class ResourceKind:
    """How one TMF resource is built and announced."""

    api: str  # the hub's API name
    key: str  # the event payload key (serviceOrder, troubleTicket …)
    prefix: str  # of event types (ServiceOrder → ServiceOrderStateChangeEvent)
    build: Callable[[Session, ExternalOrder, ProcessInstance], dict[str, Any]]
    process: str  # the flow its work orders run
    state_field: str = "state"
    initial: str = "acknowledged"  # what the Create event announced


KINDS: dict[str, ResourceKind] = {
    serviceorder.KIND: ResourceKind(serviceorder.API, serviceorder.KIND, "ServiceOrder", serviceorder.service_order,
                                    serviceorder.PROCESS),
    troubleticket.KIND: ResourceKind(**troubleticket.RESOURCE_KIND),
}


def links_of(session: Session, instance_id: int) -> list[ExternalOrder]:
    return list(session.scalars(select(ExternalOrder).where(ExternalOrder.instance_id == instance_id,
                                                            ExternalOrder.kind.in_(tuple(KINDS)))))


PROCESSES = frozenset(kind.process for kind in KINDS.values())  # only their work orders can be API orders


def order_changed(session: Session, instance_id: int, what: str, now: Any, process_key: str | None = None) -> None:
    """Queue a sync of every API order of the instance (``what`` makes the job's key unique to the change).
    A work order of another flow (``process_key`` given) costs no query: it cannot be one."""
    if process_key is not None and process_key not in PROCESSES:
        return
    for link in links_of(session, instance_id):
        enqueue(session, SYNC_JOB, {"order": link.id}, f"tmf-sync:{link.id}:{what}", now=now,
                instance_id=instance_id, max_attempts=10)


def sync(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Publish what the order's listeners have not been told yet (idempotent: a repeat publishes nothing)."""
    session = ctx.session
    link = session.scalar(select(ExternalOrder).where(ExternalOrder.id == int(payload["order"])).with_for_update())
    if link is None:
        return {"gone": True}
    instance = session.get(ProcessInstance, link.instance_id)
    kind = KINDS[link.kind]
    resource = kind.build(session, link, instance)
    published: list[str] = []

    def announce(suffix: str, **extra: Any) -> None:
        event_type = f"{kind.prefix}{suffix}Event"
        hub.publish(session, link, api=kind.api, event_type=event_type, resource_key=kind.key, resource=resource,
                    now=ctx.now, **extra)
        published.append(event_type)

    told: dict[str, Any] = dict(link.announced or {})
    last_state = link.state
    if not last_state:  # new: the creation, then whatever happened since, compared with the first state
        announce("Create", title=f"{kind.key} {resource['id']} created")
        last_state = kind.initial
    for milestone in resource.get("milestone", []):
        if milestone["id"] not in told.get("milestones", []):
            announce("Milestone", title=milestone["name"])
    for alert in resource.get("jeopardyAlert", []):
        if alert["id"] not in told.get("alerts", []):
            announce("Jeopardy", title=alert["message"], priority="1" if alert["name"] == "overdue" else "2")
    if resource[kind.state_field] != last_state:
        announce("StateChange" if kind.state_field == "state" else "StatusChange",
                 title=f"{last_state} → {resource[kind.state_field]}")
    told["milestones"] = [m["id"] for m in resource.get("milestone", [])]
    told["alerts"] = [a["id"] for a in resource.get("jeopardyAlert", [])]
    link.announced, link.state, link.updated_at = told, resource[kind.state_field], ctx.now
    session.flush()
    return {"published": published}


def register(registry: HandlerRegistry) -> None:
    """The sync job, the hub's delivery job, and the listeners that notice a change of an API order."""
    hub.register(registry)
    registry.register_job(SYNC_JOB, sync, "tell the listeners of an API order what changed")

    def step_done(ctx: ListenerContext, row: Any) -> None:
        order_changed(ctx.session, row.instance_id, f"task:{row.id}", ctx.now, row.process_key)

    def ended(ctx: ListenerContext, instance: ProcessInstance) -> None:
        order_changed(ctx.session, instance.id, f"end:{instance.status}", ctx.now, instance.process_key)

    def deadline(ctx: ListenerContext, notice: Any) -> None:
        order_changed(ctx.session, notice.task.instance_id, f"{notice.event}:{notice.task.id}", ctx.now,
                      notice.task.process_key)

    registry.on("task_completed", step_done)
    registry.on("instance_completed", ended)
    registry.on("instance_cancelled", ended)
    registry.on("task_warned", deadline)
    registry.on("task_overdue", deadline)
