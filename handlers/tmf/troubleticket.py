"""TMF621 TroubleTicket: a 售后故障 work order as the call centre sees it — its status and the history of it,
read from the instance, its task rows, its incidents and its history.

Status (``TroubleTicketStatusType``) from the process (``processes/aftersales_fault.bpmn``):

============  ==========================================================================================
acknowledged  received, 故障受理 not done yet (also when the fault is returned to 故障受理)
held          a step is suspended (挂起), or an incident is open (e.g. 自动派单 found no routing rule) —
              except the adapter's own delivery jobs (``tmf.*``): a listener being down holds no ticket
inProgress    being handled: 故障处理 or 恢复回单 open (again after 回单审核 refused the receipt)
resolved      恢复回单 done — the fault is repaired; 回单审核 and 客户回访 still open
closed        the instance completed (回单审核 passed, 客户回访 done, 归档)
cancelled     the work order was cancelled — or stopped by an error nothing handled (status failed)
pending       not used: the flow has no step that waits for the customer (waiting for one is a 挂起: held)
rejected      not used: the flow cannot refuse a ticket (回单审核 refuses a receipt, not the ticket)
============  ==========================================================================================

Between two steps (a step done, the next not yet created) the status stays what it was. ``statusChange[]``
replays the history by the same rules, one entry per change, oldest first. The node ids are the diagram's; an
analyst who renames those steps updates the sets below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.attachments.models import Attachment
from engine.history.models import HistoryEvent
from engine.identity.models import User
from engine.runtime.models import Incident, IncidentStatus, InstanceStatus, ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus
from handlers.tmf.models import ExternalOrder
from handlers.tmf.times import iso

API = "troubleTicket"
KIND = "troubleTicket"
PROCESS = "aftersales_fault"
BASE = "/tmf-api/troubleTicket/v4"
STATUSES = ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "closed", "resolved")
ACK_STEPS = frozenset({"accept"})
RESOLVED_STEPS = frozenset({"audit", "callback"})
PENDING_STEPS: frozenset[str] = frozenset()  # a step that waits for the customer (the flow has none)
ENDED = {InstanceStatus.COMPLETED: "closed", InstanceStatus.CANCELLED: "cancelled", InstanceStatus.FAILED: "cancelled"}
OWN_JOBS = "tmf."  # incidents of the adapter's own jobs (delivery to listeners) hold no ticket
OPENS_INCIDENT = ("handler_failed", "incident_opened", "job_failed")
CLOSED_AS = {"task_completed": "完成", "task_returned": "退回", "task_cancelled": "取消"}


def href(ticket_id: str) -> str:
    return f"{BASE}/troubleTicket/{ticket_id}"


@dataclass
class _Snapshot:
    """What decides the status: the open steps, which are suspended, the open incidents, the end."""

    open: dict[int, str] = field(default_factory=dict)  # task id → node id
    suspended: set[int] = field(default_factory=set)
    incidents: set[int] = field(default_factory=set)
    ended: str | None = None  # the instance's status once it ended


def _status(snap: _Snapshot, previous: str) -> str:
    if snap.ended:
        return ENDED.get(InstanceStatus(snap.ended), "cancelled")
    if snap.incidents or snap.suspended & set(snap.open):
        return "held"
    nodes = set(snap.open.values())
    if not nodes:
        return previous  # between two steps
    if nodes <= ACK_STEPS:
        return "acknowledged"
    if nodes & PENDING_STEPS:
        return "pending"
    if nodes <= RESOLVED_STEPS:
        return "resolved"
    return "inProgress"


def status_of(session: Session, instance: ProcessInstance) -> str:
    """The TMF status of the ticket's instance right now (see the module's table)."""
    if instance.status != InstanceStatus.RUNNING:
        return _status(_Snapshot(ended=instance.status), "")
    tasks = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                    HumanTask.status == TaskStatus.READY)).all()
    incidents = session.scalars(select(Incident.id).where(
        Incident.instance_id == instance.id, Incident.status == IncidentStatus.OPEN,
        Incident.node_id.not_like(f"{OWN_JOBS}%"))).all()
    snap = _Snapshot(open={t.id: t.node_id for t in tasks}, incidents=set(incidents),
                     suspended={t.id for t in tasks if t.suspended_at is not None})
    accepted = session.scalar(select(HumanTask.id).where(
        HumanTask.instance_id == instance.id, HumanTask.node_id.in_(ACK_STEPS),
        HumanTask.status == TaskStatus.COMPLETED).limit(1)) is not None
    return _status(snap, "inProgress" if accepted else "acknowledged")


def status_changes(session: Session, instance: ProcessInstance) -> list[dict[str, Any]]:
    """The status history, oldest first: the history of the instance replayed by the rules of the table."""
    names = dict(session.execute(select(HumanTask.id, HumanTask.node_name)
                                 .where(HumanTask.instance_id == instance.id)).tuples().all())
    events = session.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == instance.id)
                             .order_by(HistoryEvent.id))
    snap, current, last_done = _Snapshot(), "acknowledged", ""
    changes = [_change("acknowledged", instance.started_at, "故障申告")]
    for event in events:
        kind, task, payload = event.event_type, event.human_task_id, event.payload or {}
        name = names.get(task or 0, event.node_id or "")
        reason = ""
        if kind == "task_created" and task:
            snap.open[task] = event.node_id or ""
            reason = f"{last_done}，转{name}" if last_done else f"转{name}"
        elif kind in CLOSED_AS and task:
            snap.open.pop(task, None)
            snap.suspended.discard(task)
            reason = last_done = name + CLOSED_AS[kind]
        elif kind == "task_suspended" and task:
            snap.suspended.add(task)
            reason = f"{name}挂起：{payload.get('reason', '')}"
        elif kind == "task_resumed" and task:
            snap.suspended.discard(task)
            reason = f"{name}恢复" + (f"：{payload['reason']}" if payload.get("reason") else "")
        elif kind in OPENS_INCIDENT and payload.get("incident_id") and not (event.node_id or "").startswith(OWN_JOBS):
            snap.incidents.add(int(payload["incident_id"]))
            text = payload.get("message") or f"{event.node_id}: {payload.get('error', '')}"
            reason = f"异常：{str(text)[:200]}"
        elif kind == "incident_resolved" and payload.get("incident_id"):
            snap.incidents.discard(int(payload["incident_id"]))
            reason = "异常已处理"
        elif kind in ("instance_completed", "instance_cancelled", "instance_failed"):
            snap.ended = kind.removeprefix("instance_")
            reason = {"instance_completed": "归档"}.get(kind) or str(
                payload.get("reason") or payload.get("message") or instance.end_reason or "")[:500]
        else:
            continue
        status = _status(snap, current)
        if status != current:
            changes.append(_change(status, event.at, reason))
            current = status
    return changes


def _change(status: str, at: datetime | None, reason: str) -> dict[str, Any]:
    return {"status": status, "changeDate": iso(at), "changeReason": reason, "@type": "StatusChange"}


def _notes(session: Session, link: ExternalOrder, instance: ProcessInstance) -> list[dict[str, Any]]:
    """The client's own notes (sent and PATCHed), then the 批注 others wrote on the order's steps."""
    notes = [*(link.request.get("note") or []), *((link.changes or {}).get("note") or [])]
    rows = session.execute(select(HistoryEvent, User.display_name).join(User, User.id == HistoryEvent.actor_id)
                           .where(HistoryEvent.instance_id == instance.id,
                                  HistoryEvent.event_type == "task_annotated",
                                  HistoryEvent.actor_id != instance.started_by_id)
                           .order_by(HistoryEvent.id)).all()
    notes += [{"id": f"annotation-{e.id}", "author": author, "date": iso(e.at), "text": str(e.payload.get("text")),
               "@type": "Note"} for e, author in rows]
    return notes


def _attachments(session: Session, link: ExternalOrder, instance: ProcessInstance) -> list[dict[str, Any]]:
    """The references the client sent, then the files uploaded to the order's steps (the 故障处理报告 …)."""
    sent = [*(link.request.get("attachment") or []), *((link.changes or {}).get("attachment") or [])]
    files = session.scalars(select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.id))
    return sent + [{"id": str(a.id), "name": a.filename, "mimeType": a.content_type, "attachmentType": "file",
                    "size": {"amount": a.size, "units": "bytes"}, "@type": "AttachmentRef"} for a in files]


