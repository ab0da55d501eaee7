"""工单: start a flow from its start form, search work orders, the work-order page, attachment downloads."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import EomsError, NotFound
from engine.forms.validation import FormInvalid
from engine.runtime.queries import InstanceFilter, can_view_instance, search_instances
from engine.tasks.access import is_offered_to
from webapp import db
from webapp.auth import me
from webapp.business_data import business_data
from webapp.formdata import parse_form
from webapp.i18n import SHANGHAI, current_language, gettext
from webapp.messages import explain
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
    try:
        found = pe.runtime.start_form(s, key)
    except NotFound:
        abort(404)
    if found is None:
        abort(404)
    _form_key, schema = found
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = parse_form(schema.get("components") or [], request.form)
        business_key = (request.form.get("business_key") or "").strip() or _number(key)
        try:
            result = pe.runtime.start(s, key, business_key=business_key, data=values, actor=user)
            s.commit()
        except FormInvalid as err:
            s.rollback()
            errors, status = err.localized(current_language()), 422
            flash(gettext("表单有误，请按提示修改后再提交。"), "error")
        except EomsError as err:
            s.rollback()
            flash(explain(err), "error")
            status = 409
        else:
            flash(gettext("工单 %(key)s 已发起。", key=business_key), "info")
            mine = [t for t in result.tasks if is_offered_to(user, t)]
            return redirect(url_for("tasks.show", task_id=mine[0].id) if mine else
                            url_for("orders.show", instance_id=result.instance.id))
    name = dict(_startable()).get(key, key)
    return render_template("orders/start.html", key=key, name=name, schema=schema, values=values, errors=errors,
                           business_key=request.form.get("business_key", "")), status


def _number(key: str) -> str:
    """A work order number: process prefix, date and time in Beijing, and a random tail."""
    prefix = {"aftersales_fault": "GZ", "presales_demand": "SQ", "insale_implementation": "SZ",
              "workplan": "JH", "provisioning": "KT"}.get(key, "WO")
    now = db.engine().ctx.clock().astimezone(SHANGHAI)
    return f"{prefix}{now:%Y%m%d%H%M%S}{datetime.now().microsecond % 1000:03d}"


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
    try:
        page = search_instances(s, user, filters, page=arg_page())
    except EomsError as err:
        flash(explain(err), "error")
        page = search_instances(s, user, InstanceFilter())
    flows = {d.key: d.name for d in pe.repository.list_latest(s)}
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("orders/search.html", page=page, flows=flows, args=args, filters=filters)


@bp.get("/<int:instance_id>")
@login_required
def show(instance_id: int) -> str:
    s, pe, user = db.session(), db.engine(), me()
    try:
        instance = pe.runtime.get(s, instance_id)
    except NotFound:
        abort(404)
    if not can_view_instance(s, user, instance):
        abort(404)
    view = instance_view(s, instance_id)
    return render_template("orders/show.html", view=view, business=business_data(s, pe, instance),
                           show_other=user.role in ("supervisor", "admin"),
                           now=pe.ctx.clock())


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int) -> Response:
    s, pe, user = db.session(), db.engine(), me()
    try:
        row = pe.attachments.get(s, attachment_id)
        instance = pe.runtime.get(s, row.instance_id)
    except NotFound:
        abort(404)
    if not can_view_instance(s, user, instance):
        abort(404)
    try:
        content = pe.attachments.read(row)
    except NotFound:
        abort(404)
    return send_file(BytesIO(content), mimetype=row.content_type, as_attachment=True, download_name=row.filename)
