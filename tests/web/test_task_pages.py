"""The pages post holders work in, through the Flask test client: the task page (facts, form, timeline) and
its actions (complete with validation and uploads, claim, transfer, return, suspend/resume, annotate, urge,
extension), starting a flow from its start form, the work-order search, and the portal's panels."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from engine.attachments.models import Attachment
from engine.history.models import HistoryEvent
from engine.identity.models import User
from engine.jobs.models import Job
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import Database
from tests.web.conftest import csrf_token, login
from webapp.notices.models import Announcement
from webapp.portal.models import Note, ScheduleEntry, UserPreference

PDF = b"%PDF-1.4\n% fault report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FAULT = {"customer": "中山大学附属医院", "customer_phone": "13912345678", "vip": False, "circuit": "GD-GZ-ZX-1001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高",
         "description": "客户反映专线业务中断"}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实，业务全断"}
HANDLE = {"progress": "已到场排查，定位光缆中断", "onsite": True}
HANDLE_FORM = {"progress": "已到场排查，定位光缆中断", "onsite": "on"}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆，业务恢复", "recovery_time": "2026-03-02T12:30"}
KEY = "WEB-0001"
NOT_ALLOWED = "您无权执行此操作。"
NOT_FOUND_FLASH = "记录不存在，或您无权查看。"
BAD_INPUT = "输入有误，请检查后重试。"
FORM_INVALID = "表单有误，请按提示修改后再提交。"
TRANSFER = "转派对象无效，请选择一名人员或一个岗位。"


# -- building work through the engine -------------------------------------------------------------------------
def engine_of(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["eoms"]["engine"]


def act(app: Flask, db: Database, method: str, task_id: int, username: str, *args: Any, **kwargs: Any) -> Any:
    pe = engine_of(app)
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, pe.identity.get_user(s, username), *args, **kwargs)


def start_fault(app: Flask, db: Database, key: str = KEY, starter: str = "gz_dispatcher",
                **changes: Any) -> tuple[int, int]:
    """Report a fault; (instance id, 故障受理 task id)."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "aftersales_fault", business_key=key, data={**FAULT, **changes},
                                  actor=pe.identity.get_user(s, starter))
        return result.instance.id, result.tasks[0].id


def to_handle(app: Flask, db: Database, key: str = KEY) -> tuple[int, int]:
    """A fault at 故障处理 for the maintainers of GZ; (instance id, task id)."""
    instance_id, accept = start_fault(app, db, key)
    (handle,) = act(app, db, "complete", accept, "gz_dispatcher", ACCEPT)
    return instance_id, handle.id


def to_receipt(app: Flask, db: Database, key: str = KEY) -> tuple[int, int]:
    instance_id, handle = to_handle(app, db, key)
    (receipt,) = act(app, db, "complete", handle, "gz_maintainer", HANDLE)
    return instance_id, receipt.id


def to_audit(app: Flask, db: Database, key: str = KEY) -> tuple[int, int, int]:
    """(instance id, 回单审核 task id, 恢复回单 task id)."""
    instance_id, receipt = to_receipt(app, db, key)
    report = act(app, db, "upload", receipt, "gz_maintainer", filename="报告.pdf", data=PDF).id
    (audit,) = act(app, db, "complete", receipt, "gz_maintainer", {**RECEIPT, "report": [report]})
    return instance_id, audit.id, receipt


# -- reading the results ---------------------------------------------------------------------------------------
def client_for(app: Flask, username: str) -> FlaskClient:
    """A client logged in as ``username``, with the session's CSRF token at hand (``client.csrf``)."""
    client = app.test_client()
    assert login(client, username).status_code == 302
    client.csrf = csrf_token(text(client.get("/tasks/0")))  # type: ignore[attr-defined]  # the lightest page
    return client


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def alerts(html: str) -> list[str]:
    """The flashed messages on a page."""
    return re.findall(r'<p class="alert alert-\w+" role="\w+">([^<]*)</p>', html)


def send(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
    """POST as a form of the user's pages would (with the session's CSRF token)."""
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)  # type: ignore[attr-defined]


