"""转派/改派 target picker: people and posts the user may hand the task to, searched by name, pinyin initials and
unit.

``GET /tasks/<id>/targets?q=…`` answers the matches as JSON (``static/picker.js`` asks it while the user types);
who may ask is who may transfer the task (404 for a task the user may not see, 403 for one they may not hand
on), and what it lists is :mod:`engine.identity.directory`'s rule, the one the engine enforces. The form posts
``target`` as ``user:<username>``, ``post:<code>`` (a pool in the task's unit) or ``post:<code>@<unit code>``;
without JavaScript the same text is typed, with the allowed targets offered by the browser's own list
(:func:`transfer_choices`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine.errors import EomsError
from engine.identity.directory import DEFAULT_LIMIT, Target, transfer_targets
from engine.tasks.access import actionable_task
from engine.tasks.models import HumanTask
from webapp import db
from webapp.auth import me
from webapp.errors import fail_to, status_of
from webapp.i18n import gettext
from webapp.messages import explain
from webapp.params import arg_int

bp = Blueprint("picker", __name__)

MAX_LIMIT = 50
MAX_QUERY = 100
CHOICES = 50  # targets offered without JavaScript


def transfer_target(form: MultiDict[str, str]) -> dict[str, Any]:
    """The transfer's keyword arguments (``to_user``/``to_post``/``to_org``) from the submitted ``target``."""
    kind, _, value = form.get("target", "").strip().partition(":")
    if kind == "user":
        return {"to_user": value, "to_post": None}
    if kind == "post":
        code, _, org = value.partition("@")
        return {"to_user": None, "to_post": code, **({"to_org": org} if org else {})}
    return {"to_user": None, "to_post": None}


def target_value(target: Target) -> str:
    """What the form posts for ``target``: ``user:<username>``, ``post:<code>`` or ``post:<code>@<unit>``."""
    if target.kind == "user":
        return f"user:{target.code}"
    return f"post:{target.code}" if target.in_task_unit else f"post:{target.code}@{target.unit_code}"


def target_json(target: Target) -> dict[str, str]:
    """One item of the picker: kind, the posted value, the name and where (unit · posts, or unit · headcount)."""
    if target.kind == "user":
        detail = " · ".join([target.unit_name, *(["、".join(target.posts)] if target.posts else [])])
    else:
        detail = " · ".join([target.unit_name, gettext("%(n)s 人在岗", n=target.holders)])
    return {"kind": target.kind, "value": target_value(target), "label": target.name, "detail": detail}


@bp.get("/<int:task_id>/targets")
@login_required
def targets(task_id: int) -> Response:
    """The targets matching ``?q=`` (at most ``?limit=``, 20 by default), people first:
    ``{"items": [{"kind", "value", "label", "detail"}, …], "total": n}``."""
    s, user = db.session(), me()
    fail_to(_refused)
    row = actionable_task(s, task_id, user, action="transfer")
    query = request.args.get("q", "")[:MAX_QUERY]
    found = transfer_targets(s, user, row, query, limit=arg_int("limit", DEFAULT_LIMIT, maximum=MAX_LIMIT) or 1)
    return jsonify(items=[target_json(t) for t in found.items], total=found.total)


def _refused(err: EomsError) -> tuple[Response, int]:
    """Why the user may not list the task's targets, as JSON with the HTTP status the task page would have."""
    return jsonify(error=explain(err), code=str(err.code)), status_of(err)


@bp.app_template_global()
def transfer_choices(task: HumanTask) -> list[dict[str, str]]:
    """The first targets of ``task`` for the current user (the list a browser without JavaScript offers)."""
    return [target_json(t) for t in transfer_targets(db.session(), me(), task, limit=CHOICES).items]
