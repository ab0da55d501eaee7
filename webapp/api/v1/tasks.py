"""Tasks at ``/api/v1/tasks``: the caller's queue as the portal shows it, one task with its form and the form's
current values, and what a post holder does with it — claim, unclaim, complete, transfer (转派), return (退回),
批注, attach a file — through the engine's task service, which decides who may (a task the user may not see is
a 404; one claimed by a colleague or done already a 409 with the engine's code)."""

from __future__ import annotations

import base64
import binascii
from io import BytesIO
from typing import Any

from flask import send_file
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.errors import NotFound
from engine.history.models import HistoryEvent
from engine.identity.models import User
from engine.runtime.queries import can_view_instance
from engine.tasks.access import is_offered_to
from engine.tasks.models import HumanTask, TaskStatus
from engine.tasks.queries import TaskFilter
from webapp import db
from webapp.api.base import BAD_REQUEST, ApiProblem, acting_user, body, created, listing, page_args, say, selected
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.v1 import schemas
from webapp.api.v1.views import (
    PREFIX,
    arg_bool,
    arg_choice,
    arg_text,
    form_fields,
    instance_href,
    iso,
    known_id,
    plain,
    task_resources,
    window,
)

bp = ApiBlueprint("api_v1_tasks", __name__, url_prefix=PREFIX, tag="Engine: tasks")
ID = Param("task_id", "path", kind="integer", description="the task's id")
# the API's queue scopes → the engine's: open work assigned to me or offered to my posts, either, done by me,
# and (supervisors, administrators) the open work of the units overseen
SCOPES = {"inbox": "inbox", "mine": "mine", "pool": "offered", "done": "done", "org": "org"}


def _task(s: Session, pe: ProcessEngine, task_id: int, user: User) -> HumanTask:
    return pe.tasks.get(s, known_id(task_id, "task"), user)


def _one(s: Session, pe: ProcessEngine, row: HumanTask) -> dict[str, Any]:
    return task_resources(s, [row], pe.ctx.clock())[0]


def _outcome(s: Session, pe: ProcessEngine, task_id: int, arrived: list[HumanTask]) -> dict[str, Any]:
    row = s.get(HumanTask, task_id)
    assert row is not None
    done, *after = task_resources(s, [row, *arrived], pe.ctx.clock())  # one batch of names and facts
    return {"task": done, "nextTasks": after}


@bp.operation("/tasks", "GET", summary="The caller's tasks", scope="engine.read", response=schemas.EngineTaskSchema,
              many=True, paged=True, statuses=(200, 206), params=(
                  Param("scope", enum=tuple(SCOPES), description="inbox (default): mine and my posts' pool; mine; "
                        "pool: unclaimed for my posts; done: completed by me; org: open work of the units I oversee"),
                  Param("processKey"), Param("businessKey"), Param("nodeId"),
                  Param("overdue", kind="boolean", description="true: only tasks past their deadline")))
def list_tasks() -> ResponseReturnValue:
    """Open work by deadline (none last), done work newest first — the portal's order."""
    offset, limit = page_args()
    s, pe, user = db.session(), db.engine(), acting_user()
    now = pe.ctx.clock()
    scope = SCOPES[arg_choice("scope", tuple(SCOPES)) or "inbox"]
    filters = TaskFilter(process_key=arg_text("processKey"), business_key=arg_text("businessKey"),
                         node_id=arg_text("nodeId"), overdue_at=now if arg_bool("overdue") else None)
    total, rows = window(lambda page, size: pe.tasks.query(s, user, scope=scope, filters=filters, page=page,
                                                           page_size=size), offset, limit)
    return listing(task_resources(s, rows, now), total, offset)


@bp.operation("/tasks/<int:task_id>", "GET", summary="A task with its form and the form's current values",
              scope="engine.read", response=schemas.EngineTaskDetailSchema, params=(ID,))
def get_task(task_id: int) -> ResponseReturnValue:
    s, pe, user = db.session(), db.engine(), acting_user()
    row = _task(s, pe, task_id, user)
    form = pe.runtime.task_form(s, row) if row.form_key else None
    values = pe.runtime.task_data(s, row) if row.status == TaskStatus.READY else (row.data or {})
    keys = form_fields(form)
    data = {k: v for k, v in plain(values).items() if k in keys}
    return selected({**_one(s, pe, row), "data": data, "form": form, "offered": is_offered_to(user, row)})


@bp.operation("/tasks/<int:task_id>/claim", "POST", summary="Claim a task (签收)", scope="engine.write",
              response=schemas.EngineTaskSchema, params=(ID,), statuses=(200, 409))
def claim_task(task_id: int) -> ResponseReturnValue:
    """403 when it is not offered to the caller; 409 ``task.claimed_by_other`` when a colleague has it."""
    s, pe, user = db.session(), db.engine(), acting_user()
    row = pe.tasks.claim(s, known_id(task_id, "task"), user)
    s.commit()
    return _one(s, pe, row)


@bp.operation("/tasks/<int:task_id>/unclaim", "POST", summary="Give a claimed task back to its post's pool",
              scope="engine.write", response=schemas.EngineTaskSchema, params=(ID,), statuses=(200, 409))
def unclaim_task(task_id: int) -> ResponseReturnValue:
    s, pe, user = db.session(), db.engine(), acting_user()
    row = pe.tasks.unclaim(s, known_id(task_id, "task"), user)
    s.commit()
    return _one(s, pe, row)


