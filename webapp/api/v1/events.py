"""Signals, messages and incidents at ``/api/v1``: a signal reaches every work order waiting for it (and starts
the flows it starts), a message the one it is for — the engine calls ``eoms signal`` and ``eoms message`` make,
open to supervisors and administrators only, as there. Incidents are the 异常 page's: administrators list
them; a retry is for administrators and the supervisors of the work order's unit, as on the pages."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.errors import Code, EomsError, NotAllowed, NotFound
from engine.identity.access import oversees
from engine.identity.models import User
from engine.runtime.delivery import Delivery
from engine.runtime.models import Incident, IncidentStatus, InstanceStatus, ProcessInstance
from engine.runtime.queries import visible_instances
from webapp import db
from webapp.api.base import acting_user, body, listing, page_args
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.v1 import schemas
from webapp.api.v1.views import PREFIX, arg_choice, incident_resource, known_id
from webapp.supervisor.service import business_keys

bp = ApiBlueprint("api_v1_events", __name__, url_prefix=PREFIX, tag="Engine: events and incidents")
SENDERS = ("supervisor", "admin")
INCIDENT_FILTER = {"open": IncidentStatus.OPEN, "resolved": IncidentStatus.RESOLVED, "all": None}


def _answer(s: Session, user: User, result: Delivery) -> dict[str, Any]:
    """What the delivery reached, naming only the work orders the caller may see."""
    ids = [*result.woken, *result.started]
    seen = set(s.scalars(select(ProcessInstance.id).where(ProcessInstance.id.in_(ids), visible_instances(user)))) \
        if ids else set()
    return {"woken": [i for i in result.woken if i in seen], "started": [i for i in result.started if i in seen],
            "wokenCount": len(result.woken), "startedCount": len(result.started), "failedCount": len(result.failed)}


@bp.operation("/signals", "POST", summary="Broadcast a signal", scope="engine.write",
              request=schemas.EngineSignalSchema, response=schemas.EngineDeliverySchema)
def send_signal() -> ResponseReturnValue:
    """Every work order waiting for signal ``name`` catches it; every flow whose start event it is starts (in
    ``orgCode``, default the root unit). Supervisors and administrators."""
    sent = body(schemas.EngineSignalSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    result = pe.runtime.broadcast_signal(s, sent["name"], dict(sent.get("data") or {}), actor=user,
                                         org_code=sent.get("org_code"))
    s.commit()
    return _answer(s, user, result)


@bp.operation("/messages", "POST", summary="Send a message", scope="engine.write",
              request=schemas.EngineMessageSchema, response=schemas.EngineDeliverySchema, statuses=(200, 409))
def send_message() -> ResponseReturnValue:
    """With ``instanceId`` or ``businessKey``: to that work order (404 when the caller may not see it, 403 when
    its user does not oversee its unit, 409 ``instance.not_waiting`` when it does not wait for the message).
    Without: to the first work order waiting for it that catches it, else it starts the flow it starts.
    Supervisors and administrators."""
    sent = body(schemas.EngineMessageSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    payload = dict(sent.get("data") or {})
    if sent.get("instance_id") is None and sent.get("business_key") is None:
        result = pe.runtime.send_message(s, sent["name"], payload, actor=user, org_code=sent.get("org_code"))
    else:
        result = Delivery(woken=[_correlate(s, pe, user, sent, payload)])
    s.commit()
    return _answer(s, user, result)


def _correlate(s: Session, pe: ProcessEngine, user: User, sent: dict[str, Any], payload: dict[str, Any]) -> int:
    """The one work order the message names catches it; its id."""
    if user.role not in SENDERS:
        raise NotAllowed(f"{user.username} may not send signals or messages")
    query = select(ProcessInstance).where(visible_instances(user))
    if sent.get("instance_id") is not None:
        query = query.where(ProcessInstance.id == sent["instance_id"])
    if sent.get("business_key") is not None:
        query = query.where(ProcessInstance.business_key == sent["business_key"])
    candidates = sorted(s.scalars(query), key=lambda i: (i.status != InstanceStatus.RUNNING, i.id))
    if not candidates:
        raise NotFound("no such work order", details={"instance": sent.get("instance_id"),
                                                      "business_key": sent.get("business_key")})
    refused: EomsError | None = None  # the first refusal: a running work order's, when there is one
    for instance in candidates:
        if not oversees(s, user, instance.org_unit_id):
            raise NotAllowed(f"{user.username} may not send messages to work order {instance.business_key}")
        try:
            with s.begin_nested():
                pe.runtime.correlate(s, instance.id, sent["name"], payload, actor_id=user.id)
            return instance.id
        except EomsError as err:
            if str(err.code) not in (Code.MESSAGE_NOT_WAITING, Code.INSTANCE_NOT_RUNNING):
                raise
            refused = refused or err
    assert refused is not None
    raise refused


@bp.operation("/incidents", "GET", summary="Incidents (异常)", scope="engine.read",
              response=schemas.EngineIncidentSchema, many=True, paged=True, statuses=(200, 206), params=(
                  Param("status", enum=tuple(INCIDENT_FILTER), description="open (default), resolved or all"),))
def list_incidents() -> ResponseReturnValue:
    """Newest first; administrators, as the 异常 page."""
    offset, limit = page_args()
    s, pe, user = db.session(), db.engine(), acting_user()
    if user.role != "admin":
        raise NotAllowed(f"{user.username} may not list incidents")
    status = INCIDENT_FILTER[arg_choice("status", tuple(INCIDENT_FILTER)) or "open"]
    rows = list(pe.management.incidents(s, status=status, limit=offset + limit))[offset:]
    counted = select(func.count()).select_from(Incident)
    total = s.scalar(counted.where(Incident.status == status) if status else counted) or 0
    keys = business_keys(s, [r.instance_id for r in rows if r.instance_id])
    return listing([incident_resource(r, keys.get(r.instance_id or 0)) for r in rows], total, offset)


@bp.operation("/incidents/<int:incident_id>/retry", "POST", summary="Retry an incident", scope="engine.write",
              response=schemas.EngineRetrySchema, params=(Param("incident_id", "path", kind="integer"),),
              statuses=(200, 409))
def retry_incident(incident_id: int) -> ResponseReturnValue:
    """The failed step runs again (or its job gets fresh attempts): ``outcome`` resolved, queued (the worker
    runs the job) or failing. Administrators, and supervisors of the work order's unit (another unit's is a
    404); 409 ``incident.closed`` when it is resolved already."""
    s, pe, user = db.session(), db.engine(), acting_user()
    if user.role not in SENDERS:
        raise NotAllowed(f"{user.username} may not retry incidents")
    incident = s.get(Incident, known_id(incident_id, "incident"))
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist", details={"incident": incident_id})
    instance = s.get(ProcessInstance, incident.instance_id) if incident.instance_id else None
    if instance is not None and not oversees(s, user, instance.org_unit_id):
        raise NotFound(f"incident {incident_id} does not exist", details={"incident": incident_id})
    result = pe.management.retry_incident(s, incident.id, actor=user)
    s.commit()
    outcome = "resolved" if result.status == IncidentStatus.RESOLVED else "queued" if result.job_id else "failing"
    return {**incident_resource(result, instance.business_key if instance else None), "outcome": outcome}
