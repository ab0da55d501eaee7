"""运维成本管理: 维护成本申请 (a flow: apply → 部门审批 → 财务审批 above one amount → 分管领导审批 above a higher
one → 归档), the requests with filters, budgets per unit and year with what is spent and committed, the approval
amounts and categories (administrators), and statistics by unit, project, category and month with Excel export."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.audit.service import record
from engine.identity.models import subtree_ids, unit_subtree_ids
from engine.paging import Page
from handlers.costs import service
from handlers.costs.models import REQUEST_STATUSES
from handlers.projects.models import Project
from webapp import db
from webapp.access import roles_required, scope_path
from webapp.errors import fail_to
from webapp.i18n import gettext, lazy_gettext, local_time
from webapp.params import arg_int, arg_page
from webapp.stats.export import to_csv, to_xlsx
from webapp.stats.tables import Column, Table

bp = Blueprint("costs", __name__, url_prefix="/costs", template_folder="templates")
PAGE_SIZE = 50
STATUS_LABELS = {"approving": lazy_gettext("审批中"), "archived": lazy_gettext("已归档"),
                 "rejected": lazy_gettext("已驳回")}
ROUTE_LABELS = {"dept": lazy_gettext("部门审批"), "finance": lazy_gettext("财务审批"),
                "leader": lazy_gettext("分管领导审批")}
GROUPS = {"unit": lazy_gettext("按单位"), "project": lazy_gettext("按项目"), "category": lazy_gettext("按类别"),
          "month": lazy_gettext("按月份")}


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"cost_status": lambda c: str(STATUS_LABELS.get(c, c)), "cost_route": lambda c: str(ROUTE_LABELS.get(c, c))}


def _year() -> int:
    this = db.engine().sla.today(db.engine().ctx.clock()).year
    return arg_int("year", this, 2000, 2100) or this


@bp.get("/")
@login_required
def index() -> str:
    s, pe = db.session(), db.engine()
    args = {k: v.strip()[:100] for k, v in request.args.items() if v.strip() and k != "page"}
    unit = arg_int("unit")
    page_no = arg_page()
    me = current_user.row
    scope = None if me.role == "admin" else subtree_ids(me.org_unit.path) if me.role == "supervisor" else None
    total, rows = service.requests(s, status=args.get("status", "") if args.get("status") in REQUEST_STATUSES else "",
                                   unit_ids=unit_subtree_ids(s, unit) if unit else scope,
                                   applicant_id=None if me.role in ("admin", "supervisor") else me.id,
                                   category=args.get("category", ""), text=args.get("q", ""),
                                   offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("costs/index.html", page=Page(rows, total, page_no, PAGE_SIZE), args=args,
                           statuses=REQUEST_STATUSES, units=pe.identity.list_org_units(s), **_names())


@bp.get("/budgets")
@roles_required("supervisor", "admin")
def budgets() -> str:
    s, pe = db.session(), db.engine()
    year = _year()
    return render_template("costs/budgets.html", year=year, lines=service.budget_lines(s, year, scope_path()),
                           units=pe.identity.list_org_units(s))


@bp.post("/budgets")
@roles_required("admin")
def budget_save() -> Response:
    s, pe = db.session(), db.engine()
    year = request.form.get("year", "")
    fail_to(url_for("costs.budgets", year=year if year.isdigit() else None))
    unit = request.form.get("org_unit", "")
    row = service.set_budget(s, int(unit) if unit.isdigit() else -1, int(year) if year.isdigit() else 0,
                             request.form.get("amount", ""), pe.ctx.clock())
    record(s, "cost.budget", "cost_budget", f"{row.org_unit_id}:{row.year}", actor_id=current_user.row.id,
           now=pe.ctx.clock(), details={"amount": str(row.amount)})
    s.commit()
    flash(gettext("预算已保存。"), "info")
    return redirect(url_for("costs.budgets", year=row.year))


@bp.get("/settings")
@roles_required("admin")
def settings() -> str:
    s = db.session()
    service.ensure_categories(s)
    s.commit()
    return render_template("costs/settings.html", limits=service.thresholds(s), categories=service.categories(s))


@bp.post("/settings/thresholds")
@roles_required("admin")
def thresholds_save() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("costs.settings"))
    old = service.thresholds(s)
    new = service.set_thresholds(s, request.form.get("finance", ""), request.form.get("leader", ""), pe.ctx.clock())
    record(s, "cost.thresholds", "cost_setting", "thresholds", actor_id=current_user.row.id, now=pe.ctx.clock(),
           details={k: [str(old[k]), str(new[k])] for k in new})
    s.commit()
    flash(gettext("审批金额已保存：此后发起的申请按新金额确定审批环节。"), "info")
    return redirect(url_for("costs.settings"))


@bp.post("/settings/categories")
@roles_required("admin")
def category_save() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("costs.settings"))
    row = service.save_category(s, request.form.get("code", ""), request.form.get("name", ""),
                                request.form.get("active", "1") == "1")
    record(s, "cost.category", "cost_category", row.code, actor_id=current_user.row.id, now=pe.ctx.clock(),
           details={"name": row.name, "active": row.active})
    s.commit()
    flash(gettext("成本类别 %(name)s 已保存。", name=row.name), "info")
    return redirect(url_for("costs.settings"))


@bp.get("/stats")
@roles_required("supervisor", "admin")
def stats() -> str:
    year, by = _year(), _by()
    return render_template("costs/stats.html", year=year, by=by, groups=GROUPS, table=_table(year, by))


@bp.get("/stats.<fmt>")
@roles_required("supervisor", "admin")
def stats_export(fmt: str) -> Response:
    year = _year()
    tables = [_table(year, by) for by in GROUPS]
    stamp = local_time(db.engine().ctx.clock(), "%Y%m%d-%H%M")
    if fmt == "xlsx":
        return Response(to_xlsx(tables), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="costs-{year}-{stamp}.xlsx"'})
    if fmt == "csv":
        return Response(to_csv(tables), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="costs-{year}-{stamp}.csv"'})
    return Response(status=404)


def _by() -> str:
    by = request.args.get("by", "unit")
    return by if by in GROUPS else "unit"


def _table(year: int, by: str) -> Table:
    """Requests and amounts of ``year`` by one dimension: archived (spent), in approval (committed), rejected."""
    s = db.session()
    names = _names()
    label = {"unit": lambda k: names["unit_names"].get(k, "—"), "project": lambda k: names["project_names"].get(k, "—"),
             "category": lambda k: names["category_names"].get(k, k), "month": lambda k: k}[by]
    rows: dict[Any, list[Any]] = {}
    path = scope_path()
    for key, status, count, amount in service.totals(s, year, by, subtree_ids(path) if path is not None else None):
        row = rows.setdefault(key, [label(key), 0, 0.0, 0.0, 0.0])
        row[1] += count
        row[{"archived": 2, "approving": 3, "rejected": 4}[status]] += float(amount)
    columns = [Column(str(GROUPS[by]).removeprefix("按"), "text"), Column(gettext("申请数")),
               Column(gettext("已归档（元）"), "ratio"), Column(gettext("审批中（元）"), "ratio"),
               Column(gettext("已驳回（元）"), "ratio")]
    return Table(f"{year} · {GROUPS[by]}", columns, list(rows.values()))


def _names() -> dict[str, dict[Any, str]]:
    s, pe = db.session(), db.engine()
    return {"unit_names": {u.id: u.name for u in pe.identity.list_org_units(s)},
            "project_names": dict(s.execute(select(Project.id, Project.name)).tuples().all()),
            "category_names": {c.code: c.name for c in service.categories(s)}}

