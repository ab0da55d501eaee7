"""售后故障 (aftersales_fault) end to end, through the engine services, as the post holders would work it:
故障申告 → 故障受理 → 自动派单 (routing rules) → 短信通知 → 故障处理 (转派, 挂起/恢复, 延期) → 恢复回单 (报告上传)
→ 回单审核 (驳回, 通过) → 短信告知客户 → 客户回访 → 归档. Every action runs in its own transaction as the right
user; rows, SMS, KPI facts and the history of the work order are checked, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.errors import ConcurrencyConflict, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.forms.validation import FormInvalid
from engine.history.models import HistoryEvent
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from handlers.dispatch import add_rule
from handlers.kpi.models import KpiOrder, KpiStep
from handlers.sms.models import SmsMessage
from tests.conftest import user
from tests.flows.conftest import (
    act,
    complete,
    count,
    events,
    flow_starter,
    inbox,
    instance,
    only,
    placed,
    rows_of,
    story,
    task_row,
    tick,
    uid,
    upload,
)

FAULT = {"customer": "中山大学附属医院", "customer_phone": "13912345678", "vip": True, "circuit": "GD-GZ-ZX-1001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高",
         "description": "客户反映专线业务中断"}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实，业务全断"}
HANDLE = {"progress": "已到场排查，定位光缆中断", "onsite": True}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆，业务恢复", "recovery_time": "2026-03-02T12:30"}
PDF = b"%PDF-1.4\n% fault report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# -- helpers -----------------------------------------------------------------------------------------------
start = flow_starter("aftersales_fault", FAULT, "gz_dispatcher")  # report a fault (the start form)


def route_to(pe, db, region: str, service_type: str, post: str, org: str) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        add_rule(s, region, service_type, post=post, org_unit=org)


def ready_row(db, instance_id: int, node_id: str) -> HumanTask:  # type: ignore[no-untyped-def]
    """The one open task of a node."""
    with db.sessions() as s:
        (row,) = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.node_id == node_id,
                                                   HumanTask.status == "ready")).all()
        return row


def sms(db, template: str) -> list[tuple[int | None, str, str]]:  # type: ignore[no-untyped-def]
    """(user, phone, status) of each SMS of the template, by user then phone."""
    with db.sessions() as s:
        rows = s.scalars(select(SmsMessage).where(SmsMessage.template == template).order_by(SmsMessage.id))
        return sorted(((m.user_id, m.phone, m.status) for m in rows), key=lambda m: (m[0] or 0, m[1]))


def sms_texts(db, template: str) -> set[str]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return set(s.scalars(select(SmsMessage.text).where(SmsMessage.template == template)))


# -- the whole story -----------------------------------------------------------------------------------------
def test_fault_order_from_report_to_archive(pe, db, clock):
    route_to(pe, db, "GZ", "专线", "maintainer", "SZ")  # Guangzhou data lines are maintained from Shenzhen
    route_to(pe, db, "*", "*", "maintainer", "GZ")  # the default; the more specific rule wins
    t0 = clock.now

    # 故障申告 by the Guangzhou dispatcher: 故障受理 arrives for the dispatchers of GZ, 15 minutes for a VIP
    iid, started = start(pe, db, "FAULT-0001")
    accept = only(started)
    row = task_row(db, accept)
    assert (row.node_id, row.node_name, placed(db, accept)) == ("accept", "故障受理", ("dispatcher", "GZ"))
    assert (row.time_limit, row.calendar, row.due_at, row.warn_at) == ("PT15M", "24x7", t0 + timedelta(minutes=15),
                                                                       t0 + timedelta(minutes=9))
    assert ("FAULT-0001", "accept") in inbox(pe, db, "gz_dispatcher")
    assert inbox(pe, db, "sz_dispatcher") == []

    # 故障受理 → 自动派单 → 派单结果 → 短信通知 → 故障处理 for the maintainers of SZ, 2 hours for a VIP
    clock.advance(minutes=5)
    t1 = clock.now
    handle = only(complete(pe, db, accept, "gz_dispatcher", ACCEPT))
    row = task_row(db, handle)
    assert (row.node_id, row.node_name, placed(db, handle), row.lane) == ("handle", "故障处理", ("maintainer", "SZ"),
                                                                          "maintainer")
    assert (row.time_limit, row.due_at, row.warn_at) == ("PT2H", t1 + timedelta(hours=2),
                                                         t1 + timedelta(minutes=90))
    assert row.allow == "extend,return,suspend,transfer"
    assert task_row(db, accept).data == ACCEPT
    assert inbox(pe, db, "sz_maintainer") == [("FAULT-0001", "handle")]
    assert inbox(pe, db, "gz_maintainer") == []
    assert inbox(pe, db, "mike") == []
    with db.sessions() as s, pytest.raises(NotFound):
        pe.tasks.get(s, handle, user(s, pe, "gz_maintainer"))

    # the dispatch SMS goes to every holder of the post in the routed unit once the worker runs the job
    assert sms(db, "dispatch") == []
    tick(pe, db)
    assert sms(db, "dispatch") == [(uid(pe, db, "sz_maintainer"), "13900000010", "stored")]
    assert sms_texts(db, "dispatch") == {
        "【EOMS】新工单FAULT-0001已派至您的岗位，环节：故障处理，请尽快处理。中山大学附属医院：中断"}

    # 转派: the Shenzhen maintainer hands the fault to a Guangzhou colleague, who now sees it as his
    clock.advance(minutes=10)
    act(pe, db, "transfer", handle, "sz_maintainer", reason="故障点在广州，转广州维护员", to_user="gz_maintainer")
    assert task_row(db, handle).assignee_id == uid(pe, db, "gz_maintainer")
    assert inbox(pe, db, "gz_maintainer", "mine") == [("FAULT-0001", "handle")]
    assert inbox(pe, db, "sz_maintainer") == []
    with pytest.raises(ConcurrencyConflict):
        act(pe, db, "complete", handle, "sz_maintainer", HANDLE)

    # 挂起 / 恢复: the clock stops for the 40 minutes the customer's machine room stays closed
    clock.advance(minutes=5)
    act(pe, db, "suspend", handle, "gz_maintainer", reason="等待客户开放机房")
    clock.advance(minutes=40)
    with pytest.raises(InvalidState, match="suspended"):
        act(pe, db, "complete", handle, "gz_maintainer", HANDLE)
    act(pe, db, "resume", handle, "gz_maintainer", reason="机房已开放")
    row = task_row(db, handle)
    assert (row.due_at, row.warn_at, row.paused_seconds, row.suspended_at) == (
        t1 + timedelta(hours=2, minutes=40), t1 + timedelta(minutes=130), 2400, None)

    # 延期: the holder asks, the supervisor above Shenzhen grants (the Guangzhou supervisor may not)
    clock.advance(minutes=5)
    act(pe, db, "request_extension", handle, "gz_maintainer", by="PT1H", reason="需更换光缆，施工时间较长")
    (requested,) = events(pe, db, iid, "extension_requested")
    assert requested.payload["to"] == [uid(pe, db, "boss")]
    assert task_row(db, handle).due_at == t1 + timedelta(hours=2, minutes=40)  # asking moves nothing
    with pytest.raises(NotAllowed):  # the holder may not grant himself more time
        act(pe, db, "grant_extension", handle, "gz_maintainer", by="PT1H", reason="自批")
    with pytest.raises(NotFound):  # the Guangzhou supervisor does not even see a Shenzhen task
        act(pe, db, "grant_extension", handle, "sup", by="PT1H", reason="同意")
    act(pe, db, "grant_extension", handle, "boss", by="PT1H", reason="同意延期一小时")
    row = task_row(db, handle)
    assert (row.due_at, row.warn_at) == (t1 + timedelta(hours=3, minutes=40), t1 + timedelta(minutes=190))

    # 故障处理 done: 恢复回单 goes to the routed post and unit again
    clock.advance(minutes=30)
    receipt = only(complete(pe, db, handle, "gz_maintainer", HANDLE))
    assert (task_row(db, receipt).node_id, placed(db, receipt)) == ("receipt", ("maintainer", "SZ"))
    assert task_row(db, receipt).due_at == clock.now + timedelta(hours=2)

    # 恢复回单: the report is required, must be a .pdf/.doc/.docx, and must really be uploaded
    with pytest.raises(FormInvalid) as missing:
        act(pe, db, "complete", receipt, "sz_maintainer", RECEIPT)
    assert set(missing.value.field_errors) == {"report"}
    assert missing.value.problems["report"].code == "required"
    text_file = upload(pe, db, receipt, "sz_maintainer", "故障报告.txt", "现场照片见附件".encode())
    with pytest.raises(FormInvalid) as wrong_type:
        act(pe, db, "complete", receipt, "sz_maintainer", {**RECEIPT, "report": [text_file]})
    assert set(wrong_type.value.field_errors) == {"report"}
    assert ".pdf" in wrong_type.value.field_errors["report"]
    with pytest.raises(InvalidInput, match=r"not a \.pdf file"):
        upload(pe, db, receipt, "sz_maintainer", "伪装报告.pdf", b"MZ\x90\x00 not a pdf")
    assert task_row(db, receipt).status == "ready"
    report = upload(pe, db, receipt, "sz_maintainer", "FAULT-0001-故障处理报告.pdf", PDF)
    clock.advance(minutes=15)
    audit = only(complete(pe, db, receipt, "sz_maintainer", {**RECEIPT, "report": [report]}))
    assert task_row(db, receipt).data == {**RECEIPT, "recovery_time": "2026-03-02T12:30:00+08:00",
                                          "report": [report]}
    assert (task_row(db, audit).node_id, placed(db, audit)) == ("audit", ("receipt_auditor", "GZ"))

    # 回单审核 rejects: back to 故障处理, a new task for the routed pool with a fresh limit
    clock.advance(minutes=20)
    handle2 = only(complete(pe, db, audit, "gz_receipt_auditor",
                            {"receipt_result": "reject", "receipt_reason": "报告缺少现场照片"}))
    row = task_row(db, handle2)
    assert (row.node_id, placed(db, handle2), row.assignee_id) == ("handle", ("maintainer", "SZ"), None)
    assert row.due_at == clock.now + timedelta(hours=2)
    assert inbox(pe, db, "sz_maintainer") == [("FAULT-0001", "handle")]

    clock.advance(minutes=20)
    receipt2 = only(complete(pe, db, handle2, "sz_maintainer", {"progress": "补充现场照片"}))
    report2 = upload(pe, db, receipt2, "sz_maintainer", "FAULT-0001-故障处理报告-补充.pdf", PDF)
    clock.advance(minutes=10)
    audit2 = only(complete(pe, db, receipt2, "sz_maintainer", {**RECEIPT, "report": [report2]}))

    # 回单审核 passes: the customer is told by SMS, 客户回访 arrives for customer service of GZ
    clock.advance(minutes=15)
    callback = only(complete(pe, db, audit2, "gz_receipt_auditor", {"receipt_result": "pass"}))
    row = task_row(db, callback)
    assert (row.node_id, placed(db, callback), row.calendar, row.time_limit) == (
        "callback", ("customer_service", "GZ"), "workday", "P1D")
    assert sms(db, "completion") == []
    tick(pe, db)
    assert sms(db, "completion") == [(None, "13912345678", "stored")]
    assert sms_texts(db, "completion") == {
        "【EOMS】尊敬的中山大学附属医院：您的工单FAULT-0001已处理完成。如有疑问请致电10000。"}

    # 客户回访 → 归档
    clock.advance(minutes=30)
    assert complete(pe, db, callback, "gz_customer_service",
                    {"satisfaction": "满意", "callback_note": "客户对处理速度满意"}) == []
    done = instance(db, iid)
    assert (done.status, done.ended_at) == ("completed", clock.now)
    assert rows_of(db, iid) == [("accept", "completed"), ("handle", "completed"), ("receipt", "completed"),
                                ("audit", "completed"), ("handle", "completed"), ("receipt", "completed"),
                                ("audit", "completed"), ("callback", "completed")]

    # the history reads as the story of the work order
    assert story(pe, db, iid) == [
        ("instance_started", None), ("task_created", "accept"),
        ("task_completed", "accept"),
        ("step_completed", "route"), ("step_completed", "routed"), ("step_completed", "notify"),
        ("task_created", "handle"),
        ("task_transferred", "handle"),
        ("task_suspended", "handle"), ("task_resumed", "handle"),
        ("extension_requested", "handle"), ("task_extended", "handle"),
        ("task_completed", "handle"), ("task_created", "receipt"),
        ("attachment_added", "receipt"), ("attachment_added", "receipt"),  # the .txt, then the report
        ("task_completed", "receipt"), ("task_created", "audit"),
        ("task_completed", "audit"), ("task_created", "handle"),  # 驳回
        ("task_completed", "handle"), ("task_created", "receipt"),
        ("attachment_added", "receipt"),
        ("task_completed", "receipt"), ("task_created", "audit"),
        ("task_completed", "audit"), ("step_completed", "customer_sms"), ("task_created", "callback"),
        ("task_completed", "callback"),
        ("instance_completed", None),
    ]
    transferred, = events(pe, db, iid, "task_transferred")
    assert (transferred.actor_id, transferred.payload["to_user"], transferred.payload["reason"]) == (
        uid(pe, db, "sz_maintainer"), "gz_maintainer", "故障点在广州，转广州维护员")
    extended, = events(pe, db, iid, "task_extended")
    assert (extended.actor_id, extended.payload["by"]) == (uid(pe, db, "boss"), "PT1H")
    assert [e.actor_id for e in events(pe, db, iid, "task_completed")] == [
        uid(pe, db, name) for name in ("gz_dispatcher", "gz_maintainer", "sz_maintainer", "gz_receipt_auditor",
                                       "sz_maintainer", "sz_maintainer", "gz_receipt_auditor",
                                       "gz_customer_service")]

    # KPI facts: one row per completed task, and the order with its one rejection and one transfer
    with db.sessions() as s:
        steps = s.scalars(select(KpiStep).where(KpiStep.instance_id == iid).order_by(KpiStep.id)).all()
        order = s.scalar(select(KpiOrder).where(KpiOrder.instance_id == iid))
    assert [(k.node_id, k.on_time) for k in steps] == [
        ("accept", True), ("handle", True), ("receipt", True), ("audit", True), ("handle", True),
        ("receipt", True), ("audit", True), ("callback", True)]
    first_handle = steps[1]
    assert (first_handle.transfers, first_handle.paused_seconds, first_handle.user_id) == (
        1, 2400, uid(pe, db, "gz_maintainer"))
    assert order is not None
    assert (order.process_key, order.business_key, order.steps, order.transfers, order.overdue_steps,
            order.on_time) == ("aftersales_fault", "FAULT-0001", 8, 1, 0, True)
    assert order.duration_seconds == int((clock.now - t0).total_seconds())


# -- time limits and the default route ----------------------------------------------------------------------
@pytest.mark.parametrize(("vip", "accept_limit", "handle_limit"), [
    (True, timedelta(minutes=15), timedelta(hours=2)),
    (False, timedelta(minutes=30), timedelta(hours=4)),
])
def test_time_limits_follow_vip_and_the_default_rule_routes_to_guangzhou(pe, db, clock, vip, accept_limit,
                                                                         handle_limit):
    route_to(pe, db, "*", "*", "maintainer", "GZ")
    t0 = clock.now
    iid, started = start(pe, db, "FAULT-0002", {**FAULT, "vip": vip})
    accept = only(started)
    row = task_row(db, accept)
    assert (row.due_at, row.warn_at) == (t0 + accept_limit, t0 + accept_limit * 0.6)
    assert row.time_limit == ("PT15M" if vip else "PT30M")

    clock.advance(minutes=3)
    handle = only(complete(pe, db, accept, "anna", ACCEPT))  # any dispatcher of GZ may accept
    row = task_row(db, handle)
    assert (placed(db, handle), row.due_at, row.warn_at) == (
        ("maintainer", "GZ"), clock.now + handle_limit, clock.now + handle_limit * 0.75)
    assert row.time_limit == ("PT2H" if vip else "PT4H")
    # both maintainers of Guangzhou are offered it; Shenzhen's is not
    assert inbox(pe, db, "gz_maintainer") == inbox(pe, db, "mike") == [("FAULT-0002", "handle")]
    assert inbox(pe, db, "sz_maintainer") == []
    tick(pe, db)
    assert sms(db, "dispatch") == sorted([(uid(pe, db, "gz_maintainer"), "13800000008", "stored"),
                                          (uid(pe, db, "mike"), "", "no_phone")])  # mike has no phone
    (created,) = [e for e in events(pe, db, iid, "task_created") if e.node_id == "handle"]
    assert created.payload == {"post": "maintainer", "due_at": (clock.now + handle_limit).isoformat()}


# -- bad input stores nothing -------------------------------------------------------------------------------
def test_the_start_form_is_validated_and_a_bad_report_creates_nothing(pe, db):
    bad = {**FAULT, "customer_phone": "12345", "region": "FS", "vip": "maybe"}
    del bad["description"]
    with pytest.raises(FormInvalid) as err:
        start(pe, db, "FAULT-0003", bad)
    assert err.value.form_key == "fault_start"
    assert set(err.value.field_errors) == {"customer_phone", "region", "vip", "description"}
    assert {k: p.code for k, p in err.value.problems.items()} == {
        "customer_phone": "pattern", "region": "option", "vip": "type_boolean", "description": "required"}
    assert (count(db, ProcessInstance), count(db, HumanTask), count(db, HistoryEvent)) == (0, 0, 0)
    with pytest.raises(FormInvalid) as err:
        start(pe, db, "FAULT-0003", {**FAULT, "severity": "P1"})
    assert set(err.value.field_errors) == {"severity"}  # a field the form does not have
    assert count(db, ProcessInstance) == 0
    # the same number with good data starts the order
    iid, _ = start(pe, db, "FAULT-0003", {**FAULT, "customer_phone": "020-87654321"})
    assert rows_of(db, iid) == [("accept", "ready")]


def test_a_bad_task_form_names_its_fields_and_stores_nothing(pe, db, clock):
    route_to(pe, db, "*", "*", "maintainer", "GZ")
    iid, started = start(pe, db, "FAULT-0004")
    accept = only(started)
    version, history = instance(db, iid).version, story(pe, db, iid)
    clock.advance(minutes=2)
    for data, problems in [
        ({"priority": "紧急"}, {"fault_type": "required"}),
        ({"fault_type": "停电", "priority": "最高"}, {"fault_type": "option", "priority": "option"}),
        ({**ACCEPT, "accept_note": "长" * 1001}, {"accept_note": "max_length"}),
        ({**ACCEPT, "priority": ["紧急"]}, {"priority": "option"}),
    ]:
        with pytest.raises(FormInvalid) as err:
            complete(pe, db, accept, "gz_dispatcher", data)
        assert {k: p.code for k, p in err.value.problems.items()} == problems, data
        assert set(err.value.field_errors) == set(problems)
        row = task_row(db, accept)
        assert (row.status, row.data, row.completed_at, row.completed_by_id) == ("ready", None, None, None)
        assert instance(db, iid).version == version
        assert story(pe, db, iid) == history
        assert (count(db, KpiStep), count(db, Incident)) == (0, 0)
    # the Chinese message a form shows
    with pytest.raises(FormInvalid) as err:
        complete(pe, db, accept, "gz_dispatcher", {"priority": "紧急"})
    assert err.value.localized("zh") == {"fault_type": "必填"}
    # corrected, it goes through
    assert [task_row(db, t).node_id for t in complete(pe, db, accept, "gz_dispatcher", ACCEPT)] == ["handle"]
    assert instance(db, iid).version > version


# -- routing without a rule ---------------------------------------------------------------------------------
def test_without_a_routing_rule_an_incident_names_the_command_and_a_retry_moves_on(pe, db, clock):
    iid, started = start(pe, db, "FAULT-0005", {**FAULT, "vip": False})
    clock.advance(minutes=4)
    assert complete(pe, db, only(started), "gz_dispatcher", ACCEPT) == []  # the acceptance is kept
    with db.sessions() as s:
        (incident,) = pe.management.incidents(s)
    assert (incident.instance_id, incident.node_id, incident.status, incident.kind) == (
        iid, "route", "open", "handler")
    assert "no routing rule for region 'GZ' and service type '专线'" in incident.message
    assert "eoms routing add GZ 专线" in incident.message
    assert rows_of(db, iid) == [("accept", "completed")]
    assert instance(db, iid).status == "running"
    assert story(pe, db, iid)[-2:] == [("task_completed", "accept"), ("handler_failed", "route")]
    tick(pe, db)
    assert sms(db, "dispatch") == []  # nobody was told of work that does not exist

    # a retry before the rule exists fails again, on the same incident
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident.id, actor=user(s, pe, "sup"))
    with db.sessions() as s:
        again = s.get(Incident, incident.id)
        assert again is not None
        assert (again.status, again.attempts) == ("open", 2)
        assert len(pe.management.incidents(s)) == 1

    # the administrator adds the rule; the supervisor retries and the order moves on to 故障处理
    route_to(pe, db, "GZ", "专线", "maintainer", "GZ")
    clock.advance(minutes=10)
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident.id, actor=user(s, pe, "sup"))
    with db.sessions() as s:
        resolved = s.get(Incident, incident.id)
        assert resolved is not None
        assert (resolved.status, resolved.resolved_at, resolved.resolved_by_id) == (
            "resolved", clock.now, uid(pe, db, "sup"))
        assert pe.management.incidents(s) == []
    assert rows_of(db, iid) == [("accept", "completed"), ("handle", "ready")]
    handle = ready_row(db, iid, "handle")
    assert (placed(db, handle.id), handle.due_at) == (("maintainer", "GZ"), clock.now + timedelta(hours=4))
    assert story(pe, db, iid) == [
        ("instance_started", None), ("task_created", "accept"),
        ("task_completed", "accept"), ("handler_failed", "route"),
        ("incident_retried", "route"), ("handler_failed", "route"),
        ("incident_retried", "route"), ("step_completed", "route"), ("step_completed", "routed"),
        ("step_completed", "notify"), ("incident_resolved", "route"), ("task_created", "handle"),
    ]
    tick(pe, db)
    assert [m[0] for m in sms(db, "dispatch")] == sorted([uid(pe, db, "gz_maintainer"), uid(pe, db, "mike")])
    # the order goes on as usual
    receipt = only(complete(pe, db, handle.id, "mike", HANDLE))
    assert task_row(db, receipt).node_id == "receipt"


# -- KPI facts ----------------------------------------------------------------------------------------------
def test_kpi_facts_record_each_step_and_the_order_with_its_rejection(pe, db, clock):
    route_to(pe, db, "*", "*", "maintainer", "GZ")
    t0 = clock.now
    iid, started = start(pe, db, "FAULT-0006", {**FAULT, "vip": False})
    clock.advance(minutes=40)  # 故障受理 allows 30 minutes: late
    handle = only(complete(pe, db, only(started), "gz_dispatcher", ACCEPT))
    clock.advance(hours=1)
    receipt = only(complete(pe, db, handle, "gz_maintainer", HANDLE))
    report = upload(pe, db, receipt, "gz_maintainer", "report.docx", b"PK\x03\x04 a docx")  # .docx is accepted
    clock.advance(minutes=30)
    audit = only(complete(pe, db, receipt, "gz_maintainer", {**RECEIPT, "report": [report]}))
    clock.advance(minutes=30)
    handle2 = only(complete(pe, db, audit, "gz_receipt_auditor", {"receipt_result": "reject"}))
    clock.advance(minutes=30)
    receipt2 = only(complete(pe, db, handle2, "mike", {"progress": "重新熔接"}))
    report2 = upload(pe, db, receipt2, "mike", "report.pdf", PDF)
    clock.advance(minutes=30)
    audit2 = only(complete(pe, db, receipt2, "mike", {**RECEIPT, "report": [report2]}))
    clock.advance(minutes=30)
    callback = only(complete(pe, db, audit2, "gz_receipt_auditor", {"receipt_result": "pass"}))
    clock.advance(hours=2)
    assert complete(pe, db, callback, "gz_customer_service", {"satisfaction": "基本满意"}) == []
    assert instance(db, iid).status == "completed"

    with db.sessions() as s:
        steps = s.scalars(select(KpiStep).where(KpiStep.instance_id == iid).order_by(KpiStep.id)).all()
        order = s.scalar(select(KpiOrder).where(KpiOrder.instance_id == iid))
        completed = s.scalars(select(HumanTask.id).where(HumanTask.instance_id == iid,
                                                         HumanTask.status == "completed").order_by(HumanTask.id))
        assert [k.human_task_id for k in steps] == list(completed)
    assert [(k.node_id, k.on_time, k.duration_seconds) for k in steps] == [
        ("accept", False, 2400), ("handle", True, 3600), ("receipt", True, 1800), ("audit", True, 1800),
        ("handle", True, 1800), ("receipt", True, 1800), ("audit", True, 1800), ("callback", True, 7200)]
    assert [k.user_id for k in steps] == [uid(pe, db, n) for n in (
        "gz_dispatcher", "gz_maintainer", "gz_maintainer", "gz_receipt_auditor", "mike", "mike",
        "gz_receipt_auditor", "gz_customer_service")]
    assert order is not None
    assert (order.business_key, order.steps, order.overdue_steps, order.on_time, order.transfers) == (
        "FAULT-0006", 8, 1, False, 0)
    assert (order.started_at, order.ended_at) == (t0, clock.now)
    assert order.returns == 1  # 回单审核 sent the order back (驳回) once
