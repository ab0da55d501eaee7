"""The supervisor console: the dashboard, every work order with where it stands, an instance on its diagram
with its timing, the heatmap of a flow, and the supervisor's actions (催办, reassign, suspend/resume through
the task page; cancel and incident retry here). Administrators also see the incidents page."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.errors import EomsError
from engine.identity.access import oversees
from engine.runtime.models import ProcessInstance
from engine.runtime.queries import INSTANCE_SORTS, InstanceFilter, search_instances
from webapp import db
from webapp.access import roles_required, scope_path
from webapp.auth import me
from webapp.business_data import business_data
from webapp.errors import attempt, fail_to, or_else
from webapp.i18n import gettext, local_midnight, month_start
from webapp.messages import explain
from webapp.orders.views_data import instance_view
from webapp.params import arg_date, arg_int, arg_page, day_after
from webapp.security import local_target
from webapp.stats.queries import flow_names
from webapp.supervisor import dashboard as dashboard_data
from webapp.supervisor import service
from webapp.supervisor.monitor import heatmap as heatmap_data
from webapp.supervisor.monitor import instance_overlays

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor", template_folder="templates")


@bp.get("/")
@roles_required("supervisor", "admin")
def dashboard() -> str:
    s, pe = db.snapshot_session(), db.engine()  # its figures as of one moment
    data = dashboard_data.build(s, scope_path(), pe.ctx.clock())
    labels = {"open": gettext("在办"), "overdue": gettext("超时"), "done": gettext("完成"), "mean": gettext("平均"),
              "p90": "P90"}
    charts = {"open": data.open_by_step, "throughput": data.throughput, "handling": data.handling, "labels": labels}
    return render_template("supervisor/dashboard.html", d=data, charts=charts)


@bp.get("/instances")
@roles_required("supervisor", "admin")
def instances() -> str:
    s, pe, user = db.session(), db.engine(), me()
    now = pe.ctx.clock()
    timing = request.args.get("timing", "")
    assignee = request.args.get("assignee", "").strip()
    assignee_id = service.user_id(s, assignee) if assignee else None
    filters = InstanceFilter(
        business_key=request.args.get("number") or None, customer=request.args.get("customer") or None,
        customer_phone=request.args.get("phone") or None, circuit=request.args.get("circuit") or None,
        process_key=request.args.get("flow") or None, version=arg_int("version"),
        status=request.args.get("status") or None, org_unit_id=arg_int("org"), node_id=request.args.get("step") or None,
        post_id=arg_int("post"), assignee_id=assignee_id if assignee else None,
        overdue_at=now if timing == "overdue" else None, warn_at=now if timing == "near" else None,
        started_from=arg_date("started_from"), started_to=day_after(arg_date("started_to")),
        ended_from=arg_date("ended_from"), ended_to=day_after(arg_date("ended_to")),
    )
    if assignee and assignee_id is None:
        filters.assignee_id = -1  # an unknown person has no work orders
    sort = request.args.get("sort") if request.args.get("sort") in INSTANCE_SORTS else "started_desc"
    page_no = arg_page()
    page = or_else(lambda: search_instances(s, user, filters, page=page_no, page_size=30, sort=sort),
                   lambda: search_instances(s, user, InstanceFilter(), page=1, page_size=30))
    open_rows = service.open_steps(s, [i.id for i in page.items])
    units = [u for u in pe.identity.list_org_units(s) if user.role == "admin" or u.path.startswith(user.org_unit.path)]
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template("supervisor/instances.html", page=page, args=args, flows=flow_names(s), units=units,
                           posts=pe.identity.list_posts(s), open_rows=open_rows, now=now, sort=sort,
                           names=pe.identity.display_names(s, [t.assignee_id for rows in open_rows.values()
                                                               for t in rows]))


def _visible_instance(instance_id: int) -> ProcessInstance:
    s, pe = db.session(), db.engine()
    instance = pe.runtime.get(s, instance_id)  # one that does not exist is a 404
    if not oversees(s, me(), instance.org_unit_id):
        abort(404)
    return instance


@bp.get("/instances/<int:instance_id>")
@roles_required("supervisor", "admin")
def instance(instance_id: int) -> str:
    s, pe = db.session(), db.engine()
    item = _visible_instance(instance_id)
    view = instance_view(s, instance_id)
    now = pe.ctx.clock()
    overlays = instance_overlays(s, instance_id, now)
    return render_template("supervisor/instance.html", view=view, business=business_data(s, pe, item), show_other=True,
                           now=now, overlays=overlays,
                           diagram_url=url_for("supervisor.diagram", definition_id=item.definition_id))


@bp.get("/definitions/<int:definition_id>/diagram.bpmn")
@roles_required("supervisor", "admin", "analyst")
def diagram(definition_id: int) -> Response:
    xml = service.diagram_xml(db.session(), definition_id)
    if xml is None:
        abort(404)
    return Response(xml, mimetype="application/xml")


@bp.post("/instances/<int:instance_id>/cancel")
@roles_required("supervisor", "admin")
def cancel(instance_id: int) -> Response:
    s, pe = db.session(), db.engine()
    _visible_instance(instance_id)
    fail_to(url_for("supervisor.instance", instance_id=instance_id))
    pe.runtime.cancel(s, instance_id, actor=me(), reason=request.form.get("reason", ""))
    s.commit()
    flash(gettext("工单已撤销。"), "info")
    return redirect(url_for("supervisor.instance", instance_id=instance_id))


@bp.post("/incidents/<int:incident_id>/retry")
@roles_required("supervisor", "admin")
def retry(incident_id: int) -> Response:
    s = db.session()
    incident = service.incident(s, incident_id)
    if incident is None or (incident.instance_id and
                            not oversees(s, me(), service.org_of(s, incident.instance_id))):
        abort(404)
    outcome, message = _retry(incident_id)
    flash(message, {"resolved": "info", "queued": "info", "failing": "warning"}.get(outcome, "error"))
    return redirect(local_target(request.form.get("next"), url_for("supervisor.incidents")))


def _retry(incident_id: int) -> tuple[str, str]:
    """Retry one incident in its own transaction; returns (outcome, message) with outcome one of
    resolved / queued / failing / error."""
    s, pe = db.session(), db.engine()
    result = attempt(lambda: pe.management.retry_incident(s, incident_id, actor=me()))
    if isinstance(result, EomsError):
        return "error", f"#{incident_id}: {explain(result)}"
    if result.status == "resolved":
        return "resolved", gettext("异常 #%(id)s 已解决。", id=incident_id)
    if result.job_id:
        return "queued", gettext("异常 #%(id)s：作业已重新排队，将由后台作业执行。", id=incident_id)
    return "failing", gettext("异常 #%(id)s 重试后仍未解决：%(msg)s", id=incident_id, msg=result.message)


@bp.get("/incidents")
@roles_required("admin")
def incidents() -> str:
    s, pe = db.session(), db.engine()
    status = request.args.get("status", "open")
    rows = pe.management.incidents(s, status=None if status == "all" else "open", limit=500)
    keys = service.business_keys(s, [r.instance_id for r in rows if r.instance_id])
    return render_template("supervisor/incidents.html", rows=rows, keys=keys, status=status)


@bp.post("/incidents/retry-all")
@roles_required("admin")
def retry_all() -> Response:
    s, pe = db.session(), db.engine()
    ids = [r.id for r in pe.management.incidents(s, status="open", limit=500)]
    s.rollback()
    outcomes = Counter(_retry(incident_id)[0] for incident_id in ids)  # one summary, not 500 flashes
    flash(gettext("已重试 %(n)s 个异常：解决 %(ok)s，重新排队 %(queued)s，仍未解决 %(failing)s，出错 %(error)s。",
                  n=len(ids), ok=outcomes["resolved"], queued=outcomes["queued"], failing=outcomes["failing"],
                  error=outcomes["error"]),
          "info" if outcomes["resolved"] + outcomes["queued"] == len(ids) else "warning")
    return redirect(url_for("supervisor.incidents"))


@bp.get("/heatmap")
@roles_required("supervisor", "admin", "analyst")
def heatmap() -> str:
    s, pe = db.session(), db.engine()
    names = flow_names(s)
    key = request.args.get("flow") or next(iter(sorted(names)), "")
    versions = service.versions(s, key)
    if not versions:
        abort(404)
    version = arg_int("version")
    definition = next((d for d in versions if d.version == version), versions[0])
    now = pe.ctx.clock()
    start = arg_date("from") or month_start(now) - timedelta(days=60)
    end = day_after(arg_date("to") or local_midnight(now))
    path = None if current_user.row.role in ("admin", "analyst") else scope_path()
    data = heatmap_data(s, definition.id, key, start, end, path)
    slowest = sorted(data.items(), key=lambda item: -item[1]["mean_seconds"])[:5]
    args = {"flow": key, "version": definition.version, "from": start.date().isoformat(),
            "to": (end - timedelta(days=1)).date().isoformat()}
    return render_template("supervisor/heatmap.html", names=names, versions=versions, definition=definition,
                           data=data, slowest=slowest, args=args,
                           diagram_url=url_for("supervisor.diagram", definition_id=definition.id))


@bp.get("/instances/<int:instance_id>/overlays.json")
@roles_required("supervisor", "admin")
def overlays(instance_id: int) -> Response:
    _visible_instance(instance_id)
    return jsonify(instance_overlays(db.session(), instance_id, db.engine().ctx.clock()))