def flashed(client: FlaskClient, response) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages of the page a POST redirected to."""
    assert response.status_code == 302, response.status_code
    return alerts(text(client.get(response.headers["Location"])))


def field_block(html: str, name: str) -> str:
    """The ``<div class="field">`` of the form field ``name`` (its label, input and error text)."""
    for chunk in html.split('<div class="field')[1:]:
        if f'id="f-{name}"' in chunk:
            return chunk
    raise AssertionError(f"no field {name} on the page")


def panel(html: str, name: str) -> str:
    match = re.search(rf'<section class="card" id="panel-{name}">(.*?)</section>', html, re.S)
    assert match, f"no panel {name}"
    return match.group(1)


def panels(html: str) -> list[str]:
    return re.findall(r'<section class="card" id="panel-(\w+)">', html)


def row(db: Database, task_id: int) -> HumanTask:
    with db.sessions() as s:
        found = s.get(HumanTask, task_id)
        assert found is not None
        return found


def events(db: Database, instance_id: int, event_type: str) -> list[HistoryEvent]:
    with db.sessions() as s:
        return list(s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == instance_id,
                                                         HistoryEvent.event_type == event_type)
                              .order_by(HistoryEvent.id)))


def tasks_of(db: Database, instance_id: int) -> list[tuple[str, str]]:
    with db.sessions() as s:
        return [(t.node_id, t.status) for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)
                                                         .order_by(HumanTask.id))]


def uid(db: Database, username: str) -> int:
    with db.sessions() as s:
        found = s.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return found


def count(db: Database, model: type, *where: Any) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# -- the task page ---------------------------------------------------------------------------------------------
def test_task_page_shows_facts_form_and_timeline(web_app: Flask, db: Database):
    _instance, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    response = client.get(f"/tasks/{accept}")
    assert response.status_code == 200
    page = text(response)
    # the key facts: work order, flow, step, customer, post, time left
    for fact in (KEY, "售后故障", "故障受理", "中山大学附属医院", "13912345678", "调度员", "未签收", "PT30M"):
        assert fact in page, fact
    assert re.search(r'<span class="badge badge-ok">剩余 (30|29)分</span>', page)
    # the form, from its schema: Chinese labels, required marks, options, the data so far preselected
    assert f'action="/tasks/{accept}/complete" enctype="multipart/form-data"' in page
    assert '<label for="f-fault_type" class="required">故障类型（核实）</label>' in page
    assert '<label for="f-priority" class="required">优先级（核实）</label>' in page
    assert '<label for="f-accept_note" class="">受理说明</label>' in page
    assert '<option value="中断" selected>业务中断</option>' in page and ">质量劣化</option>" in page
    assert '<option value="高" selected>高</option>' in page
    assert f'action="/tasks/{accept}/claim"' in page  # not claimed yet: one click to take it
    assert f'action="/tasks/{accept}/transfer"' in page  # the step allows 转派 …
    assert f'action="/tasks/{accept}/suspend"' not in page  # … but not 挂起
    # the timeline
    timeline = page[page.index('id="timeline"'):]
    assert "发起工单" in timeline and "任务到达" in timeline and "广州调度员" in timeline
    # past its deadline the page says by how much
    with db.sessions.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == accept)
                  .values(due_at=datetime.now(UTC) - timedelta(hours=1, minutes=5)))
    overdue = text(client.get(f"/tasks/{accept}"))
    assert re.search(r'<span class="badge badge-overdue">已超时 1小时(4|5)分</span>', overdue)


def test_complete_with_invalid_data_then_fix_it(web_app: Flask, db: Database):
    instance_id, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    with db.sessions() as s:
        version = s.get(ProcessInstance, instance_id).version  # type: ignore[union-attr]
    response = send(client, f"/tasks/{accept}/complete",
                    data={"fault_type": "停电", "priority": "", "accept_note": "客户说<b>全断</b>了"})
    assert response.status_code == 422
    html = text(response)
    assert FORM_INVALID in alerts(html)
    # each error next to its field, the other input kept as typed
    priority, fault_type, note = (field_block(html, f) for f in ("priority", "fault_type", "accept_note"))
    assert priority.startswith(' field-error"') and '<div class="error-text" role="alert">必填</div>' in priority
    assert fault_type.startswith(' field-error"') and "不是可选值之一" in fault_type
    assert "error-text" not in note and ">客户说&lt;b&gt;全断&lt;/b&gt;了</textarea>" in note
    # nothing stored
    assert row(db, accept).status == "ready" and row(db, accept).data is None
    assert events(db, instance_id, "task_completed") == []
    assert tasks_of(db, instance_id) == [("accept", "ready")]
    with db.sessions() as s:
        assert s.get(ProcessInstance, instance_id).version == version  # type: ignore[union-attr]
    # fixed: back to the portal with a message, the next step waits for the maintainers of GZ
    response = send(client, f"/tasks/{accept}/complete", data=ACCEPT)
    assert response.status_code == 302 and urlparse(response.headers["Location"]).path == "/portal/"
    assert "已提交：故障受理。下一环节：故障处理。" in flashed(client, response)
    done = row(db, accept)
    assert (done.status, done.completed_by_id, done.data) == ("completed", uid(db, "gz_dispatcher"), ACCEPT)
    assert tasks_of(db, instance_id) == [("accept", "completed"), ("handle", "ready")]
    todo = panel(text(client_for(web_app, "gz_maintainer").get("/portal/")), "todo")
    assert KEY in todo and "故障处理" in todo
    assert KEY in panel(text(client.get("/portal/")), "done")  # and in the dispatcher's 已办


def test_double_submit_is_done_once(web_app: Flask, db: Database):
    instance_id, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    first = send(client, f"/tasks/{accept}/complete", ACCEPT)
    second = send(client, f"/tasks/{accept}/complete", ACCEPT)
    assert first.status_code == 302 and second.status_code in (200, 302)
    assert len(events(db, instance_id, "task_completed")) == 1
    assert tasks_of(db, instance_id) == [("accept", "completed"), ("handle", "ready")]
    answer = client.get(second.headers["Location"]) if second.status_code == 302 else second
    assert answer.status_code == 200, answer.status_code
    assert "该任务已处理完毕（可能是重复提交），无需再次操作。" in alerts(text(answer))


def test_claim_from_the_portal_and_the_done_list(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    todo = panel(text(client.get("/portal/")), "todo")
    assert f'action="/portal/tasks/{handle}/claim"' in todo  # one click from the portal
    response = send(client, f"/portal/tasks/{handle}/claim")
    assert urlparse(response.headers["Location"]).path == "/portal/"
    home = text(client.get("/portal/"))
    assert f"已签收：故障处理（{KEY}）" in alerts(home)
    assert '<span class="badge">我的</span>' in panel(home, "todo")
    assert row(db, handle).assignee_id == uid(db, "gz_maintainer")
    assert send(client, f"/portal/tasks/{handle}/claim").status_code == 302  # again: nothing new
    assert len(events(db, instance_id, "task_claimed")) == 1
    # the colleague no longer has it, and cannot take it
    mike = client_for(web_app, "mike")
    assert KEY not in panel(text(mike.get("/portal/")), "todo")
    assert any("他人" in m for m in flashed(mike, send(mike, f"/portal/tasks/{handle}/claim")))
    assert row(db, handle).assignee_id == uid(db, "gz_maintainer")
    # done: it moves to 已办, which can be searched
    assert send(client, f"/tasks/{handle}/complete", HANDLE_FORM).status_code == 302
    home = text(client.get("/portal/"))
    assert f'href="/tasks/{handle}"' not in panel(home, "todo")  # (恢复回单 arrived in its place)
    done = panel(home, "done")
    assert f'<a href="/tasks/{handle}">{KEY}</a>' in done and "故障处理" in done
    assert KEY in panel(text(client.get("/portal/", query_string={"done_q": "WEB-00"})), "done")
    assert "没有已办记录。" in panel(text(client.get("/portal/", query_string={"done_q": "无此单"})), "done")


def test_portal_claim_does_not_redirect_off_site(web_app: Flask, db: Database):
    _instance, handle = to_handle(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    response = send(client, f"/portal/tasks/{handle}/claim", {"next": "https://evil.example/phish"})
    assert response.status_code == 302
    assert urlparse(response.headers["Location"]).netloc in ("", "localhost"), response.headers["Location"]


def test_transfer_to_a_person_and_to_a_post(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    page = f"/tasks/{handle}"
    client = client_for(web_app, "gz_maintainer")
    assert f'action="/tasks/{handle}/transfer"' in text(client.get(page))
    # refused: no reason, nobody, neither a person nor a post
    for data, message in [({"target": "user:mike", "reason": ""}, BAD_INPUT + "原因：必填。"),
                          ({"target": "user:nobody", "reason": "转给不存在的人"}, TRANSFER + "转派人员：不存在。"),
                          ({"target": "mike", "reason": "没写类型"}, TRANSFER)]:
        messages = flashed(client, send(client, f"/tasks/{handle}/transfer", data))
        assert any(m.startswith(message) for m in messages), (data, messages)
    assert events(db, instance_id, "task_transferred") == []
    assert row(db, handle).assignee_id is None
    # to a person: he has it as his own
    response = send(client, f"/tasks/{handle}/transfer", {"target": "user:mike", "reason": "交给迈克处理"})
    assert urlparse(response.headers["Location"]).path == "/portal/"
    assert "已转派。" in flashed(client, response)
    assert row(db, handle).assignee_id == uid(db, "mike")
    (event,) = events(db, instance_id, "task_transferred")
    assert (event.actor_id, event.payload["to_user"], event.payload["reason"]) == (
        uid(db, "gz_maintainer"), "mike", "交给迈克处理")
    mike = client_for(web_app, "mike")
    assert '<span class="badge">我的</span>' in panel(text(mike.get("/portal/")), "todo")
    # to a post: back to a pool, here another post's; the people of the old post lose it
    send(mike, f"/tasks/{handle}/transfer", {"target": "post:receipt_auditor", "reason": "需审核员确认"})
    moved = row(db, handle)
    assert (moved.assignee_id, moved.lane) == (None, "receipt_auditor")
    assert mike.get(page).status_code == 404
    auditor = client_for(web_app, "gz_receipt_auditor")
    assert f'action="/portal/tasks/{handle}/claim"' in panel(text(auditor.get("/portal/")), "todo")
    timeline = text(auditor.get(page))
    assert "原因：需审核员确认" in timeline and "→ receipt_auditor" in timeline and "→ mike" in timeline
    # a supervisor of the unit may hand it on too
    sup = client_for(web_app, "sup")
    assert "已转派。" in flashed(sup, send(sup, f"/tasks/{handle}/transfer",
                                           {"target": "user:gz_maintainer", "reason": "主管指派"}))
    assert row(db, handle).assignee_id == uid(db, "gz_maintainer")


def test_return_to_the_previous_step_with_a_reason(web_app: Flask, db: Database):
    instance_id, audit, receipt = to_audit(web_app, db)
    page = f"/tasks/{audit}"
    client = client_for(web_app, "gz_receipt_auditor")
    assert f'action="/tasks/{audit}/return"' in text(client.get(page))
    assert any(m.startswith(BAD_INPUT) for m in flashed(client, send(client, f"/tasks/{audit}/return",
                                                                    {"reason": " "})))
    assert row(db, audit).status == "ready" and events(db, instance_id, "task_returned") == []
    response = send(client, f"/tasks/{audit}/return", {"reason": "报告缺少现场照片"})
    assert urlparse(response.headers["Location"]).path == "/portal/"
    assert "已退回上一环节。" in flashed(client, response)
    assert row(db, audit).status == "returned"
    assert tasks_of(db, instance_id)[-2:] == [("audit", "returned"), ("receipt", "ready")]
    (event,) = events(db, instance_id, "task_returned")
    assert event.payload["reason"] == "报告缺少现场照片"
    with db.sessions() as s:
        reopened = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                    HumanTask.status == "ready"))
        assert reopened is not None and reopened.id != receipt
        assert reopened.assignee_id == uid(db, "gz_maintainer")  # back to who did it
    maintainer = client_for(web_app, "gz_maintainer")
    assert f'href="/tasks/{reopened.id}"' in panel(text(maintainer.get("/portal/")), "todo")
    order = text(maintainer.get(f"/orders/{instance_id}"))
    assert "<b>退回</b>" in order and "原因：报告缺少现场照片" in order
    # the business data under the forms' labels; a post holder does not get the engine's own variables
    assert "<dt>客户名称</dt>" in order and 'class="other-vars"' not in order and "<code>route</code>" not in order


def test_suspend_and_resume(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    page = f"/tasks/{handle}"
    client = client_for(web_app, "gz_maintainer")
    due = row(db, handle).due_at
    # steps that do not allow it refuse: 故障受理 has no 挂起 and no 延期 (the diagram's ``allow``)
    _, accept = start_fault(web_app, db, "NO-SUSPEND")
    dispatcher = client_for(web_app, "gz_dispatcher")
    assert NOT_ALLOWED in flashed(dispatcher, send(dispatcher, f"/tasks/{accept}/suspend", {"reason": "等"}))
    assert NOT_ALLOWED in flashed(dispatcher, send(dispatcher, f"/tasks/{accept}/extension",
                                                   {"by": "PT1H", "reason": "等"}))
    assert any(m.startswith(BAD_INPUT) for m in flashed(client, send(client, f"/tasks/{handle}/suspend",
                                                                    {"reason": ""})))
    response = send(client, f"/tasks/{handle}/suspend", {"reason": "等待客户开放机房"})
    assert urlparse(response.headers["Location"]).path == page
    suspended = text(client.get(response.headers["Location"]))
    assert "已挂起，时限暂停计算。" in alerts(suspended)
    assert "该任务已挂起" in suspended and 'id="complete-form"' not in suspended
    assert f'action="/tasks/{handle}/resume"' in suspended
    assert row(db, handle).suspended_at is not None
    # nobody completes a suspended task
    messages = flashed(client, send(client, f"/tasks/{handle}/complete", {"progress": "强行提交"}))
    assert "该任务已挂起，请先恢复。" in messages
    assert row(db, handle).status == "ready" and events(db, instance_id, "task_completed")[-1].node_id == "accept"
    response = send(client, f"/tasks/{handle}/resume", {})
    resumed = text(client.get(response.headers["Location"]))
    assert "已恢复，时限顺延。" in alerts(resumed) and 'id="complete-form"' in resumed
    after = row(db, handle)
    assert after.suspended_at is None and after.due_at is not None and due is not None and after.due_at >= due
    assert [len(events(db, instance_id, t)) for t in ("task_suspended", "task_resumed")] == [1, 1]
    assert (events(db, instance_id, "task_suspended")[0].payload["reason"]) == "等待客户开放机房"


def test_annotations_appear_on_the_timeline(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    page = f"/tasks/{handle}"
    client = client_for(web_app, "gz_maintainer")
    response = send(client, f"/tasks/{handle}/annotate", {"text": "请带光功率计"})
    assert urlparse(response.headers["Location"]).path == page
    html = text(client.get(page))
    assert "批注已添加。" in alerts(html)
    timeline = html[html.index('id="timeline"'):]
    assert "<b>批注</b>" in timeline and '<div class="note">请带光功率计</div>' in timeline
    # the supervisor may add one too; the text is shown, never run
    sup = client_for(web_app, "sup")
    send(sup, f"/tasks/{handle}/annotate", {"text": "<script>alert(1)</script>加急"})
    html = text(client.get(page))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;加急" in html and "<script>alert(1)" not in html
    assert any(m.startswith(BAD_INPUT) for m in flashed(client, send(client, f"/tasks/{handle}/annotate",
                                                                    {"text": ""})))
    assert [(e.actor_id, e.payload["text"]) for e in events(db, instance_id, "task_annotated")] == [
        (uid(db, "gz_maintainer"), "请带光功率计"), (uid(db, "sup"), "<script>alert(1)</script>加急")]
    assert "请带光功率计" in text(client.get(f"/orders/{instance_id}"))  # on the work-order page as well


def urge_jobs(db: Database) -> list[Job]:
    with db.sessions() as s:
        return list(s.scalars(select(Job).where(Job.idempotency_key.startswith("urge:")).order_by(Job.id)))


def test_urge_by_a_supervisor_queues_an_sms(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    page = f"/tasks/{handle}"
    holder = client_for(web_app, "gz_maintainer")
    assert f'action="/tasks/{handle}/urge"' not in text(holder.get(page))
    assert NOT_ALLOWED in flashed(holder, send(holder, f"/tasks/{handle}/urge", {"note": "自己催自己"}))
    assert urge_jobs(db) == [] and events(db, instance_id, "task_urged") == []
    sup = client_for(web_app, "sup")
    assert f'action="/tasks/{handle}/urge"' in text(sup.get(page))
    response = send(sup, f"/tasks/{handle}/urge", {"note": "客户投诉，尽快处理"})
    assert "已催办，短信已发出。" in flashed(sup, response)
    (job,) = urge_jobs(db)
    assert (job.kind, job.status, job.payload["template"], job.instance_id) == ("sms.send", "pending", "urge",
                                                                                instance_id)
    assert sorted(t["user_id"] for t in job.payload["to"]) == sorted([uid(db, "mike"), uid(db, "gz_maintainer")])
    assert job.payload["params"]["note"] == "客户投诉，尽快处理"
    (event,) = events(db, instance_id, "task_urged")
    assert event.actor_id == uid(db, "sup")
    assert "客户投诉，尽快处理" in text(holder.get(page))  # the holder reads it on the timeline


def test_extension_requested_by_the_holder_and_granted_by_the_supervisor(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    page = f"/tasks/{handle}"
    holder = client_for(web_app, "gz_maintainer")
    due = row(db, handle).due_at
    assert any(m.startswith(BAD_INPUT) for m in flashed(holder, send(
        holder, f"/tasks/{handle}/extension", {"by": "一小时", "reason": "施工"})))
    response = send(holder, f"/tasks/{handle}/extension", {"by": "PT1H", "reason": "需更换光缆"})
    assert "延期申请已提交主管。" in flashed(holder, response)
    assert row(db, handle).due_at == due
    assert [e.payload["by"] for e in events(db, instance_id, "extension_requested")] == ["PT1H"]
    sup = client_for(web_app, "sup")
    assert 'name="grant" value="1"' in text(sup.get(page))
    response = send(sup, f"/tasks/{handle}/extension", {"by": "PT1H", "reason": "同意", "grant": "1"})
    assert "时限已延长。" in flashed(sup, response)
    assert due is not None and row(db, handle).due_at == due + timedelta(hours=1)
    # the holder cannot grant himself more time
    send(holder, f"/tasks/{handle}/extension", {"by": "PT9H", "reason": "自批", "grant": "1"})
    assert row(db, handle).due_at == due + timedelta(hours=1)


# -- uploads -------------------------------------------------------------------------------------------------
def receipt_form(**changes: Any) -> dict[str, Any]:
    return {**RECEIPT, **changes}


def test_report_upload_with_the_completion_and_download(web_app: Flask, db: Database):
    instance_id, receipt = to_receipt(web_app, db)
    page = f"/tasks/{receipt}"
    client = client_for(web_app, "gz_maintainer")
    html = text(client.get(page))
    assert '<label for="f-report" class="required">故障处理报告</label>' in html
    assert 'name="report__upload" accept=".pdf,.doc,.docx"' in html
    assert '<label for="f-recovery_time" class="required">恢复时间</label>' in html
    name = "FAULT-故障处理报告.pdf"
    response = send(client, f"/tasks/{receipt}/complete", receipt_form(report__upload=(io.BytesIO(PDF), name)),
                    content_type="multipart/form-data")
    assert response.status_code == 302, alerts(text(response))
    assert "已提交：恢复回单。下一环节：回单审核。" in flashed(client, response)
    with db.sessions() as s:
        (attachment,) = s.scalars(select(Attachment).where(Attachment.instance_id == instance_id))
        assert (attachment.filename, attachment.size, attachment.human_task_id) == (name, len(PDF), receipt)
    done = row(db, receipt)
    assert done.status == "completed" and done.data["report"] == [attachment.id]
    assert done.data["recovery_time"] == "2026-03-02T12:30:00+08:00"
    assert tasks_of(db, instance_id)[-1] == ("audit", "ready")
    # the download works for who may see the work order …
    url = f"/orders/attachments/{attachment.id}"
    for username in ("gz_maintainer", "gz_receipt_auditor", "sup"):
        download = client_for(web_app, username).get(url)
        assert download.status_code == 200, username
        assert download.get_data() == PDF
        assert download.headers["Content-Type"] == "application/pdf"
        disposition = download.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote(name)}" in disposition
    auditor_page = text(client_for(web_app, "gz_receipt_auditor").get(f"/orders/{instance_id}"))
    assert f'href="{url}">{name}</a>' in auditor_page
    # … and for nobody else
    for username in ("carol", "bob", "sz_maintainer"):
        assert client_for(web_app, username).get(url).status_code == 404, username
    # the completed step shows its report as a link
    assert f'href="{url}">{name}</a>' in text(client.get(page))


WRONG_REPORTS = {  # the report field accepts .pdf, .doc and .docx: the upload is refused with those named
    "refused upload": [("报告.exe", b"MZ\x90\x00 program", "不接受此类型的文件（可接受：.pdf、.doc、.docx）"),
                       ("报告.txt", "现场照片见附件".encode(), "不接受此类型的文件（可接受：.pdf、.doc、.docx）"),
                       ("伪装报告.pdf", b"MZ\x90\x00 not a pdf", "文件内容不是 .pdf 格式")],
    "form sent back": [(None, b"", "必填")],
}


@pytest.mark.parametrize("kind", list(WRONG_REPORTS))
def test_a_wrong_report_is_refused_and_nothing_is_completed(web_app: Flask, db: Database, kind: str):
    instance_id, receipt = to_receipt(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    for filename, content, message in WRONG_REPORTS[kind]:
        data = receipt_form(measures="更换尾纤")
        if filename:
            data["report__upload"] = (io.BytesIO(content), filename)
        response = send(client, f"/tasks/{receipt}/complete", data, content_type="multipart/form-data")
        html = text(response)
        if kind == "refused upload":  # the upload itself is refused, with the reason
            assert response.status_code == 200
            (problem,) = [m for m in alerts(html) if m.startswith("附件未能上传")]
            assert message in problem and filename in problem
            assert count(db, Attachment, Attachment.instance_id == instance_id) == 0
        else:  # the form is sent back, the error next to the report field
            assert response.status_code == 422
            assert FORM_INVALID in alerts(html)
            report = field_block(html, "report")
            assert report.startswith(' field-error"') and message in report
        assert ">更换尾纤</textarea>" in html  # what was typed is kept
        assert row(db, receipt).status == "ready"
        assert tasks_of(db, instance_id)[-1] == ("receipt", "ready")
        assert [e.node_id for e in events(db, instance_id, "task_completed")] == ["accept", "handle"]


def test_an_uploaded_report_stays_selected_when_the_form_is_sent_back(web_app: Flask, db: Database):
    instance_id, receipt = to_receipt(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    response = send(client, f"/tasks/{receipt}/complete",
                    receipt_form(measures="", report__upload=(io.BytesIO(PDF), "报告.pdf")),
                    content_type="multipart/form-data")
    assert response.status_code == 422
    sent_back = text(response)
    assert "必填" in field_block(sent_back, "measures")
    with db.sessions() as s:
        (attachment_id,) = s.scalars(select(Attachment.id).where(Attachment.instance_id == instance_id))
    assert row(db, receipt).status == "ready"
    # the file was kept; sending the form again with it completes the step
    response = send(client, f"/tasks/{receipt}/complete", receipt_form(report=str(attachment_id)))
    assert response.status_code == 302
    assert row(db, receipt).status == "completed"
    # and the page that sent the form back had it ticked, so the browser sends it again by itself
    assert re.search(rf'<input type="checkbox" name="report" value="{attachment_id}" checked>', sent_back), \
        field_block(sent_back, "report")


# -- starting a flow -------------------------------------------------------------------------------------------
def start_form(**changes: str) -> dict[str, str]:
    return {"business_key": KEY, "customer": "广州塔", "customer_phone": "020-38880000", "circuit": "GZ-ZX-0099",
            "region": "GZ", "service_type": "互联网", "fault_type": "劣化", "priority": "一般",
            "description": "晚高峰丢包", **changes}


def test_start_a_fault_from_its_start_form(web_app: Flask, db: Database):
    client = client_for(web_app, "gz_dispatcher")
    flows = text(client.get("/orders/new"))
    assert 'href="/orders/new/aftersales_fault">售后故障</a>' in flows
    page = "/orders/new/aftersales_fault"
    form = text(client.get(page))
    for label in ("客户名称", "客户电话", "VIP 客户", "电路编号或业务号码", "故障区域", "故障描述"):
        assert label in form, label
    assert '<option value="GZ">广州</option>' in form
    assert client.get("/orders/new/no_such_flow").status_code == 404
    # bad data: 422, each error by its field, the input kept, nothing started
    response = send(client, page, start_form(customer="", customer_phone="12345", region="XX"))
    assert response.status_code == 422
    html = text(response)
    assert FORM_INVALID in alerts(html)
    assert "必填" in field_block(html, "customer")
    phone = field_block(html, "customer_phone")
    assert "格式不正确" in phone and 'value="12345"' in phone
    assert "不是可选值之一" in field_block(html, "region")
    assert 'value="GZ-ZX-0099"' in field_block(html, "circuit") and f'value="{KEY}"' in html
    assert count(db, ProcessInstance) == 0
    # good data: started, and the dispatcher lands on the 故障受理 it created for his post
    response = send(client, page, start_form())
    assert response.status_code == 302
    with db.sessions() as s:
        (instance,) = s.scalars(select(ProcessInstance))
        (accept,) = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id))
        assert (instance.business_key, instance.process_key, instance.customer, instance.customer_phone) == (
            KEY, "aftersales_fault", "广州塔", "020-38880000")
        assert instance.started_by_id == uid(db, "gz_dispatcher") and accept.node_id == "accept"
    assert urlparse(response.headers["Location"]).path == f"/tasks/{accept.id}"
    assert f"工单 {KEY} 已发起。" in flashed(client, response)
    # the same number twice is refused
    response = send(client, page, start_form())
    assert response.status_code == 409 and any(m.startswith(BAD_INPUT) for m in alerts(text(response)))
    assert count(db, ProcessInstance) == 1
    # no number: one is made up; who holds no post of the first step lands on the work-order page
    bob = client_for(web_app, "bob")
    response = send(bob, page, start_form(business_key=""))
    assert response.status_code == 302
    with db.sessions() as s:
        started = s.scalar(select(ProcessInstance).where(ProcessInstance.started_by_id == uid(db, "bob")))
        assert started is not None and re.fullmatch(r"GZ\d{17}", started.business_key)
    assert urlparse(response.headers["Location"]).path == f"/orders/{started.id}"
    assert bob.get(f"/orders/{started.id}").status_code == 200


# -- the work-order search -------------------------------------------------------------------------------------
def many_faults(app: Flask, db: Database, n: int) -> list[int]:
    """n faults SRCH-0000… by the Guangzhou dispatcher: odd ones for 广州塔, even ones for 白云机场."""
    return [start_fault(app, db, f"SRCH-{i:04d}", customer="广州塔" if i % 2 else "白云机场",
                        customer_phone=f"1391234{i:04d}")[0] for i in range(n)]


def results(client: FlaskClient, **query: str) -> tuple[int, list[str]]:
    html = text(client.get("/orders/", query_string=query))
    total = re.search(r'<h2>结果 <span class="count">(\d+)</span>', html)
    assert total
    return int(total.group(1)), re.findall(r">(SRCH-\d{4}|SZ-\d{4})</a>", html)


def test_work_order_search(web_app: Flask, db: Database):
    ids = many_faults(web_app, db, 22)
    start_fault(web_app, db, "SZ-0001", starter="sz_dispatcher", customer="广州塔")  # not the dispatcher's
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        pe.runtime.cancel(s, ids[1], actor=pe.identity.get_user(s, "sup"), reason="客户撤单")
        s.execute(update(ProcessInstance).where(ProcessInstance.id == ids[0])
                  .values(started_at=datetime(2026, 1, 15, 4, 0, tzinfo=UTC)))
    client = client_for(web_app, "gz_dispatcher")
    # everything the dispatcher may see, newest first, 20 a page
    total, shown = results(client)
    assert (total, len(shown)) == (22, 20) and "SZ-0001" not in shown
    html = text(client.get("/orders/"))
    assert "第 1 / 2 页，共 22 条" in html
    assert results(client, page="2") == (22, ["SRCH-0001", "SRCH-0000"])
    # each filter
    assert results(client, number="SRCH-001")[0] == 10
    assert results(client, number="SRCH-0021")[1] == ["SRCH-0021"]
    assert results(client, customer="白云")[0] == 11
    assert results(client, phone="13912340021")[1] == ["SRCH-0021"]
    assert sorted(results(client, phone="1391234002")[1]) == ["SRCH-0020", "SRCH-0021"]
    assert results(client, flow="aftersales_fault")[0] == 22
    assert results(client, flow="provisioning") == (0, [])
    assert results(client, status="cancelled")[1] == ["SRCH-0001"]
    assert results(client, status="running")[0] == 21
    assert results(client, status="completed")[0] == 0
    assert results(client, **{"from": "2026-01-01", "to": "2026-01-15"})[1] == ["SRCH-0000"]
    assert results(client, **{"from": "2026-01-16"})[0] == 21
    assert results(client, to="2026-01-14")[0] == 0
    assert results(client, customer="广州塔", status="running")[0] == 10  # filters combine
    assert "没有符合条件的工单。" in text(client.get("/orders/", query_string={"customer": "无此客户"}))
    # an unknown status is explained, and everything is listed
    html = text(client.get("/orders/", query_string={"status": "bogus"}))
    assert BAD_INPUT + "状态：无效。" in alerts(html)
    # the pager keeps the filters
    html = text(client.get("/orders/", query_string={"flow": "aftersales_fault"}))
    link = re.search(r'<a href="(/orders/\?[^"]*page=2[^"]*)">', html)
    assert link and "flow=aftersales_fault" in link.group(1)
    assert results(client, flow="aftersales_fault", page="2")[1] == ["SRCH-0001", "SRCH-0000"]


def test_portal_to_do_list_pages(web_app: Flask, db: Database):
    many_faults(web_app, db, 12)
    client = client_for(web_app, "gz_dispatcher")
    first = panel(text(client.get("/portal/")), "todo")
    assert '<span class="count">12</span>' in first
    on_first = set(re.findall(r">(SRCH-\d{4})</a>", first))
    assert len(on_first) == 10
    assert len(set(re.findall(r">(SRCH-\d{4})</a>", panel(text(client.get("/portal/?todo_page=2")), "todo")))
               - on_first) == 2
    # the pager's own link leads to the second page
    link = re.search(r'<a href="([^"]+)">下一页', first)
    assert link
    second = panel(text(client.get(link.group(1).replace("&amp;", "&"))), "todo")
    on_second = set(re.findall(r">(SRCH-\d{4})</a>", second))
    assert len(on_second - on_first) == 2, (link.group(1), sorted(on_second))


# -- the portal's own panels -----------------------------------------------------------------------------------
def test_notes_are_private(web_app: Flask, db: Database):
    alice = client_for(web_app, "alice")
    assert send(alice, "/portal/notes", {"body": "记得周五巡检"}).status_code == 302
    assert "记得周五巡检" in panel(text(alice.get("/portal/")), "notes")
    with db.sessions() as s:
        (note,) = s.scalars(select(Note))
        assert (note.user_id, note.body) == (uid(db, "alice"), "记得周五巡检")
    assert any(m.startswith(BAD_INPUT) for m in flashed(alice, send(alice, "/portal/notes", {"body": "  "})))
    anna = client_for(web_app, "anna")
    assert "记得周五巡检" not in text(anna.get("/portal/"))
    assert NOT_FOUND_FLASH in flashed(anna, send(anna, f"/portal/notes/{note.id}/delete"))
    assert count(db, Note) == 1
    assert send(alice, f"/portal/notes/{note.id}/delete").status_code == 302
    assert count(db, Note) == 0
    assert "记得周五巡检" not in text(alice.get("/portal/"))


def test_schedule_entries(web_app: Flask, db: Database):
    alice = client_for(web_app, "alice")
    assert send(alice, "/portal/schedule", {"starts_at": "2030-01-02T09:30", "title": "客户拜访"}).status_code == 302
    schedule = panel(text(alice.get("/portal/")), "schedule")
    assert "客户拜访" in schedule and "2030-01-02 09:30" in schedule
    with db.sessions() as s:
        (entry,) = s.scalars(select(ScheduleEntry))
        assert entry.user_id == uid(db, "alice")
        assert entry.starts_at == datetime(2030, 1, 2, 1, 30, tzinfo=UTC)  # entered in Beijing time
    assert "请填写有效的日程时间。" in flashed(alice, send(alice, "/portal/schedule", {"starts_at": "明天",
                                                                                     "title": "无效"}))
    assert any(m.startswith(BAD_INPUT) for m in flashed(alice, send(alice, "/portal/schedule",
                                                                    {"starts_at": "2030-01-03T09:30", "title": ""})))
    assert count(db, ScheduleEntry) == 1
    anna = client_for(web_app, "anna")
    assert "客户拜访" not in text(anna.get("/portal/"))
    assert NOT_FOUND_FLASH in flashed(anna, send(anna, f"/portal/schedule/{entry.id}/delete"))
    assert count(db, ScheduleEntry) == 1
    send(alice, f"/portal/schedule/{entry.id}/delete")
    assert count(db, ScheduleEntry) == 0


def test_the_portal_lists_announcements_unread_first_seen_and_links_them(web_app: Flask, db: Database):
    """公告通知 in the portal: what the user may see, 未读 until opened; publishing is 系统管理's (tests/admin)."""
    admin = client_for(web_app, "admin")
    assert 'href="/notices/manage"' in panel(text(admin.get("/portal/")), "announcements")
    response = send(admin, "/notices/new", {"title": "系统升级通知", "body": "周六凌晨升级", "audience": "all"})
    assert response.status_code == 302
    with db.sessions() as s:
        (item,) = s.scalars(select(Announcement))
    alice = client_for(web_app, "alice")
    news = panel(text(alice.get("/portal/")), "announcements")
    assert "系统升级通知" in news and "未读" in news and f'href="/notices/{item.id}"' in news
    assert 'href="/notices/manage"' not in news
    assert "周六凌晨升级" in text(alice.get(f"/notices/{item.id}"))
    assert "未读" not in panel(text(alice.get("/portal/")), "announcements")
    assert alice.get("/notices/manage").status_code == 404
    send(admin, f"/notices/{item.id}/withdraw")
    assert "暂无公告。" in panel(text(alice.get("/portal/")), "announcements")


