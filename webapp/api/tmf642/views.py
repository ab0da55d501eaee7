"""TMF642 Alarm Management v4 at ``/tmf-api/alarmManagement/v4``: network managers' alarms; a service-affecting
one on a customer's circuit opens a trouble ticket (TMF621) and its 售后故障 order."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from handlers.tmf import alarm as alarms
from handlers.tmf.models import Alarm
from webapp import db
from webapp.api import base
from webapp.api.base import ApiProblem, body, client, listing, page_args, say, selected
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.tmf642 import schemas, service
from webapp.api.tmf_common import add_hub_routes

bp = ApiBlueprint("tmf642", __name__, url_prefix=alarms.BASE, tag="TMF642 Alarm Management")
SCOPE = "tmf642"
ID = Param("alarm_id", "path", description="the alarm's id in EOMS")


def _resource(alarm: Alarm) -> dict:
    s = db.session()
    return alarms.resource(s, alarm, service.ticket_key(s, alarm))


def _rules() -> alarms.Rules:
    settings = db.settings()
    return alarms.Rules.parse(settings.alarm_ticket_severities, settings.alarm_vip_only)


@bp.operation("/alarm", "POST", summary="Report an alarm", scope=SCOPE, request=schemas.AlarmCreateSchema,
              response=schemas.AlarmSchema, statuses=(200, 201))
def create_alarm() -> ResponseReturnValue:
    """201 for a new alarm (linked to the ticket it opened or was correlated to, if any); 200 for a repeat of an
    ``externalAlarmId`` this client reported before (its count goes up; a repeat saying cleared clears it)."""
    body(schemas.AlarmCreateSchema())
    s, pe = db.session(), db.engine()
    try:
        alarm, new = service.receive(s, pe, client(), request.get_json(), _rules()), True
    except service.Repeat as repeat:
        alarm, new = repeat.alarm, False
    s.commit()
    return base.created(_resource(alarm), new=new)


@bp.operation("/alarm", "GET", summary="List alarms", scope=SCOPE, response=schemas.AlarmSchema, many=True,
              paged=True, statuses=(200, 206), params=(
                  Param("state", enum=alarms.STATES), Param("perceivedSeverity", enum=alarms.SEVERITIES),
                  Param("alarmedObject.id")))
def list_alarms() -> ResponseReturnValue:
    offset, limit = page_args()
    for name, allowed in (("state", alarms.STATES), ("perceivedSeverity", alarms.SEVERITIES)):
        value = request.args.get(name)
        if value and not all(service.canonical(v) in allowed for v in value.split(",")):
            raise ApiProblem(400, base.BAD_REQUEST, say(f"{name} 取值无效。", f"Unknown {name}."),
                             {"fields": {name: "one of " + ", ".join(allowed)}})
    total, rows = service.listed(db.session(), client(), state=request.args.get("state"),
                                 severity=request.args.get("perceivedSeverity"),
                                 object_id=request.args.get("alarmedObject.id"), offset=offset, limit=limit)
    return listing([_resource(a) for a in rows], total, offset)


@bp.operation("/alarm/<alarm_id>", "GET", summary="Retrieve an alarm", scope=SCOPE, response=schemas.AlarmSchema,
              params=(ID,))
def get_alarm(alarm_id: str) -> ResponseReturnValue:
    return selected(_resource(service.find(db.session(), client(), alarm_id)))


@bp.operation("/alarm/<alarm_id>", "PATCH", summary="Update or clear an alarm", scope=SCOPE,
              request=schemas.AlarmUpdateSchema, response=schemas.AlarmSchema, params=(ID,))
def patch_alarm(alarm_id: str) -> ResponseReturnValue:
    """A clear (``state: cleared`` or ``alarmClearedTime``) adds a 批注 to the linked ticket's open steps, and
    恢复回单 offers that time as the recovery time."""
    body(schemas.AlarmUpdateSchema())
    s, pe = db.session(), db.engine()
    alarm = service.find(s, client(), alarm_id)
    service.patch(s, pe, client(), alarm, request.get_json())
    s.commit()
    return _resource(alarm)


add_hub_routes(bp, api=alarms.API, scope=SCOPE,
               events="alarms (none are sent yet: the tickets alarms open report through the troubleTicket hub)")