@bp.operation("/tasks/<int:task_id>/complete", "POST", summary="Complete a task with its form's data",
              scope="engine.write", request=schemas.EngineCompleteSchema, response=schemas.EngineTaskOutcomeSchema,
              params=(ID,), statuses=(200, 409))
def complete_task(task_id: int) -> ResponseReturnValue:
    """The form checks ``data`` (422 ``form.invalid``, each field's problem in ``details.fields``); the work
    order runs on and the answer names the tasks that arrived. 409 ``task.not_ready`` when it was completed
    already, ``task.claimed_by_other`` when a colleague has it, ``task.suspended`` while it is suspended."""
    sent = body(schemas.EngineCompleteSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    arrived = pe.tasks.complete(s, known_id(task_id, "task"), user, dict(sent.get("data") or {}))
    s.commit()
    return _outcome(s, pe, task_id, arrived)


@bp.operation("/tasks/<int:task_id>/transfer", "POST", summary="Transfer a task (转派)", scope="engine.write",
              request=schemas.EngineTransferSchema, response=schemas.EngineTaskSchema, params=(ID,),
              statuses=(200, 409))
def transfer_task(task_id: int) -> ResponseReturnValue:
    """To exactly one of a person (``toUser``) or a post's pool (``toPost``, optionally in ``toOrg``), among
    those the step may go to (422 ``task.transfer_target`` otherwise); the step must allow transfer."""
    sent = body(schemas.EngineTransferSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    row = pe.tasks.transfer(s, known_id(task_id, "task"), user, reason=sent["reason"], to_user=sent.get("to_user"),
                            to_post=sent.get("to_post"), to_org=sent.get("to_org"))
    s.commit()
    return _one(s, pe, row)


@bp.operation("/tasks/<int:task_id>/return", "POST", summary="Return a task to the previous step (退回)",
              scope="engine.write", request=schemas.EngineReasonSchema, response=schemas.EngineTaskOutcomeSchema,
              params=(ID,), statuses=(200, 409))
def return_task(task_id: int) -> ResponseReturnValue:
    """The previous user step reopens for whoever did it (``nextTasks``); the step must allow return."""
    sent = body(schemas.EngineReasonSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    reopened = pe.tasks.return_to_previous(s, known_id(task_id, "task"), user, reason=sent["reason"])
    s.commit()
    return _outcome(s, pe, task_id, [reopened])


@bp.operation("/tasks/<int:task_id>/notes", "POST", summary="Add a 批注 to a task", scope="engine.write",
              request=schemas.EngineNoteInputSchema, response=schemas.EngineNoteSchema, params=(ID,),
              statuses=(201,))
def annotate_task(task_id: int) -> ResponseReturnValue:
    """Anyone who sees the task may annotate it; the note is in the work order's history."""
    sent = body(schemas.EngineNoteInputSchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    pe.tasks.annotate(s, known_id(task_id, "task"), user, sent["text"])
    s.flush()
    event = s.scalars(select(HistoryEvent).where(HistoryEvent.human_task_id == task_id,
                                                 HistoryEvent.event_type == "task_annotated")
                      .order_by(HistoryEvent.id.desc()).limit(1)).one()
    note = {"id": event.id, "href": f"{instance_href(event.instance_id)}/history", "taskId": task_id,
            "instanceId": event.instance_id, "text": str((event.payload or {}).get("text", "")),
            "author": user.username, "at": iso(event.at)}
    s.commit()
    return created(note, new=True)


@bp.operation("/tasks/<int:task_id>/attachments", "POST", summary="Attach a file to a task",
              scope="engine.write", request=schemas.EngineUploadSchema, response=schemas.EngineAttachmentSchema,
              params=(ID,), statuses=(201, 409))
def attach_file(task_id: int) -> ResponseReturnValue:
    """For the caller's open task; the file's type must be one the server keeps (422 ``attachment.rejected``
    otherwise). Reference it from the form's file field by its ``id`` when completing."""
    sent = body(schemas.EngineUploadSchema())
    try:
        content = base64.b64decode(sent["content"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiProblem(400, BAD_REQUEST, say("content 须为 base64。", "content must be base64."),
                         {"fields": {"content": "base64"}}) from None
    s, pe, user = db.session(), db.engine(), acting_user()
    row = pe.tasks.upload(s, known_id(task_id, "task"), user, filename=sent["filename"], data=content)
    s.commit()
    resource = {"id": row.id, "href": f"{PREFIX}/attachments/{row.id}", "taskId": row.human_task_id,
                "instanceId": row.instance_id, "filename": row.filename, "contentType": row.content_type,
                "size": row.size, "createdAt": iso(row.created_at)}
    return created(resource, new=True)


@bp.operation("/attachments/<int:attachment_id>", "GET", summary="Download an attachment", scope="engine.read",
              params=(Param("attachment_id", "path", kind="integer"),))
def download(attachment_id: int) -> ResponseReturnValue:
    """The file's bytes, for whoever may see its work order."""
    s, pe, user = db.session(), db.engine(), acting_user()
    row = pe.attachments.get(s, known_id(attachment_id, "attachment"))
    if not can_view_instance(s, user, pe.runtime.get(s, row.instance_id)):
        raise NotFound(f"attachment {attachment_id} does not exist")
    return send_file(BytesIO(pe.attachments.read(row)), mimetype=row.content_type, as_attachment=True,
                     download_name=row.filename)
