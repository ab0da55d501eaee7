"""售中实施 (insale_implementation) end to end, through the engine services, as the post holders would work it:
实施工程师提交客户及项目信息 → 维护员录入电路及业务信息 → 登记资源库 → 资料审核 (驳回返回录入, 通过) → 通知CRM
→ 归档. Every action runs in its own transaction as the right user; circuits, CRM ledger, KPI facts and the history
of the work order are checked, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.forms.validation import FormInvalid
from engine.history.models import HistoryEvent
from engine.jobs.models import Job
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from handlers.crm.models import CrmMessage
from handlers.kpi.models import KpiOrder, KpiStep
from handlers.resources.models import Circuit
from tests.conftest import user, utc
from tests.flows.conftest import (
    complete,
    count,
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
)

ORDER = {"customer": "广州银行", "project": "广州银行数据专线", "contract_no": "HT2026030201", "region": "GZ",
         "contact": "王经理", "contact_phone": "13700000001"}
CIRCUIT_A = {"circuit_id": "GDGZ-ZX-7001", "a_end": "广州银行总部机房", "z_end": "GZ局数据中心", "bandwidth": "1G",
             "port": "GE0/0/1", "vlan": 301}
CIRCUIT_B = {"circuit_id": "GDGZ-ZX-7002", "a_end": "广州银行天河支行", "z_end": "GZ局数据中心", "bandwidth": "100M",
             "port": "GE0/0/2", "vlan": 302}
CIRCUIT_C = {"circuit_id": "GDGZ-ZX-7003", "a_end": "广州银行天河支行", "z_end": "GZ局汇聚机房", "bandwidth": "200M",
             "vlan": 303}


# -- helpers -----------------------------------------------------------------------------------------------
# submit the customer and project (the start form)
start = flow_starter("insale_implementation", ORDER, "gz_implementer")


def entered(circuits: list[dict[str, Any]], details: str = "双上联，静态路由") -> dict[str, Any]:
    return {"circuits": circuits, "service_details": details}


def circuits(db) -> list[tuple[str, str, int, str, str, str, int | None]]:  # type: ignore[no-untyped-def]
    """(circuit id, work order, instance, customer, bandwidth, port, vlan) of every registered circuit."""
    with db.sessions() as s:
        return [(c.circuit_id, c.business_key, c.instance_id, c.customer, c.bandwidth, c.port, c.vlan)
                for c in s.scalars(select(Circuit).order_by(Circuit.circuit_id))]


# -- the whole story -----------------------------------------------------------------------------------------
def test_insale_order_from_contract_to_archive(pe, db, clock):
    t0 = clock.now  # Monday 09:00 in Beijing

    # the implementer submits customer and project: 录入 arrives for the maintainers of Guangzhou, 2 working days
    iid, started = start(pe, db, "INS-0001")
    enter = only(started)
    row = task_row(db, enter)
    assert (row.node_id, row.node_name, placed(db, enter)) == ("enter", "录入电路及业务信息", ("maintainer", "GZ"))
    assert (row.calendar, row.time_limit, row.allow) == ("workday", "P2D", "suspend,transfer")
    assert row.due_at == utc(2026, 3, 4, 1, 0)  # Wednesday 09:00
    assert row.warn_at == utc(2026, 3, 3, 6, 0)  # 4 working hours earlier: Tuesday 14:00
    assert inbox(pe, db, "gz_maintainer") == inbox(pe, db, "mike") == [("INS-0001", "enter")]
    assert inbox(pe, db, "sz_maintainer") == []
    with db.sessions() as s:
        started_row = s.get(ProcessInstance, iid)
        assert started_row is not None
        assert (started_row.started_by_id, started_row.started_at) == (uid(pe, db, "gz_implementer"), t0)

    # 录入电路及业务信息: two circuits; the inventory step registers them; 资料审核 arrives for the data auditors
    clock.advance(hours=2)
    audit = only(complete(pe, db, enter, "gz_maintainer", entered([CIRCUIT_A, CIRCUIT_B])))
    assert task_row(db, enter).data == entered([CIRCUIT_A, CIRCUIT_B])
    assert (task_row(db, audit).node_id, placed(db, audit), task_row(db, audit).time_limit) == (
        "audit", ("data_auditor", "GZ"), "P1D")
    assert circuits(db) == [
        ("GDGZ-ZX-7001", "INS-0001", iid, "广州银行", "1G", "GE0/0/1", 301),
        ("GDGZ-ZX-7002", "INS-0001", iid, "广州银行", "100M", "GE0/0/2", 302),
    ]
    with db.sessions() as s:
        assert set(s.scalars(select(Circuit.registered_at))) == {clock.now}

    # 资料审核 rejects: back to 录入, a new task for the maintainers' pool
    clock.advance(hours=1)
    enter2 = only(complete(pe, db, audit, "gz_data_auditor", {"audit_result": "reject",
                                                               "audit_reason": "VLAN 与规划冲突"}))
    row = task_row(db, enter2)
    assert (row.node_id, row.status, row.assignee_id, placed(db, enter2)) == ("enter", "ready", None,
                                                                             ("maintainer", "GZ"))
    assert enter2 != enter
    assert len(circuits(db)) == 2  # still registered until they are entered again

    # re-entering replaces the circuits: 7001 with its new VLAN, 7003 instead of 7002, no duplicates
    clock.advance(hours=1)
    moved = {**CIRCUIT_A, "vlan": "311"}  # a number field takes its text form too
    audit2 = only(complete(pe, db, enter2, "mike", entered([moved, CIRCUIT_C], "双上联；VLAN 已调整")))
    assert circuits(db) == [
        ("GDGZ-ZX-7001", "INS-0001", iid, "广州银行", "1G", "GE0/0/1", 311),
        ("GDGZ-ZX-7003", "INS-0001", iid, "广州银行", "200M", "", 303),
    ]
    # an optional field left out is stored as None (port of 7003)
    assert task_row(db, enter2).data == entered([{**CIRCUIT_A, "vlan": 311}, {**CIRCUIT_C, "port": None}],
                                                "双上联；VLAN 已调整")

    # 资料审核 passes: CRM is told through a job, and the order is archived
    clock.advance(hours=1)
    assert complete(pe, db, audit2, "gz_data_auditor", {"audit_result": "pass", "audit_reason": "资料完整"}) == []
    done = instance(db, iid)
    assert (done.status, done.ended_at) == ("completed", clock.now)
    assert rows_of(db, iid) == [("enter", "completed"), ("audit", "completed"), ("enter", "completed"),
                                ("audit", "completed")]
    assert count(db, CrmMessage) == 0
    with db.sessions() as s:
        (job,) = s.scalars(select(Job).where(Job.kind == "crm.webhook")).all()
        assert (job.instance_id, job.status) == (iid, "pending")
    tick(pe, db)
    with db.sessions() as s:
        (message,) = s.scalars(select(CrmMessage)).all()
        assert (message.event, message.status, message.business_key, message.instance_id) == (
            "maintenance_complete", "stored", "INS-0001", iid)
        assert message.payload == {"event": "maintenance_complete", "order": "INS-0001",
                                   "process": "insale_implementation", "contract_no": "HT2026030201",
                                   "circuits": 2}
        assert s.get(Job, job.id).status == "done"  # type: ignore[union-attr]
    tick(pe, db)
    assert count(db, CrmMessage) == 1  # told once

    # the history reads as the story of the work order
    assert story(pe, db, iid) == [
        ("instance_started", None), ("task_created", "enter"),
        ("task_completed", "enter"), ("step_completed", "register"), ("task_created", "audit"),
        ("task_completed", "audit"), ("task_created", "enter"),  # 驳回
        ("task_completed", "enter"), ("step_completed", "register"), ("task_created", "audit"),
        ("task_completed", "audit"), ("step_completed", "notify"),
        ("instance_completed", None),
    ]
    with db.sessions() as s:
        actors = [e.actor_id for e in pe.history.timeline(s, iid) if e.event_type == "task_completed"]
    assert actors == [uid(pe, db, n) for n in ("gz_maintainer", "gz_data_auditor", "mike", "gz_data_auditor")]
    with db.sessions() as s:
        order = s.scalar(select(KpiOrder).where(KpiOrder.instance_id == iid))
        assert order is not None
        assert (order.steps, order.overdue_steps, order.on_time, order.duration_seconds) == (
            4, 0, True, int((clock.now - t0).total_seconds()))
        assert s.scalar(select(func.count()).select_from(KpiStep).where(KpiStep.instance_id == iid)) == 4


# -- bad input stores nothing -------------------------------------------------------------------------------
def test_the_contract_number_and_the_circuits_are_validated_and_nothing_is_stored(pe, db, clock):
    for contract in ("HT2026", "HT20260302A1", "ht2026030201", "HT2026030201000"):
        with pytest.raises(FormInvalid) as err:
            start(pe, db, "INS-0002", {**ORDER, "contract_no": contract})
        assert set(err.value.field_errors) == {"contract_no"}, contract
        assert err.value.problems["contract_no"].code in ("pattern", "max_length")
    with pytest.raises(FormInvalid) as err:
        start(pe, db, "INS-0002", {**ORDER, "contact_phone": "1370000", "region": "BJ"})
    assert set(err.value.field_errors) == {"contact_phone", "region"}
    assert (count(db, ProcessInstance), count(db, HumanTask), count(db, HistoryEvent)) == (0, 0, 0)

    iid, started = start(pe, db, "INS-0002")
    enter = only(started)
    version, history = instance(db, iid).version, story(pe, db, iid)
    clock.advance(minutes=30)
    for data, problems in [
        (entered([{**CIRCUIT_A, "circuit_id": "gd-7001"}, CIRCUIT_B]), {"circuits[0].circuit_id": "pattern"}),
        (entered([CIRCUIT_A, {**CIRCUIT_B, "bandwidth": "3G", "vlan": 5000}]),
         {"circuits[1].bandwidth": "option", "circuits[1].vlan": "max"}),
        (entered([{k: v for k, v in CIRCUIT_A.items() if k != "a_end"}]), {"circuits[0].a_end": "required"}),
        (entered([]), {"circuits": "required"}),
        ({"circuits": [CIRCUIT_A]}, {"service_details": "required"}),
        (entered([{**CIRCUIT_A, "owner": "x"}]), {"circuits[0].owner": "unknown"}),
    ]:
        with pytest.raises(FormInvalid) as err:
            complete(pe, db, enter, "gz_maintainer", data)
        assert {k: p.code for k, p in err.value.problems.items()} == problems
        assert set(err.value.field_errors) == set(problems)
        row = task_row(db, enter)
        assert (row.status, row.data, row.completed_by_id) == ("ready", None, None)
        assert instance(db, iid).version == version
        assert story(pe, db, iid) == history
        assert (count(db, Circuit), count(db, Incident), count(db, KpiStep)) == (0, 0, 0)
    assert [task_row(db, t).node_id for t in complete(pe, db, enter, "gz_maintainer", entered([CIRCUIT_A]))] == [
        "audit"]
    assert [c[0] for c in circuits(db)] == ["GDGZ-ZX-7001"]


# -- a circuit owned by another order ------------------------------------------------------------------------
def test_a_circuit_registered_to_another_order_stops_the_registration_with_an_incident(pe, db, clock):
    first, started = start(pe, db, "INS-0003")
    only(complete(pe, db, only(started), "gz_maintainer", entered([CIRCUIT_A, CIRCUIT_B])))
    clock.advance(hours=1)
    second, started = start(pe, db, "INS-0004", {**ORDER, "customer": "广州日报", "contract_no": "HT2026030202"})
    enter = only(started)
    clock.advance(minutes=20)

    # the second order enters 7002, which belongs to the first: the step fails, the entry itself is kept
    assert complete(pe, db, enter, "mike", entered([CIRCUIT_C, CIRCUIT_B])) == []
    with db.sessions() as s:
        (incident,) = pe.management.incidents(s)
    assert (incident.instance_id, incident.node_id, incident.kind, incident.status) == (
        second, "register", "handler", "open")
    assert "circuit GDGZ-ZX-7002 is already registered to work order INS-0003" in incident.message
    assert rows_of(db, second) == [("enter", "completed")]
    assert instance(db, second).status == "running"
    assert story(pe, db, second) == [("instance_started", None), ("task_created", "enter"),
                                     ("task_completed", "enter"), ("handler_failed", "register")]
    with db.sessions() as s:
        (failed,) = [e for e in pe.history.timeline(s, second) if e.event_type == "handler_failed"]
        assert "GDGZ-ZX-7002" in failed.payload["message"]
    # nothing of the second order reached the inventory; the first order's circuits are untouched
    assert [(c[0], c[1], c[2]) for c in circuits(db)] == [("GDGZ-ZX-7001", "INS-0003", first),
                                                          ("GDGZ-ZX-7002", "INS-0003", first)]

    # a retry cannot succeed while the circuit belongs to the first order: the incident stays open
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident.id, actor=user(s, pe, "admin"))
    with db.sessions() as s:
        again = s.get(Incident, incident.id)
        assert again is not None
        assert (again.status, again.attempts) == ("open", 2)
    assert [(c[0], c[1]) for c in circuits(db)] == [("GDGZ-ZX-7001", "INS-0003"), ("GDGZ-ZX-7002", "INS-0003")]
    assert rows_of(db, second) == [("enter", "completed")]
    assert clock.now - instance(db, second).started_at == timedelta(minutes=20)
