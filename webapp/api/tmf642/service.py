"""TMF642 alarms from network managers: stored, correlated, and — by the rules of ``handlers.tmf.alarm`` — turned
into a TMF621 trouble ticket with its 售后故障 order. Functions take the session; the view commits.

* the same ``externalAlarmId`` again from the same client is the same alarm (a repeat: counted, 200);
* another alarm on a circuit whose ticket is still open is linked to that ticket (a 批注 on its open steps),
  never a second order;
* a clear (``state`` cleared or ``alarmClearedTime``) adds a 批注 and lets 恢复回单 prefill its recovery time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.errors import EomsError, NotFound
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus
from handlers.tmf import alarm as alarms
from handlers.tmf.models import Alarm, ExternalOrder
from webapp.api.models import ApiClient
from webapp.api.paging import counted_page
from webapp.api.tmf621 import service as tickets
from webapp.api.tmf642.schemas import normal

SHANGHAI = alarms.SHANGHAI
CANONICAL = {normal(v): v for v in (*alarms.ALARM_TYPES, *alarms.SEVERITIES, *alarms.STATES)}
TICKET_SEVERITY = {"critical": "Critical", "major": "Major", "minor": "Minor"}


class Repeat(Exception):
    """The client sent this externalAlarmId before."""

    def __init__(self, alarm: Alarm):
        super().__init__(alarm.external_alarm_id)
        self.alarm = alarm


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def canonical(value: str) -> str:
    return CANONICAL.get(normal(value), value)


def find(session: Session, client: ApiClient, alarm_id: str) -> Alarm:
    """The client's alarm (another client's looks like a missing one)."""
    alarm = session.get(Alarm, int(alarm_id)) if alarm_id.isdigit() and len(alarm_id) < 12 else None
    if alarm is None or alarm.client_id != client.id:
        raise NotFound(f"alarm '{alarm_id}' does not exist", details={"id": alarm_id})
    return alarm


def ticket_key(session: Session, alarm: Alarm) -> str | None:
    """The work order number of the ticket the alarm is linked to."""
    if alarm.ticket_id is None:
        return None
    return session.scalar(select(ProcessInstance.business_key).join(
        ExternalOrder, ExternalOrder.instance_id == ProcessInstance.id).where(ExternalOrder.id == alarm.ticket_id))


def receive(session: Session, pe: ProcessEngine, client: ApiClient, sent: dict[str, Any],
            rules: alarms.Rules) -> Alarm:
    """Store a new alarm and open or correlate its ticket; :class:`Repeat` for an externalAlarmId seen before."""
    now = pe.ctx.clock()
    external = sent.get("externalAlarmId")
    if external and (earlier := _by_external(session, client, str(external))) is not None:
        _repeat(session, pe, client, earlier, sent, now)
        raise Repeat(earlier)
    alarm = Alarm(client_id=client.id, external_alarm_id=external, alarm_type=canonical(sent["alarmType"]),
                  perceived_severity=canonical(sent["perceivedSeverity"]), probable_cause=sent["probableCause"],
                  specific_problem=sent.get("specificProblem", ""), alarmed_object_id=sent["alarmedObject"]["id"],
                  alarmed_object_type=sent.get("alarmedObjectType", ""), source_system_id=sent["sourceSystemId"],
                  state=canonical(sent["state"]), service_affecting=bool(sent.get("serviceAffecting", False)),
                  raised_at=_moment(sent["alarmRaisedTime"]), changed_at=_moment(sent.get("alarmChangedTime")),
                  cleared_at=_moment(sent.get("alarmClearedTime")), reported_at=now, repeats=0, body=sent)
    try:
        with session.begin_nested():
            session.add(alarm)
    except IntegrityError:  # the same externalAlarmId committed by a concurrent request a moment ago
        session.rollback()
        raise Repeat(_by_external(session, client, str(external))) from None  # type: ignore[arg-type]
    open_ticket = alarms.open_ticket_of(session, client.id, alarm.alarmed_object_id)
    if open_ticket is not None:
        alarm.ticket_id = open_ticket.id
        _note(session, pe, client, open_ticket, f"关联告警 {alarm.id}：{alarm.probable_cause}"
              f"（{alarm.perceived_severity}，{_local(alarm.raised_at)}）")
    elif alarm.state != "cleared":
        owner = alarms.owner_of(session, alarm.alarmed_object_id)
        opens, _why = alarms.opens_ticket(rules, alarm, owner)
        if opens and owner is not None:
            try:
                with session.begin_nested():
                    link = tickets.create(session, pe, client, _ticket(alarm, owner))
                alarm.ticket_id, alarm.opened_ticket = link.id, True
            except EomsError as err:  # the alarm is kept; why no ticket was opened is said on it
                alarm.body = {**sent, "comment": [*(sent.get("comment") or []), {
                    "comment": f"未能自动建单（{err.code}）：{err}", "systemId": "EOMS", "@type": "Comment"}]}
    session.flush()
    return alarm


def _by_external(session: Session, client: ApiClient, external: str) -> Alarm | None:
    return session.scalar(select(Alarm).where(Alarm.client_id == client.id, Alarm.external_alarm_id == external))


def _repeat(session: Session, pe: ProcessEngine, client: ApiClient, alarm: Alarm, sent: dict[str, Any],
            now: datetime) -> None:
    alarm.repeats += 1
    alarm.changed_at = _moment(sent.get("alarmChangedTime")) or now
    if alarm.state != "cleared" and canonical(sent.get("state", "")) == "cleared":
        clear(session, pe, client, alarm, _moment(sent.get("alarmClearedTime")) or now)


def _ticket(alarm: Alarm, owner: alarms.CircuitOwner) -> dict[str, Any]:
    """The TMF621 ticket an alarm opens on its circuit's customer."""
    severity = TICKET_SEVERITY.get(alarm.perceived_severity, "Minor")
    return {
        "externalId": f"ALARM-{alarm.id}", "name": f"{alarm.alarm_type} {alarm.probable_cause}"[:200],
        "description": f"网管告警：{alarm.probable_cause}"
                       + (f"（{alarm.specific_problem}）" if alarm.specific_problem else "")
                       + f"，电路 {owner.circuit.circuit_id}，告警时间 {_local(alarm.raised_at)}"
                       + f"，来源 {alarm.source_system_id}",
        "severity": severity, "ticketType": "outage" if alarm.perceived_severity == "critical" else "degradation",
        "channel": {"name": "网管告警"},
        "relatedParty": [{"id": owner.customer, "name": owner.customer, "role": "customer",
                          "@referredType": "Organization",
                          "contactMedium": [{"mediumType": "phone", "characteristic": {"phoneNumber": owner.phone}}]}],
        "relatedEntity": [{"id": owner.circuit.circuit_id, "role": "circuit", "@referredType": "Circuit"},
                          {"id": str(alarm.id), "role": "alarm", "@referredType": "Alarm",
                           "href": alarms.href(alarm.id)}],
        "region": owner.region, "serviceType": "专线", "vip": owner.vip,
    }


