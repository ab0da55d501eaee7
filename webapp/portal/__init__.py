"""个人运维门户: the home page post holders live in — 待办, 工作提示, 已办, 公告通知, 日程安排, 便签, 个人信息."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine.errors import Code, EomsError
from engine.identity.models import User
from engine.tasks.queries import TaskFilter, queue_steps, task_facts
from webapp import db
from webapp.auth import me
from webapp.errors import attempt, fail_to, or_else
from webapp.i18n import gettext
from webapp.messages import explain
from webapp.notices import service as notices
from webapp.params import arg_page, parse_local
from webapp.portal import queue, service
from webapp.portal.queue import QueueArgs
from webapp.security import local_target

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")
PAGE_SIZE = 10


@bp.get("/")
@login_required
def home() -> str:
    s, pe, user = db.session(), db.engine(), me()
    now = pe.ctx.clock()
    view = QueueArgs.read(request.args)
    todo = or_else(lambda: pe.tasks.query(s, user, scope="inbox", filters=view.task_filter(now),
                                          page=arg_page("todo_page"), page_size=PAGE_SIZE, sort=view.engine_sort),
                   lambda: pe.tasks.query(s, user, scope="inbox", page=1, page_size=PAGE_SIZE))
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
    unread, announcements = notices.latest_with_unread(s, user, now, limit=5)
    names = pe.identity.display_names(s, [t.assignee_id for t in todo.items] +
                                      [t.assignee_id for t in (org.items if org else [])] +
                                      [a.author_id for a, _ in announcements])
    panels = service.layout(s, user)
    saved = queue.saved_filters(s, user)
    return render_template(
        "portal/home.html", panels=panels, hidden=[p for p, visible in panels if not visible], todo=todo,
        view=view, columns=queue.columns(s, user), all_columns=queue.COLUMNS,
        facts=task_facts(s, todo.items, pe.ctx.labels),
        flows=[(d.key, d.name) for d in pe.repository.list_latest(s)], steps=_steps(s, user, view),
        saved=[(f, view.with_filters(f.filters)) for f in saved],
        active_filter=next((f.id for f in saved if queue.filter_values(f.filters) == view.filters()), None),
        done=done, org=org, done_q=done_q, tips=tips.items, agenda=agenda, notes=service.notes(s, user),
        announcements=announcements, unread=unread, names=names, now=now, user=user, here=request.full_path.rstrip("?"),
    )


def _steps(s: Session, user: User, view: QueueArgs) -> list[tuple[str, str]]:
    """The steps the filter can choose (of the chosen flow): node id → name, the chosen one always among them."""
    names: dict[str, list[str]] = {}
    for process_key, node_id, node_name in queue_steps(s, user):
        if not view.flow or process_key == view.flow:
            names.setdefault(node_id, [])
            if node_name not in names[node_id]:
                names[node_id].append(node_name)
    if view.step and view.step not in names:
        names[view.step] = [view.step]
    return [(node_id, "/".join(labels)) for node_id, labels in names.items()]


def _back() -> str:
    return local_target(request.form.get("next"), url_for("portal.home"))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    s = db.session()
    back = _back()
    fail_to(back)
    row = db.engine().tasks.claim(s, task_id, me())
    s.commit()
    flash(gettext("已签收：%(name)s（%(key)s）", name=row.node_name, key=row.business_key), "info")
    return redirect(back)


@bp.post("/tasks/claim")
@login_required
def claim_selected() -> Response:
    """签收所选: each task in its own transaction, so one a colleague took meanwhile spoils nothing else."""
    back = _back()
    ids = queue.selected_ids(request.form.getlist("task"))
    if not ids:
        flash(gettext("请先勾选要签收的任务。"), "error")
        return redirect(back)
    pe, user = db.engine(), me()
    claimed = taken = failed = 0
    for task_id in ids:
        outcome = attempt(lambda task_id=task_id: pe.tasks.claim(db.session(), task_id, user))
        if not isinstance(outcome, EomsError):
            claimed += 1
        elif str(outcome.code) == Code.TASK_CLAIMED_BY_OTHER:
            taken += 1
        else:
            failed += 1
    message = gettext("已签收 %(n)s 项", n=claimed)
    if taken:
        message += gettext("；%(n)s 项已被他人签收", n=taken)
    if failed:
        message += gettext("；%(n)s 项未能签收（已处理或无权签收）", n=failed)
    flash(message, "info" if claimed and not (taken or failed) else "warning")
    return redirect(back)


@bp.post("/queue/columns")
@login_required
def save_columns() -> Response:
    back = _back()
    if request.form.get("action") == "reset":
        return _change(lambda s: queue.reset_columns(s, me()), back)
    return _change(lambda s: queue.save_columns(s, me(), request.form.getlist("column"), db.engine().ctx.clock()),
                   back)


@bp.post("/queue/filters")
@login_required
def save_filter() -> Response:
    filters = queue.filter_values(request.form)
    target = url_for("portal.home", **queue.filter_url_params(filters))
    s = db.session()
    fail_to(lambda err: _filter_refused(err, target))
    row = queue.save_filter(s, me(), request.form.get("name", ""), filters, db.engine().ctx.clock())
    s.commit()
    flash(gettext("已保存筛选：%(name)s", name=row.name), "info")
    return redirect(target)


def _filter_refused(err: EomsError, target: str) -> Response:
    named = "title" in (err.details.get("fields") or {})
    flash(gettext("请为筛选填写名称（最多 %(n)s 个字）。", n=queue.MAX_NAME) if named else explain(err), "error")
    return redirect(target)


@bp.post("/queue/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int) -> Response:
    return _change(lambda s: queue.delete_filter(s, me(), filter_id), _back())


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


def _change(action: Callable[[Session], object], back: str | None = None) -> Response:
    """Do one change to the user's portal and commit; back to the portal (or ``back``) either way."""
    s = db.session()
    target = back or url_for("portal.home")
    fail_to(target)
    action(s)
    s.commit()
    return redirect(target)
