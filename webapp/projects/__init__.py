"""工程项目管理: 项目查询 and 合同查询 with filters, a project's page with its work orders of every flow, 项目统计
(by status, unit and month; orders, overdue steps and cost per project) with Excel export. A project is set up
through the 项目立项 flow (``processes/project_setup.bpmn``), started from 项目建立."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from engine.identity.models import unit_subtree_ids
from engine.paging import Page
from handlers.costs import service as costs
from handlers.projects import service
from handlers.projects.models import PROJECT_STATUSES, Project
from webapp import db
from webapp.access import roles_required
from webapp.errors import fail_to
from webapp.i18n import gettext, lazy_gettext, local_time
from webapp.params import arg_date, arg_int, arg_page, day_after
from webapp.stats.export import to_csv, to_xlsx
from webapp.stats.tables import Column, Table

bp = Blueprint("projects", __name__, url_prefix="/projects", template_folder="templates")
PAGE_SIZE = 50
STATUS_LABELS = {"approving": lazy_gettext("审批中"), "active": lazy_gettext("在建"),
                 "rejected": lazy_gettext("未立项"), "closed": lazy_gettext("已结项")}


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"project_status": lambda code: str(STATUS_LABELS.get(code, code))}


def _query() -> tuple[service.ProjectQuery, dict[str, str]]:
    args = {k: v.strip()[:100] for k, v in request.args.items() if v.strip() and k != "page"}
    unit = arg_int("unit")
    return service.ProjectQuery(
        text=args.get("q", ""), status=args.get("status", ""),
        unit_ids=unit_subtree_ids(db.session(), unit) if unit else None,
        since=arg_date("since"), until=day_after(arg_date("until"))), args


@bp.get("/")
@login_required
def index() -> str:
    s, pe = db.session(), db.engine()
    query, args = _query()
    page_no = arg_page()
    total, rows = service.search(s, query, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    ids = [p.id for p in rows]
    return render_template("projects/index.html", page=Page(rows, total, page_no, PAGE_SIZE), args=args,
                           statuses=PROJECT_STATUSES, units=pe.identity.list_org_units(s),
                           figures=service.figures(s, ids, pe.ctx.clock()), spent=costs.spent_by_project(s, ids),
                           managers=service.manager_names(s, rows), unit_names=_unit_names())


@bp.get("/contracts")
@login_required
def contracts() -> str:
    s, pe = db.session(), db.engine()
    query, args = _query()
    page_no = arg_page()
    total, rows = service.search(s, query, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("projects/contracts.html", page=Page(rows, total, page_no, PAGE_SIZE), args=args,
                           statuses=PROJECT_STATUSES, units=pe.identity.list_org_units(s), unit_names=_unit_names())


@bp.get("/<int:project_id>")
@login_required
def show(project_id: int) -> str:
    s, pe = db.session(), db.engine()
    project = service.get(s, project_id)
    orders = service.orders_of(s, project_id)
    flows = {d.key: d.name for d in pe.repository.list_latest(s)}
    return render_template("projects/show.html", project=project, orders=orders, flows=flows,
                           figures=service.figures(s, [project_id], pe.ctx.clock())[project_id],
                           spent=costs.spent_by_project(s, [project_id]).get(project_id),
                           committed=costs.committed_by_project(s, [project_id]).get(project_id),
                           managers=service.manager_names(s, [project]), unit_names=_unit_names(),
                           may_close=project.status == "active" and (current_user.row.role == "admin"
                                                                     or current_user.row.id == project.manager_id))


@bp.post("/<int:project_id>/close")
@login_required
def close(project_id: int) -> Response:
    s = db.session()
    fail_to(url_for("projects.show", project_id=project_id))
    project = service.get(s, project_id)
    if current_user.row.role != "admin" and current_user.row.id != project.manager_id:
        return redirect(url_for("projects.show", project_id=project_id))
    service.close(s, project_id)
    s.commit()
    flash(gettext("项目 %(name)s 已结项。", name=project.name), "info")
    return redirect(url_for("projects.show", project_id=project_id))


@bp.get("/stats")
@roles_required("supervisor", "admin")
def stats() -> str:
    return render_template("projects/stats.html", tables=_stats_tables())


@bp.get("/stats.<fmt>")
@roles_required("supervisor", "admin")
def stats_export(fmt: str) -> Response:
    data = _stats_tables()
    stamp = local_time(db.engine().ctx.clock(), "%Y%m%d-%H%M")
    if fmt == "xlsx":
        return Response(to_xlsx(data), headers={"Content-Disposition": f'attachment; filename="projects-{stamp}.xlsx"'},
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if fmt == "csv":
        return Response(to_csv(data), headers={"Content-Disposition": f'attachment; filename="projects-{stamp}.csv"'},
                        mimetype="text/csv")
    return Response(status=404)


def _stats_tables() -> list[Table]:
    s, pe = db.session(), db.engine()
    by_unit = service.by_status_and_unit(s)
    status_table = Table(gettext("按单位和状态"), [Column(gettext("单位"), "text"), Column(gettext("状态"), "text"),
                                              Column(gettext("项目数")), Column(gettext("合同金额（元）"), "ratio"),
                                              Column(gettext("预算（元）"), "ratio")],
                         [[u, str(STATUS_LABELS.get(st, st)), n, float(a), float(b)] for u, st, n, a, b in by_unit])
    projects = list(s.scalars(_all_projects()))
    months = Counter(local_time(p.created_at, "%Y-%m") for p in projects)
    month_table = Table(gettext("按月份（建立）"), [Column(gettext("月份"), "text"), Column(gettext("项目数"))],
                        [[m, n] for m, n in sorted(months.items())])
    ids = [p.id for p in projects]
    figs, spent = service.figures(s, ids, pe.ctx.clock()), costs.spent_by_project(s, ids)
    per_project = Table(gettext("按项目"), [Column(gettext("项目编号"), "text"), Column(gettext("项目名称"), "text"),
                                         Column(gettext("状态"), "text"), Column(gettext("工单数")),
                                         Column(gettext("在途工单")), Column(gettext("超时环节")),
                                         Column(gettext("预算（元）"), "ratio"),
                                         Column(gettext("维护成本（元）"), "ratio")],
                        [[p.code, p.name, str(STATUS_LABELS.get(p.status, p.status)), figs[p.id].orders,
                          figs[p.id].running, figs[p.id].overdue_steps, float(p.budget),
                          float(spent.get(p.id, 0))] for p in projects])
    return [status_table, month_table, per_project]


def _all_projects() -> Select[tuple[Project]]:
    return select(Project).order_by(Project.created_at)


def _unit_names() -> dict[int, str]:
    return {u.id: u.name for u in db.engine().identity.list_org_units(db.session())}