def patch(session: Session, pe: ProcessEngine, client: ApiClient, alarm: Alarm, sent: dict[str, Any]) -> None:
    """Change what may change; a clear notes the ticket and keeps the time for 恢复回单."""
    now = pe.ctx.clock()
    alarm.body = {**(alarm.body or {}), **sent}
    if "perceivedSeverity" in sent:
        alarm.perceived_severity = canonical(sent["perceivedSeverity"])
    if "serviceAffecting" in sent:
        alarm.service_affecting = bool(sent["serviceAffecting"])
    alarm.changed_at = _moment(sent.get("alarmChangedTime")) or now
    cleared = canonical(sent.get("state", "")) == "cleared" or sent.get("alarmClearedTime")
    if cleared and alarm.state != "cleared":
        clear(session, pe, client, alarm, _moment(sent.get("alarmClearedTime")) or now)
    elif "state" in sent and alarm.state != "cleared":
        alarm.state = canonical(sent["state"])


def clear(session: Session, pe: ProcessEngine, client: ApiClient, alarm: Alarm, at: datetime) -> None:
    alarm.state, alarm.cleared_at = "cleared", at
    if alarm.ticket_id is not None:
        link = session.get(ExternalOrder, alarm.ticket_id)
        if link is not None:
            _note(session, pe, client, link, f"告警 {alarm.id} 已清除（{alarm.probable_cause}），清除时间 {_local(at)}")


def _note(session: Session, pe: ProcessEngine, client: ApiClient, link: ExternalOrder, text: str) -> None:
    for task_id in session.scalars(select(HumanTask.id).where(HumanTask.instance_id == link.instance_id,
                                                              HumanTask.status == TaskStatus.READY)).all():
        pe.tasks.annotate(session, task_id, client.user, f"{client.name}：{text}")


def _local(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def listed(session: Session, client: ApiClient, *, state: str | None, severity: str | None, object_id: str | None,
           offset: int, limit: int) -> tuple[int, list[Alarm]]:
    query = select(Alarm).where(Alarm.client_id == client.id)
    if state:
        query = query.where(Alarm.state.in_([canonical(s) for s in state.split(",")]))
    if severity:
        query = query.where(Alarm.perceived_severity.in_([canonical(s) for s in severity.split(",")]))
    if object_id:
        query = query.where(Alarm.alarmed_object_id == object_id)
    return counted_page(session, query, offset, limit, Alarm.id.desc())
