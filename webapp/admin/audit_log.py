"""审计日志: who changed what and when — every administrative change and every state change of a work order —
searchable by who, what, which record and when."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from engine.audit.service import AuditQuery, actor_names, search
from engine.identity.models import User
from engine.paging import Page
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import PAGE_SIZE, bp
from webapp.params import arg_date, arg_page, day_after

MAX_PAGE = 200  # the newest 10,000 matches can be paged through; narrow the search for older ones
SOURCES = ("admin", "order")


@bp.get("/audit")
@roles_required("admin")
def audit() -> str:
    s = db.session()
    args = {k: v.strip()[:100] for k, v in request.args.items() if v.strip() and k != "page"}
    actor_id = None
    if args.get("actor"):
        actor_id = s.scalar(select(User.id).where(User.username == args["actor"])) or -1
    query = AuditQuery(source=args.get("source", "") if args.get("source") in SOURCES else "", actor_id=actor_id,
                       action=args.get("action", ""), target=args.get("target", ""),
                       since=arg_date("since"), until=day_after(arg_date("until")))
    page_no = min(arg_page(), MAX_PAGE)
    total, rows = search(s, query, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("admin/audit.html", page=Page(rows, total, page_no, PAGE_SIZE), args=args,
                           names=actor_names(s, rows))
