"""新任务提醒 through the test client (issue 12, gap 13): /notify/inbox counts the open tasks of the user's 待办
(assigned to them or offered to their posts' pools in their unit), names what arrived after a marker, answers
the login page without a session, reads only the two small queries, and is not activity for the idle logout; the top bar
draws the same count on every page without JavaScript."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.tasks.models import HumanTask
from tests.conftest import Database
from tests.web.conftest import login, make_web_app
from tests.web.test_task_pages import ACCEPT, FAULT, act, start_fault

BADGE = re.compile(r'<span id="notify-badge"[^>]*data-count="(\d*)"[^>]*data-latest="(\d*)"[^>]*>(\d*)</span>')


def goes_to_login(response: Any) -> bool:
    return response.status_code == 302 and urlparse(response.headers["Location"]).path == "/auth/login"


def inbox(client: FlaskClient, since: object = None) -> dict[str, Any]:
    response = client.get("/notify/inbox", query_string={} if since is None else {"since": str(since)})
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()  # type: ignore[no-any-return]


def as_user(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def badge(client: FlaskClient, url: str = "/portal/") -> tuple[str, str, str, bool]:
    """(data-count, data-latest, shown number, hidden) of the top bar's badge on ``url``."""
    html = client.get(url).get_data(as_text=True)
    match = BADGE.search(html)
    assert match, "no badge beside 个人门户"
    return match.group(1), match.group(2), match.group(3), " hidden>" in match.group(0)


def test_counts_the_inbox_and_names_what_arrived_since_the_marker(web_app: Flask, db: Database) -> None:
    alice = as_user(web_app, "alice")  # 调度员 of GZ: 故障受理 of GZ faults is offered to her post
    assert inbox(alice) == {"count": 0, "latest": 0, "new": []}

    _, first = start_fault(web_app, db, "NTF-1")
    answer = inbox(alice, 0)
    assert answer["count"] == 1 and answer["latest"] == first
    assert answer["new"] == [{"id": first, "node_name": "故障受理", "business_key": "NTF-1",
                              "customer": FAULT["customer"], "url": f"/tasks/{first}"}]
    assert inbox(alice, first) == {"count": 1, "latest": first, "new": []}  # nothing newer than the marker
    assert inbox(alice)["new"] == []  # without a marker nothing is "new": the page starts from its own count

    # seven more: the count has them all, the answer names the five newest, newest first
    ids = [start_fault(web_app, db, f"NTF-{n}", customer=f"客户{n}")[1] for n in range(2, 9)]
    answer = inbox(alice, first)
    assert answer["count"] == 8 and answer["latest"] == ids[-1]
    assert [t["id"] for t in answer["new"]] == ids[::-1][:5]
    assert [t["business_key"] for t in answer["new"]] == [f"NTF-{n}" for n in (8, 7, 6, 5, 4)]
    assert answer["new"][0]["customer"] == "客户8"

    # a colleague claims one: no longer offered to alice; claimed by alice: still hers (assigned to her)
    act(web_app, db, "claim", ids[0], "anna")
    act(web_app, db, "claim", ids[1], "alice")
    answer = inbox(alice, first)
    assert answer["count"] == 7 and ids[0] not in [t["id"] for t in answer["new"]]
    # completed: gone from her 待办 (and from the count)
    act(web_app, db, "complete", ids[1], "alice", ACCEPT)
    assert inbox(alice, ids[-1]) == {"count": 6, "latest": ids[-1], "new": []}
    # a marker never goes back, even when the newest task leaves the inbox
    act(web_app, db, "claim", ids[-1], "anna")
    assert inbox(alice, ids[-1])["latest"] == ids[-1]

    # the count is the one the portal's 待办 shows, and the top bar shows it on every page
    html = alice.get("/portal/").get_data(as_text=True)
    assert re.search(r'<h2>待办事宜 <span class="count">5</span>', html)
    assert badge(alice) == ("5", str(ids[-2]), "5", False)
    assert badge(alice, "/orders/") == ("5", str(ids[-2]), "5", False)


def test_since_may_be_a_moment_and_bad_markers_are_ignored(web_app: Flask, db: Database) -> None:
    alice = as_user(web_app, "alice")
    _, old = start_fault(web_app, db, "NTF-OLD")
    with db.sessions.begin() as s:  # it arrived an hour ago
        row = s.get(HumanTask, old)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(hours=1)
    _, new = start_fault(web_app, db, "NTF-NEW")
    half_hour_ago = datetime.now(UTC) - timedelta(minutes=30)
    assert [t["id"] for t in inbox(alice, half_hour_ago.isoformat())["new"]] == [new]
    beijing = (half_hour_ago + timedelta(hours=8)).replace(tzinfo=None).isoformat(timespec="seconds")
    assert [t["id"] for t in inbox(alice, beijing)["new"]] == [new]  # without an offset: Beijing time
    assert [t["id"] for t in inbox(alice, "2020-01-01")["new"]] == [new, old]
    for bad in ("abc", "-1", "1e5", "12345678901234", "2026-13-40", "<script>"):
        assert inbox(alice, bad) == {"count": 2, "latest": new, "new": []}, bad


