"""Work orders at ``/api/v1/process-instances``: start one from its start form, find them with the work-order
search's filters, read one as the work-order page shows it (its open steps with their deadlines, every step,
the business data, open incidents), its history, and cancel it.

What the caller may see is what the work-order pages let its user see (``visible_instances``: administrators
everything, supervisors their units, others the orders they started or have a task in); anything else is a 404."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.errors import InvalidInput, NotFound
from engine.identity.models import User
from engine.repository.models import ProcessDefinition
from engine.runtime.models import INSTANCE_STATUSES, Incident, IncidentStatus, ProcessInstance
from engine.runtime.numbering import new_business_key
from engine.runtime.queries import InstanceFilter, can_view_instance, search_instances
from engine.tasks.models import HumanTask, TaskStatus
from webapp import db
from webapp.api.base import acting_user, body, created, listing, page_args, selected
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.v1 import schemas
from webapp.api.v1.views import (
    PREFIX,
    Names,
    arg_bool,
    arg_choice,
    arg_text,
    arg_time,
    event_resource,
    form_fields,
    incident_resource,
    instance_resource,
    instance_resources,
    known_id,
    plain,
    task_resource,
    window,
)

bp = ApiBlueprint("api_v1_instances", __name__, url_prefix=PREFIX, tag="Engine: work orders")
ID = Param("instance_id", "path", kind="integer", description="the work order's id")
KEY_TRIES = 5  # a generated work-order number drawn twice at the same moment is drawn again
OVERSEERS = ("supervisor", "admin")  # who sees the variables beside the business data, as on the pages


def visible(s: Session, pe: ProcessEngine, instance_id: int, user: User) -> ProcessInstance:
    """The work order if the user may see it; otherwise :class:`NotFound`, as for one that does not exist."""
    instance = pe.runtime.get(s, known_id(instance_id, "instance"))
    if not can_view_instance(s, user, instance):
        raise NotFound(f"instance {instance_id} does not exist", details={"instance": instance_id})
    return instance


def detail(s: Session, pe: ProcessEngine, instance: ProcessInstance, user: User) -> dict[str, Any]:
    """The work order as its page shows it."""
    now = pe.ctx.clock()
    rows = list(s.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)))
    incidents = list(s.scalars(select(Incident).where(Incident.instance_id == instance.id,
                                                      Incident.status == IncidentStatus.OPEN).order_by(Incident.id)))
    names = Names.of(s, rows, [instance])
    steps = [task_resource(row, names, now) for row in rows]
    current = [step for step, row in zip(steps, rows, strict=True) if row.status == TaskStatus.READY]
    data = plain(pe.runtime.instance_data(s, instance))
    definition = s.get(ProcessDefinition, instance.definition_id)
    keys: set[str] = set()
    for form_id in (definition.forms or {}).values() if definition else ():
        keys |= form_fields(pe.forms.schema(s, form_id))
    variables = {k: v for k, v in data.items() if k not in keys and k != "data_objects"} \
        if user.role in OVERSEERS else None
    return {**instance_resource(instance, names, current, len(incidents)),
            "data": {k: v for k, v in data.items() if k in keys}, "variables": variables, "steps": steps,
            "incidents": [incident_resource(i, instance.business_key) for i in incidents]}


@bp.operation("/process-instances", "POST", summary="Start a work order", scope="engine.write",
              request=schemas.EngineStartSchema, response=schemas.EngineInstanceDetailSchema, statuses=(201, 409))
def start_instance() -> ResponseReturnValue:
    """The newest version of ``processKey`` with ``data`` checked by its start form (422 naming each field in
    ``details.fields``). A flow whose only start events wait for a timer, message or signal is started
    by those events (404). ``businessKey`` defaults to a new work-order number; ``orgCode`` must be the caller's unit or
    one below it."""
    sent = body(schemas.EngineStartSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    key = sent["process_key"]
    if pe.runtime.start_form(s, key) is None and not pe.runtime.starts_by_hand(s, key):
        raise NotFound(f"process '{key}' is started by its events only", details={"process": key})
    given = sent.get("business_key")
    for attempt in range(KEY_TRIES):
        number = given or new_business_key(s, key, pe.ctx.clock())
        try:
            result = pe.runtime.start(s, key, business_key=number, data=dict(sent.get("data") or {}), actor=user,
                                      org_code=sent.get("org_code"))
            break
        except InvalidInput as err:  # a generated number taken a moment ago by a concurrent start: draw again
            if given or err.details.get("fields") != {"business_key": "already used"} or attempt == KEY_TRIES - 1:
                raise
    s.commit()
    return created(detail(s, pe, result.instance, user), new=True)


@bp.operation("/process-instances", "GET", summary="Find work orders", scope="engine.read",
              response=schemas.EngineInstanceSchema, many=True, paged=True, statuses=(200, 206), params=(
                  Param("processKey"), Param("status", enum=INSTANCE_STATUSES),
                  Param("businessKey", description="the work-order number starts with this"),
                  Param("customer", description="the customer's name contains this"),
                  Param("customerPhone", description="the customer's phone starts with this"),
                  Param("nodeId", description="an open step at this node"),
                  Param("overdue", kind="boolean", description="true: an open step is past its deadline"),
                  Param("startedAfter", fmt="date-time", description="started at or after"),
                  Param("startedBefore", fmt="date-time", description="started before")))
def list_instances() -> ResponseReturnValue:
    """Newest first; only the work orders the caller's user may see."""
    offset, limit = page_args()
    s, pe, user = db.session(), db.engine(), acting_user()
    now = pe.ctx.clock()
    filters = InstanceFilter(
        process_key=arg_text("processKey"), status=arg_choice("status", INSTANCE_STATUSES),
        business_key=arg_text("businessKey"), customer=arg_text("customer"),
        customer_phone=arg_text("customerPhone", 32), node_id=arg_text("nodeId"),
        overdue_at=now if arg_bool("overdue") else None, started_from=arg_time("startedAfter"),
        started_to=arg_time("startedBefore"))
    total, rows = window(lambda page, size: search_instances(s, user, filters, page=page, page_size=size),
                         offset, limit)
    return listing(instance_resources(s, rows, now), total, offset)


