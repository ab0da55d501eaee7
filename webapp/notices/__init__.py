"""公告通知 pages: what a person is shown (pinned first, unread marked) and opening one (its read receipt); for
administrators, publishing with an audience, validity and pinning, editing, withdrawing, and who has and has not
read each one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func
from werkzeug.wrappers import Response

from engine.audit.service import record
from engine.errors import EomsError
from engine.paging import Page
from webapp import db
from webapp.access import roles_required
from webapp.errors import fail_to, status_of
from webapp.i18n import gettext, local_time
from webapp.messages import explain, field_errors
from webapp.notices import service
from webapp.notices.models import AUDIENCES, Announcement
from webapp.params import arg_page, parse_local

bp = Blueprint("notices", __name__, url_prefix="/notices", template_folder="templates")
PAGE_SIZE = 20


@bp.get("/")
@login_required
def index() -> str:
    s, now = db.session(), db.engine().ctx.clock()
    page_no = arg_page()
    total, rows = service.visible(s, current_user.row, now, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    names = db.engine().identity.display_names(s, [a.author_id for a, _ in rows])
    return render_template("notices/index.html", page=Page(rows, total, page_no, PAGE_SIZE), names=names)


@bp.get("/<int:item_id>")
@login_required
def show(item_id: int) -> str:
    s, now = db.session(), db.engine().ctx.clock()
    item = service.open_for(s, current_user.row, item_id, now)
    s.commit()
    names = db.engine().identity.display_names(s, [item.author_id])
    return render_template("notices/show.html", item=item, names=names, now=now)


@bp.get("/manage")
@roles_required("admin")
def manage() -> str:
    s, now = db.session(), db.engine().ctx.clock()
    page_no = arg_page()
    total, rows = service.managed(s, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    reads = service.read_counts(s, [a.id for a in rows])
    audience = {a.id: s.scalar(service.audience_users(s, a).with_only_columns(func.count())) or 0 for a in rows}
    pe = db.engine()
    unit_names = {u.id: u.name for u in pe.identity.list_org_units(s)}
    post_names = {p.id: p.name for p in pe.identity.list_posts(s)}
    targets = {}
    for a in rows:
        units, posts = service.targets(s, a.id)
        targets[a.id] = [unit_names.get(i, "?") for i in units] + [post_names.get(i, "?") for i in posts]
    return render_template("notices/manage.html", page=Page(rows, total, page_no, PAGE_SIZE), reads=reads,
                           audience=audience, targets=targets, now=now)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def new() -> Response | str | tuple[str, int]:
    return _edit(None)


@bp.route("/<int:item_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def edit(item_id: int) -> Response | str | tuple[str, int]:
    return _edit(item_id)


@bp.post("/<int:item_id>/withdraw")
@roles_required("admin")
def withdraw(item_id: int) -> Response:
    s, now = db.session(), db.engine().ctx.clock()
    fail_to(url_for("notices.manage"))
    item = service.withdraw(s, item_id, now)
    record(s, "notice.withdraw", "announcement", item.title, actor_id=current_user.row.id, now=now)
    s.commit()
    flash(gettext("公告“%(title)s”已撤下。", title=item.title), "info")
    return redirect(url_for("notices.manage"))


@bp.get("/<int:item_id>/receipts")
@roles_required("admin")
def receipts(item_id: int) -> str:
    s = db.session()
    item = s.get(Announcement, item_id)
    fail_to(url_for("notices.manage"))
    found = service.receipts(s, item_id)
    return render_template("notices/receipts.html", item=item, receipts=found)


def _edit(item_id: int | None) -> Response | str | tuple[str, int]:
    s, pe = db.session(), db.engine()
    fail_to(url_for("notices.manage"))
    item = s.get(Announcement, item_id) if item_id is not None else None
    if item_id is not None and item is None:
        return redirect(url_for("notices.manage"))
    if request.method == "GET":
        units, posts = service.targets(s, item.id) if item else ([], [])
        values = {"title": item.title, "body": item.body, "audience": item.audience, "units": units, "posts": posts,
                  "valid_from": _local_input(item.valid_from), "valid_until": _local_input(item.valid_until),
                  "pinned": item.pinned} if item else {"audience": "all", "units": [], "posts": []}
        return _form(item, values, {}, 200)
    form = request.form
    values = {"title": form.get("title", "").strip(), "body": form.get("body", ""),
              "audience": form.get("audience", "all"), "units": _ids(form.getlist("units")),
              "posts": _ids(form.getlist("posts")), "valid_from": form.get("valid_from", ""),
              "valid_until": form.get("valid_until", ""), "pinned": form.get("pinned") == "1"}
    fail_to(lambda err: _refused(item, values, err))
    draft = service.Draft(values["title"], values["body"], values["audience"], tuple(values["units"]),
                          tuple(values["posts"]), parse_local(values["valid_from"]), parse_local(values["valid_until"]),
                          values["pinned"])
    saved = service.save(s, draft, author=current_user.row, now=pe.ctx.clock(), announcement_id=item_id)
    record(s, "notice.update" if item_id else "notice.publish", "announcement", saved.title,
           actor_id=current_user.row.id, now=pe.ctx.clock(),
           details={"audience": saved.audience, "pinned": saved.pinned})
    s.commit()
    flash(gettext("公告“%(title)s”已发布。", title=saved.title) if item_id is None
          else gettext("公告“%(title)s”已修改。", title=saved.title), "info")
    return redirect(url_for("notices.manage"))


def _refused(item: Announcement | None, values: dict[str, Any], err: EomsError) -> tuple[str, int]:
    flash(explain(err), "error")
    return _form(item, values, field_errors(err), status_of(err))


def _form(item: Announcement | None, values: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
    s, pe = db.session(), db.engine()
    return render_template("notices/form.html", item=item, values=values, errors=errors, audiences=AUDIENCES,
                           units=pe.identity.list_org_units(s), posts=pe.identity.list_posts(s)), status


def _ids(raw: list[str]) -> list[int]:
    return [int(v) for v in raw if v.isascii() and v.isdigit() and len(v) < 10]


def _local_input(moment: Any) -> str:
    return local_time(moment, "%Y-%m-%dT%H:%M") if moment else ""
