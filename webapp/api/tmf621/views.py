"""TMF621 Trouble Ticket v4 at ``/tmf-api/troubleTicket/v4``: the call centre's tickets start 售后故障.

``POST /troubleTicket`` answers 201 the first time an ``externalId`` comes from a client and 200 with the same
ticket every time after, also when the repeats race each other."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from handlers.tmf import troubleticket
from handlers.tmf.models import ExternalOrder
from webapp import db
from webapp.api import base
from webapp.api.base import ApiProblem, body, client, listing, page_args, say, selected
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.tmf621 import schemas, service
from webapp.api.tmf_common import add_hub_routes, date_arg

bp = ApiBlueprint("tmf621", __name__, url_prefix=troubleticket.BASE, tag="TMF621 Trouble Ticket")
SCOPE = "tmf621"
ID = Param("ticket_id", "path", description="the work order number (TroubleTicket.id)")
FILTERS = ("externalId", "ticketType", "severity")


def _resource(s: Session, link: ExternalOrder) -> dict:
    return troubleticket.trouble_ticket(s, link, db.engine().runtime.get(s, link.instance_id))


@bp.operation("/troubleTicket", "POST", summary="Create a trouble ticket (starts 售后故障)", scope=SCOPE,
              request=schemas.TroubleTicketCreateSchema, response=schemas.TroubleTicketSchema, statuses=(200, 201))
def create_ticket() -> ResponseReturnValue:
    """201 for a new ticket; 200 with the existing one when this client sent the same externalId before."""
    body(schemas.TroubleTicketCreateSchema())
    sent = request.get_json()
    s, pe = db.session(), db.engine()
    try:
        link = service.create(s, pe, client(), sent)
        new = True
    except service.Repeat as repeat:
        link, new = repeat.link, False
    s.commit()
    return base.created(_resource(s, link), new=new)


@bp.operation("/troubleTicket", "GET", summary="List trouble tickets", scope=SCOPE,
              response=schemas.TroubleTicketSchema, many=True, paged=True, statuses=(200, 206), params=(
                  Param("status", description="one or more statuses, comma-separated", enum=troubleticket.STATUSES),
                  *(Param(name) for name in FILTERS),
                  Param("creationDate.gt", fmt="date-time"), Param("creationDate.lt", fmt="date-time")))
def list_tickets() -> ResponseReturnValue:
    offset, limit = page_args()
    status = request.args.get("status")
    if status and not set(status.split(",")) <= set(troubleticket.STATUSES):
        raise ApiProblem(400, base.BAD_REQUEST, say("status 取值无效。", "Unknown status."),
                         {"fields": {"status": "one of " + ", ".join(troubleticket.STATUSES)}})
    s = db.session()
    filters = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    total, links = service.listed(s, client(), status=status, filters=filters, since=date_arg("creationDate.gt"),
                                  until=date_arg("creationDate.lt"), offset=offset, limit=limit)
    return listing([_resource(s, link) for link in links], total, offset)


@bp.operation("/troubleTicket/<ticket_id>", "GET", summary="Retrieve a trouble ticket", scope=SCOPE,
              response=schemas.TroubleTicketSchema, params=(ID,))
def get_ticket(ticket_id: str) -> ResponseReturnValue:
    s = db.session()
    return selected(_resource(s, service.find(s, client(), ticket_id)))


@bp.operation("/troubleTicket/<ticket_id>", "PATCH", summary="Update a trouble ticket while it is open",
              scope=SCOPE, request=schemas.TroubleTicketUpdateSchema, response=schemas.TroubleTicketSchema,
              params=(ID,), statuses=(200, 409))
def patch_ticket(ticket_id: str) -> ResponseReturnValue:
    """name, description, priority, requestedResolutionDate; notes and attachment references are added as 批注
    on the open steps. Anything else (status, severity, parties …) is refused: the flow moves the status."""
    body(schemas.TroubleTicketUpdateSchema())
    s, pe = db.session(), db.engine()
    link = service.find(s, client(), ticket_id)
    service.patch(s, pe, client(), link, request.get_json())
    s.commit()
    return _resource(s, link)


add_hub_routes(bp, api=troubleticket.API, scope=SCOPE, events="trouble tickets")
