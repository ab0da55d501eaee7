"""Work sent back in the fault flow (issue 12, bug 1 and gap 12): the maintainer may return a mis-dispatched
fault from 故障处理 to the dispatcher who accepted it, and every 驳回/退回 reaches the reopened step's holders by SMS
with the reason."""

from __future__ import annotations

from sqlalchemy import select

from engine.history.models import HistoryEvent
from handlers.sms.models import SmsMessage
from tests.conftest import user
from tests.flows.conftest import act, complete, only, task_row, tick, uid
from tests.flows.test_fault_flow import ACCEPT, HANDLE, PDF, RECEIPT, route_to, start, upload


def rework_sms(db) -> list[tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        rows = s.scalars(select(SmsMessage).where(SmsMessage.template == "rework").order_by(SmsMessage.id))
        return [(m.user_id, m.text) for m in rows]


def test_a_mis_dispatched_fault_goes_back_to_the_dispatcher_with_the_reason(pe, db, clock):
    route_to(pe, db, "*", "*", "maintainer", "GZ")
    _, started = start(pe, db, "RETURN-0001")
    accept = only(started)
    handle = only(complete(pe, db, accept, "gz_dispatcher", ACCEPT))
    assert "return" in task_row(db, handle).allow.split(",")  # the diagram allows it on 故障处理

    reopened = act(pe, db, "return_to_previous", handle, "gz_maintainer", reason="不是专线故障，是客户侧设备问题")
    row = task_row(db, reopened.id)
    assert (row.node_id, row.status, row.assignee_id) == ("accept", "ready", uid(pe, db, "gz_dispatcher"))
    assert task_row(db, handle).status == "returned"
    with db.sessions() as s:
        returned = s.scalars(select(HistoryEvent).where(HistoryEvent.event_type == "task_returned")).one()
        assert returned.payload["reason"] == "不是专线故障，是客户侧设备问题"
        assert returned.payload["to_node"] == "accept"

    tick(pe, db)  # the notice became an sms.send job; the worker sends it
    assert rework_sms(db) == [(uid(pe, db, "gz_dispatcher"),
                               "【EOMS】退回：工单RETURN-0001被“故障处理”环节（广州维护员）退回至“故障受理”，"
                               "原因：不是专线故障，是客户侧设备问题。请尽快处理。")]

    # accepted again, the fault is dispatched again
    again = only(complete(pe, db, reopened.id, "gz_dispatcher", ACCEPT))
    assert task_row(db, again).node_id == "handle"


def test_a_rejected_receipt_tells_the_maintainers_why_by_sms(pe, db, clock):
    route_to(pe, db, "*", "*", "maintainer", "GZ")
    _, started = start(pe, db, "REJECT-0001")
    handle = only(complete(pe, db, only(started), "gz_dispatcher", ACCEPT))
    receipt = only(complete(pe, db, handle, "gz_maintainer", HANDLE))
    report = upload(pe, db, receipt, "gz_maintainer", "报告.pdf", PDF)
    audit = only(complete(pe, db, receipt, "gz_maintainer", {**RECEIPT, "report": [report]}))
    tick(pe, db)
    assert rework_sms(db) == []  # nothing was sent back yet

    handle2 = only(complete(pe, db, audit, "gz_receipt_auditor",
                            {"receipt_result": "reject", "receipt_reason": "报告缺少现场照片"}))
    assert task_row(db, handle2).node_id == "handle"
    tick(pe, db)
    with db.sessions() as s:
        auditor = user(s, pe, "gz_receipt_auditor").display_name
        pool = {u.id for u in pe.identity.holders(s, task_row(db, handle2).post_id, task_row(db, handle2).org_unit_id)}
    text = (f"【EOMS】退回：工单REJECT-0001被“回单审核”环节（{auditor}）退回至“故障处理”，"
            "原因：报告缺少现场照片。请尽快处理。")
    assert uid(pe, db, "gz_maintainer") in pool  # the reopened step is the post's again: every holder is told
    assert sorted(rework_sms(db)) == sorted((u, text) for u in pool)

    # a pass with a note in the reason field sends nothing: no step was sent back
    receipt2 = only(complete(pe, db, handle2, "gz_maintainer", HANDLE))
    report2 = upload(pe, db, receipt2, "gz_maintainer", "报告2.pdf", PDF)
    audit2 = only(complete(pe, db, receipt2, "gz_maintainer", {**RECEIPT, "report": [report2]}))
    complete(pe, db, audit2, "gz_receipt_auditor", {"receipt_result": "pass", "receipt_reason": "照片已补充"})
    tick(pe, db)
    assert len(rework_sms(db)) == len(pool)
