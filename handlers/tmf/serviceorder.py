"""TMF641 ServiceOrder: a 服务开通 work order as CRM sees it — its state, milestones, jeopardy alerts and the
service it orders, read from the instance, its task rows, its history and the resources allocated to it.

State (``ServiceOrderStateType``) from the process:

============================  ====================================================================
acknowledged                  received, 受理审核 not done yet
rejected                      受理审核 said no (the 通知CRM退单 step ran) and the order ended
pending                       waiting for 人工调度 (no free resource was found automatically)
held                          a step is suspended (挂起), or an automatic step failed (an open incident)
inProgress                    anything else while it runs
completed / cancelled         ended normally / cancelled (a supervisor, or CRM's cancelServiceOrder)
failed                        stopped by an error nothing handled (status failed)
============================  ====================================================================

The node ids are the diagram's (``processes/provisioning.bpmn``); an analyst who renames those steps updates
the sets below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.history.models import HistoryEvent
from engine.runtime.models import Incident, IncidentStatus, InstanceStatus, ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus
from handlers.resources.models import Resource
from handlers.tmf.models import ExternalOrder
from handlers.tmf.times import iso

API = "serviceOrdering"
KIND = "serviceOrder"
PROCESS = "provisioning"
BASE = "/tmf-api/serviceOrdering/v4"
STATES = ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed",
          "partial", "assessingCancellation", "pendingCancellation")
ACTIONS = ("add", "modify", "delete", "noChange")
ACK_STEPS = frozenset({"audit"})
PENDING_STEPS = frozenset({"manual"})
REJECT_STEPS = frozenset({"reject_notify", "end_rejected"})

def href(order_id: str) -> str:
    return f"{BASE}/serviceOrder/{order_id}"


def state_of(session: Session, instance: ProcessInstance) -> str:
    """The TMF state of the order's instance right now (see the module's table)."""
    if instance.status == InstanceStatus.CANCELLED:
        return "cancelled"
    if instance.status == InstanceStatus.FAILED:
        return "failed"
    automatic = set(session.scalars(select(HistoryEvent.node_id).where(
        HistoryEvent.instance_id == instance.id, HistoryEvent.event_type == "step_completed")))
    if automatic & REJECT_STEPS:
        return "rejected"
    if instance.status == InstanceStatus.COMPLETED:
        return "completed"
    open_tasks = list(session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)))
    incident = session.scalar(select(Incident.id).where(Incident.instance_id == instance.id,
                                                        Incident.status == IncidentStatus.OPEN).limit(1))
    if incident is not None or any(t.suspended_at is not None for t in open_tasks):
        return "held"
    nodes = {t.node_id for t in open_tasks}
    if nodes & PENDING_STEPS:
        return "pending"
    if nodes and nodes <= ACK_STEPS:
        return "acknowledged"
    return "inProgress"


def milestones(session: Session, instance_id: int) -> list[dict[str, Any]]:
    """Every completed step, oldest first."""
    rows = session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.COMPLETED)
        .order_by(HumanTask.completed_at, HumanTask.id))
    return [{"id": str(t.id), "name": t.node_name, "description": t.node_id, "milestoneDate": iso(t.completed_at),
             "status": "completed", "@type": "ServiceOrderMilestone"} for t in rows]


def jeopardy_alerts(session: Session, instance_id: int) -> list[dict[str, Any]]:
    """A step near its time limit (warning) or past it (overdue), oldest first."""
    alerts: list[dict[str, Any]] = []
    rows = session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, (HumanTask.warned_at.is_not(None)) | (HumanTask.overdue_at.is_not(None)))
        .order_by(HumanTask.id))
    for t in rows:
        if t.warned_at:
            alerts.append(_alert(t, "warning", t.warned_at, "Hazard", f"{t.node_name} 临近时限"))
        if t.overdue_at:
            alerts.append(_alert(t, "overdue", t.overdue_at, "Critical", f"{t.node_name} 已超时"))
    return sorted(alerts, key=lambda a: a["alertDate"])


def _alert(t: HumanTask, kind: str, at: datetime, jeopardy: str, message: str) -> dict[str, Any]:
    return {"id": f"{t.id}-{kind}", "name": kind, "alertDate": iso(at), "jeopardyType": jeopardy,
            "exception": t.node_id, "message": message, "@type": "ServiceOrderJeopardyAlert"}


def _characteristics(item: dict[str, Any], data: dict[str, Any], instance_id: int,
                     session: Session) -> list[dict[str, Any]]:
    """What the client asked for (its characteristics, the service type), then what was allocated to it."""
    chars = [{"name": str(c["name"]), "valueType": c.get("valueType", "string"), "value": c["value"]}
             for c in (item.get("service") or {}).get("serviceCharacteristic") or []]
    if data.get("service") and not any(c["name"] == "serviceType" for c in chars):
        chars.append({"name": "serviceType", "valueType": "string", "value": data["service"]})
    for resource in session.scalars(select(Resource).where(Resource.instance_id == instance_id)
                                    .order_by(Resource.kind, Resource.id)):
        chars.append({"name": resource.kind, "valueType": "string", "value": resource.value})
    return chars


def service_order(session: Session, link: ExternalOrder, instance: ProcessInstance,
                  state: str | None = None) -> dict[str, Any]:
    """The whole ServiceOrder resource (``state`` given: the state to report, e.g. the one an event announces)."""
    sent: dict[str, Any] = link.request or {}
    changes: dict[str, Any] = link.changes or {}
    data: dict[str, Any] = sent.get("data") or {}
    item = sent.get("item") or {}
    state = state or state_of(session, instance)
    ended = instance.ended_at if state in ("completed", "rejected", "failed") else None
    order: dict[str, Any] = {
        "id": instance.business_key, "href": href(instance.business_key), "externalId": link.external_id,
        "description": changes.get("description", sent.get("description")),
        "category": sent.get("category"), "priority": changes.get("priority", sent.get("priority")),
        "notificationContact": changes.get("notificationContact", sent.get("notificationContact")),
        "orderDate": iso(instance.started_at), "startDate": iso(instance.started_at),
        "requestedStartDate": changes.get("requestedStartDate", sent.get("requestedStartDate")),
        "requestedCompletionDate": changes.get("requestedCompletionDate", sent.get("requestedCompletionDate")),
        "completionDate": iso(ended),
        "state": state,
        "relatedParty": sent.get("relatedParty") or [],
        "note": [*(sent.get("note") or []), *(changes.get("note") or [])],
        "serviceOrderItem": [{
            "id": str(item.get("id", "1")), "action": item.get("action", "add"), "quantity": 1,
            "state": _item_state(state),
            "service": {"serviceType": data.get("service"), "name": item.get("name") or data.get("service"),
                        "state": "active" if state == "completed" else
                        "terminated" if state in ("cancelled", "rejected") else "designed",
                        "serviceCharacteristic": _characteristics(item, data, instance.id, session),
                        "@type": "Service"},
            "@type": "ServiceOrderItem"}],
        "milestone": milestones(session, instance.id),
        "jeopardyAlert": jeopardy_alerts(session, instance.id),
        "@type": "ServiceOrder",
    }
    if state == "cancelled":
        order["cancellationDate"] = iso(instance.ended_at)
        order["cancellationReason"] = instance.end_reason
    return {k: v for k, v in order.items() if v is not None}


def _item_state(state: str) -> str:
    return state if state in ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled",
                              "completed", "failed") else "inProgress"