def test_only_the_users_own_work_is_counted_and_anonymous_is_refused(web_app: Flask, db: Database) -> None:
    anonymous = web_app.test_client()
    response = anonymous.get("/notify/inbox")
    assert response.status_code == 302 and urlparse(response.headers["Location"]).path == "/auth/login"
    assert response.get_json(silent=True) is None  # no count, no tasks
    assert 'id="notify-badge"' not in anonymous.get("/auth/login").get_data(as_text=True)

    _, accept = start_fault(web_app, db, "NTF-POST")
    clients = {name: as_user(web_app, name) for name in ("alice", "anna", "bob", "carol", "mike", "sup")}
    counts = {name: inbox(client, 0)["count"] for name, client in clients.items()}
    # the GZ dispatchers share the pool; a reviewer, a Shenzhen dispatcher, a maintainer and a supervisor do not
    assert counts == {"alice": 1, "anna": 1, "bob": 0, "carol": 0, "mike": 0, "sup": 0}
    assert inbox(clients["carol"], 0)["new"] == []
    assert badge(clients["bob"])[1:] == ("0", "0", True)  # nothing to show: hidden

    # the next step reaches the maintainers' post: mike is told, the dispatchers' count drops
    (handle,) = act(web_app, db, "complete", accept, "alice", ACCEPT)
    assert [t["node_name"] for t in inbox(clients["mike"], 0)["new"]] == ["故障处理"]
    assert inbox(clients["alice"], 0) == {"count": 0, "latest": 0, "new": []}
    # given to one person, it is no longer anyone else's
    act(web_app, db, "transfer", handle.id, "mike", reason="专人处理", to_user="gz_maintainer")
    assert inbox(clients["mike"], 0)["count"] == 0
    gz_maintainer = as_user(web_app, "gz_maintainer")
    assert [t["id"] for t in inbox(gz_maintainer, 0)["new"]] == [handle.id]


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run meanwhile (on any engine of this process)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_a_poll_is_two_small_queries_at_most(web_app: Flask, db: Database) -> None:
    alice = as_user(web_app, "alice")
    _, first = start_fault(web_app, db, "NTF-Q1")
    with statements() as quiet:
        inbox(alice, first)
    with statements() as news:
        answer = inbox(alice, first - 1)
    assert [t["id"] for t in answer["new"]] == [first]
    on_tasks = [sql for sql in quiet if "human_task" in sql]
    assert len(on_tasks) == 1 and "count(" in on_tasks[0].lower()  # nothing new: the count alone
    assert len([sql for sql in news if "human_task" in sql]) == 2  # the count and the few new rows
    assert all(" LIMIT " in sql.upper() for sql in news if "human_task" in sql and "count(" not in sql.lower())
    assert len([sql for sql in quiet if sql.lstrip().upper().startswith("SELECT")]) <= 3, quiet  # + user, posts


def test_polling_does_not_keep_an_idle_session_alive(db: Database, tmp_path: Path, deploy_flows) -> None:  # type: ignore[no-untyped-def]
    app = make_web_app(db, tmp_path, EOMS_IDLE_LOGOUT_SECONDS="60")
    deploy_flows(app.extensions["eoms"]["engine"])
    client = as_user(app, "alice")
    past = time.time() - 50
    with client.session_transaction() as sess:
        sess["last_active"] = past
    for _ in range(3):
        response = client.get("/notify/inbox", query_string={"since": "0"})
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers  # the session cookie is not even sent again
    with client.session_transaction() as sess:
        assert sess["last_active"] == past
    assert 8 <= client.get("/auth/idle").get_json()["left"] <= 10
    # a page the user opens does count (what the poll must not do)
    assert client.get("/orders/").status_code == 200
    with client.session_transaction() as sess:
        assert sess["last_active"] > time.time() - 5
    # once the limit has passed the poll itself is turned away and the session ends
    with client.session_transaction() as sess:
        sess["last_active"] = time.time() - 70
    turned_away = client.get("/notify/inbox")
    assert goes_to_login(turned_away)
    assert "next=" not in turned_away.headers["Location"]  # after logging in again, a page, not the poll's JSON
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    assert goes_to_login(client.get("/notify/inbox"))


def test_the_page_carries_the_poll_settings_and_texts(db: Database, tmp_path: Path, deploy_flows) -> None:  # type: ignore[no-untyped-def]
    app = make_web_app(db, tmp_path, EOMS_NOTIFY_POLL_SECONDS="3")
    deploy_flows(app.extensions["eoms"]["engine"])
    client = as_user(app, "alice")
    html = client.get("/portal/").get_data(as_text=True)
    assert 'data-poll-seconds="3"' in html and 'data-url="/notify/inbox"' in html
    assert '<script src="/static/notify.js"></script>' in html and "/static/notify.css" in html
    texts = re.search(r'<script type="application/json" id="notify-text">(.*?)</script>', html, re.S)
    assert texts and "__TASK__" in texts.group(1) and "__N__" in texts.group(1)
    assert client.get("/static/notify.js").status_code == 200
    assert client.get("/static/notify.css").status_code == 200
    assert 'id="notify-sound"' in html and 'id="notify-desktop"' in html
