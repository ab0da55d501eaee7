"""新任务提醒: the count of open work beside 个人门户, and what reached the user since the page last asked.

``static/notify.js`` polls :func:`inbox` every ``EOMS_NOTIFY_POLL_SECONDS`` while the tab is visible and shows a
toast, the count in the tab title, and — when the user turned them on — a beep and a desktop notification.
The top bar's first count comes from the context processor, so it is right without JavaScript.

Polling is not activity: ``webapp.auth`` lists :func:`inbox` among its quiet endpoints, so a page left open
still logs out on time.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from webapp import db
from webapp.auth import me
from webapp.notify import service
from webapp.notify.service import Inbox, Since

bp = Blueprint("notify", __name__, url_prefix="/notify")
log = logging.getLogger(__name__)


@bp.get("/inbox")
@login_required
def inbox() -> Response:
    """``{"count", "new": [{"id", "node_name", "business_key", "customer", "url"}…], "latest"}``: the user's
    open tasks and, newest first, those that arrived after ``?since=`` (a task id — the ``latest`` of the
    previous answer — or an ISO date-time). Without a session: to the login page, like every page (the
    script stops asking)."""
    box, new, latest = service.news(db.session(), me(), Since.parse(request.args.get("since")))
    response = jsonify({
        "count": box.count, "latest": latest,
        "new": [{"id": a.id, "node_name": a.node_name, "business_key": a.business_key, "customer": a.customer,
                 "url": url_for("tasks.show", task_id=a.id)} for a in new],
    })
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _topbar() -> dict[str, Any]:
    """For logged-in pages: ``notify_inbox()`` (the count, asked once per request and only when the top bar is
    drawn) and the poll interval."""
    if not current_user.is_authenticated:
        return {}
    return {"notify_inbox": _cached_inbox, "notify_poll_seconds": db.settings().notify_poll_seconds}


def _cached_inbox() -> Inbox | None:
    """The user's inbox for the top bar; None (the badge shows no number) when the database cannot answer, so
    the count never breaks the page it sits on (an error page included)."""
    if "notify_topbar" not in g:
        try:
            g.notify_topbar = service.inbox(db.session(), me())
        except SQLAlchemyError:
            log.exception("the top bar's task count could not be read")
            g.notify_topbar = None
    return g.notify_topbar  # type: ignore[no-any-return]
