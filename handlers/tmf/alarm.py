"""TMF642 Alarm: a network manager's alarm (X.733 fields) as EOMS keeps it, and whether it must open a trouble
ticket: a service-affecting alarm of a configured severity on a circuit registered to a customer (the
circuit inventory of 售中实施), optionally only for VIP customers. Repeats on the same circuit while its ticket
is open are correlated to that ticket instead of opening another one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit
from engine.runtime.models import InstanceStatus, ProcessInstance
from handlers.resources.models import Circuit
from handlers.tmf.models import Alarm, ExternalOrder
from handlers.tmf.times import iso

SHANGHAI = ZoneInfo("Asia/Shanghai")
API = "alarmManagement"
BASE = "/tmf-api/alarmManagement/v4"
STATES = ("raised", "updated", "cleared")
SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate", "cleared")
ALARM_TYPES = ("communicationsAlarm", "processingErrorAlarm", "environmentalAlarm", "qualityOfServiceAlarm",
               "equipmentAlarm", "integrityViolation", "operationalViolation", "physicalViolation",
               "securityServiceOrMechanismViolation", "timeDomainViolation")


@dataclass(frozen=True)
class Rules:
    """Which alarms open a ticket (settings ``EOMS_ALARM_TICKET_SEVERITIES``, ``EOMS_ALARM_VIP_ONLY``)."""

    severities: frozenset[str]
    vip_only: bool = False

    @classmethod
    def parse(cls, severities: str, vip_only: bool) -> Rules:
        return cls(frozenset(s.strip().lower() for s in severities.split(",") if s.strip()), vip_only)


@dataclass(frozen=True)
class CircuitOwner:
    """The registered circuit an alarm is on, its customer and where its work goes."""

    circuit: Circuit
    customer: str
    phone: str
    region: str
    vip: bool


def href(alarm_id: int) -> str:
    return f"{BASE}/alarm/{alarm_id}"


def owner_of(session: Session, circuit_id: str) -> CircuitOwner | None:
    """The circuit ``circuit_id`` of the inventory with its customer (from the order that registered it)."""
    circuit = session.scalar(select(Circuit).where(Circuit.circuit_id == circuit_id))
    if circuit is None or not circuit.customer:
        return None
    order = session.get(ProcessInstance, circuit.instance_id)
    unit = session.get(OrgUnit, order.org_unit_id) if order else None
    started = session.scalar(select(HistoryEvent.payload).where(
        HistoryEvent.instance_id == circuit.instance_id, HistoryEvent.event_type == "instance_started"))
    data = (started or {}).get("data") or {}
    return CircuitOwner(circuit, circuit.customer, (order.customer_phone if order else None) or
                        str(data.get("customer_phone") or ""), unit.code if unit else "", bool(data.get("vip")))


def opens_ticket(rules: Rules, alarm: Alarm, owner: CircuitOwner | None) -> tuple[bool, str]:
    """Whether this alarm opens a ticket, and why (not)."""
    if owner is None:
        return False, "not a registered circuit of a customer"
    if not alarm.service_affecting:
        return False, "not service-affecting"
    if alarm.perceived_severity not in rules.severities:
        return False, f"severity {alarm.perceived_severity} opens no ticket"
    if rules.vip_only and not owner.vip:
        return False, "not a VIP customer"
    return True, "opens a ticket"


def open_ticket_of(session: Session, client_id: int, circuit_id: str) -> ExternalOrder | None:
    """The ticket a running alarm of this client on this circuit opened (repeats go to it)."""
    return session.scalar(
        select(ExternalOrder).join(Alarm, Alarm.ticket_id == ExternalOrder.id)
        .join(ProcessInstance, ProcessInstance.id == ExternalOrder.instance_id)
        .where(Alarm.client_id == client_id, Alarm.alarmed_object_id == circuit_id,
               ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(ExternalOrder.id.desc()).limit(1))


def resource(session: Session, alarm: Alarm, ticket_key: str | None = None) -> dict[str, Any]:
    """The Alarm resource: what was sent (and changed), with EOMS's id, state and the ticket it is linked to."""
    sent: dict[str, Any] = dict(alarm.body or {})
    body: dict[str, Any] = {
        **sent, "id": str(alarm.id), "href": href(alarm.id), "state": alarm.state,
        "perceivedSeverity": "cleared" if alarm.state == "cleared" else sent.get("perceivedSeverity"),
        "alarmRaisedTime": iso(alarm.raised_at), "alarmReportingTime": iso(alarm.reported_at),
        "alarmChangedTime": iso(alarm.changed_at), "alarmClearedTime": iso(alarm.cleared_at),
        "@type": "Alarm",
    }
    if ticket_key:
        body["relatedEntity"] = [{"id": ticket_key, "href": f"/tmf-api/troubleTicket/v4/troubleTicket/{ticket_key}",
                                  "role": "troubleTicket", "@referredType": "TroubleTicket"}]
    comments = list(sent.get("comment") or [])
    if alarm.repeats:
        comments.append({"comment": f"repeated {alarm.repeats} time(s)", "systemId": "EOMS", "@type": "Comment"})
    body["comment"] = comments
    return {k: v for k, v in body.items() if v is not None}


def recovery_time(session: Session, instance_id: int) -> str | None:
    """When the last alarm linked to the order's ticket cleared, as 恢复回单's field takes it (Beijing time)."""
    cleared = session.scalar(select(func.max(Alarm.cleared_at)).join(ExternalOrder, ExternalOrder.id == Alarm.ticket_id)
                             .where(ExternalOrder.instance_id == instance_id, Alarm.state == "cleared"))
    return cleared.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if cleared else None
