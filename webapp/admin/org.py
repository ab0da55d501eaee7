"""组织机构 and 岗位: the org unit tree (add, rename, move by dragging — what a move affects is shown before it
is made) and the posts (add, rename, who holds them)."""

from __future__ import annotations

from collections import defaultdict

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from engine.identity import admin as identity_admin
from engine.identity.models import OrgUnit, User
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import audit, bp, form_values
from webapp.errors import fail_to
from webapp.i18n import gettext


@bp.get("/org")
@roles_required("admin")
def org() -> str:
    s, pe = db.session(), db.engine()
    units = pe.identity.list_org_units(s)
    children: dict[int | None, list[OrgUnit]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id].append(unit)
    people = dict(s.execute(select(User.org_unit_id, func.count()).where(User.is_active.is_(True))
                            .group_by(User.org_unit_id)).tuples().all())
    return render_template("admin/org.html", units=units, children=children, people=people,
                           values=form_values(request.args, "parent"))


@bp.post("/org")
@roles_required("admin")
def org_add() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.org"))
    values = form_values(request.form, "code", "name", "parent")
    unit = pe.identity.add_org_unit(s, values["code"], values["name"], values["parent"] or None)
    audit("org.create", "org_unit", unit.code, name=unit.name, path=unit.path)
    s.commit()
    flash(gettext("单位 %(name)s 已添加。", name=unit.name), "info")
    return redirect(url_for("admin.org"))


@bp.post("/org/<code>/rename")
@roles_required("admin")
def org_rename(code: str) -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.org"))
    unit = pe.identity.get_org_unit(s, code)
    old = unit.name
    identity_admin.rename_unit(s, unit, request.form.get("name", ""))
    audit("org.rename", "org_unit", unit.code, name=[old, unit.name])
    s.commit()
    flash(gettext("已改名为 %(name)s。", name=unit.name), "info")
    return redirect(url_for("admin.org"))


@bp.get("/org/move")
@roles_required("admin")
def org_move_preview() -> str | Response:
    """What moving the unit under the new parent changes, and a button to do it."""
    s = db.session()
    fail_to(url_for("admin.org"))
    impact = identity_admin.move_impact(s, request.args.get("unit", ""), request.args.get("parent", ""))
    return render_template("admin/org_move.html", impact=impact)


@bp.post("/org/move")
@roles_required("admin")
def org_move() -> Response:
    s = db.session()
    fail_to(url_for("admin.org"))
    unit_code, parent_code = request.form.get("unit", ""), request.form.get("parent", "")
    impact = identity_admin.move_unit(s, unit_code, parent_code)
    audit("org.move", "org_unit", unit_code, path=[impact.old_path, impact.new_path], units=impact.units,
          users=impact.users, open_tasks=impact.open_tasks)
    s.commit()
    flash(gettext("%(unit)s 已移至 %(parent)s 之下。", unit=impact.unit.name, parent=impact.new_parent.name), "info")
    return redirect(url_for("admin.org"))


@bp.get("/posts")
@roles_required("admin")
def posts() -> str:
    s, pe = db.session(), db.engine()
    listed = pe.identity.list_posts(s)
    holders = identity_admin.post_holder_counts(s, [p.id for p in listed])
    return render_template("admin/posts.html", posts=listed, holders=holders)


@bp.post("/posts")
@roles_required("admin")
def post_add() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.posts"))
    values = form_values(request.form, "code", "name")
    post = pe.identity.add_post(s, values["code"], values["name"])
    audit("post.create", "post", post.code, name=post.name)
    s.commit()
    flash(gettext("岗位 %(name)s 已添加。流程图的泳道可用其编码或名称指向它。", name=post.name), "info")
    return redirect(url_for("admin.posts"))


@bp.post("/posts/<code>/rename")
@roles_required("admin")
def post_rename(code: str) -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.posts"))
    post = pe.identity.get_post(s, code)
    old = post.name
    identity_admin.rename_post(s, post, request.form.get("name", ""))
    audit("post.rename", "post", post.code, name=[old, post.name])
    s.commit()
    pe.ctx.posts.forget()  # lanes naming the old name stop resolving here at once (other processes: within 30 s)
    pe.ctx.labels.forget()  # and listings show the new name
    flash(gettext("已改名为 %(name)s。按名称指向旧名的泳道需在流程设计中同步修改。", name=post.name), "info")
    return redirect(url_for("admin.posts"))

