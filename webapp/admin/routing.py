"""派单规则: region × service type → the post and unit a fault goes to (most specific rule first), with an
optional working calendar for the routed steps; and a tester that says which rule a fault would meet."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.errors import EomsError
from handlers.dispatch import ANY, CALENDARS, add_rule, remove_rule, route, rules
from handlers.dispatch.models import RoutingRule
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import audit, bp, form_values
from webapp.errors import fail_to
from webapp.i18n import gettext
from webapp.messages import explain

RULE_FIELDS = ("region", "service_type", "post", "org_unit", "calendar", "note")


@bp.get("/routing")
@roles_required("admin")
def routing() -> str:
    s, pe = db.session(), db.engine()
    listed = rules(s)
    values = form_values(request.args, *RULE_FIELDS)
    edit = request.args.get("edit", "")
    if edit.isdigit() and (rule := s.get(RoutingRule, int(edit))) is not None:
        values = {"region": rule.region, "service_type": rule.service_type, "post": rule.post,
                  "org_unit": rule.org_unit, "calendar": rule.calendar or "", "note": rule.note}
    tested, test_error = None, None
    probe = form_values(request.args, "test_region", "test_type")
    if probe["test_region"] and probe["test_type"]:
        try:
            tested = route(s, probe["test_region"], probe["test_type"])
        except EomsError as err:
            test_error = explain(err)
    units, posts = pe.identity.list_org_units(s), pe.identity.list_posts(s)
    post_names = {**{p.name: p.name for p in posts}, **{p.code: p.name for p in posts}}
    return render_template("admin/routing.html", rules=listed, values=values, units=units,
                           unit_names={u.code: u.name for u in units}, posts=posts, post_names=post_names,
                           calendars=CALENDARS, any=ANY, probe=probe, tested=tested, test_error=test_error,
                           types=sorted({r.service_type for r in listed if r.service_type != ANY}))


@bp.post("/routing")
@roles_required("admin")
def routing_save() -> Response:
    s = db.session()
    fail_to(url_for("admin.routing", **form_values(request.form, *RULE_FIELDS)))
    values = form_values(request.form, *RULE_FIELDS)
    rule = add_rule(s, values["region"] or ANY, values["service_type"] or ANY, post=values["post"],
                    org_unit=values["org_unit"], note=values["note"], calendar=values["calendar"] or None)
    audit("routing.save", "routing_rule", f"{rule.region} × {rule.service_type}", post=rule.post,
          org_unit=rule.org_unit, calendar=rule.calendar, note=rule.note)
    s.commit()
    flash(gettext("派单规则已保存：%(region)s × %(type)s → %(post)s（%(unit)s）。", region=rule.region,
                  type=rule.service_type, post=rule.post, unit=rule.org_unit), "info")
    return redirect(url_for("admin.routing"))


@bp.post("/routing/<int:rule_id>/remove")
@roles_required("admin")
def routing_remove(rule_id: int) -> Response:
    s = db.session()
    fail_to(url_for("admin.routing"))
    rule = s.get(RoutingRule, rule_id)
    target = f"{rule.region} × {rule.service_type}" if rule else str(rule_id)
    remove_rule(s, rule_id)
    audit("routing.remove", "routing_rule", target)
    s.commit()
    flash(gettext("派单规则 %(rule)s 已删除。", rule=target), "info")
    return redirect(url_for("admin.routing"))
