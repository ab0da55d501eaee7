"""TMF621 operations on 售后故障 work orders, for one API client. Functions take the session; the view commits.

A client sees only the tickets it sent itself: another client's ticket looks exactly like a missing one.

How a TroubleTicket_Create becomes the start form (``processes/forms/fault_start.json``):

=======================================================  ==============================================
customer                                                 ``relatedParty[role=customer].name``
customer_phone                                           that party's ``contactMedium[].characteristic.phoneNumber``
                                                         (a ``preferred`` medium first)
circuit                                                  ``relatedEntity[role=circuit].id``
fault_type                                               ``ticketType``: outage 中断, degradation 劣化,
                                                         intermittent 闪断, other 其他
priority                                                 ``priority``: Critical 紧急, High 高, Medium/Low 一般;
                                                         absent: ``severity`` Critical 紧急, Major 高, Minor 一般
description                                              ``description``
region, service_type, vip                                the EOMS extension ``region``, ``serviceType``, ``vip``
=======================================================  ==============================================

``severity``, ``priority`` and ``ticketType`` take those values (any case) or the form's own; others are
refused (422, naming the attribute).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.errors import Code, EomsError, InvalidInput, InvalidState, NotFound
from engine.identity.models import OrgUnit
from engine.runtime.models import InstanceStatus, ProcessInstance
from engine.runtime.numbering import new_business_key
from engine.tasks.models import HumanTask, TaskStatus
from handlers.tmf import order_changed, troubleticket
from handlers.tmf.models import ExternalOrder
from webapp.api.models import ApiClient
from webapp.api.paging import counted_page

KEY_TRIES = 5
FAULT_TYPES = {"outage": "中断", "degradation": "劣化", "intermittent": "闪断", "other": "其他"}
PRIORITIES = {"critical": "紧急", "high": "高", "medium": "一般", "low": "一般"}
SEVERITIES = {"critical": "紧急", "major": "高", "minor": "一般"}
FORM_PRIORITIES = ("紧急", "高", "一般")
PHONE = "relatedParty[role=customer].contactMedium.characteristic.phoneNumber"
# the start form's keys → where the client put them (to name the right attribute in an error)
WHERE = {"customer": "relatedParty[role=customer].name", "customer_phone": PHONE, "vip": "vip",
         "circuit": "relatedEntity[role=circuit].id", "region": "region", "service_type": "serviceType",
         "fault_type": "ticketType", "priority": "priority", "description": "description"}


class Repeat(Exception):
    """The client sent this externalId before: the ticket it made then."""

    def __init__(self, link: ExternalOrder):
        super().__init__(link.external_id)
        self.link = link


def _mapped(value: Any, table: dict[str, str], own: tuple[str, ...]) -> str | None:
    text = str(value).strip()
    return text if text in own else table.get(text.lower())


def form_priority(sent: dict[str, Any]) -> tuple[str | None, str]:
    """The form's priority and the attribute it came from (priority, else severity); None: not known."""
    if sent.get("priority") is not None:
        return _mapped(sent["priority"], PRIORITIES, FORM_PRIORITIES), "priority"
    return _mapped(sent["severity"], SEVERITIES, FORM_PRIORITIES), "severity"


def _phone(party: dict[str, Any]) -> str:
    media = sorted(party.get("contactMedium") or [], key=lambda m: not m.get("preferred"))
    return next((str(m["characteristic"]["phoneNumber"]) for m in media
                 if (m.get("characteristic") or {}).get("phoneNumber")), "")


def start_data(sent: dict[str, Any]) -> dict[str, Any]:
    """The 售后故障 start form's data from a TroubleTicket_Create body (as sent; see the module's table)."""
    wrong: dict[str, str] = {}
    if _mapped(sent["severity"], SEVERITIES, FORM_PRIORITIES) is None:
        wrong["severity"] = "invalid"
    priority, source = form_priority(sent)
    if priority is None:
        wrong[source] = "invalid"
    fault_type = _mapped(sent["ticketType"], FAULT_TYPES, tuple(FAULT_TYPES.values()))
    if fault_type is None:
        wrong["ticketType"] = "invalid"
    customers = [p for p in sent.get("relatedParty") or [] if str(p.get("role", "")).lower() == "customer"]
    if not customers or not customers[0].get("name"):
        wrong["relatedParty"] = "required"
    if wrong:
        raise InvalidInput(f"the ticket cannot start 售后故障: {', '.join(sorted(wrong))}", wrong)
    circuits = [e for e in sent.get("relatedEntity") or [] if str(e.get("role", "")).lower() == "circuit"]
    return {"customer": str(customers[0]["name"]), "customer_phone": _phone(customers[0]),
            "vip": bool(sent.get("vip", False)), "circuit": str(circuits[0]["id"]) if circuits else "",
            "region": str(sent.get("region", "")), "service_type": str(sent.get("serviceType", "")),
            "fault_type": fault_type, "priority": priority, "description": str(sent["description"])}


def find(session: Session, client: ApiClient, ticket_id: str) -> ExternalOrder:
    """The client's ticket by its work order number."""
    link = session.scalar(select(ExternalOrder).join(ProcessInstance, ProcessInstance.id == ExternalOrder.instance_id)
                          .where(ExternalOrder.client_id == client.id, ExternalOrder.kind == troubleticket.KIND,
                                 ProcessInstance.business_key == ticket_id))
    if link is None:
        raise NotFound(f"troubleTicket '{ticket_id}' does not exist", details={"id": ticket_id})
    return link


def _earlier(session: Session, client: ApiClient, external_id: str) -> ExternalOrder | None:
    return session.scalar(select(ExternalOrder).where(
        ExternalOrder.client_id == client.id, ExternalOrder.kind == troubleticket.KIND,
        ExternalOrder.external_id == external_id))