def test_panel_layout_is_kept_per_user(web_app: Flask, db: Database):
    alice = client_for(web_app, "alice")
    default = ["todo", "tips", "done", "announcements", "schedule", "notes", "profile"]
    assert panels(text(alice.get("/portal/"))) == default
    assert "org" in panels(text(client_for(web_app, "sup").get("/portal/")))  # 本单位在办: supervisors only

    def change(panel_name: str, action: str) -> list[str]:
        assert send(alice, "/portal/layout", {"panel": panel_name, "action": action}).status_code == 302
        return panels(text(alice.get("/portal/")))

    assert change("notes", "hide") == ["todo", "tips", "done", "announcements", "schedule", "profile"]
    home = text(alice.get("/portal/"))
    assert "已隐藏的栏目" in home and "显示 便签" in home
    assert change("done", "up") == ["todo", "done", "tips", "announcements", "schedule", "profile"]
    assert change("todo", "down") == ["done", "todo", "tips", "announcements", "schedule", "profile"]
    assert change("done", "up") == ["done", "todo", "tips", "announcements", "schedule", "profile"]  # already first
    assert change("notes", "show") == ["done", "todo", "tips", "announcements", "schedule", "notes", "profile"]
    for data in ({"panel": "org", "action": "hide"}, {"panel": "notes", "action": "explode"}):
        assert any(m.startswith(BAD_INPUT) for m in flashed(alice, send(alice, "/portal/layout", data)))
    # kept in the database for the next login; other people keep theirs
    expected = ["done", "todo", "tips", "announcements", "schedule", "notes", "profile"]
    assert panels(text(client_for(web_app, "alice").get("/portal/"))) == expected
    assert panels(text(client_for(web_app, "anna").get("/portal/"))) == default
    with db.sessions() as s:
        (pref,) = s.scalars(select(UserPreference))
        assert pref.user_id == uid(db, "alice") and [p for p, _visible in pref.value] == expected
