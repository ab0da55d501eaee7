"""个人运维门户: the home page post holders live in — 待办, 工作提示, 已办, 公告通知, 日程安排, 便签, 个人信息."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine.tasks.queries import TaskFilter
from webapp import db
from webapp.auth import me
from webapp.errors import fail_to
from webapp.i18n import gettext
from webapp.params import arg_page, parse_local
from webapp.portal import service
from webapp.security import local_target

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")
PAGE_SIZE = 10


@bp.get("/")
@login_required
def home() -> str:
    s, pe, user = db.session(), db.engine(), me()
    now = pe.ctx.clock()
    todo_sort = request.args.get("todo_sort") if request.args.get("todo_sort") in ("due", "created", "business_key") \
        else "due"
    todo = pe.tasks.query(s, user, scope="inbox", page=arg_page("todo_page"), page_size=PAGE_SIZE, sort=todo_sort)
    done_q = (request.args.get("done_q") or "").strip()[:100]
    done = pe.tasks.query(s, user, scope="done", filters=TaskFilter(text=done_q or None), page=arg_page("done_page"),
                          page_size=PAGE_SIZE)
    tips = pe.tasks.query(s, user, scope="inbox", filters=TaskFilter(warn_by=now), page=1, page_size=20)
    week = pe.tasks.query(s, user, scope="inbox", filters=TaskFilter(overdue_at=now + timedelta(days=7)), page=1,
                          page_size=20)
    org = pe.tasks.query(s, user, scope="org", page=arg_page("org_page"), page_size=PAGE_SIZE) \
        if user.role in ("supervisor", "admin") else None
    entries = service.schedule(s, user, now - timedelta(hours=12))
    agenda = sorted([(t.due_at, "task", t) for t in week.items if t.due_at] +
                    [(e.starts_at, "entry", e) for e in entries], key=lambda item: item[0])
    announcements = service.announcements(s)
    names = pe.identity.display_names(s, [t.assignee_id for t in todo.items] +
                                      [t.assignee_id for t in (org.items if org else [])] +
                                      [a.author_id for a in announcements])
    panels = service.layout(s, user)
    return render_template(
        "portal/home.html", panels=panels, hidden=[p for p, visible in panels if not visible], todo=todo,
        todo_sort=todo_sort, done=done, org=org,
        done_q=done_q, tips=tips.items, agenda=agenda, notes=service.notes(s, user),
        announcements=announcements, names=names, now=now, user=user,
    )


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    s = db.session()
    back = local_target(request.form.get("next"), url_for("portal.home"))
    fail_to(back)
    row = db.engine().tasks.claim(s, task_id, me())
    s.commit()
    flash(gettext("已签收：%(name)s（%(key)s）", name=row.node_name, key=row.business_key), "info")
    return redirect(back)


@bp.post("/layout")
@login_required
def change_layout() -> Response:
    return _change(lambda s: service.change_layout(s, me(), request.form.get("panel", ""),
                                                   request.form.get("action", "")))


@bp.post("/notes")
@login_required
def add_note() -> Response:
    return _change(lambda s: service.add_note(s, me(), request.form.get("body", ""), db.engine().ctx.clock()))


@bp.post("/notes/<int:note_id>/delete")
@login_required
def delete_note(note_id: int) -> Response:
    return _change(lambda s: service.delete_note(s, me(), note_id))


@bp.post("/schedule")
@login_required
def add_schedule() -> Response:
    starts = parse_local(request.form.get("starts_at"))
    if starts is None:
        flash(gettext("请填写有效的日程时间。"), "error")
        return redirect(url_for("portal.home"))
    return _change(lambda s: service.add_schedule(s, me(), request.form.get("title", ""), starts))


@bp.post("/schedule/<int:entry_id>/delete")
@login_required
def delete_schedule(entry_id: int) -> Response:
    return _change(lambda s: service.delete_schedule(s, me(), entry_id))


@bp.post("/announcements")
@login_required
def publish() -> Response:
    return _change(lambda s: service.publish(s, me(), request.form.get("title", ""), request.form.get("body", ""),
                                             db.engine().ctx.clock()))


@bp.post("/announcements/<int:item_id>/delete")
@login_required
def withdraw(item_id: int) -> Response:
    return _change(lambda s: service.withdraw(s, me(), item_id))


def _change(action: Callable[[Session], object]) -> Response:
    """Do one change to the user's portal and commit; back to the portal either way."""
    s = db.session()
    fail_to(url_for("portal.home"))
    action(s)
    s.commit()
    return redirect(url_for("portal.home"))