def create(session: Session, pe: ProcessEngine, client: ApiClient, sent: dict[str, Any]) -> ExternalOrder:
    """Start 售后故障 for the ticket, or raise :class:`Repeat` with the ticket this externalId made before.
    Without an externalId every post is a new ticket (its work order number stands in for the key)."""
    external_id = str(sent["externalId"]) if sent.get("externalId") else None
    if external_id is not None and (earlier := _earlier(session, client, external_id)) is not None:
        raise Repeat(earlier)
    data = start_data(sent)
    if data["region"] and session.scalar(select(OrgUnit.id).where(OrgUnit.code == data["region"])) is None:
        raise InvalidInput(f"region '{data['region']}' is not an area EOMS knows", {"region": "invalid"})
    now = pe.ctx.clock()
    for attempt in range(KEY_TRIES):
        try:
            started = pe.runtime.start(session, troubleticket.PROCESS, actor=client.user, data=data,
                                       org_code=data["region"] or None,
                                       business_key=new_business_key(session, troubleticket.PROCESS, now))
            break
        except InvalidInput as err:  # a work order number drawn at the same moment by a concurrent start
            if err.details.get("fields") != {"business_key": "already used"} or attempt == KEY_TRIES - 1:
                raise _named(err, sent) from None
        except EomsError as err:
            raise _named(err, sent) from None
    instance = started.instance
    link = ExternalOrder(client_id=client.id, kind=troubleticket.KIND, external_id=external_id or instance.business_key,
                         instance_id=instance.id, request={**sent, "data": data}, changes={}, state="",
                         announced={}, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(link)
    except IntegrityError:  # the same externalId committed by a concurrent request a moment ago
        session.rollback()
        raise Repeat(session.scalars(select(ExternalOrder).where(
            ExternalOrder.client_id == client.id, ExternalOrder.kind == troubleticket.KIND,
            ExternalOrder.external_id == link.external_id)).one()) from None
    _annotate(session, pe, client, instance.id, sent)
    order_changed(session, instance.id, "created", now)
    return link


def _named(err: EomsError, sent: dict[str, Any]) -> EomsError:
    """The start form's complaint, with each field named where the client put it."""
    where = {**WHERE, "priority": form_priority(sent)[1]}
    problems = err.details.get("problems")
    if isinstance(problems, dict):
        err.details["problems"] = {where.get(k, k): v for k, v in problems.items()}
    return err


def _annotate(session: Session, pe: ProcessEngine, client: ApiClient, instance_id: int, sent: dict[str, Any]) -> None:
    """Each note and attachment reference the client sent becomes a 批注 on every open step (that the client's
    user may see)."""
    texts = [f"{client.name}" + (f"（{n['author']}）" if n.get("author") else "") + f"：{n['text']}"
             for n in sent.get("note") or []]
    for ref in sent.get("attachment") or []:
        name = ref.get("name") or ref.get("description")
        texts.append(f"{client.name}附件：" + (f"{name} {ref['url']}" if name else ref["url"]))
    if not texts:
        return
    for task_id in session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                              HumanTask.status == TaskStatus.READY)).all():
        for text in texts:
            try:
                pe.tasks.annotate(session, task_id, client.user, text)
            except NotFound:  # a step the client's user may not see: the note stays on the ticket (note[])
                break


def listed(session: Session, client: ApiClient, *, status: str | None, filters: dict[str, str],
           since: datetime | None, until: datetime | None, offset: int, limit: int) -> tuple[int, list[ExternalOrder]]:
    """The client's tickets, newest first. ``status`` filters by the status last told to listeners (a ticket
    not synced yet counts as acknowledged); ``filters``: externalId, ticketType, severity (as sent)."""
    query = (select(ExternalOrder).join(ProcessInstance, ProcessInstance.id == ExternalOrder.instance_id)
             .where(ExternalOrder.client_id == client.id, ExternalOrder.kind == troubleticket.KIND))
    if status:
        wanted = status.split(",")
        query = query.where(or_(ExternalOrder.state.in_(wanted), ExternalOrder.state == "")
                            if "acknowledged" in wanted else ExternalOrder.state.in_(wanted))
    for name, value in filters.items():
        query = query.where(ExternalOrder.request[name].as_string() == value)
    if since:
        query = query.where(ProcessInstance.started_at > since)
    if until:
        query = query.where(ProcessInstance.started_at < until)
    return counted_page(session, query, offset, limit, ExternalOrder.id.desc())


def patch(session: Session, pe: ProcessEngine, client: ApiClient, link: ExternalOrder, sent: dict[str, Any]) -> None:
    """Change what may change while the ticket is open; each new note or attachment reference becomes a 批注 on
    the open steps."""
    instance = pe.runtime.get(session, link.instance_id)
    if instance.status != InstanceStatus.RUNNING:
        raise InvalidState(f"ticket {instance.business_key} is {instance.status}", code=Code.INSTANCE_NOT_RUNNING,
                           details={"status": str(instance.status)})
    if sent.get("priority") is not None and _mapped(sent["priority"], PRIORITIES, FORM_PRIORITIES) is None:
        raise InvalidInput(f"priority '{sent['priority']}' is not known", {"priority": "invalid"})
    changes = dict(link.changes or {})
    for key, value in sent.items():
        if key not in ("note", "attachment") and not key.startswith("@"):
            changes[key] = value
    for key in ("note", "attachment"):
        if sent.get(key):
            changes[key] = [*(changes.get(key) or []), *sent[key]]
    _annotate(session, pe, client, instance.id, sent)
    link.changes, link.updated_at = changes, pe.ctx.clock()
