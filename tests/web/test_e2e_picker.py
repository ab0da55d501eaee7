"""转派/改派 with the target picker: ``GET /tasks/<id>/targets`` (JSON, the same authorization as the transfer),
the form without JavaScript (the allowed targets in the browser's suggestion list, ``target`` typed), and in a
real browser the combobox — pinyin initials typed, a person chosen with the keyboard, the task transferred.

The story: a fault at 故障处理 in 广州市 (the aftersales_fault lanes: 调度员, 维护员, 回单审核员, 客服代表); the GZ
maintainer hands it to 张三丰, a maintainer of 天河区 (below GZ). A screenshot of the open list is kept under
artifacts/screenshots/."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit
from engine.tasks.models import HumanTask
from tests.conftest import PASSWORD, Database, bpmn, user
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import flash, login, open_task
from tests.web.test_task_pages import (
    TRANSFER,
    act,
    client_for,
    engine_of,
    flashed,
    send,
    text,
    to_handle,
)

KEY = "GZ-E2E-PICKER"


def add_people(app: Flask, db: Database) -> None:
    """张三丰 maintains in 天河区 (under GZ); 张珊 is a GZ dispatcher; 曾小贤 a Shenzhen maintainer."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        pe.identity.add_org_unit(s, "TH", "天河区", "GZ")
        for username, name, org, posts in [("zhang_sf", "张三丰", "TH", ["maintainer"]),
                                           ("zhang_shan", "张珊", "GZ", ["dispatcher"]),
                                           ("zeng_xx", "曾小贤", "SZ", ["maintainer"])]:
            pe.identity.add_user(s, username, display_name=name, password=PASSWORD, org_code=org, post_codes=posts)


def targets(client, task_id: int, **params: str):  # type: ignore[no-untyped-def]
    return client.get(f"/tasks/{task_id}/targets", query_string=params)


