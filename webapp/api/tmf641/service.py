"""TMF641 operations on 服务开通 work orders, for one API client. Functions take the session; the view commits.

A client sees only the orders it sent itself: another client's order looks exactly like a missing one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.errors import Code, EomsError, InvalidInput, InvalidState, NotFound
from engine.runtime.models import InstanceStatus, ProcessInstance
from engine.runtime.numbering import new_business_key
from engine.tasks.models import HumanTask, TaskStatus
from handlers.tmf import order_changed, serviceorder
from handlers.tmf.models import ExternalOrder
from webapp.api.models import ApiClient
from webapp.api.paging import counted_page

CANCEL_KIND = "cancelServiceOrder"
KEY_TRIES = 5
# the start form's keys → where the client put them (to name the right attribute in an error)
WHERE = {"order_no": "externalId", "customer": "relatedParty[role=customer].name",
         "customer_phone": "notificationContact", "region": "serviceCharacteristic[region]",
         "service": "serviceCharacteristic[serviceType]", "bandwidth": "serviceCharacteristic[bandwidth]",
         "address": "serviceCharacteristic[aEndAddress]"}


class Repeat(Exception):
    """The client sent this externalId before: the order it made then."""

    def __init__(self, link: ExternalOrder):
        super().__init__(link.external_id)
        self.link = link


def start_data(sent: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The 服务开通 start form's data and the order item, from a ServiceOrder_Create body (as sent)."""
    items = [i for i in sent["serviceOrderItem"] if i.get("action") != "noChange"]
    if len(items) != 1:
        raise InvalidInput("an order carries exactly one item to add or modify",
                           {"serviceOrderItem": "one item"}, code=Code.INPUT_INVALID)
    item = items[0]
    if item["action"] not in ("add", "modify"):
        raise InvalidInput(f"action '{item['action']}' is not provisioned by this flow",
                           {"serviceOrderItem.action": "not supported"})
    customers = [p for p in sent.get("relatedParty") or [] if str(p.get("role", "")).lower() == "customer"]
    if not customers or not customers[0].get("name"):
        raise InvalidInput("the order names no customer", {"relatedParty": "required"})
    service = item["service"]
    chars = {str(c["name"]): c["value"] for c in service.get("serviceCharacteristic") or []}
    data = {"order_no": sent["externalId"], "customer": customers[0]["name"],
            "customer_phone": sent.get("notificationContact", ""), "region": chars.get("region", ""),
            "service": service.get("serviceType") or chars.get("serviceType") or sent.get("category", ""),
            "bandwidth": chars.get("bandwidth", ""), "address": chars.get("aEndAddress", chars.get("address", ""))}
    return {k: (str(v) if not isinstance(v, (bool, int, float)) else v) for k, v in data.items()}, item


def find(session: Session, client: ApiClient, order_id: str, kind: str = serviceorder.KIND) -> ExternalOrder:
    """The client's order (by its work order number, or a cancel request by its id)."""
    query = select(ExternalOrder).where(ExternalOrder.client_id == client.id, ExternalOrder.kind == kind)
    if kind == serviceorder.KIND:
        query = query.join(ProcessInstance, ProcessInstance.id == ExternalOrder.instance_id).where(
            ProcessInstance.business_key == order_id)
    else:
        query = query.where(ExternalOrder.external_id == order_id)
    link = session.scalar(query)
    if link is None:
        raise NotFound(f"{kind} '{order_id}' does not exist", details={"id": order_id})
    return link


