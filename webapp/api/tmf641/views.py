"""TMF641 Service Ordering v4 at ``/tmf-api/serviceOrdering/v4``: CRM's orders start 服务开通.

``POST /serviceOrder`` answers 201 the first time an ``externalId`` comes from a client and 200 with the same
order every time after, also when the repeats race each other."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from handlers.tmf import serviceorder
from handlers.tmf.models import ExternalOrder
from webapp import db
from webapp.api import base
from webapp.api.base import ApiProblem, body, client, listing, page_args, say, selected
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.tmf641 import schemas, service
from webapp.api.tmf_common import add_hub_routes, date_arg

bp = ApiBlueprint("tmf641", __name__, url_prefix=serviceorder.BASE, tag="TMF641 Service Ordering")
SCOPE = "tmf641"
ID = Param("order_id", "path", description="the work order number (ServiceOrder.id)")


def _resource(s: Session, link: ExternalOrder) -> dict:
    return serviceorder.service_order(s, link, db.engine().runtime.get(s, link.instance_id))


@bp.operation("/serviceOrder", "POST", summary="Create a service order (starts 服务开通)", scope=SCOPE,
              request=schemas.ServiceOrderCreateSchema, response=schemas.ServiceOrderSchema, statuses=(200, 201))
def create_order() -> ResponseReturnValue:
    """201 for a new order; 200 with the existing one when this client sent the same externalId before."""
    body(schemas.ServiceOrderCreateSchema())
    sent = request.get_json()
    s, pe = db.session(), db.engine()
    try:
        link = service.create(s, pe, client(), sent)
        new = True
    except service.Repeat as repeat:
        link, new = repeat.link, False
    s.commit()
    return base.created(_resource(s, link), new=new)


@bp.operation("/serviceOrder", "GET", summary="List service orders", scope=SCOPE,
              response=schemas.ServiceOrderSchema, many=True, paged=True, statuses=(200, 206), params=(
                  Param("state", description="one or more states, comma-separated", enum=serviceorder.STATES),
                  Param("externalId"), Param("orderDate.gt", fmt="date-time"), Param("orderDate.lt", fmt="date-time")))
def list_orders() -> ResponseReturnValue:
    offset, limit = page_args()
    state = request.args.get("state")
    if state and not set(state.split(",")) <= set(serviceorder.STATES):
        raise ApiProblem(400, base.BAD_REQUEST, say("state 取值无效。", "Unknown state."),
                         {"fields": {"state": "one of " + ", ".join(serviceorder.STATES)}})
    s = db.session()
    total, links = service.listed(s, client(), state=state, external_id=request.args.get("externalId"),
                                  since=date_arg("orderDate.gt"), until=date_arg("orderDate.lt"), offset=offset,
                                  limit=limit)
    return listing([_resource(s, link) for link in links], total, offset)


@bp.operation("/serviceOrder/<order_id>", "GET", summary="Retrieve a service order", scope=SCOPE,
              response=schemas.ServiceOrderSchema, params=(ID,))
def get_order(order_id: str) -> ResponseReturnValue:
    s = db.session()
    return selected(_resource(s, service.find(s, client(), order_id)))


@bp.operation("/serviceOrder/<order_id>", "PATCH", summary="Update a service order while it runs", scope=SCOPE,
              request=schemas.ServiceOrderUpdateSchema, response=schemas.ServiceOrderSchema, params=(ID,),
              statuses=(200, 409))
def patch_order(order_id: str) -> ResponseReturnValue:
    """description, priority, notificationContact, requested dates; notes are added as 批注 on the open steps.
    Anything else (state, items, parties …) is refused: cancel with cancelServiceOrder."""
    body(schemas.ServiceOrderUpdateSchema())
    s, pe = db.session(), db.engine()
    link = service.find(s, client(), order_id)
    service.patch(s, pe, client(), link, request.get_json())
    s.commit()
    return _resource(s, link)


@bp.operation("/cancelServiceOrder", "POST", summary="Cancel a service order", scope=SCOPE,
              request=schemas.CancelServiceOrderCreateSchema, response=schemas.CancelServiceOrderSchema,
              statuses=(201, 409))
def cancel_order() -> ResponseReturnValue:
    """Cancels the running order at once (state done); what was allocated to it goes back to the inventory."""
    body(schemas.CancelServiceOrderCreateSchema())
    s, pe = db.session(), db.engine()
    link = service.cancel(s, pe, client(), request.get_json())
    s.commit()
    return base.created(service.cancel_resource(s, link), new=True)


@bp.operation("/cancelServiceOrder/<cancel_id>", "GET", summary="Retrieve a cancellation", scope=SCOPE,
              response=schemas.CancelServiceOrderSchema, params=(Param("cancel_id", "path"),))
def get_cancel(cancel_id: str) -> ResponseReturnValue:
    s = db.session()
    return selected(service.cancel_resource(s, service.find(s, client(), cancel_id, service.CANCEL_KIND)))


add_hub_routes(bp, api=serviceorder.API, scope=SCOPE, events="service orders")