def values(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return [item["value"] for item in response.get_json()["items"]]


def assignee(db: Database, task_id: int) -> tuple[int | None, str]:
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        unit = s.get(OrgUnit, row.org_unit_id)
        assert unit is not None
        return row.assignee_id, unit.code


def uid(app: Flask, db: Database, username: str) -> int:
    with db.sessions() as s:
        return user(s, engine_of(app), username).id


def transfers(db: Database, instance_id: int) -> list[dict]:
    with db.sessions() as s:
        return [e.payload for e in s.scalars(select(HistoryEvent).where(
            HistoryEvent.instance_id == instance_id, HistoryEvent.event_type == "task_transferred")
            .order_by(HistoryEvent.id))]


# -- the JSON answer ---------------------------------------------------------------------------------------
def test_the_targets_are_the_allowed_people_and_posts(web_app: Flask, db: Database):
    add_people(web_app, db)
    _instance, handle = to_handle(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    answer = targets(client, handle, q="zsf")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_json()["items"][0] == {"kind": "user", "value": "user:zhang_sf", "label": "张三丰",
                                             "detail": "天河区 · 维护员"}
    everyone = values(targets(client, handle, limit="50"))
    # people of the flow's posts in GZ, below it and beside it (Shenzhen); pools of those posts
    assert {"user:mike", "user:zhang_sf", "user:zhang_shan", "user:alice", "user:sz_maintainer",
            "user:zeng_xx", "user:gz_receipt_auditor", "post:receipt_auditor", "post:maintainer@SZ",
            "post:maintainer@TH"} <= set(everyone)
    # not himself, not the pool the task waits in, not another flow's post (bob), a supervisor or the province
    assert not {"user:gz_maintainer", "post:maintainer", "user:bob", "user:sup", "user:boss"} & set(everyone)
    kinds = [v.split(":")[0] for v in everyone]
    assert kinds == sorted(kinds, key=lambda k: k != "user")  # people first
    pools = {item["value"]: item for item in targets(client, handle, q="post:maintainer").get_json()["items"]}
    assert pools["post:maintainer@SZ"] == {"kind": "post", "value": "post:maintainer@SZ", "label": "维护员",
                                           "detail": "深圳市 · 2 人在岗"}
    assert values(targets(client, handle, q="天河 zsf")) == ["user:zhang_sf"]
    assert values(targets(client, handle, q="没有这个人")) == []
    page = targets(client, handle, q="", limit="3").get_json()
    assert len(page["items"]) == 3 and page["total"] == len(everyone)
    # a supervisor of GZ may choose anyone in GZ (改派): bob too, but nobody in Shenzhen
    sup = client_for(web_app, "sup")
    assert values(targets(sup, handle, q="bob")) == ["user:bob"]
    assert values(targets(sup, handle, q="曾小贤")) == []


def test_who_may_not_transfer_the_task_gets_what_the_task_page_would(web_app: Flask, db: Database):
    _instance, handle = to_handle(web_app, db)
    for username in ("carol", "bob", "sz_maintainer"):  # they may not see it: 404, as for a task that is not there
        answer = targets(client_for(web_app, username), handle, q="m")
        assert (answer.status_code, answer.get_json()["code"]) == (404, "not_found"), username
        assert targets(client_for(web_app, username), 999_999).status_code == 404
    act(web_app, db, "claim", handle, "gz_maintainer")
    answer = targets(client_for(web_app, "mike"), handle)  # he sees it, but a colleague has it
    assert (answer.status_code, answer.get_json()["code"]) == (409, "task.claimed_by_other")
    assert "已由他人签收" in answer.get_json()["error"]
    # a step that does not allow 转派: 403, for the holder and for the supervisor alike
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        pe.repository.deploy(s, bpmn("tasks/strict.bpmn"), "strict.bpmn")
        prepare = pe.runtime.start(s, "strict", business_key="S-1", data={}, actor=user(s, pe, "alice")).tasks[0].id
    for username in ("alice", "sup"):
        answer = targets(client_for(web_app, username), prepare)
        assert (answer.status_code, answer.get_json()["code"]) == (403, "task.action_not_allowed"), username
    # and without a login, the login page
    assert web_app.test_client().get(f"/tasks/{handle}/targets").status_code == 302


# -- without JavaScript ----------------------------------------------------------------------------------------
def test_without_javascript_the_target_is_typed_from_the_offered_list(web_app: Flask, db: Database):
    add_people(web_app, db)
    instance_id, handle = to_handle(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    html = text(client.get(f"/tasks/{handle}"))
    assert 'name="target"' in html and 'list="transfer-choices"' in html
    assert '<option value="user:zhang_sf">张三丰 · 天河区 · 维护员</option>' in html
    assert 'value="user:bob"' not in html and 'value="post:maintainer@SZ"' in html
    # someone outside the rule is refused, and nothing changes
    messages = flashed(client, send(client, f"/tasks/{handle}/transfer", {"target": "user:bob", "reason": "试试"}))
    assert any(m.startswith(TRANSFER + "转派人员：") for m in messages), messages
    assert assignee(db, handle) == (None, "GZ") and transfers(db, instance_id) == []
    # a person of the list, then (as him) the Shenzhen maintainers' pool
    assert "已转派。" in flashed(client, send(client, f"/tasks/{handle}/transfer",
                                              {"target": "user:zhang_sf", "reason": "天河片区"}))
    assert assignee(db, handle) == (uid(web_app, db, "zhang_sf"), "GZ")
    zhang = client_for(web_app, "zhang_sf")
    assert "post:maintainer@SZ" in values(targets(zhang, handle, q="post:"))
    send(zhang, f"/tasks/{handle}/transfer", {"target": "post:maintainer@SZ", "reason": "属地在深圳"})
    assert assignee(db, handle) == (None, "SZ")
    assert [(p.get("to_user"), p.get("to_post"), p.get("to_org")) for p in transfers(db, instance_id)] == [
        ("zhang_sf", None, None), (None, "maintainer", "SZ")]


# -- in the browser -----------------------------------------------------------------------------------------
def test_pick_a_person_by_pinyin_initials_with_the_keyboard(live_server: str, page: Page, web_app: Flask,
                                                              db: Database) -> None:
    add_people(web_app, db)
    instance_id, handle = to_handle(web_app, db, KEY)
    login(page, live_server, "gz_maintainer")
    assert open_task(page, KEY, "故障处理") == handle
    actions = page.locator("#task-actions")
    actions.locator("summary", has_text="转派").click()
    box = page.get_by_role("combobox", name="转派给")
    listbox = page.get_by_role("listbox", name="可转派的人员和岗位")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#transfer-target-help")).to_contain_text("拼音首字母")

    # a name that is not picked from the list is not sent
    box.press_sequentially("张")
    expect(listbox.get_by_role("option").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    page.locator("#transfer-reason").fill("天河片区由张三丰负责")
    actions.get_by_role("button", name="确认转派").click()
    expect(page.locator("#transfer-target-error")).to_have_text("请从列表中选择转派对象。")
    assert page.url.endswith(f"/tasks/{handle}") and transfers(db, instance_id) == []

    # pinyin initials: 张三丰 first, with his unit and post
    box.fill("")
    box.press_sequentially("zsf", delay=60)
    expect(listbox.get_by_role("option")).to_have_count(1)  # the answer to "zsf", not to what came before
    first = listbox.get_by_role("option").first
    expect(first).to_contain_text("张三丰")
    expect(first).to_contain_text("天河区 · 维护员")
    expect(first).to_contain_text("人员")
    expect(box).to_have_attribute("aria-expanded", "true")
    screenshot(page, "transfer-picker-open")

    # ↓ marks it, Enter picks it: the name in the box, the choice spelled out below
    page.keyboard.press("ArrowDown")
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id") or "")
    page.keyboard.press("Enter")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("张三丰")
    expect(page.locator("#transfer-target-chosen")).to_have_text("已选择：张三丰 · 天河区 · 维护员")
    expect(page.locator("#transfer-target-error")).to_be_hidden()
    screenshot(page, "transfer-picker-chosen")
    actions.get_by_role("button", name="确认转派").dblclick()  # a double click sends one transfer
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text("已转派。")
    assert assignee(db, handle) == (uid(web_app, db, "zhang_sf"), "GZ")
    assert [(p["to_user"], p["reason"]) for p in transfers(db, instance_id)] == [("zhang_sf", "天河片区由张三丰负责")]


def test_the_list_answers_the_keyboard_and_a_typed_target_still_works(live_server: str, page: Page,
                                                                      web_app: Flask, db: Database) -> None:
    add_people(web_app, db)
    instance_id, handle = to_handle(web_app, db, KEY)
    page.goto(f"{live_server}/auth/login")  # 改派 by the supervisor of GZ
    page.fill("#username", "sup")
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/auth/login"))
    page.goto(f"{live_server}/tasks/{handle}")
    page.locator("#task-actions summary", has_text="转派").click()
    box = page.get_by_role("combobox", name="转派给")
    listbox = page.get_by_role("listbox")
    box.press_sequentially("qqq", delay=40)
    expect(page.locator(".picker-note")).to_have_text("没有符合条件的人员或岗位。")
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    page.keyboard.press("Escape")  # a second Esc clears the box
    expect(box).to_have_value("")
    page.keyboard.press("ArrowDown")  # ↓ in an empty box lists the first targets
    options = listbox.get_by_role("option")
    expect(options.first).to_be_visible()
    page.keyboard.press("ArrowUp")  # ↑ from the top wraps to the last
    expect(options.last).to_have_attribute("aria-selected", "true")
    screenshot(page, "transfer-picker-supervisor")
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.fill("")
    box.press_sequentially("bob")
    expect(options).to_have_count(1)
    options.first.click()  # a click picks as well
    expect(box).to_have_value("鲍勃")
    box.press("End")
    box.press("Backspace")  # editing the name drops the choice
    expect(page.locator("#transfer-target-chosen")).to_be_hidden()
    box.fill("user:mike")  # a target typed in full goes as typed
    page.locator("#transfer-reason").fill("主管改派")
    page.get_by_role("button", name="确认转派").click()
    expect(flash(page)).to_contain_text("已转派。")
    assert assignee(db, handle) == (uid(web_app, db, "mike"), "GZ")
    assert [p["to_user"] for p in transfers(db, instance_id)] == ["mike"]