def create(session: Session, pe: ProcessEngine, client: ApiClient, sent: dict[str, Any]) -> ExternalOrder:
    """Start 服务开通 for the order, or raise :class:`Repeat` with the order this externalId made before."""
    external_id = str(sent["externalId"])
    earlier = session.scalar(select(ExternalOrder).where(
        ExternalOrder.client_id == client.id, ExternalOrder.kind == serviceorder.KIND,
        ExternalOrder.external_id == external_id))
    if earlier is not None:
        raise Repeat(earlier)
    data, item = start_data(sent)
    now = pe.ctx.clock()
    for attempt in range(KEY_TRIES):
        try:
            started = pe.runtime.start(session, serviceorder.PROCESS, actor=client.user, data=data,
                                       org_code=data["region"] or None,
                                       business_key=new_business_key(session, serviceorder.PROCESS, now))
            break
        except InvalidInput as err:  # a work order number drawn at the same moment by a concurrent start
            if err.details.get("fields") != {"business_key": "already used"} or attempt == KEY_TRIES - 1:
                raise _named(err) from None
        except EomsError as err:
            raise _named(err) from None
    link = ExternalOrder(client_id=client.id, kind=serviceorder.KIND, external_id=external_id,
                         instance_id=started.instance.id, request={**sent, "data": data, "item": item},
                         changes={}, state="", announced={}, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(link)
    except IntegrityError:  # the same externalId committed by a concurrent request a moment ago
        session.rollback()
        raise Repeat(session.scalars(select(ExternalOrder).where(
            ExternalOrder.client_id == client.id, ExternalOrder.kind == serviceorder.KIND,
            ExternalOrder.external_id == external_id)).one()) from None
    order_changed(session, started.instance.id, "created", now)
    return link


def _named(err: EomsError) -> EomsError:
    """The start form's complaint, with each field named where the client put it."""
    problems = err.details.get("problems")
    if isinstance(problems, dict):
        err.details["problems"] = {WHERE.get(k, k): v for k, v in problems.items()}
    return err


def listed(session: Session, client: ApiClient, *, state: str | None, external_id: str | None,
           since: datetime | None, until: datetime | None, offset: int, limit: int) -> tuple[int, list[ExternalOrder]]:
    query = (select(ExternalOrder).join(ProcessInstance, ProcessInstance.id == ExternalOrder.instance_id)
             .where(ExternalOrder.client_id == client.id, ExternalOrder.kind == serviceorder.KIND))
    if state:
        query = query.where(ExternalOrder.state.in_(state.split(",")))
    if external_id:
        query = query.where(ExternalOrder.external_id == external_id)
    if since:
        query = query.where(ProcessInstance.started_at > since)
    if until:
        query = query.where(ProcessInstance.started_at < until)
    return counted_page(session, query, offset, limit, ExternalOrder.id.desc())


def patch(session: Session, pe: ProcessEngine, client: ApiClient, link: ExternalOrder, sent: dict[str, Any]) -> None:
    """Change what may change while the order runs; each new note becomes a 批注 on the open steps."""
    instance = pe.runtime.get(session, link.instance_id)
    if instance.status != InstanceStatus.RUNNING:
        raise InvalidState(f"order {instance.business_key} is {instance.status}", code=Code.INSTANCE_NOT_RUNNING,
                           details={"status": str(instance.status)})
    changes = dict(link.changes or {})
    for key, value in sent.items():
        if key != "note" and not key.startswith("@"):
            changes[key] = value
    notes = list(sent.get("note") or [])
    if notes:
        changes["note"] = [*(changes.get("note") or []), *notes]
        open_steps = session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance.id,
                                                                HumanTask.status == TaskStatus.READY))
        for task_id in open_steps:
            for note in notes:
                author = f"（{note['author']}）" if note.get("author") else ""
                pe.tasks.annotate(session, task_id, client.user, f"CRM{author}：{note['text']}")
    link.changes, link.updated_at = changes, pe.ctx.clock()


def cancel(session: Session, pe: ProcessEngine, client: ApiClient, sent: dict[str, Any]) -> ExternalOrder:
    """cancelServiceOrder: cancel the running order (its allocated resources go back to the inventory)."""
    link = find(session, client, str(sent["serviceOrder"]["id"]))
    reason = str(sent.get("cancellationReason") or "CRM cancelled the order")
    pe.runtime.cancel(session, link.instance_id, actor=client.user, reason=f"CRM：{reason}")
    now = pe.ctx.clock()
    request = {**sent, "effectiveCancellationDate": serviceorder.iso(now)}
    cancel_link = ExternalOrder(client_id=client.id, kind=CANCEL_KIND, external_id=uuid.uuid4().hex[:16],
                                instance_id=link.instance_id, request=request, changes={}, state="done",
                                announced={}, created_at=now, updated_at=now)
    session.add(cancel_link)
    session.flush()
    return cancel_link


def cancel_resource(session: Session, link: ExternalOrder) -> dict[str, Any]:
    instance = session.get(ProcessInstance, link.instance_id)
    assert instance is not None
    sent = link.request
    resource = {
        "id": link.external_id, "href": f"{serviceorder.BASE}/cancelServiceOrder/{link.external_id}",
        "cancellationReason": sent.get("cancellationReason"),
        "requestedCancellationDate": sent.get("requestedCancellationDate"),
        "effectiveCancellationDate": sent.get("effectiveCancellationDate"), "state": link.state,
        "serviceOrder": {"id": instance.business_key, "href": serviceorder.href(instance.business_key),
                         "@referredType": "ServiceOrder"},
        "@type": "CancelServiceOrder"}
    return {k: v for k, v in resource.items() if v is not None}
