"""What a person typed into a step's form and has not submitted: saved as they type (a save is activity, so
typing keeps the session alive), shown again when they come back — after an idle logout too — and dropped
when the task is completed or they discard it (issue 12, gap 17)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask_login import login_required
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine.db import utcnow
from engine.tasks.access import is_offered_to
from engine.tasks.models import HumanTask
from webapp import db
from webapp.auth import me
from webapp.formdata import FORM_JSON, FormJsonError, parse_form, parse_form_json
from webapp.i18n import current_language, gettext, local_time
from webapp.tasks.models import TaskDraft

bp = Blueprint("drafts", __name__)
MAX_DRAFT_BYTES = 256 * 1024


def draft_of(session: Session, user_id: int, task_id: int) -> TaskDraft | None:
    return session.scalar(select(TaskDraft).where(TaskDraft.user_id == user_id, TaskDraft.task_id == task_id))


def drop(session: Session, user_id: int, task_id: int) -> None:
    """Forget the user's draft of the task (it was submitted or discarded)."""
    session.execute(delete(TaskDraft).where(TaskDraft.user_id == user_id, TaskDraft.task_id == task_id))


def _may_draft(row: HumanTask) -> bool:
    """Only a form the user is filling in now: a ready, running step offered to them."""
    return row.status == "ready" and not row.suspended_at and is_offered_to(me(), row) and bool(row.form_key)


@bp.post("/<int:task_id>/draft")
@login_required
def save(task_id: int) -> Response | tuple[Response, int]:
    """Keep the form's current input (the form-js viewer's JSON in ``form_json``, or the server's fields)."""
    s, pe, user = db.session(), db.engine(), me()
    row = pe.tasks.get(s, task_id, user)  # a task the user may not see is a 404
    if not _may_draft(row):
        return jsonify({"saved": False, "message": gettext("该任务当前不能保存草稿。")}), 409
    components = (pe.runtime.task_form(s, row) or {}).get("components") or []
    raw = request.form.get(FORM_JSON)
    try:
        data = parse_form(components, request.form) if raw is None else parse_form_json(components, raw)
    except FormJsonError as err:
        return jsonify({"saved": False, "message": err.text(current_language())}), 422
    if len(json.dumps(data, ensure_ascii=False, default=str).encode()) > MAX_DRAFT_BYTES:
        return jsonify({"saved": False, "message": gettext("草稿太大，未保存。")}), 413
    draft = draft_of(s, user.id, task_id)
    if draft is None:
        draft = TaskDraft(user_id=user.id, task_id=task_id, data={})
        s.add(draft)
    draft.data, draft.updated_at = data, utcnow()
    s.commit()
    return jsonify({"saved": True, "at": local_time(draft.updated_at, "%H:%M:%S"),
                    "message": gettext("草稿已保存（%(at)s）", at=local_time(draft.updated_at, "%H:%M"))})


@bp.post("/<int:task_id>/draft/discard")
@login_required
def discard(task_id: int) -> Response:
    """Throw the draft away and show the form as the step gives it."""
    s, pe, user = db.session(), db.engine(), me()
    pe.tasks.get(s, task_id, user)
    drop(s, user.id, task_id)
    s.commit()
    flash(gettext("草稿已丢弃。"), "info")
    return redirect(url_for("tasks.show", task_id=task_id))


def drop_all(session: Session, task_id: int) -> None:
    """Forget every draft of a task that was completed."""
    session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id))


def restored(session: Session, row: HumanTask) -> tuple[dict[str, Any] | None, str]:
    """The user's draft of ``row`` to show in its form, and when it was saved ('' without one)."""
    draft = draft_of(session, me().id, row.id)
    if draft is None or not _may_draft(row):
        return None, ""
    return dict(draft.data or {}), local_time(draft.updated_at)
