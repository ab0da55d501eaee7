"""工单: start a flow from its start form, search work orders, the work-order page, attachment downloads."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import Code, EomsError, InvalidInput
from engine.identity.access import holds_post_in
from engine.runtime.numbering import new_business_key
from engine.runtime.queries import InstanceFilter, can_view_instance, search_instances
from engine.tasks.access import is_offered_to
from engine.tasks.models import HumanTask
from handlers.projects import service as projects
from handlers.projects.models import Project
from webapp import db
from webapp.auth import me
from webapp.business_data import business_data
from webapp.errors import attempt, fail_to, or_else
from webapp.formdata import parse_form
from webapp.i18n import gettext
from webapp.messages import explain, field_errors
from webapp.orders.views_data import instance_view
from webapp.params import arg_date, arg_page, day_after

bp = Blueprint("orders", __name__, url_prefix="/orders", template_folder="templates")


def _startable() -> list[tuple[str, str]]:
    s, pe = db.session(), db.engine()
    return [(d.key, d.name) for d in pe.repository.list_latest(s) if pe.runtime.start_form(s, d.key)]


@bp.get("/new")
@login_required
def new() -> str:
    return render_template("orders/new.html", flows=_startable())


@bp.route("/new/<key>", methods=["GET", "POST"])
@login_required
def new_flow(key: str) -> Response | str | tuple[str, int]:
    s, pe, user = db.session(), db.engine(), me()
    found = pe.runtime.start_form(s, key)  # an unknown flow is a 404
    if found is None:
        abort(404)
    schema = found[1]
    if request.method == "GET":
        return _start_page(key, schema, {}, {}, 200)
    values = parse_form(schema.get("components") or [], request.form)
    fail_to(lambda err: _sent_back(key, schema, values, err))
    project = _chosen_project(key)
    business_key = (request.form.get("business_key") or "").strip() or new_business_key(s, key, pe.ctx.clock())
    result = pe.runtime.start(s, key, business_key=business_key, data=values, actor=user,
                              context={"project": project.code} if project is not None else None)
    if project is not None:
        projects.link_order(s, project.id, result.instance.id, pe.ctx.clock())
    s.commit()
    flash(gettext("工单 %(key)s 已发起。", key=business_key), "info")
    first = _claim_first_step(result.tasks)
    if first is not None:  # the task page says whose it is
        return redirect(url_for("tasks.show", task_id=first.id))
    mine = [t for t in result.tasks if is_offered_to(user, t)]
    return redirect(url_for("tasks.show", task_id=mine[0].id) if mine else
                    url_for("orders.show", instance_id=result.instance.id))


def _chosen_project(key: str) -> Project | None:
    """The active project the order is started for (所属项目), or None."""
    raw = (request.form.get("project_id") or "").strip()
    if key == projects.SETUP_FLOW or not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput(f"'{raw}' is not a project", {"project": "unknown"})
    project = projects.get(db.session(), int(raw))
    if project.status != "active":
        raise InvalidInput(f"project {project.code} is not active", {"project": "not active"})
    return project


def _claim_first_step(created: list[HumanTask]) -> HumanTask | None:
    """The starter holds the post of the first step the start created (in its unit): it is theirs at once,
    claimed in a transaction of its own so the started order stands whatever happens. None otherwise."""
    user = me()
    first = created[0] if created else None
    if first is None or first.assignee_id is not None or not holds_post_in(user, first.post_id, first.org_unit_id):
        return None
    task_id = first.id
    claimed = attempt(lambda: db.engine().tasks.claim(db.session(), task_id, user))
    return None if isinstance(claimed, EomsError) else claimed


def _sent_back(key: str, schema: dict[str, Any], values: dict[str, Any], err: EomsError) -> tuple[str, int]:
    """The start form again with what was typed: field errors beside the fields, or why it was refused."""
    if str(err.code) == Code.FORM_INVALID:
        flash(gettext("表单有误，请按提示修改后再提交。"), "error")
        return _start_page(key, schema, values, field_errors(err), 422)
    flash(explain(err), "error")
    return _start_page(key, schema, values, field_errors(err), 409)


def _start_page(key: str, schema: dict[str, Any], values: dict[str, Any], errors: dict[str, str],
                status: int) -> tuple[str, int]:
    name = dict(_startable()).get(key, key)
    choices = projects.active(db.session()) if key != projects.SETUP_FLOW else []
    return render_template("orders/start.html", key=key, name=name, schema=schema, values=values, errors=errors,
                           business_key=request.form.get("business_key", ""), projects=choices,
                           project_id=request.form.get("project_id", "")), status


@bp.get("/")
@login_required
def search() -> str:
    s, pe, user = db.session(), db.engine(), me()
    filters = InstanceFilter(
        business_key=request.args.get("number") or None, customer=request.args.get("customer") or None,
        customer_phone=request.args.get("phone") or None, process_key=request.args.get("flow") or None,
        status=request.args.get("status") or None, started_from=arg_date("from"),
        started_to=day_after(arg_date("to")),
    )
    page = or_else(lambda: search_instances(s, user, filters, page=arg_page()),
                   lambda: search_instances(s, user, InstanceFilter()))
    flows = {d.key: d.name for d in pe.repository.list_latest(s)}
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("orders/search.html", page=page, flows=flows, args=args, filters=filters)


@bp.get("/<int:instance_id>")
@login_required
def show(instance_id: int) -> str:
    s, pe, user = db.session(), db.engine(), me()
    instance = pe.runtime.get(s, instance_id)
    if not can_view_instance(s, user, instance):
        abort(404)
    view = instance_view(s, instance_id)
    return render_template("orders/show.html", view=view, business=business_data(s, pe, instance),
                           show_other=user.role in ("supervisor", "admin"),
                           project=projects.project_of(s, instance_id), now=pe.ctx.clock())


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int) -> Response:
    s, pe, user = db.session(), db.engine(), me()
    row = pe.attachments.get(s, attachment_id)  # a missing row, instance or file is a 404
    if not can_view_instance(s, user, pe.runtime.get(s, row.instance_id)):
        abort(404)
    content = pe.attachments.read(row)
    return send_file(BytesIO(content), mimetype=row.content_type, as_attachment=True, download_name=row.filename)
