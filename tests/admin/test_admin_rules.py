"""The rules of each 系统管理 area, through the real app on the real database with the real engine: what the
administrator sees (flashes, forms, tables) and what is stored (rows, audit entries, what the engine then does)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import func, select

from engine.audit.models import AuditEntry
from engine.audit.service import record
from engine.core import ProcessEngine
from engine.history.models import HistoryEvent
from engine.identity.access import oversees
from engine.identity.models import OrgUnit, Post, User
from engine.identity.passwords import verify_password
from engine.sla.durations import parse_duration
from engine.sla.models import CalendarDay, CalendarWindows, CalendarYear
from engine.tasks.models import HumanTask
from engine.worker import Worker
from handlers.dispatch.models import RoutingRule
from handlers.resources.models import Resource
from handlers.sms import templates as sms
from handlers.sms.models import SmsMessage, SmsTemplateText
from tests.admin.conftest import send, text
from tests.conftest import PASSWORD, Database
from tests.web.conftest import login
from webapp.auth.models import LoginAttempt

FAULT = {"customer": "中山大学附属医院", "customer_phone": "13912345678", "vip": False, "circuit": "GD-GZ-ZX-1001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "专线中断"}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实"}
NEW_USER = {"username": "zq_li", "display_name": "李政企", "password": "Zhengqi2026", "org_code": "GZ",
            "posts": ["dispatcher", "maintainer"], "role": "user", "phone": "13900002222"}
WEAK = "密码：至少 8 位，须同时包含字母和数字，且不能与用户名相同"
MINE = "【EOMS】{name}您好，故障单{business_key}已派至您，环节：{step}。"


# -- helpers -----------------------------------------------------------------------------------------------
def engine_of(app: Flask) -> ProcessEngine:
    return app.extensions["eoms"]["engine"]  # type: ignore[no-any-return]


def go(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST with the CSRF token, following the redirect to the page the administrator lands on."""
    return send(client, url, data, follow_redirects=True, **kwargs)


def flashed(response: Any) -> str:
    return " | ".join(re.findall(r'role="status">(.*?)</p>', text(response), re.S))


def cell(response: Any, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:td|p|div)>', text(response), re.S)
    assert found, f"no #{element_id} on the page"
    return found.group(1).strip()


def count(db: Database, model: type, *where: Any) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def rows(db: Database, model: type, *where: Any) -> list[Any]:
    with db.sessions() as s:
        return list(s.scalars(select(model).where(*where)))  # loaded columns stay readable once closed


def person(db: Database, username: str) -> dict[str, Any]:
    with db.sessions() as s:
        u = s.scalar(select(User).where(User.username == username))
        return {} if u is None else {"id": u.id, "name": u.display_name, "org": u.org_unit.code, "role": u.role,
                                     "posts": [p.code for p in u.posts], "phone": u.phone, "active": u.is_active,
                                     "hash": u.password_hash}


def path_of(db: Database, code: str) -> str:
    with db.sessions() as s:
        return str(s.scalar(select(OrgUnit.path).where(OrgUnit.code == code)))


def audits(db: Database, action: str) -> list[AuditEntry]:
    return rows(db, AuditEntry, AuditEntry.action == action)


def logs_in(app: Flask, username: str, password: str) -> bool:
    return int(login(app.test_client(), username, password).status_code) == 302


