"""资源管理: the inventory of ports, VLANs and IP addresses by region — what is free, reserved and allocated,
adding values and ranges, and importing an Excel sheet (the whole file or nothing)."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.errors import EomsError, InvalidInput
from engine.paging import Page
from handlers.resources import importing
from handlers.resources.inventory import KINDS, add_resources
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import PAGE_SIZE, audit, bp, form_values
from webapp.errors import fail_to
from webapp.i18n import gettext
from webapp.messages import field_errors, field_list, sentence
from webapp.params import arg_page

STATUSES = ("free", "reserved", "allocated")
MAX_SHEET_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/inventory")
@roles_required("admin")
def inventory() -> str:
    s, pe = db.session(), db.engine()
    args = {k: v for k, v in form_values(request.args, "region", "kind", "status", "q").items() if v}
    page_no = arg_page()
    total, rows = importing.listing(s, args.get("region"), args.get("kind") if args.get("kind") in KINDS else None,
                                    args.get("status") if args.get("status") in STATUSES else None,
                                    args.get("q", "")[:100], offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for region, kind, status, count in importing.summary(s):
        counts.setdefault((region, kind), {})[status] = count
    units = pe.identity.list_org_units(s)
    return render_template("admin/inventory.html", page=Page(rows, total, page_no, PAGE_SIZE), args=args,
                           counts=counts, kinds=KINDS, statuses=STATUSES, units=units,
                           unit_names={u.code: u.name for u in units})


@bp.post("/inventory")
@roles_required("admin")
def inventory_add() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.inventory"))
    values = form_values(request.form, "region", "kind", "values")
    pe.identity.get_org_unit(s, values["region"])
    if values["kind"] not in KINDS:
        raise InvalidInput(f"resource kind '{values['kind']}' is not one of {', '.join(KINDS)}", {"kind": "unknown"})
    wanted = importing.expand(values["kind"], values["values"])
    if not wanted:
        raise InvalidInput("no values given", {"values": "required"})
    added = add_resources(s, values["region"], values["kind"], wanted, reserved=request.form.get("reserved") == "1")
    audit("inventory.add", "resource", f"{values['region']} {values['kind']}", added=added, given=len(wanted))
    s.commit()
    flash(gettext("已添加 %(added)s 项（共 %(given)s 项，已存在的跳过）。", added=added, given=len(wanted)), "info")
    return redirect(url_for("admin.inventory", region=values["region"], kind=values["kind"]))


@bp.post("/inventory/import")
@roles_required("admin")
def inventory_import() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(_import_refused)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("choose an .xlsx file", {"file": "required"})
    data = upload.read(MAX_SHEET_BYTES + 1)
    if len(data) > MAX_SHEET_BYTES:
        raise InvalidInput("the file is larger than 5 MB", {"file": "too large"})
    rows = importing.read_sheet(data)
    if not rows:
        raise InvalidInput("the sheet has no rows under its header", {"file": "empty"})
    added = importing.import_rows(s, rows, {u.code for u in pe.identity.list_org_units(s)})
    total = sum(added.values())
    audit("inventory.import", "resource", upload.filename[:100], rows=len(rows), added=total,
          by_region={f"{r} {k}": n for (r, k), n in added.items()})
    s.commit()
    flash(gettext("已导入 %(added)s 项（文件共 %(rows)s 行，已存在的跳过）。", added=total, rows=len(rows)), "info")
    return redirect(url_for("admin.inventory"))


@bp.get("/inventory/template.xlsx")
@roles_required("admin")
def inventory_template() -> Response:
    response = make_response(importing.template_workbook())
    response.headers["Content-Type"] = XLSX
    response.headers["Content-Disposition"] = "attachment; filename=inventory-template.xlsx"
    return response


def _import_refused(err: EomsError) -> Response:
    row = err.details.get("row")
    message = sentence(err) + field_list(field_errors(err), {"file": gettext("文件")})
    if row:
        message = gettext("第 %(row)s 行有误，整个文件未导入：", row=row) + message
    flash(message, "error")
    return redirect(url_for("admin.inventory"))
