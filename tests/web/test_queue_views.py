"""The 待办 queue through the Flask test client: 签收所选 with a task a colleague took meanwhile, the columns a
user chooses, filters saved per user (and private to them), sorting by any column with a whitelist, and the
first step of an order going to its starter."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from engine.history.models import HistoryEvent
from engine.tasks.models import HumanTask
from tests.conftest import Database
from tests.web.test_task_pages import (
    NOT_FOUND_FLASH,
    alerts,
    client_for,
    engine_of,
    flashed,
    panel,
    row,
    send,
    start_fault,
    start_form,
    text,
    uid,
)
from webapp.portal.models import QueueColumns, QueueFilter

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def todo(client: FlaskClient, **query: str) -> str:
    """The 待办 panel of the portal with these query parameters."""
    response = client.get("/portal/", query_string=query)
    assert response.status_code == 200, response.status_code
    return panel(text(response), "todo")


def keys(html: str) -> list[str]:
    """The work-order numbers of the 待办 rows, top to bottom."""
    return re.findall(r'<a href="/tasks/\d+">([^<]+)</a>', html)


def headers(html: str) -> list[str]:
    """The sortable column headers of the 待办 table (sort marks left out)."""
    return [h.strip(" ▲▼") for h in re.findall(r"<th(?: aria-sort=\"\w+\")?><a [^>]*>([^<]+)</a></th>", html)]


def faults(app: Flask, db: Database, specs: list[dict[str, Any]]) -> list[int]:
    """One fault per spec (``key``, optional ``customer``, ``phone``, ``due``/``created`` minutes after T0);
    the ids of their 故障受理 tasks."""
    ids = []
    for spec in specs:
        _instance, accept = start_fault(app, db, spec["key"], customer=spec.get("customer", "广州塔"),
                                        customer_phone=spec.get("phone", "13900000000"))
        with db.sessions.begin() as s:
            s.execute(update(HumanTask).where(HumanTask.id == accept).values(
                created_at=T0 + timedelta(minutes=spec.get("created", 0)),
                due_at=None if spec.get("due") is None else T0 + timedelta(minutes=spec["due"]),
                warn_at=None))
        ids.append(accept)
    return ids


def claims_of(db: Database, task_id: int) -> list[int | None]:
    with db.sessions() as s:
        return list(s.scalars(select(HistoryEvent.actor_id).where(HistoryEvent.human_task_id == task_id,
                                                                   HistoryEvent.event_type == "task_claimed")))


# -- 签收所选 ------------------------------------------------------------------------------------------------------
def test_bulk_claim_takes_what_is_free_and_counts_what_a_colleague_took(web_app: Flask, db: Database):
    ids = faults(web_app, db, [{"key": f"BULK-{i}"} for i in range(4)])
    alice = client_for(web_app, "alice")
    html = todo(alice)
    # a checkbox on each unclaimed row, tied to the one 签收所选 form (CSRF included), and a select-all
    for task_id in ids:
        assert f'<input type="checkbox" name="task" value="{task_id}" form="queue-bulk"' in html
    assert re.search(r'<form method="post" action="/portal/tasks/claim" id="queue-bulk"[^>]*>'
                     r'<input type="hidden" name="csrf_token" value="[^"]+">', html)
    assert 'id="queue-all"' in html and ">签收所选<" in html
    # meanwhile anna, a dispatcher of the same unit, takes one of them
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        pe.tasks.claim(s, ids[1], pe.identity.get_user(s, "anna"))
    response = send(alice, "/portal/tasks/claim", {"task": [str(i) for i in ids] + ["x1", ""],
                                                   "next": "/portal/?todo_sort=node"})
    assert response.status_code == 302
    assert urlparse(response.headers["Location"]).query == "todo_sort=node"  # back to the same view
    assert flashed(alice, response) == ["已签收 3 项；1 项已被他人签收"]
    alice_id, anna_id = uid(db, "alice"), uid(db, "anna")
    assert [row(db, i).assignee_id for i in ids] == [alice_id, anna_id, alice_id, alice_id]
    assert [claims_of(db, i) for i in ids] == [[alice_id], [anna_id], [alice_id], [alice_id]]
    # the rows are hers now: no checkbox, 我的
    html = todo(alice)
    assert 'name="task"' not in html and html.count('<span class="badge">我的</span>') == 3
    # nothing ticked: told so, nothing changes; a task done meanwhile is counted apart
    assert flashed(alice, send(alice, "/portal/tasks/claim", {})) == ["请先勾选要签收的任务。"]
    (done,) = faults(web_app, db, [{"key": "BULK-DONE"}])
    with db.sessions.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == done).values(status="cancelled"))
    (free,) = faults(web_app, db, [{"key": "BULK-FREE"}])
    assert flashed(alice, send(alice, "/portal/tasks/claim", {"task": [str(done), str(free), str(ids[1])]})) == [
        "已签收 1 项；1 项已被他人签收；1 项未能签收（已处理或无权签收）"]
    assert row(db, free).assignee_id == alice_id and row(db, done).assignee_id is None
    # without the CSRF token nothing is claimed
    (other,) = faults(web_app, db, [{"key": "BULK-CSRF"}])
    assert alice.post("/portal/tasks/claim", data={"task": [str(other)]}).status_code == 400
    assert row(db, other).assignee_id is None


# -- columns -------------------------------------------------------------------------------------------------------
def test_columns_are_chosen_and_kept_per_user(web_app: Flask, db: Database):
    faults(web_app, db, [{"key": "COL-1", "customer": "白云机场", "phone": "13911112222"}])
    alice, anna = client_for(web_app, "alice"), client_for(web_app, "anna")
    assert headers(todo(alice)) == ["工单号", "环节", "到达时间", "时限/剩余"]  # the default
    html = todo(alice)
    for key, checked in (("customer", False), ("node", True), ("due", True)):
        box = re.search(rf'<input type="checkbox" name="column" value="{key}"( checked)?', html)
        assert box and bool(box.group(1)) == checked, key
    response = send(alice, "/portal/queue/columns", {"column": ["customer", "customer_phone", "flow", "post",
                                                                "assignee", "status", "no_such", "node"],
                                                     "next": "/portal/?todo_q=COL"})
    assert urlparse(response.headers["Location"]).query == "todo_q=COL"
    html = todo(alice)
    assert headers(html) == ["工单号", "环节", "客户", "客户电话", "流程", "岗位", "处理人", "状态"]
    cells = re.findall(r"<td>(.*?)</td>", html, re.S)
    for value in ("白云机场", "13911112222", "售后故障", "调度员", "待签收"):
        assert value in cells, (value, cells)
    assert any("未签收" in c for c in cells)
    with db.sessions() as s:
        stored = s.get(QueueColumns, uid(db, "alice"))
        assert stored is not None and stored.columns == ["business_key", "node", "customer", "customer_phone",
                                                         "flow", "post", "assignee", "status"]
    # anna's table is hers: still the default
    assert headers(todo(anna)) == ["工单号", "环节", "到达时间", "时限/剩余"]
    # 工单号 cannot be taken away (it opens the task); 恢复默认 goes back
    send(alice, "/portal/queue/columns", {})
    assert headers(todo(alice)) == ["工单号"]
    send(alice, "/portal/queue/columns", {"action": "reset"})
    assert headers(todo(alice)) == ["工单号", "环节", "到达时间", "时限/剩余"]


# -- filters -------------------------------------------------------------------------------------------------------
def test_the_filter_bar_narrows_the_queue(web_app: Flask, db: Database):
    ids = faults(web_app, db, [
        {"key": "FLT-1", "customer": "白云机场", "phone": "13911110001", "due": -30},
        {"key": "FLT-2", "customer": "广州塔", "phone": "13922220002", "due": 600000},
        {"key": "FLT-3", "customer": "白云机场", "phone": "13933330003"},
    ])
    alice = client_for(web_app, "alice")
    send(alice, f"/portal/tasks/{ids[2]}/claim")
    assert sorted(keys(todo(alice))) == ["FLT-1", "FLT-2", "FLT-3"]
    assert sorted(keys(todo(alice, todo_q="白云"))) == ["FLT-1", "FLT-3"]  # customer
    assert keys(todo(alice, todo_q="2220")) == ["FLT-2"]  # phone
    assert keys(todo(alice, todo_q="FLT-3")) == ["FLT-3"]  # business key
    assert keys(todo(alice, todo_q=" flt-3 ")) == ["FLT-3"]  # in any case, spaces around left out
    assert keys(todo(alice, todo_q="%")) == keys(todo(alice, todo_q="FLT_")) == []  # no wildcards
    assert keys(todo(alice, todo_overdue="1")) == ["FLT-1"]
    assert keys(todo(alice, todo_claim="mine")) == ["FLT-3"]
    assert sorted(keys(todo(alice, todo_claim="pool"))) == ["FLT-1", "FLT-2"]
    assert sorted(keys(todo(alice, todo_claim="bogus"))) == ["FLT-1", "FLT-2", "FLT-3"]  # ignored
    assert len(keys(todo(alice, todo_flow="aftersales_fault", todo_step="accept"))) == 3
    assert keys(todo(alice, todo_flow="provisioning")) == []
    assert keys(todo(alice, todo_step="handle")) == []
    assert "没有符合筛选条件的待办。" in todo(alice, todo_step="handle")
    assert keys(todo(alice, todo_q="白云", todo_claim="pool")) == ["FLT-1"]  # they combine
    # the bar shows what is set, with the step names of the queue to choose from
    html = todo(alice, todo_q="白云", todo_overdue="1", todo_flow="aftersales_fault")
    assert 'name="todo_q" value="白云"' in html and 'name="todo_overdue" value="1" checked' in html
    assert '<option value="aftersales_fault" selected>售后故障</option>' in html
    assert '<option value="accept">故障受理</option>' in html


def test_saved_filters_are_private_to_their_user(web_app: Flask, db: Database):
    faults(web_app, db, [{"key": "SAVE-1", "customer": "白云机场", "due": -30},
                         {"key": "SAVE-2", "customer": "广州塔", "due": -30},
                         {"key": "SAVE-3", "customer": "白云机场", "due": 600000}])
    alice, anna = client_for(web_app, "alice"), client_for(web_app, "anna")
    # saved from the bar: back to the filtered queue, listed by name, the chip marked as the one in use
    response = send(alice, "/portal/queue/filters", {"name": "  白云 超时 ", "q": "白云", "overdue": "1",
                                                     "claim": "nonsense"})
    location = urlparse(response.headers["Location"])
    assert parse_qs(location.query) == {"todo_q": ["白云"], "todo_overdue": ["1"]}
    assert flashed(alice, response) == ["已保存筛选：白云 超时"]
    with db.sessions() as s:
        (saved,) = s.scalars(select(QueueFilter))
        assert (saved.user_id, saved.name, saved.filters) == (uid(db, "alice"), "白云 超时", {"q": "白云",
                                                                                          "overdue": True})
    home = todo(alice)
    chip = re.search(r'<span class="chip"><a href="([^"]+)">白云 超时</a>', home)
    assert chip, home
    used = todo(alice, **{k: v[0] for k, v in parse_qs(urlparse(unescape(chip.group(1))).query).items()})
    assert keys(used) == ["SAVE-1"]  # chosen from the list: the filter is applied
    assert '<span class="chip active"><a href="' in used
    # the same name again replaces it; a missing name is explained and nothing is stored
    assert flashed(alice, send(alice, "/portal/queue/filters", {"name": "白云 超时", "q": "白云"})) == [
        "已保存筛选：白云 超时"]
    assert flashed(alice, send(alice, "/portal/queue/filters", {"name": " ", "q": "广州"})) == [
        "请为筛选填写名称（最多 40 个字）。"]
    flashed(alice, send(alice, "/portal/queue/filters", {"name": "广州塔", "q": "广州塔"}))
    with db.sessions() as s:
        assert [(f.name, f.filters) for f in s.scalars(select(QueueFilter).order_by(QueueFilter.name))] == [
            ("广州塔", {"q": "广州塔"}), ("白云 超时", {"q": "白云"})]
        saved_id = s.scalar(select(QueueFilter.id).where(QueueFilter.name == "白云 超时"))
    # anna sees none of them and cannot delete them
    assert "白云 超时" not in todo(anna) and "暂无" in todo(anna)
    assert flashed(anna, send(anna, f"/portal/queue/filters/{saved_id}/delete")) == [NOT_FOUND_FLASH]
    assert "白云 超时" in todo(alice)
    # alice deletes hers (with the way back to her view kept)
    response = send(alice, f"/portal/queue/filters/{saved_id}/delete", {"next": "/portal/?todo_q=广州塔"})
    assert response.status_code == 302 and parse_qs(urlparse(response.headers["Location"]).query) == {
        "todo_q": ["广州塔"]}
    assert "白云 超时" not in todo(alice) and "广州塔</a>" in todo(alice)


# -- sorting -------------------------------------------------------------------------------------------------------
def test_any_column_sorts_both_ways_and_a_bad_sort_is_the_default(web_app: Flask, db: Database):
    faults(web_app, db, [
        {"key": "S-B", "customer": "丙公司", "phone": "13900000003", "due": 30, "created": 2},
        {"key": "S-A", "customer": "甲公司", "phone": "13900000001", "due": 90, "created": 1},
        {"key": "S-C", "customer": "乙公司", "phone": "13900000002", "due": None, "created": 3},
        {"key": "S-D", "customer": "甲公司", "phone": "13900000001", "due": 60, "created": 0},
    ])
    alice = client_for(web_app, "alice")
    send(alice, "/portal/queue/columns", {"column": ["customer", "customer_phone", "created", "due", "status"]})
    send(alice, "/portal/tasks/claim", {"task": [str(i) for i in _ids(db, "S-D")]})
    default = ["S-B", "S-D", "S-A", "S-C"]  # by deadline, none last
    assert keys(todo(alice)) == default
    assert keys(todo(alice, todo_sort="due", todo_dir="desc")) == ["S-A", "S-D", "S-B", "S-C"]  # none still last
    assert keys(todo(alice, todo_sort="business_key")) == ["S-A", "S-B", "S-C", "S-D"]
    assert keys(todo(alice, todo_sort="business_key", todo_dir="desc")) == ["S-D", "S-C", "S-B", "S-A"]
    assert keys(todo(alice, todo_sort="created")) == ["S-C", "S-B", "S-A", "S-D"]  # newest first at first
    assert keys(todo(alice, todo_sort="created", todo_dir="asc")) == ["S-D", "S-A", "S-B", "S-C"]
    # equal values keep the order of arrival (the id), reversed with the direction
    assert keys(todo(alice, todo_sort="customer_phone")) == ["S-A", "S-D", "S-C", "S-B"]
    assert keys(todo(alice, todo_sort="customer_phone", todo_dir="desc")) == ["S-B", "S-C", "S-D", "S-A"]
    assert keys(todo(alice, todo_sort="status", todo_dir="desc"))[0] == "S-D"  # claimed after waiting ones
    for column in ("node", "customer", "flow", "post", "assignee", "status"):
        assert sorted(keys(todo(alice, todo_sort=column))) == sorted(default), column
    # the header of the sorted column says so and its link turns the order round; others sort their way
    html = todo(alice, todo_sort="customer_phone")
    assert re.search(r'<th aria-sort="ascending"><a href="[^"]*todo_sort=customer_phone[^"]*todo_dir=desc', html)
    assert re.search(r'<th><a href="[^"]*todo_sort=created[^"]*todo_dir=desc', html)
    # whatever the URL says, never a 500: an unknown sort or direction is the default
    for query in ({"todo_sort": "password_hash"}, {"todo_sort": "due;drop table"}, {"todo_sort": "completed"},
                  {"todo_dir": "sideways"}, {"todo_sort": ""}, {"todo_page": "-1"}, {"todo_page": "x"}):
        assert keys(todo(alice, **query)) == default, query
    assert keys(todo(alice, todo_sort="business_key", todo_dir="sideways")) == ["S-A", "S-B", "S-C", "S-D"]


def test_the_sort_and_the_filter_stay_in_the_pager(web_app: Flask, db: Database):
    faults(web_app, db, [{"key": f"P-{i:02d}", "customer": "白云机场"} for i in range(13)])
    alice = client_for(web_app, "alice")
    first = todo(alice, todo_sort="business_key", todo_dir="desc", todo_q="白云")
    assert keys(first) == [f"P-{i:02d}" for i in range(12, 2, -1)]
    link = re.search(r'<a href="([^"]+)">下一页', first)
    assert link
    query = parse_qs(urlparse(unescape(link.group(1))).query)
    assert query == {"todo_sort": ["business_key"], "todo_dir": ["desc"], "todo_q": ["白云"], "todo_page": ["2"]}
    assert keys(todo(alice, **{k: v[0] for k, v in query.items()})) == ["P-02", "P-01", "P-00"]
    # clicking a header starts again at the first page, filter kept
    html = todo(alice, **{k: v[0] for k, v in query.items()})
    header = re.search(r'<th><a href="([^"]+)">环节</a></th>', html)
    assert header and parse_qs(urlparse(unescape(header.group(1))).query) == {
        "todo_q": ["白云"], "todo_sort": ["node"], "todo_dir": ["asc"]}


def _ids(db: Database, key: str) -> list[int]:
    with db.sessions() as s:
        return list(s.scalars(select(HumanTask.id).where(HumanTask.business_key == key)))


# -- the starter gets the first step -------------------------------------------------------------------------------
def test_who_starts_an_order_gets_its_first_step_when_holding_its_post(web_app: Flask, db: Database):
    page = "/orders/new/aftersales_fault"
    dispatcher = client_for(web_app, "gz_dispatcher")
    response = send(dispatcher, page, start_form(business_key="MINE-1"))
    assert response.status_code == 302
    (accept,) = _ids(db, "MINE-1")
    assert urlparse(response.headers["Location"]).path == f"/tasks/{accept}"
    assert row(db, accept).assignee_id == uid(db, "gz_dispatcher")
    assert claims_of(db, accept) == [uid(db, "gz_dispatcher")]
    html = text(dispatcher.get(response.headers["Location"]))
    assert alerts(html) == ["工单 MINE-1 已发起。"]
    assert f'action="/tasks/{accept}/claim"' not in html  # nothing left to claim: the form is his to fill
    assert f'action="/tasks/{accept}/complete"' in html
    # a colleague of the same post sees it as taken
    assert "MINE-1" not in todo(client_for(web_app, "alice"))
    # who holds no post of the first step: the work-order page, the step left to its post
    bob = client_for(web_app, "bob")
    response = send(bob, page, start_form(business_key="NOT-MINE"))
    (other,) = _ids(db, "NOT-MINE")
    assert urlparse(response.headers["Location"]).path.startswith("/orders/")
    assert row(db, other).assignee_id is None and claims_of(db, other) == []
    assert flashed(bob, response) == ["工单 NOT-MINE 已发起。"]
    assert bob.get(response.headers["Location"]).status_code == 200


UNIT_FORM = json.dumps({"type": "default", "id": "unit_start", "schemaVersion": 16, "components": [
    {"type": "textfield", "id": "Field_unit", "key": "unit", "label": "单位", "validate": {"required": True}}]})
UNIT_FLOW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_unit" targetNamespace="http://eoms.example/bpmn">
  <bpmn:process id="unit_dispatch" name="派往指定单位" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_dispatch" name="dispatcher">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>handle</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formKey" value="unit_start"/>
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:userTask id="handle" name="单位处理"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="orgUnitVar" value="unit"/>
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_the_post_in_another_unit_is_not_enough(web_app: Flask, db: Database):
    """The first step goes to the dispatchers of the unit the start form names: the starter gets it only when
    that is the starter's own unit."""
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        pe.forms.deploy(s, "unit_start", UNIT_FORM.encode(), "unit_start.json")
        pe.repository.deploy(s, UNIT_FLOW.encode(), "unit_dispatch.bpmn")
    alice = client_for(web_app, "alice")  # a dispatcher of Guangzhou
    response = send(alice, "/orders/new/unit_dispatch", {"business_key": "UNIT-SZ", "unit": "SZ"})
    (elsewhere,) = _ids(db, "UNIT-SZ")
    assert row(db, elsewhere).assignee_id is None and claims_of(db, elsewhere) == []
    assert urlparse(response.headers["Location"]).path.startswith("/orders/")
    assert f'action="/portal/tasks/{elsewhere}/claim"' in todo(client_for(web_app, "carol"))  # Shenzhen's
    response = send(alice, "/orders/new/unit_dispatch", {"business_key": "UNIT-GZ", "unit": "GZ"})
    (own,) = _ids(db, "UNIT-GZ")
    assert row(db, own).assignee_id == uid(db, "alice")
    assert urlparse(response.headers["Location"]).path == f"/tasks/{own}"
