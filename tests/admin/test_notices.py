"""公告通知: an administrator publishes to everyone, to units (with the units below them) or to posts, for a
period, pinned or not; each person sees exactly what is meant for them now, pinned first; opening one is the
read receipt, and the receipts page lists who has and who has not read it. Bad input stores nothing; nobody
but administrators manages announcements."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.audit.models import AuditEntry
from engine.identity.models import OrgUnit, Post, User, user_post
from tests.admin.conftest import send, text
from tests.conftest import Database
from tests.web.conftest import login
from webapp.notices.models import Announcement, AnnouncementRead


def client_for(app: Flask, username: str) -> FlaskClient:
    c = app.test_client()
    assert login(c, username).status_code == 302
    return c


def ids(db: Database, model: type, column: str, *values: str) -> list[str]:
    with db.sessions() as s:
        return [str(i) for i in s.scalars(select(model.id).where(getattr(model, column).in_(values)))]


def publish(admin: FlaskClient, title: str, **fields: object) -> int:
    data = {"title": title, "body": f"{title}的内容", "audience": "all", **fields}
    response = send(admin, "/notices/new", data, follow_redirects=True)
    assert f"公告“{title}”已发布" in text(response), text(response)[-2000:]
    return newest(admin.application)


def newest(app: Flask) -> int:
    with app.extensions["eoms"]["sessions"]() as s:
        return int(s.scalar(select(func.max(Announcement.id))))


def titles(client: FlaskClient) -> list[str]:
    html = text(client.get("/notices/"))
    found = []
    for chunk in html.split('<li data-notice="')[1:]:
        found.append(chunk.split("<b>", 1)[1].split("</b>", 1)[0])
    return found


def count(db: Database, model: type) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_each_person_sees_what_is_meant_for_them(web_app: Flask, db: Database, admin: FlaskClient) -> None:
    (gz,) = ids(db, OrgUnit, "code", "GZ")
    (maint,) = ids(db, Post, "code", "maintainer")
    publish(admin, "全体通知")
    publish(admin, "广州通知", audience="units", units=[gz])
    publish(admin, "维护员通知", audience="posts", posts=[maint])
    publish(admin, "置顶通知", pinned="1")
    gz_maintainer, sz_dispatcher = client_for(web_app, "gz_maintainer"), client_for(web_app, "sz_dispatcher")
    assert titles(gz_maintainer) == ["置顶通知", "维护员通知", "广州通知", "全体通知"]
    assert titles(sz_dispatcher) == ["置顶通知", "全体通知"]
    # a unit's announcement reaches the units below it
    send(admin, "/admin/org", {"code": "GZ-TH", "name": "天河区", "parent": "GZ"})
    with db.sessions.begin() as s:
        someone = s.scalar(select(User).where(User.username == "sz_dispatcher"))
        someone.org_unit_id = s.scalar(select(OrgUnit.id).where(OrgUnit.code == "GZ-TH"))
    assert "广州通知" in titles(client_for(web_app, "sz_dispatcher"))


def test_the_validity_period_decides_when_it_shows(web_app: Flask, db: Database, admin: FlaskClient) -> None:
    publish(admin, "将来的通知", valid_from="2099-01-01T08:00")
    publish(admin, "过期的通知", valid_from="2020-01-01T08:00", valid_until="2020-02-01T08:00")
    publish(admin, "当前的通知", valid_until="2099-12-31T18:00")
    alice = client_for(web_app, "alice")
    assert titles(alice) == ["当前的通知"]
    manage = text(admin.get("/notices/manage"))
    assert "未生效" in manage and "已过期" in manage and "生效中" in manage
    pe = web_app.extensions["eoms"]["engine"]
    with db.sessions() as s:
        future = s.scalar(select(Announcement).where(Announcement.title == "将来的通知"))
        assert future.valid_from.utcoffset() == timedelta(0)  # stored in UTC: 08:00 Beijing is 00:00 UTC
        assert future.valid_from.hour == 0
        assert pe.ctx.clock() < future.valid_from


def test_opening_is_the_receipt_and_the_receipts_page_lists_both_sides(web_app: Flask, db: Database,
                                                                      admin: FlaskClient) -> None:
    (maint,) = ids(db, Post, "code", "maintainer")
    item = publish(admin, "维护员必读", audience="posts", posts=[maint])
    with db.sessions() as s:
        holders = set(s.scalars(select(User.username).join(user_post, user_post.c.user_id == User.id)
                                .where(user_post.c.post_id == int(maint), User.is_active.is_(True))))
    assert "gz_maintainer" in holders and len(holders) >= 2
    reader = client_for(web_app, "gz_maintainer")
    assert "未读" in text(reader.get("/notices/"))
    assert "维护员必读的内容" in text(reader.get(f"/notices/{item}"))
    reader.get(f"/notices/{item}")  # a second opening is no second receipt
    assert "未读" not in text(reader.get("/notices/"))
    assert count(db, AnnouncementRead) == 1
    page = text(admin.get(f"/notices/{item}/receipts"))
    read_part, unread_part = page.split('id="read-table"')[1].split('id="unread-table"')
    assert 'data-user="gz_maintainer"' in read_part and 'data-user="gz_maintainer"' not in unread_part
    for other in holders - {"gz_maintainer"}:
        assert f'data-user="{other}"' in unread_part
    assert f"对象 {len(holders)} 人，已读 1 人，未读 {len(holders) - 1} 人" in page
    assert f"1 / {len(holders)}" in text(admin.get("/notices/manage"))
    # someone outside the audience cannot open it
    assert client_for(web_app, "sz_dispatcher").get(f"/notices/{item}").status_code == 404
    admin.get(f"/notices/{item}")  # the administrator looking is not a receipt (not in the audience)
    assert count(db, AnnouncementRead) == 1


def test_bad_input_is_named_and_stores_nothing(web_app: Flask, db: Database, admin: FlaskClient) -> None:
    for data, named in (({"title": "", "audience": "all"}, "标题：必填"),
                        ({"title": "无单位", "audience": "units"}, "单位：必填"),
                        ({"title": "时间反了", "audience": "all", "valid_from": "2030-01-02T08:00",
                          "valid_until": "2030-01-01T08:00"}, "失效时间：须晚于生效时间")):
        page = send(admin, "/notices/new", data)
        assert page.status_code == 422, data
        assert "输入有误" in text(page) and named in text(page), data
        assert data["title"] == "" or f'value="{data["title"]}"' in text(page)  # what was typed stays
    assert count(db, Announcement) == 0


def test_editing_withdrawing_and_who_may_manage(web_app: Flask, db: Database, admin: FlaskClient) -> None:
    item = publish(admin, "初稿")
    alice = client_for(web_app, "alice")
    alice.get(f"/notices/{item}")
    page = send(admin, f"/notices/{item}/edit", {"title": "定稿", "body": "改过", "audience": "all", "pinned": "1"},
                follow_redirects=True)
    assert "公告“定稿”已修改" in text(page)
    assert titles(alice) == ["定稿"] and count(db, AnnouncementRead) == 1  # the receipt stays
    for username in ("alice", "sup", "ana"):
        other = client_for(web_app, username)
        for url in ("/notices/manage", "/notices/new", f"/notices/{item}/edit", f"/notices/{item}/receipts"):
            assert other.get(url).status_code == 404, (username, url)
        assert send(other, f"/notices/{item}/withdraw").status_code == 404
    send(admin, f"/notices/{item}/withdraw")
    assert titles(alice) == []
    assert alice.get(f"/notices/{item}").status_code == 404
    with db.sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "announcement")
                                 .order_by(AuditEntry.id)))
    assert actions == ["notice.publish", "notice.update", "notice.withdraw"]


def _unread_badge(client: FlaskClient) -> int | None:
    html = text(client.get("/portal/"))
    if 'id="unread-notices"' not in html:
        return None
    return int(html.split('id="unread-notices"', 1)[1].split(">", 1)[1].split("<", 1)[0])


def test_the_portal_counts_the_announcements_not_read_yet(web_app: Flask, db: Database, admin: FlaskClient) -> None:
    """The portal's 公告 panel: its unread count and the newest five, from one resolution of the audience."""
    reader = client_for(web_app, "gz_maintainer")
    assert _unread_badge(reader) is None
    first = publish(admin, "停电通知")
    for n in range(6):
        publish(admin, f"例行公告{n}")
    assert _unread_badge(reader) == 7
    html = text(reader.get("/portal/"))
    assert html.count('class="announcement unread"') == 5  # the newest five, all unread
    assert reader.get(f"/notices/{first}").status_code == 200  # the oldest, not among the five
    assert _unread_badge(reader) == 6
    assert _unread_badge(client_for(web_app, "gz_dispatcher")) == 7  # receipts are per person
