"""What the TMF API blueprints share: the ``/hub`` listener routes of TMF630/TMF688 and the date filters of
their lists (``orderDate.gt=2026-03-02T00:00:00Z``)."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask.typing import ResponseReturnValue

from handlers.tmf import hub
from webapp import db
from webapp.api import base
from webapp.api.base import ApiProblem, body, client, say
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.tmf_shapes import HubInputSchema, HubSchema


def add_hub_routes(bp: ApiBlueprint, *, api: str, scope: str, events: str) -> None:
    """``POST /hub`` and ``DELETE /hub/{id}`` on ``bp`` for the listeners of ``api`` (``events``: what they get)."""
    prefix = bp.url_prefix or ""

    def register_listener() -> ResponseReturnValue:
        sent = body(HubInputSchema())
        s, pe, me = db.session(), db.engine(), client()
        subscription = hub.subscribe(s, client_id=me.id, api=api, callback=sent["callback"],
                                     query=sent.get("query"), secret=me.secret, now=pe.ctx.clock())
        s.commit()
        resource = {"id": str(subscription.id), "callback": subscription.callback,
                    "query": subscription.query or None}
        return resource, 201, {"Location": f"{prefix}/hub/{subscription.id}"}

    register_listener.__doc__ = (
        f"Events about this client's own {events} are POSTed to ``callback``, signed: ``X-Hub-Signature-256: "
        "sha256=<HMAC-SHA256 of the body with the client's secret>``. ``query`` filters by type, e.g. "
        "``eventType=…StateChangeEvent`` (comma: any of them).")

    def unregister_listener(hub_id: str) -> ResponseReturnValue:
        s, pe = db.session(), db.engine()
        if not hub_id.isdigit():
            raise ApiProblem(404, base.NOT_FOUND, say("监听不存在。", "No such listener."))
        hub.unsubscribe(s, client_id=client().id, api=api, subscription_id=int(hub_id), now=pe.ctx.clock())
        s.commit()
        return "", 204

    bp.operation("/hub", "POST", summary="Register a listener", scope=scope, request=HubInputSchema,
                 response=HubSchema, statuses=(201, 409), tag="events subscription")(register_listener)
    bp.operation("/hub/<hub_id>", "DELETE", summary="Unregister a listener", scope=scope,
                 params=(Param("hub_id", "path"),), statuses=(204,), tag="events subscription")(unregister_listener)


def date_arg(name: str) -> datetime | None:
    """The query argument ``name`` as an aware date-time (400 when it is not one)."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiProblem(400, base.BAD_REQUEST, say(f"{name} 不是有效的日期时间。", f"{name} is not a date-time."),
                         {"fields": {name: "date-time"}}) from None
    if moment.tzinfo is None:
        raise ApiProblem(400, base.BAD_REQUEST, say(f"{name} 须带时区。", f"{name} needs a time zone."),
                         {"fields": {name: "date-time with offset"}})
    return moment