@bp.operation("/process-instances/<int:instance_id>", "GET", summary="A work order", scope="engine.read",
              response=schemas.EngineInstanceDetailSchema, params=(ID,))
def get_instance(instance_id: int) -> ResponseReturnValue:
    """Its open steps (assignee or post, deadline, seconds left), every step, the business data (and, for
    supervisors and administrators, the other variables) and its open incidents."""
    s, pe, user = db.session(), db.engine(), acting_user()
    return selected(detail(s, pe, visible(s, pe, instance_id, user), user))


@bp.operation("/process-instances/<int:instance_id>/history", "GET", summary="A work order's history",
              scope="engine.read", response=schemas.EngineHistoryEventSchema, many=True, params=(ID,))
def get_history(instance_id: int) -> ResponseReturnValue:
    """Every event in the order it happened: started, claimed, completed, transferred, 批注, incidents …"""
    s, pe, user = db.session(), db.engine(), acting_user()
    events = pe.history.timeline(s, visible(s, pe, instance_id, user).id)
    names = Names.of(s, user_ids=[e.actor_id for e in events])
    return listing([event_resource(e, names) for e in events], len(events))


@bp.operation("/process-instances/<int:instance_id>/cancel", "POST", summary="Cancel a work order",
              scope="engine.write", request=schemas.EngineReasonSchema, response=schemas.EngineInstanceDetailSchema,
              params=(ID,), statuses=(200, 409))
def cancel_instance(instance_id: int) -> ResponseReturnValue:
    """Supervisors of its unit and administrators (403 for others who see it); its open tasks close. 409 when
    it has ended already."""
    sent = body(schemas.EngineReasonSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    instance = visible(s, pe, instance_id, user)
    pe.runtime.cancel(s, instance.id, actor=user, reason=sent["reason"])
    s.commit()
    return detail(s, pe, instance, user)
