"""考核指标管理: KPI definitions (administrators), the monthly assessment per person, post and unit computed from
the recorded facts with a drill-down from every figure to the work orders behind it, closing a month (its
figures then no longer change), and Excel export. Supervisors see the people and units they oversee."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from engine.audit.service import record
from engine.errors import EomsError
from engine.identity.models import OrgUnit, User
from handlers.kpi import assessment as kpi
from handlers.kpi.models import KpiDefinition
from webapp import db
from webapp.access import roles_required, scope_path
from webapp.errors import fail_to, status_of
from webapp.i18n import gettext, lazy_gettext, local_time
from webapp.messages import explain, field_errors
from webapp.stats.export import to_csv, to_xlsx
from webapp.stats.tables import Column, Table

bp = Blueprint("kpi", __name__, url_prefix="/kpi", template_folder="templates")
MEASURE_LABELS: dict[str, Any] = {
    "on_time_rate": lazy_gettext("及时率"), "mean_handling": lazy_gettext("平均处理时长（小时）"),
    "p90_handling": lazy_gettext("P90 处理时长（小时）"), "first_time_right": lazy_gettext("一次通过率"),
    "returns_per_order": lazy_gettext("每单退回次数"), "workload": lazy_gettext("工作量（环节数）"),
}
SUBJECT_LABELS: dict[str, Any] = {"user": lazy_gettext("按人员"), "post": lazy_gettext("按岗位"),
                                  "unit": lazy_gettext("按单位")}
RATES = ("on_time_rate", "first_time_right")


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    def shown(measure: str, value: float | None) -> str:
        if value is None:
            return "—"
        if measure in RATES:
            return f"{100 * value:.1f}%"
        return f"{value:.0f}" if measure == "workload" else f"{value:.2f}"
    return {"kpi_measure": lambda m: str(MEASURE_LABELS.get(m, m)), "kpi_value": shown}


def _month() -> str:
    raw = request.args.get("month", "")
    try:
        kpi.month_bounds(raw)
        return raw
    except EomsError:
        now = db.engine().ctx.clock()
        return local_time(now, "%Y-%m")


@bp.get("/definitions")
@roles_required("admin")
def definitions() -> str:
    return _definitions_page(None, {}, {}, 200)


@bp.post("/definitions")
@roles_required("admin")
def definition_save() -> WerkzeugResponse | tuple[str, int]:
    s, pe = db.session(), db.engine()
    form = request.form
    raw_id = form.get("id", "")
    row = s.get(KpiDefinition, int(raw_id)) if raw_id.isdigit() else None
    values = {k: form.get(k, "").strip() for k in ("id", "name", "process_key", "node_id", "measure", "target",
                                                   "weight")}
    values["posts"] = [int(v) for v in form.getlist("posts") if v.isdigit()]
    values["units"] = [int(v) for v in form.getlist("units") if v.isdigit()]
    values["active"] = form.get("active", "1") == "1"
    fail_to(lambda err: _refused(values, err))
    target = row or KpiDefinition()
    target.name, target.process_key, target.node_id = values["name"], values["process_key"], values["node_id"]
    target.measure, target.post_ids, target.unit_ids = values["measure"], values["posts"], values["units"]
    target.target, target.weight, target.active = _number(values["target"]), _whole(values["weight"]), values["active"]
    kpi.check_definition(s, target)
    if row is None:
        s.add(target)
    s.flush()
    record(s, "kpi.definition", "kpi_definition", target.name, actor_id=current_user.row.id, now=pe.ctx.clock(),
           details={"measure": target.measure, "target": target.target, "weight": target.weight})
    s.commit()
    flash(gettext("考核指标“%(name)s”已保存。", name=target.name), "info")
    return redirect(url_for("kpi.definitions"))


@bp.get("/assessment")
@roles_required("supervisor", "admin")
def assessment() -> str:
    s = db.session()
    month = _month()
    subject = request.args.get("by", "user")
    subject = subject if subject in kpi.SUBJECTS else "user"
    if subject == "post" and current_user.row.role != "admin":
        subject = "user"
    figures, closed = kpi.assessment(s, month)
    rows, defs = _rows(figures, subject)
    return render_template("kpi/assessment.html", month=month, subject=subject, subjects=SUBJECT_LABELS, rows=rows,
                           defs=defs, closed=closed, can_close=current_user.row.role == "admin",
                           over=kpi.month_bounds(month)[1] <= db.engine().ctx.clock())


@bp.get("/assessment.<fmt>")
@roles_required("supervisor", "admin")
def assessment_export(fmt: str) -> Response:
    s = db.session()
    month = _month()
    figures, _ = kpi.assessment(s, month)
    tables = []
    for subject, label in SUBJECT_LABELS.items():
        if subject == "post" and current_user.row.role != "admin":
            continue
        rows, defs = _rows(figures, subject)
        columns = [Column(str(label).removeprefix("按"), "text"), Column(gettext("得分"), "ratio")]
        columns += [Column(d.name, "ratio") for d in defs]
        tables.append(Table(f"{month} · {label}", columns, [
            [r["name"], r["score"], *[c.value if c else None for c in r["cells"]]] for r in rows]))
    stamp = f"kpi-{month}"
    if fmt == "xlsx":
        return Response(to_xlsx(tables), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{stamp}.xlsx"'})
    if fmt == "csv":
        return Response(to_csv(tables), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{stamp}.csv"'})
    abort(404)


@bp.get("/assessment/drill")
@roles_required("supervisor", "admin")
def drill() -> str:
    s = db.session()
    month = _month()
    figures, closed = kpi.assessment(s, month)
    wanted = (request.args.get("definition", ""), request.args.get("subject_type", ""), request.args.get("subject", ""))
    found = next((f for f in figures if (str(f.definition_id), f.subject_type, str(f.subject_id)) == wanted), None)
    if found is None or not _may_see(found.subject_type, found.subject_id):
        abort(404)
    definition = s.get(KpiDefinition, found.definition_id)
    names = kpi.subject_names(s)
    return render_template("kpi/drill.html", month=month, figure=found, definition=definition,
                           subject_name=names[found.subject_type].get(found.subject_id, "—"),
                           steps=kpi.steps_behind(s, list(found.steps)), closed=closed, names=names)


@bp.post("/months/<month>/close")
@roles_required("admin")
def close_month(month: str) -> WerkzeugResponse:
    s, pe = db.session(), db.engine()
    fail_to(url_for("kpi.assessment", month=month))
    stored = kpi.lock(s, month, actor_id=current_user.row.id, now=pe.ctx.clock())
    record(s, "kpi.close_month", "kpi_month", month, actor_id=current_user.row.id, now=pe.ctx.clock(),
           details={"figures": stored})
    s.commit()
    flash(gettext("%(month)s 的考核已关账：%(n)s 项数据已固定，不再随数据变化。", month=month, n=stored), "info")
    return redirect(url_for("kpi.assessment", month=month))


@bp.post("/months/<month>/reopen")
@roles_required("admin")
def reopen_month(month: str) -> WerkzeugResponse:
    s, pe = db.session(), db.engine()
    fail_to(url_for("kpi.assessment", month=month))
    kpi.unlock(s, month)
    record(s, "kpi.reopen_month", "kpi_month", month, actor_id=current_user.row.id, now=pe.ctx.clock())
    s.commit()
    flash(gettext("%(month)s 的考核已重新打开，数据按当前记录重新计算。", month=month), "info")
    return redirect(url_for("kpi.assessment", month=month))


def _rows(figures: list[kpi.Figure], subject: str) -> tuple[list[dict[str, Any]], list[KpiDefinition]]:
    """One row per subject the current user may see: its name, score and a cell per definition."""
    s = db.session()
    defs = [d for d in kpi.definitions(s) if any(f.definition_id == d.id for f in figures)]
    by_id = {d.id: d for d in defs}
    scores = kpi.scores([f for f in figures if f.subject_type == subject], by_id)
    names = kpi.subject_names(s)[subject]
    cells: dict[int, dict[int, kpi.Figure]] = {}
    for f in figures:
        if f.subject_type == subject and _may_see(subject, f.subject_id):
            cells.setdefault(f.subject_id, {})[f.definition_id] = f
    rows = [{"id": sid, "name": names.get(sid, "—"), "score": scores.get((subject, sid), 0.0),
             "cells": [by_def.get(d.id) for d in defs]} for sid, by_def in cells.items()]
    rows.sort(key=lambda r: (-r["score"], r["name"]))
    return rows, defs


def _may_see(subject_type: str, subject_id: int) -> bool:
    path = scope_path()
    if path is None:
        return True
    s = db.session()
    if subject_type == "unit":
        unit = s.get(OrgUnit, subject_id)
        return unit is not None and unit.path.startswith(path)
    if subject_type == "user":
        person = s.get(User, subject_id)
        return person is not None and person.org_unit.path.startswith(path)
    return False


def _definitions_page(edit: KpiDefinition | None, values: dict[str, Any], errors: dict[str, str],
                      status: int) -> tuple[str, int]:
    s, pe = db.session(), db.engine()
    edit_id = request.args.get("edit", "")
    if not values and edit_id.isdigit() and (row := s.get(KpiDefinition, int(edit_id))) is not None:
        values = {"id": str(row.id), "name": row.name, "process_key": row.process_key, "node_id": row.node_id,
                  "measure": row.measure, "target": f"{row.target:g}", "weight": str(row.weight),
                  "posts": row.post_ids, "units": row.unit_ids, "active": row.active}
    steps = kpi.user_steps(s)
    return render_template("kpi/definitions.html", rows=kpi.definitions(s), values=values, errors=errors,
                           steps=steps, step_names={(k, n): name for k, n, name in steps},
                           measures=kpi.MEASURES, flows=[(d.key, d.name) for d in pe.repository.list_latest(s)],
                           posts=pe.identity.list_posts(s), units=pe.identity.list_org_units(s),
                           names=kpi.subject_names(s)), status


def _refused(values: dict[str, Any], err: EomsError) -> tuple[str, int]:
    db.session().rollback()
    flash(explain(err), "error")
    return _definitions_page(None, values, field_errors(err), status_of(err))


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return float("nan")


def _whole(raw: str) -> int:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 5 else -1