def start_fault(app: Flask, db: Database, key: str, *, org: str | None = None, accept: bool = True) -> int:
    """A 专线 fault reported by gz_dispatcher; returns the id of 故障受理, or (accepted) of 故障处理."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        actor = pe.identity.get_user(s, "gz_dispatcher")
        (task,) = pe.runtime.start(s, "aftersales_fault", business_key=key, data=dict(FAULT), actor=actor,
                                   org_code=org).tasks
        if accept:
            (task,) = pe.tasks.complete(s, task.id, actor, dict(ACCEPT))
        return task.id


def xlsx(*data: tuple[str, ...]) -> bytes:
    book, out = Workbook(), io.BytesIO()
    for row in (("区域", "类型", "值", "预留"), *data):
        book.active.append(list(row))
    book.save(out)
    return out.getvalue()


def upload(admin: FlaskClient, content: bytes, name: str = "res.xlsx") -> Any:
    return go(admin, "/admin/inventory/import", {"file": (io.BytesIO(content), name)},
              content_type="multipart/form-data")


def add_units(admin: FlaskClient, *units: tuple[str, str, str]) -> None:
    for code, name, parent in units:
        page = go(admin, "/admin/org", {"code": code, "name": name, "parent": parent})
        assert f"单位 {name} 已添加。" in flashed(page)


# -- 1. users ----------------------------------------------------------------------------------------------
def test_a_new_user_is_stored_with_a_hashed_password_and_the_posts(web_app: Flask, db: Database,
                                                                   admin: FlaskClient) -> None:
    page = go(admin, "/admin/users/new", NEW_USER)
    assert "用户 李政企 已创建。" in flashed(page) and "<h1>李政企" in text(page)
    stored = person(db, "zq_li")
    assert stored["hash"] != NEW_USER["password"] and verify_password(NEW_USER["password"], stored["hash"])
    assert (stored["org"], stored["posts"], stored["role"], stored["phone"]) == (
        "GZ", ["dispatcher", "maintainer"], "user", "13900002222")
    assert logs_in(web_app, "zq_li", NEW_USER["password"])
    (entry,) = audits(db, "user.create")
    assert entry.target == "zq_li" and entry.details["posts"] == ["dispatcher", "maintainer"]


@pytest.mark.parametrize(("username", "password", "problem"), [
    ("wang2026", "short", WEAK), ("wang2026", "onlyletters", WEAK), ("wang2026", "wang2026", WEAK),
    ("alice", NEW_USER["password"], "用户名：已存在")])
def test_a_weak_password_or_a_taken_username_is_refused_keeping_what_was_typed(
        db: Database, admin: FlaskClient, username: str, password: str, problem: str) -> None:
    users = count(db, User)
    page = send(admin, "/admin/users/new", {**NEW_USER, "username": username, "password": password})
    assert page.status_code == 422 and problem in flashed(page)
    html = text(page)
    for kept in (f'id="f-username" name="username" value="{username}"', 'value="李政企"', 'value="13900002222"',
                 '<option value="GZ" selected>', 'value="dispatcher" checked', 'value="maintainer" checked'):
        assert kept in html
    assert re.search(r'id="f-password"[^>]*value=', html) is None  # the password is never sent back
    assert count(db, User) == users and not audits(db, "user.create") and person(db, "alice")["name"] == "艾丽"


def test_editing_a_user_changes_unit_posts_phone_role_and_is_audited(db: Database, admin: FlaskClient) -> None:
    mike = person(db, "mike")
    page = go(admin, f"/admin/users/{mike['id']}", {"display_name": "迈克", "org_code": "SZ", "role": "supervisor",
                                                    "posts": ["dispatcher", "reviewer"], "phone": "020-12345678"})
    assert "已保存。" in flashed(page) and 'value="020-12345678"' in text(page)
    assert '<option value="SZ" selected>' in text(page) and 'value="reviewer" checked' in text(page)
    after = person(db, "mike")
    assert (after["org"], after["posts"], after["phone"], after["role"]) == (
        "SZ", ["dispatcher", "reviewer"], "020-12345678", "supervisor")
    (entry,) = audits(db, "user.update")
    assert entry.target == "mike" and entry.details == {
        "org_unit": ["GZ", "SZ"], "phone": [None, "020-12345678"], "role": ["user", "supervisor"],
        "posts": [["maintainer"], ["dispatcher", "reviewer"]]}


def test_an_admin_can_neither_drop_his_own_admin_role_nor_disable_himself(db: Database, admin: FlaskClient) -> None:
    me = person(db, "admin")["id"]
    page = send(admin, f"/admin/users/{me}", {"display_name": "管理员", "org_code": "GD", "role": "user"})
    assert page.status_code == 422 and "角色：不能取消自己的管理员角色" in flashed(page)
    assert "账号状态：不能停用自己的账号" in flashed(go(admin, f"/admin/users/{me}/active", {"active": "0"}))
    assert (person(db, "admin")["role"], person(db, "admin")["active"]) == ("admin", True)
    assert admin.get("/admin/").status_code == 200 and count(db, AuditEntry) == 0


def test_a_reset_password_must_be_typed_twice_alike_then_replaces_the_old(web_app: Flask, db: Database,
                                                                           admin: FlaskClient) -> None:
    url = f"/admin/users/{person(db, 'alice')['id']}/password"
    page = send(admin, url, {"password": "Neu2026pass", "password2": "Neu2026pasS"})
    assert page.status_code == 422 and "再次输入的密码：两次输入不一致" in flashed(page)
    assert logs_in(web_app, "alice", PASSWORD) and not audits(db, "user.password_reset")
    assert "艾丽 的密码已重置" in flashed(go(admin, url, {"password": "Neu2026pass", "password2": "Neu2026pass"}))
    assert logs_in(web_app, "alice", "Neu2026pass") and not logs_in(web_app, "alice", PASSWORD)
    assert len(audits(db, "user.password_reset")) == 1


def test_disabling_sends_claimed_tasks_back_to_the_queue_and_stops_logins(web_app: Flask, db: Database,
                                                                         admin: FlaskClient) -> None:
    pe, worker = engine_of(web_app), person(db, "gz_dispatcher")
    task_id = start_fault(web_app, db, "GZ-F-DIS", accept=False)
    with db.sessions.begin() as s:
        pe.tasks.claim(s, task_id, pe.identity.get_user(s, "gz_dispatcher"))
    session = web_app.test_client()
    login(session, "gz_dispatcher")
    page = go(admin, f"/admin/users/{worker['id']}/active", {"active": "0"})
    assert f"{worker['name']} 已停用，1 项已签收的任务退回岗位待办。" in flashed(page)
    (task,) = rows(db, HumanTask, HumanTask.id == task_id)
    assert task.assignee_id is None and task.status == "ready"
    (event,) = rows(db, HistoryEvent, HistoryEvent.event_type == "task_unclaimed")
    assert (event.human_task_id, event.actor_id) == (task_id, person(db, "admin")["id"])
    assert person(db, "gz_dispatcher")["active"] is False and not logs_in(web_app, "gz_dispatcher", PASSWORD)
    assert "/auth/login" in session.get("/portal/").headers["Location"]  # the open session ends too
    page = go(admin, f"/admin/users/{worker['id']}/active", {"active": "1"})
    assert f"{worker['name']} 已启用。" in flashed(page) and logs_in(web_app, "gz_dispatcher", PASSWORD)


def test_unlock_forgets_the_failed_logins(web_app: Flask, db: Database, admin: FlaskClient) -> None:
    assert not logs_in(web_app, "bob", "wrong-pass1") and not logs_in(web_app, "bob", "wrong-pass2")
    failed, bob = (LoginAttempt.username == "bob", LoginAttempt.success.is_(False)), person(db, "bob")["id"]
    assert count(db, LoginAttempt, *failed) == 2
    assert "近 15 分钟登录失败 2 次。" in text(admin.get(f"/admin/users/{bob}"))
    assert "已解除 鲍勃 的登录限制（清除 2 次失败记录）。" in flashed(go(admin, f"/admin/users/{bob}/unlock"))
    assert count(db, LoginAttempt, *failed) == 0 and audits(db, "user.unlock")[0].details == {"failed_logins": 2}


# -- 2. org units and posts --------------------------------------------------------------------------------
def test_a_unit_is_added_under_its_parent_and_renamed(db: Database, admin: FlaskClient) -> None:
    add_units(admin, ("GZ-TH", "天河分公司", "GZ"))
    assert re.search(r'<li data-unit="GZ">.*<li data-unit="GZ-TH">', text(admin.get("/admin/org")), re.S)
    assert path_of(db, "GZ-TH") == "/GD/GZ/GZ-TH/"
    assert "编码：已存在" in flashed(go(admin, "/admin/org", {"code": "GZ-TH", "name": "重复", "parent": "SZ"}))
    assert "已改名为 天河维护中心。" in flashed(go(admin, "/admin/org/GZ-TH/rename", {"name": "天河维护中心"}))
    assert [u.name for u in rows(db, OrgUnit, OrgUnit.code == "GZ-TH")] == ["天河维护中心"]
    assert audits(db, "org.rename")[0].details == {"name": ["天河分公司", "天河维护中心"]}


def test_the_move_preview_counts_what_moves_and_whose_oversight_changes(web_app: Flask, db: Database,
                                                                        admin: FlaskClient) -> None:
    add_units(admin, ("GZ-TH", "天河分公司", "GZ"), ("GZ-TH-1", "天河一班", "GZ-TH"))
    with db.sessions.begin() as s:
        for username, name, unit, role in (("th_sup", "天河主管", "GZ-TH", "supervisor"),
                                           ("th_wang", "天河小王", "GZ-TH-1", "user"),
                                           ("sz_sup", "深圳主管", "SZ", "supervisor")):
            engine_of(web_app).identity.add_user(s, username, display_name=name, password=PASSWORD, org_code=unit,
                                                 role=role)
    start_fault(web_app, db, "GZ-F-IN", org="GZ-TH-1", accept=False)  # one running order, one open task inside
    start_fault(web_app, db, "GZ-F-OUT", accept=False)  # and one outside the moved subtree
    page = admin.get("/admin/org/move?unit=GZ-TH&parent=SZ")
    assert page.status_code == 200 and "将 天河分公司 移至 深圳市 之下" in text(page)
    assert "<code>/GD/GZ/GZ-TH/</code> → <code>/GD/SZ/GZ-TH/</code>" in text(page)
    assert (cell(page, "i-units"), cell(page, "i-tasks"), cell(page, "i-orders")) == ("2", "1", "1")
    assert cell(page, "i-users").startswith("2（其中主管 1 人")
    assert (cell(page, "i-losing"), cell(page, "i-gaining")) == ("主管甲", "深圳主管")
    assert path_of(db, "GZ-TH") == "/GD/GZ/GZ-TH/"  # a preview changes nothing


def test_a_move_rewrites_the_paths_of_the_unit_and_everything_below_it(web_app: Flask, db: Database,
                                                                      admin: FlaskClient) -> None:
    add_units(admin, ("GZ-TH", "天河分公司", "GZ"), ("GZ-TH-1", "天河一班", "GZ-TH"), ("GZ-THX", "天河新区", "GZ"))
    page = go(admin, "/admin/org/move", {"unit": "GZ-TH", "parent": "SZ"})
    assert "天河分公司 已移至 深圳市 之下。" in flashed(page)
    assert (path_of(db, "GZ-TH"), path_of(db, "GZ-TH-1")) == ("/GD/SZ/GZ-TH/", "/GD/SZ/GZ-TH/GZ-TH-1/")
    assert (path_of(db, "GZ"), path_of(db, "GZ-THX")) == ("/GD/GZ/", "/GD/GZ/GZ-THX/")
    assert re.search(r'<li data-unit="SZ">.*<li data-unit="GZ-TH">.*<li data-unit="GZ-TH-1">', text(page), re.S)
    (entry,) = audits(db, "org.move")
    assert entry.details["path"] == ["/GD/GZ/GZ-TH/", "/GD/SZ/GZ-TH/"] and entry.details["units"] == 2
    pe = engine_of(web_app)
    with db.sessions() as s:  # 主管甲 (广州) no longer oversees the moved units, 省主管 still does
        moved = s.scalar(select(OrgUnit.id).where(OrgUnit.code == "GZ-TH-1"))
        assert not oversees(s, pe.identity.get_user(s, "sup"), moved)
        assert oversees(s, pe.identity.get_user(s, "boss"), moved)


def test_a_move_touches_no_unit_whose_code_only_looks_alike(db: Database, admin: FlaskClient) -> None:
    add_units(admin, ("GZ_A", "甲组", "GZ"), ("GZ-A", "乙组", "GZ"))
    assert cell(admin.get("/admin/org/move?unit=GZ_A&parent=SZ"), "i-units") == "1"
    go(admin, "/admin/org/move", {"unit": "GZ_A", "parent": "SZ"})
    assert (path_of(db, "GZ_A"), path_of(db, "GZ-A")) == ("/GD/SZ/GZ_A/", "/GD/GZ/GZ-A/")


def test_a_unit_cannot_move_under_itself_or_below_it(db: Database, admin: FlaskClient) -> None:
    add_units(admin, ("GZ-TH", "天河分公司", "GZ"))
    refused = "上级单位：不能移到自身或其下级单位之下"
    assert refused in flashed(admin.get("/admin/org/move?unit=GZ&parent=GZ-TH", follow_redirects=True))
    for parent in ("GZ", "GZ-TH"):
        assert refused in flashed(go(admin, "/admin/org/move", {"unit": "GZ", "parent": parent}))
    assert (path_of(db, "GZ"), path_of(db, "GZ-TH")) == ("/GD/GZ/", "/GD/GZ/GZ-TH/") and not audits(db, "org.move")


def test_posts_need_a_unique_code_and_name_and_can_be_renamed(db: Database, admin: FlaskClient) -> None:
    posts = count(db, Post)
    assert "岗位 政企维护员 已添加。" in flashed(go(admin, "/admin/posts", {"code": "gov_maint", "name": "政企维护员"}))
    assert "编码：已存在" in flashed(go(admin, "/admin/posts", {"code": "gov_maint", "name": "另一个岗位"}))
    assert "名称：已存在" in flashed(go(admin, "/admin/posts", {"code": "gov_other", "name": "政企维护员"}))
    assert count(db, Post) == posts + 1
    page = go(admin, "/admin/posts/gov_maint/rename", {"name": "政企装维员"})
    assert "已改名为 政企装维员。" in flashed(page)
    assert '<tr data-post="gov_maint"><td><code>gov_maint</code></td><td>政企装维员</td>' in text(page)
    assert "名称：已存在" in flashed(go(admin, "/admin/posts/gov_maint/rename", {"name": "调度员"}))
    assert [p.name for p in rows(db, Post, Post.code == "gov_maint")] == ["政企装维员"]


# -- 3. routing --------------------------------------------------------------------------------------------
def rule(**fields: str) -> dict[str, str]:
    return {"region": "GZ", "service_type": "专线", "post": "maintainer", "org_unit": "GZ", "calendar": "",
            "note": "", **fields}


def test_saving_a_rule_again_replaces_it_and_the_tester_names_the_rule_met(db: Database, admin: FlaskClient) -> None:
    go(admin, "/admin/routing", rule(calendar="workday", note="先"))
    page = go(admin, "/admin/routing", rule(post="reviewer", note="后"))
    assert "派单规则已保存：GZ × 专线 → reviewer（GZ）。" in flashed(page)
    (saved,) = rows(db, RoutingRule, RoutingRule.region == "GZ", RoutingRule.service_type == "专线")
    assert (saved.post, saved.calendar, saved.note) == ("reviewer", None, "后")
    tested = admin.get("/admin/routing?test_region=GZ&test_type=专线")
    assert cell(tested, "route-result") == "将派至 审核员 reviewer（广州市），依据规则：广州市 × 专线。"
    tested = admin.get("/admin/routing?test_region=GZ&test_type=互联网")
    assert cell(tested, "route-result") == "将派至 维护员 maintainer（广州市），依据规则：任意 × 任意。"


def test_a_rule_needs_a_post_and_a_rule_can_be_removed(db: Database, admin: FlaskClient) -> None:
    page = go(admin, "/admin/routing", rule(post="", note="无岗位"))
    assert "岗位：必填" in flashed(page) and 'id="r-note" name="note" maxlength="200" value="无岗位"' in text(page)
    assert count(db, RoutingRule) == 1  # only the fixture's * × *
    go(admin, "/admin/routing", rule())
    (saved,) = rows(db, RoutingRule, RoutingRule.region == "GZ")
    page = go(admin, f"/admin/routing/{saved.id}/remove")
    assert "派单规则 GZ × 专线 已删除。" in flashed(page) and f'data-rule="{saved.id}"' not in text(page)
    assert count(db, RoutingRule) == 1 and audits(db, "routing.remove")[0].target == "GZ × 专线"


def test_a_routed_fault_counts_its_handling_time_on_the_rule_calendar(web_app: Flask, db: Database,
                                                                       admin: FlaskClient) -> None:
    go(admin, "/admin/routing", rule(calendar="workday"))
    (handle,) = rows(db, HumanTask, HumanTask.id == start_fault(web_app, db, "GZ-F-WD"))
    assert (handle.node_id, handle.calendar) == ("handle", "workday")
    with db.sessions() as s:
        workday = engine_of(web_app).sla.calendar(s, "workday")
        assert handle.due_at == workday.due(handle.created_at, parse_duration("PT4H"))
    go(admin, "/admin/routing", rule())
    (handle,) = rows(db, HumanTask, HumanTask.id == start_fault(web_app, db, "GZ-F-24"))
    assert handle.calendar == "24x7" and handle.due_at == handle.created_at + timedelta(hours=4)


# -- 4. inventory ------------------------------------------------------------------------------------------
def stored(db: Database, kind: str) -> list[tuple[str, str, str]]:
    return sorted((r.region, r.value, r.status) for r in rows(db, Resource, Resource.kind == kind))


def test_a_range_or_network_adds_each_value_once(db: Database, admin: FlaskClient) -> None:
    form = {"region": "GZ", "kind": "vlan", "values": "100-104"}
    assert "已添加 5 项（共 5 项，已存在的跳过）。" in flashed(go(admin, "/admin/inventory", form))
    assert "已添加 0 项（共 5 项，已存在的跳过）。" in flashed(go(admin, "/admin/inventory", form))
    assert stored(db, "vlan") == [("GZ", str(v), "free") for v in range(100, 105)]
    page = go(admin, "/admin/inventory", {"region": "GZ", "kind": "ip", "values": "10.9.0.0/30"})
    assert "已添加 2 项（共 2 项" in flashed(page)  # the host addresses, not the network and broadcast ones
    assert stored(db, "ip") == [("GZ", "10.9.0.1", "free"), ("GZ", "10.9.0.2", "free")]


def test_a_bad_vlan_is_refused_and_nothing_is_stored(db: Database, admin: FlaskClient) -> None:
    page = go(admin, "/admin/inventory", {"region": "GZ", "kind": "vlan", "values": "100\n5000"})
    assert "值：不是 1–4094 之间的 VLAN 号" in flashed(page) and count(db, Resource) == 0


def test_an_excel_sheet_is_imported(db: Database, admin: FlaskClient) -> None:
    page = upload(admin, xlsx(("GZ", "端口", "GZ-OLT01-1/1/1", "否"), ("GZ", "vlan", "2001", "否"),
                              ("SZ", "ip", "10.20.0.10", "是")))
    assert "已导入 3 项（文件共 3 行，已存在的跳过）。" in flashed(page)
    assert (stored(db, "port"), stored(db, "vlan"), stored(db, "ip")) == (
        [("GZ", "GZ-OLT01-1/1/1", "free")], [("GZ", "2001", "free")], [("SZ", "10.20.0.10", "reserved")])


ROW3 = "第 3 行有误，整个文件未导入："


@pytest.mark.parametrize(("bad", "problems"), [
    (("GZ", "光纤", "F-1", ""), (ROW3, "须填写区域、类型（端口 / vlan / ip）和值")),
    (("ZH", "vlan", "2002", ""), (ROW3, "区域不是已有的单位编码")), (None, ("不是 Excel（.xlsx）文件",))])
def test_a_sheet_with_a_bad_third_row_or_no_sheet_imports_nothing(db: Database, admin: FlaskClient,
                                                                  bad: tuple[str, ...] | None,
                                                                  problems: tuple[str, ...]) -> None:
    sheet = xlsx(("GZ", "vlan", "2001", ""), bad, ("GZ", "vlan", "2003", "")) if bad else b"GZ,vlan,2001\n"
    page = upload(admin, sheet, "res.xlsx" if bad else "res.csv")
    assert all(p in flashed(page) for p in problems), flashed(page)
    assert count(db, Resource) == 0 and not audits(db, "inventory.import")


# -- 5. calendar -------------------------------------------------------------------------------------------
def test_a_day_override_is_stored_audited_and_removable(db: Database, admin: FlaskClient) -> None:
    page = go(admin, "/admin/calendar/days", {"day": "2026-03-05", "kind": "holiday", "note": "台风停工"})
    assert "2026-03-05 已设为节假日。" in flashed(page)
    assert '<td data-day="2026-03-05" data-kind="holiday" class="off override"' in text(page)
    assert [(d.day.isoformat(), d.is_workday, d.note) for d in rows(db, CalendarDay)] == [
        ("2026-03-05", False, "台风停工")]
    (entry,) = audits(db, "calendar.set")
    assert entry.target == "2026-03-05" and entry.details == {"kind": "holiday", "note": "台风停工", "was": "workday"}
    page = go(admin, "/admin/calendar/days/2026-03-05/remove")
    assert "已删除 2026-03-05 的调整。" in flashed(page)
    assert '<td data-day="2026-03-05" data-kind="workday"' in text(page)
    assert count(db, CalendarDay) == 0 and len(audits(db, "calendar.unset")) == 1


def test_new_work_windows_move_later_deadlines_and_bad_ones_are_refused(web_app: Flask, db: Database,
                                                                         admin: FlaskClient) -> None:
    pe, four_hours = engine_of(web_app), parse_duration("PT4H")
    start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
    with db.sessions() as s:  # 10:00-12:00, then 13:30-15:30
        assert pe.sla.calendar(s, "workday").due(start, four_hours) == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    page = go(admin, "/admin/calendar/windows", {"windows": "09:00-12:00,14:00-18:00"})
    assert "工作时段已改为 09:00-12:00,14:00-18:00。" in flashed(page)
    new = ((time(9), time(12)), (time(14), time(18)))
    with db.sessions() as s:  # 10:00-12:00, then 14:00-16:00
        assert pe.sla.work_windows(s) == new
        assert pe.sla.calendar(s, "workday").due(start, four_hours) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for bad in ("18:00-09:00", "abc"):
        assert "工作时段：无效" in flashed(go(admin, "/admin/calendar/windows", {"windows": bad}))
    with db.sessions() as s:
        assert pe.sla.work_windows(s) == new
    assert [r.windows for r in rows(db, CalendarWindows)] == ["09:00-12:00,14:00-18:00"]
    assert len(audits(db, "calendar.windows")) == 1


def test_a_year_without_holiday_data_is_declared_complete(db: Database, admin: FlaskClient) -> None:
    before = text(admin.get("/admin/calendar?year=2030"))
    assert "本年没有节假日数据" in before and '<td data-day="2030-01-01" data-kind="unknown"' in before
    page = go(admin, "/admin/calendar/years", {"year": "2030"})
    assert "2030 年已确认完整：其余日期按周一至周五工作计算。" in flashed(page)
    assert "本年由管理员录入并确认完整。" in text(page)
    assert '<td data-day="2030-01-01" data-kind="workday"' in text(page)  # a Tuesday
    assert '<td data-day="2030-01-05" data-kind="holiday"' in text(page)  # a Saturday
    assert [y.year for y in rows(db, CalendarYear)] == [2030] and len(audits(db, "calendar.declare_year")) == 1


# -- 6. SMS templates --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("wording", "problem"), [("工单{business_key}请{nope}", "含有模板没有的参数"),
                                                  ("工单{business_key", "无效")])
def test_a_wording_with_an_unknown_parameter_or_a_broken_brace_is_refused(db: Database, admin: FlaskClient,
                                                                          wording: str, problem: str) -> None:
    page = send(admin, "/admin/sms/dispatch", {"action": "save", "flow": "aftersales_fault", "text": wording})
    assert page.status_code == 422 and problem in flashed(page) and f">{wording}</textarea>" in text(page)
    assert count(db, SmsTemplateText) == 0


def test_a_flow_wording_is_used_for_that_flow_only_until_reset(db: Database, admin: FlaskClient) -> None:
    page = go(admin, "/admin/sms/dispatch", {"action": "save", "flow": "aftersales_fault", "text": MINE})
    assert "模板“派单通知”已保存，此后发送的短信使用新措辞。" in flashed(page)
    assert [(r.template, r.process_key, r.text) for r in rows(db, SmsTemplateText)] == [
        ("dispatch", "aftersales_fault", MINE)]
    builtin = sms.TEMPLATES["dispatch"].text
    with db.sessions() as s:
        assert sms.wording(s, "dispatch", "aftersales_fault").text == MINE
        assert sms.wording(s, "dispatch", "provisioning").text == builtin
    page = go(admin, "/admin/sms/dispatch/reset", {"flow": "aftersales_fault"})
    assert "已恢复默认措辞。" in flashed(page) and count(db, SmsTemplateText) == 0
    with db.sessions() as s:
        assert sms.wording(s, "dispatch", "aftersales_fault").text == builtin


@pytest.mark.parametrize(("filler", "parts"), [(54, 1), (55, 2)])
def test_the_preview_fills_the_text_from_a_real_work_order(web_app: Flask, db: Database, admin: FlaskClient,
                                                           filler: int, parts: int) -> None:
    start_fault(web_app, db, "GZ-F-0001", accept=False)
    wording = "{business_key}{step}{assignee}" + "测" * filler  # 9 + 4 + 3 characters filled in
    page = send(admin, "/admin/sms/escalation", {"action": "preview", "flow": "", "text": wording,
                                                 "order": "GZ-F-0001"})
    assert page.status_code == 200
    assert cell(page, "sms-preview") == "GZ-F-0001故障受理未签收" + "测" * filler
    assert cell(page, "sms-length").startswith(f"{16 + filler} 个字符，按 {parts} 条短信计费")  # 70 fit in one
    assert count(db, SmsTemplateText) == 0


def test_the_sms_sent_for_a_fault_uses_the_flow_wording(web_app: Flask, db: Database, admin: FlaskClient) -> None:
    go(admin, "/admin/sms/dispatch", {"action": "save", "flow": "aftersales_fault", "text": MINE})
    start_fault(web_app, db, "GZ-F-SMS")
    assert Worker(engine_of(web_app), db.sessions).tick().jobs_done >= 1
    sent = rows(db, SmsMessage, SmsMessage.template == "dispatch")
    assert sent
    with db.sessions() as s:
        for message in sent:
            name = s.get(User, message.user_id).display_name  # type: ignore[union-attr]
            assert message.text == f"【EOMS】{name}您好，故障单GZ-F-SMS已派至您，环节：故障处理。"


# -- 7. health ---------------------------------------------------------------------------------------------
def test_the_health_page_shows_workers_migrations_and_the_job_backlog(web_app: Flask, db: Database,
                                                                      admin: FlaskClient) -> None:
    page = admin.get("/admin/health")
    assert cell(page, "h-workers").startswith("0 个在运行") and "还没有后台进程运行过。" in text(page)
    assert cell(page, "h-migrations").endswith("· 已是最新")
    start_fault(web_app, db, "GZ-F-JOB")  # queues the dispatch SMS
    page = admin.get("/admin/health")
    assert "<tr><td><code>sms.send</code></td><td>pending</td><td>1</td>" in text(page)
    worker = Worker(engine_of(web_app), db.sessions)
    worker.tick()
    page = admin.get("/admin/health")
    assert cell(page, "h-workers") == "1 个在运行" and "没有积压的作业。" in text(page)
    assert re.search(rf"<code>{re.escape(worker.id)}</code>.*?运行中", text(page), re.S)


# -- 8. audit log ------------------------------------------------------------------------------------------
def actions(client: FlaskClient, query: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)">', text(client.get(f"/admin/audit?{query}")))


def test_the_audit_log_filters_by_source_actor_action_and_target(web_app: Flask, db: Database,
                                                                  admin: FlaskClient) -> None:
    go(admin, "/admin/posts", {"code": "gov_maint", "name": "政企维护员"})
    go(admin, "/admin/org/GZ/rename", {"name": "广州分公司"})
    start_fault(web_app, db, "GZ-F-AUD")
    admin_rows, order_rows = actions(admin, "source=admin"), actions(admin, "source=order")
    assert sorted(admin_rows) == ["org.rename", "post.create"]
    assert "task_completed" in order_rows and all("." not in a for a in order_rows)
    assert sorted(actions(admin, "")) == sorted(admin_rows + order_rows)
    mine = actions(admin, "actor=gz_dispatcher")
    assert {"instance_started", "task_completed"} <= set(mine) and all("." not in a for a in mine)
    assert actions(admin, "actor=admin") == admin_rows and actions(admin, "actor=nobody") == []
    assert actions(admin, "action=post.") == ["post.create"]
    assert set(actions(admin, "action=task_completed")) == {"task_completed"}
    assert actions(admin, "target=gov_") == ["post.create"] and set(actions(admin, "target=F-AUD")) == set(order_rows)
    (instance_id,) = {t.instance_id for t in rows(db, HumanTask, HumanTask.business_key == "GZ-F-AUD")}
    assert f'<a href="/supervisor/instances/{instance_id}">GZ-F-AUD</a>' in text(
        admin.get("/admin/audit?source=order&action=task_completed"))


def test_the_audit_log_filters_by_beijing_dates(db: Database, admin: FlaskClient) -> None:
    admin_id = person(db, "admin")["id"]
    with db.sessions.begin() as s:  # 2026-01-09 20:00 and 2026-01-11 01:00 in Beijing
        record(s, "post.create", "post", "early", actor_id=admin_id, now=datetime(2026, 1, 9, 12, tzinfo=UTC))
        record(s, "post.rename", "post", "late", actor_id=admin_id, now=datetime(2026, 1, 10, 17, tzinfo=UTC))
    assert actions(admin, "since=2026-01-11") == ["post.rename"] and actions(admin, "since=2026-01-12") == []
    assert actions(admin, "until=2026-01-10") == ["post.create"]
    assert actions(admin, "since=2026-01-09&until=2026-01-09") == ["post.create"]
    assert actions(admin, "since=2026-01-09") == ["post.rename", "post.create"]  # the newest first
