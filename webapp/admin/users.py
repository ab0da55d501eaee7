"""用户管理: the users list (search, unit, post, status), creating a user, editing one (name, unit, posts, role,
phone), resetting a password, disabling and enabling, and unlocking after failed logins."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.audit.service import changes
from engine.errors import EomsError, InvalidInput
from engine.identity import admin as identity_admin
from engine.identity.models import ROLES, User
from engine.paging import Page
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import PAGE_SIZE, audit, bp, form_values
from webapp.auth.attempts import recent_failures
from webapp.auth.attempts import unlock as unlock_logins
from webapp.errors import fail_to, status_of
from webapp.i18n import gettext, lazy_gettext
from webapp.messages import explain, field_errors
from webapp.params import arg_int, arg_page

ROLE_LABELS: dict[str, Any] = {"user": lazy_gettext("岗位人员"), "supervisor": lazy_gettext("主管"),
                               "analyst": lazy_gettext("流程分析员"), "admin": lazy_gettext("系统管理员")}
USER_FIELDS = ("username", "display_name", "password", "org_code", "role", "phone")


@bp.app_context_processor
def _role_labels() -> dict[str, Any]:
    return {"role_label": lambda code: str(ROLE_LABELS.get(code, code))}


@bp.get("/users")
@roles_required("admin")
def users() -> str:
    s, pe = db.session(), db.engine()
    text = request.args.get("q", "").strip()[:100]
    unit_id, post_id = arg_int("unit"), arg_int("post")
    status = request.args.get("status", "")
    active = {"active": True, "disabled": False}.get(status)
    page_no = arg_page()
    total, rows = identity_admin.users_matching(s, text, unit_id, post_id, active,
                                                offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template("admin/users.html", page=Page(rows, total, page_no, PAGE_SIZE), args=args,
                           units=pe.identity.list_org_units(s), posts=pe.identity.list_posts(s))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def user_new() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return _user_form(None, {"role": "user"}, [], {}, 200)
    values = form_values(request.form, *USER_FIELDS)
    codes = [c for c in request.form.getlist("posts") if c]
    fail_to(lambda err: _user_form(None, values, codes, _errors(err), status_of(err)))
    s, pe = db.session(), db.engine()
    identity_admin.check_password(values["password"], values["username"])
    if not values["org_code"]:
        raise InvalidInput("a user needs an org unit", {"org_unit": "required"})
    user = pe.identity.add_user(s, values["username"], display_name=values["display_name"],
                                password=values["password"], org_code=values["org_code"], post_codes=codes,
                                role=values["role"], phone=identity_admin.check_phone(values["phone"]))
    after = identity_admin.snapshot(user)
    audit("user.create", "user", user.username, **after)
    s.commit()
    flash(gettext("用户 %(name)s 已创建。", name=user.display_name), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user_edit(user_id: int) -> Response | str | tuple[str, int]:
    s = db.session()
    fail_to(url_for("admin.users"))
    user = identity_admin.get_user_by_id(s, user_id)
    if request.method == "GET":
        values = {"display_name": user.display_name, "org_code": user.org_unit.code, "role": user.role,
                  "phone": user.phone or ""}
        return _user_form(user, values, [p.code for p in user.posts], {}, 200)
    values = form_values(request.form, *USER_FIELDS)
    codes = [c for c in request.form.getlist("posts") if c]
    fail_to(lambda err: _user_form(user, values, codes, _errors(err), status_of(err)))
    if user.id == _me().id and values["role"] != "admin":
        raise InvalidInput("an administrator cannot take the admin role from themself", {"role": "own role"})
    before = identity_admin.snapshot(user)
    identity_admin.update_user(s, user, identity_admin.UserChange(
        values["display_name"], values["org_code"], tuple(codes), values["role"], values["phone"]))
    audit("user.update", "user", user.username, **changes(before, identity_admin.snapshot(user)))
    s.commit()
    flash(gettext("已保存。"), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/password")
@roles_required("admin")
def user_password(user_id: int) -> Response | str | tuple[str, int]:
    s = db.session()
    fail_to(url_for("admin.users"))
    user = identity_admin.get_user_by_id(s, user_id)
    password, again = request.form.get("password", ""), request.form.get("password2", "")
    fail_to(lambda err: _user_form(user, _current(user), [p.code for p in user.posts], _errors(err),
                                   status_of(err)))
    if password != again:
        raise InvalidInput("the two passwords differ", {"password2": "differs"})
    identity_admin.set_password(s, user, password)
    unlock_logins(s, user.username)
    audit("user.password_reset", "user", user.username)
    s.commit()
    flash(gettext("%(name)s 的密码已重置，请告知本人并提醒其登录后修改。", name=user.display_name), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/active")
@roles_required("admin")
def user_active(user_id: int) -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.user_edit", user_id=user_id))
    user = identity_admin.get_user_by_id(s, user_id)
    active = request.form.get("active") == "1"
    if user.id == _me().id and not active:
        raise InvalidInput("an administrator cannot disable themself", {"active": "own account"})
    released = 0
    if not active:
        queue_tasks, personal = identity_admin.held_tasks(s, user.id)
        for task_id in queue_tasks:  # back to the post's queue, each noted in the order's history
            pe.tasks.unclaim(s, task_id, _me())
        released = len(queue_tasks)
        if personal:
            flash(gettext("%(name)s 仍有 %(n)s 项指派给本人的任务，请主管在工单监控中转派。",
                          name=user.display_name, n=personal), "error")
    identity_admin.set_active(s, user, active)
    audit("user.enable" if active else "user.disable", "user", user.username, released_tasks=released)
    s.commit()
    if active:
        flash(gettext("%(name)s 已启用。", name=user.display_name), "info")
    else:
        flash(gettext("%(name)s 已停用，%(n)s 项已签收的任务退回岗位待办。", name=user.display_name, n=released),
              "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/unlock")
@roles_required("admin")
def user_unlock(user_id: int) -> Response:
    s = db.session()
    fail_to(url_for("admin.users"))
    user = identity_admin.get_user_by_id(s, user_id)
    forgotten = unlock_logins(s, user.username)
    audit("user.unlock", "user", user.username, failed_logins=forgotten)
    s.commit()
    flash(gettext("已解除 %(name)s 的登录限制（清除 %(n)s 次失败记录）。", name=user.display_name, n=forgotten), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


def _me() -> User:
    return current_user.row


def _current(user: User) -> dict[str, str]:
    return {"display_name": user.display_name, "org_code": user.org_unit.code, "role": user.role,
            "phone": user.phone or ""}


def _errors(err: EomsError) -> dict[str, str]:
    errors = field_errors(err)
    flash(explain(err), "error")
    return errors


def _user_form(user: User | None, values: dict[str, str], codes: list[str], errors: dict[str, str],
               status: int) -> tuple[str, int]:
    s, pe = db.session(), db.engine()
    failed = recent_failures(s, user.username, pe.ctx.clock()) if user is not None else 0
    held = identity_admin.held_tasks(s, user.id) if user is not None else ([], 0)
    return render_template("admin/user_form.html", user=user, values=values, codes=codes, errors=errors,
                           units=pe.identity.list_org_units(s), posts=pe.identity.list_posts(s), roles=ROLES,
                           failed=failed, held=held), status
