"""统计分析 / 考核: work volume, completion, on-time rate and handling times by person, post, org unit and flow,
for a time range and for a number (customer, phone number, circuit); exported to Excel and CSV."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, render_template, request
from flask_login import current_user

from webapp import db
from webapp.access import roles_required, scope_path
from webapp.i18n import gettext, local_midnight, month_start
from webapp.params import arg_date, arg_int, day_after
from webapp.stats.daily import chart_data, daily_series
from webapp.stats.export import to_csv, to_xlsx
from webapp.stats.queries import DIMENSIONS, StatsFilter, flow_names, group_stats, step_stats
from webapp.stats.tables import Table, group_table, step_table

bp = Blueprint("stats", __name__, url_prefix="/stats", template_folder="templates")


def read_filter() -> tuple[StatsFilter, dict[str, str]]:
    """The statistics filter from the query string (dates are Beijing dates; the end date is included)."""
    now = db.engine().ctx.clock()
    args = {k: v.strip() for k, v in request.args.items() if v and v.strip()}

    start = arg_date("from") or month_start(now)
    end = day_after(arg_date("to") or local_midnight(now))
    f = StatsFilter(start=start, end=end, org_path=scope_path(), process_key=args.get("flow"),
                    org_unit_id=arg_int("org"), customer=args.get("customer"),
                    customer_phone=args.get("phone"), circuit=args.get("circuit"))
    args.setdefault("from", start.date().isoformat())
    args.setdefault("to", (end - timedelta(days=1)).date().isoformat())
    return f, args


def tables(f: StatsFilter, by: str) -> list[Table]:
    """The page's two tables: the chosen dimension, and the handling time of each step."""
    s, now = db.session(), db.engine().ctx.clock()
    return [group_table(dimension_labels()[by], by, group_stats(s, f, by, now)),
            step_table(step_stats(s, f), flow_names(s))]


def dimension_labels() -> dict[str, str]:
    """The statistics groupings in the page's language, in the order the page offers them."""
    return {"person": gettext("按人员"), "post": gettext("按岗位"), "org": gettext("按单位"), "flow": gettext("按流程")}


def chart(f: StatsFilter) -> dict[str, object]:
    """The daily (or monthly) chart's data for charts.js."""
    return chart_data(daily_series(db.session(), f), {"steps": gettext("完成环节"), "orders": gettext("完成工单")})


@bp.get("/")
@roles_required("supervisor", "admin")
def index() -> str:
    db.snapshot_session()  # the tables and the chart as of one moment
    f, args = read_filter()
    by = args.get("by") if args.get("by") in DIMENSIONS else "person"
    args["by"] = by
    s = db.session()
    units = db.engine().identity.list_org_units(s)
    if current_user.row.role != "admin":
        units = [u for u in units if u.path.startswith(current_user.row.org_unit.path)]
    return render_template("stats/index.html", tables=tables(f, by), args=args, flows=flow_names(s), units=units,
                           dimensions=dimension_labels(), chart=chart(f))


@bp.get("/export.<fmt>")
@roles_required("supervisor", "admin")
def export(fmt: str) -> Response:
    db.snapshot_session()
    f, args = read_filter()
    by = args.get("by") if args.get("by") in DIMENSIONS else "person"
    data = tables(f, by)
    stamp = f"{args['from']}_{args['to']}"
    if fmt == "xlsx":
        return Response(to_xlsx(data), headers={"Content-Disposition": f'attachment; filename="eoms-{stamp}.xlsx"'},
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if fmt == "csv":
        return Response(to_csv(data), headers={"Content-Disposition": f'attachment; filename="eoms-{stamp}.csv"'},
                        mimetype="text/csv; charset=utf-8")
    return Response(status=404)