def trouble_ticket(session: Session, link: ExternalOrder, instance: ProcessInstance,
                   status: str | None = None) -> dict[str, Any]:
    """The whole TroubleTicket resource (``status`` given: the status to report, e.g. one an event announces)."""
    sent: dict[str, Any] = link.request or {}
    changes: dict[str, Any] = link.changes or {}
    data: dict[str, Any] = sent.get("data") or {}
    last_event = session.scalar(select(HistoryEvent.at).where(HistoryEvent.instance_id == instance.id)
                                .order_by(HistoryEvent.id.desc()).limit(1))
    updated = max((m for m in (last_event, link.updated_at, instance.ended_at) if m), default=instance.started_at,
                  key=_naive)
    history = status_changes(session, instance)
    status = status or status_of(session, instance)
    if history[-1]["status"] != status:  # the live rows decide; the replay only tells how it got there
        history.append(_change(status, updated, ""))
    resolved = [c["changeDate"] for c in history if c["status"] == "resolved"]
    expected = None
    if status in ("acknowledged", "inProgress", "held", "pending"):
        expected = max((d for d in session.scalars(select(HumanTask.due_at).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)) if d), default=None,
            key=_naive)
    ticket: dict[str, Any] = {
        "id": instance.business_key, "href": href(instance.business_key),
        "externalId": sent.get("externalId"),
        "name": changes.get("name", sent.get("name")),
        "description": changes.get("description", sent.get("description")),
        "severity": sent.get("severity"), "priority": changes.get("priority", sent.get("priority")),
        "ticketType": sent.get("ticketType"),
        "status": status, "statusChangeDate": history[-1]["changeDate"],
        "statusChangeReason": history[-1]["changeReason"] or None,
        "creationDate": iso(instance.started_at), "lastUpdate": iso(updated),
        "requestedResolutionDate": changes.get("requestedResolutionDate", sent.get("requestedResolutionDate")),
        "expectedResolutionDate": iso(expected),
        "resolutionDate": resolved[-1] if resolved and status in ("resolved", "closed") else None,
        "channel": sent.get("channel"),
        "relatedParty": sent.get("relatedParty") or [],
        "relatedEntity": sent.get("relatedEntity") or [],
        "note": _notes(session, link, instance),
        "attachment": _attachments(session, link, instance),
        "statusChange": history,
        "region": data.get("region"), "serviceType": data.get("service_type"), "vip": data.get("vip"),
        "@type": "TroubleTicket",
    }
    return {k: v for k, v in ticket.items() if v is not None}


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


# how ``handlers.tmf`` builds and announces the resource (TroubleTicketCreateEvent, …StatusChangeEvent)
RESOURCE_KIND: dict[str, Any] = {"api": API, "key": KIND, "prefix": "TroubleTicket", "build": trouble_ticket,
                                 "process": PROCESS, "state_field": "status", "initial": "acknowledged"}
