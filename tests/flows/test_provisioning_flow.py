"""The 服务开通 (provisioning) flow with the real handlers: 受理审核, automatic allocation of port/VLAN/IP from
the region's inventory (人工调度 when that fails), network activation as a durable job answering the waiting
instance with the message ``activation_result`` (retried, 人工开通 after the last failure), 开通测试, 竣工回单
and the CRM callbacks; cancelling an order frees its resources and tells CRM."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.errors import InvalidInput, NotAllowed
from engine.forms.validation import FormInvalid
from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit, Post
from engine.jobs.models import Job
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from engine.worker import TickReport, Worker
from handlers import build_registry
from handlers.crm.models import CrmMessage
from handlers.network import SimulatedNetworkManager
from handlers.network.models import NetworkConfig
from handlers.resources.inventory import add_resources
from handlers.resources.models import Resource
from tests.conftest import FakeClock, user
from tests.flows.conftest import instance

ORDER = {"order_no": "CRM-2026-00001", "customer": "广州塔", "customer_phone": "13600000001", "region": "GZ",
         "service": "互联网", "bandwidth": "100M", "address": "广州市海珠区阅江西路222号"}
PDF = b"%PDF-1.4\n% completion report\n%%EOF\n"
# the story of an order that goes through without a hitch: (event, node) in the order they happen
STORY = [
    ("instance_started", None),
    ("task_created", "audit"),
    ("task_completed", "audit"),
    ("step_completed", "allocate"),
    ("step_completed", "activate"),
    ("message_received", None),
    ("task_created", "test"),
    ("task_completed", "test"),
    ("task_created", "completion"),
    ("attachment_added", "completion"),
    ("task_completed", "completion"),
    ("step_completed", "done_notify"),
    ("instance_completed", None),
]
STORY_EVENTS = {e for e, _ in STORY}


# -- helpers -----------------------------------------------------------------------------------------------
@pytest.fixture
def make_pe(clock: FakeClock, storage: Path, deploy_flows):  # type: ignore[no-untyped-def]
    """An engine with the real handlers and a simulated network manager failing its first ``fail_first``
    calls; the flows are deployed with it. Returns (engine, manager)."""

    def _make(fail_first: int = 0, max_attempts: int = 3) -> tuple[ProcessEngine, SimulatedNetworkManager]:
        manager = SimulatedNetworkManager(fail_first=fail_first)
        registry = build_registry(network_manager=manager, network_max_attempts=max_attempts)
        engine = ProcessEngine(registry, clock=clock, attachments=AttachmentPolicy(storage))
        deploy_flows(engine)
        return engine, manager

    return _make


def stock(db, region: str = "GZ", count: int = 2, *, reserved: bool = False, kinds=("port", "vlan", "ip"),  # type: ignore[no-untyped-def]
          first: int = 1) -> dict[str, list[str]]:
    """Put ``count`` resources of each kind into a region's inventory; returns the values by kind."""
    values = {"port": [f"{region}-OLT1-GE0/0/{i}" for i in range(first, first + count)],
              "vlan": [str(100 + i) for i in range(first, first + count)],
              "ip": [f"10.1.{'9' if reserved else '0'}.{i}" for i in range(first, first + count)]}
    with db.sessions.begin() as s:
        for kind in kinds:
            assert add_resources(s, region, kind, values[kind], reserved=reserved) == count
    return {k: values[k] for k in kinds}


def start(pe: ProcessEngine, db, business_key: str = "PROV-0001", starter: str = "gz_order_auditor",  # type: ignore[no-untyped-def]
          **changes: Any) -> tuple[int, int]:
    """Start an order; its instance id and the id of its 受理审核 task."""
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "provisioning", business_key=business_key, data={**ORDER, **changes},
                                  actor=user(s, pe, starter))
        assert [t.node_id for t in result.tasks] == ["audit"]
        return result.instance.id, result.tasks[0].id


def open_tasks(db, instance_id: int) -> list[HumanTask]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.status == "ready").order_by(HumanTask.id)))


def task_rows(db, instance_id: int) -> list[HumanTask]:  # type: ignore[no-untyped-def]
    """Every task row of the instance, open or not, oldest first."""
    with db.sessions() as s:
        return list(s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)))


def the_task(db, instance_id: int, node_id: str) -> HumanTask:  # type: ignore[no-untyped-def]
    """The one open task of the instance, which must be ``node_id``."""
    rows = open_tasks(db, instance_id)
    assert [r.node_id for r in rows] == [node_id]
    return rows[0]


def complete(pe: ProcessEngine, db, instance_id: int, node_id: str, username: str,  # type: ignore[no-untyped-def]
             data: dict[str, Any]) -> list[str]:
    """Complete the open task ``node_id`` as ``username``; the node ids of the tasks that arrived."""
    row = the_task(db, instance_id, node_id)
    with db.sessions.begin() as s:
        return [t.node_id for t in pe.tasks.complete(s, row.id, user(s, pe, username), data)]


def tick(pe: ProcessEngine, db) -> TickReport:  # type: ignore[no-untyped-def]
    return Worker(pe, db.sessions, "test-worker").tick()


def resources(db, region: str = "GZ") -> dict[str, Resource]:  # type: ignore[no-untyped-def]
    """The region's resources by value."""
    with db.sessions() as s:
        return {r.value: r for r in s.scalars(select(Resource).where(Resource.region == region))}


def allocated_to(db, business_key: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """kind → value of what is allocated to a work order (a kind twice fails)."""
    with db.sessions() as s:
        rows = s.scalars(select(Resource).where(Resource.business_key == business_key,
                                                Resource.status == "allocated")).all()
    found = {r.kind: r.value for r in rows}
    assert len(found) == len(rows), f"{business_key} holds two resources of one kind"
    return found


def jobs(db, instance_id: int, kind: str | None = None) -> list[Job]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        query = select(Job).where(Job.instance_id == instance_id).order_by(Job.id)
        if kind:
            query = query.where(Job.kind == kind)
        return list(s.scalars(query))


def crm_messages(db, instance_id: int) -> list[CrmMessage]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(CrmMessage).where(CrmMessage.instance_id == instance_id)
                              .order_by(CrmMessage.id)))


def network_configs(db) -> list[NetworkConfig]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(NetworkConfig).order_by(NetworkConfig.id)))


def timeline(pe: ProcessEngine, db, instance_id: int) -> list[HistoryEvent]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(pe.history.timeline(s, instance_id))


def story(pe: ProcessEngine, db, instance_id: int) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [(e.event_type, e.node_id) for e in timeline(pe, db, instance_id) if e.event_type in STORY_EVENTS]


def open_incidents(db, instance_id: int) -> list[Incident]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(Incident).where(Incident.instance_id == instance_id,
                                                     Incident.status == "open")))


def post_code(db, row: HumanTask) -> str:  # type: ignore[no-untyped-def]
    """post@org unit a task is offered to."""
    with db.sessions() as s:
        post = s.get(Post, row.post_id)
        org = s.get(OrgUnit, row.org_unit_id)
        assert post is not None and org is not None
        return f"{post.code}@{org.code}"


def pass_audit(pe: ProcessEngine, db, instance_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return complete(pe, db, instance_id, "audit", "gz_order_auditor",
                    {"audit_result": "pass", "audit_reason": "资料齐全"})


def to_test(pe: ProcessEngine, db, business_key: str = "PROV-0001") -> int:  # type: ignore[no-untyped-def]
    """An order audited, allocated and activated: it waits at 开通测试."""
    iid, _ = start(pe, db, business_key)
    assert pass_audit(pe, db, iid) == []
    assert tick(pe, db).jobs_done == 1
    the_task(db, iid, "test")
    return iid


# -- the whole story ---------------------------------------------------------------------------------------
def test_happy_path_from_order_to_crm_completion(make_pe, db, clock):
    pe, manager = make_pe()
    pool = stock(db, count=2)
    iid, audit_id = start(pe, db)
    audit = the_task(db, iid, "audit")
    assert (audit.id, audit.node_name, audit.form_key) == (audit_id, "受理审核", "prov_audit")
    assert post_code(db, audit) == "order_auditor@GZ"
    with db.sessions() as s:  # offered to the auditor of Guangzhou, not to the one of Shenzhen
        assert [t.id for t in pe.tasks.query(s, user(s, pe, "gz_order_auditor")).items] == [audit_id]
        assert pe.tasks.query(s, user(s, pe, "sz_order_auditor")).total == 0

    # 受理: the first free port/VLAN/IP go to the order, activation is queued, the instance waits for it
    clock.advance(minutes=30)
    assert pass_audit(pe, db, iid) == []
    assert open_tasks(db, iid) == []
    assert instance(db, iid).status == "running"
    taken = {"port": pool["port"][0], "vlan": pool["vlan"][0], "ip": pool["ip"][0]}
    assert allocated_to(db, "PROV-0001") == taken
    inventory = resources(db)
    for value in taken.values():
        assert (inventory[value].instance_id, inventory[value].allocated_at) == (iid, clock.now)
    for kind in ("port", "vlan", "ip"):
        assert inventory[pool[kind][1]].status == "free"
    (activation,) = jobs(db, iid, "network.activate")
    assert (activation.status, activation.attempts, activation.max_attempts) == ("pending", 0, 3)
    assert activation.payload["config"] == {"service": "互联网", "bandwidth": "100M", **taken}
    assert activation.payload["reply"] == {"instance_id": iid, "message": "activation_result"}
    assert network_configs(db) == []

    # the worker runs the activation; its outcome moves the instance on to 开通测试
    clock.advance(minutes=1)
    report = tick(pe, db)
    assert (report.jobs_done, report.errors) == (1, 0)
    (activation,) = jobs(db, iid, "network.activate")
    assert (activation.status, activation.attempts) == ("done", 1)
    (config,) = network_configs(db)
    assert (config.business_key, config.instance_id, config.idempotency_key) == ("PROV-0001", iid,
                                                                                 activation.idempotency_key)
    assert config.config == {"service": "互联网", "bandwidth": "100M", **taken}
    assert manager.calls == 1
    test = the_task(db, iid, "test")
    assert post_code(db, test) == "network_operator@GZ"
    assert tick(pe, db).jobs_done == 0  # nothing left to do: the activation is not repeated
    assert len(network_configs(db)) == 1

    clock.advance(hours=1)
    assert complete(pe, db, iid, "test", "gz_network_operator", {"test_result": "pass", "test_note": "ping 通"}) \
        == ["completion"]
    completion = the_task(db, iid, "completion")
    assert post_code(db, completion) == "implementer@GZ"
    with db.sessions.begin() as s:
        report_file = pe.tasks.upload(s, completion.id, user(s, pe, "gz_implementer"), filename="竣工报告.pdf",
                                      data=PDF)
        report_id = report_file.id
    clock.advance(hours=1)
    assert complete(pe, db, iid, "completion", "gz_implementer",
                    {"completed_on": "2026-03-02", "completion_note": "已竣工", "completion_report": [report_id]}) == []
    done = instance(db, iid)
    assert (done.status, done.ended_at) == ("completed", clock.now)
    assert open_tasks(db, iid) == []
    with db.sessions() as s:
        stored = s.get(HumanTask, completion.id)
        assert stored is not None and stored.data == {"completed_on": "2026-03-02", "completion_note": "已竣工",
                                                      "completion_report": [report_id]}

    # CRM hears of the completed order once the worker delivers the callback
    (callback,) = jobs(db, iid, "crm.webhook")
    assert callback.status == "pending"
    assert crm_messages(db, iid) == []
    assert tick(pe, db).jobs_done == 1
    (message,) = crm_messages(db, iid)
    assert (message.event, message.business_key, message.status) == ("order_completed", "PROV-0001", "stored")
    assert message.payload == {"event": "order_completed", "order": "PROV-0001", "process": "provisioning",
                               "order_no": "CRM-2026-00001"}

    # the history reads as the story; the resources stay with the finished order
    assert story(pe, db, iid) == STORY
    assert allocated_to(db, "PROV-0001") == taken
    assert open_incidents(db, iid) == []


def test_audit_rejection_tells_crm_and_ends_in_refusal(make_pe, db):
    pe, _ = make_pe()
    stock(db)
    iid, _ = start(pe, db)
    assert complete(pe, db, iid, "audit", "gz_order_auditor",
                    {"audit_result": "reject", "audit_reason": "装机地址不在覆盖范围"}) == []
    assert instance(db, iid).status == "completed"
    assert open_incidents(db, iid) == []
    nodes = [e.node_id for e in timeline(pe, db, iid) if e.event_type == "step_completed"]
    assert nodes == ["reject_notify"]  # no allocation, no activation
    assert allocated_to(db, "PROV-0001") == {}
    assert jobs(db, iid, "network.activate") == []
    assert tick(pe, db).jobs_done == 1
    (message,) = crm_messages(db, iid)
    assert message.event == "order_rejected"
    assert message.payload == {"event": "order_rejected", "order": "PROV-0001", "process": "provisioning",
                               "order_no": "CRM-2026-00001", "reason": "装机地址不在覆盖范围"}
    with db.sessions() as s:  # the instance ended at the 退单 end event, not at 竣工
        state = s.get(ProcessInstance, iid)
        assert state is not None and '"end_rejected"' in state.state and '"done_notify"' not in state.state


def test_audit_rejection_without_a_reason(make_pe, db):
    """The 说明 field of prov_audit is optional: a rejection without it must reach CRM and end as 退单 too."""
    pe, _ = make_pe()
    iid, _ = start(pe, db)
    assert complete(pe, db, iid, "audit", "gz_order_auditor", {"audit_result": "reject"}) == []
    assert [i.message for i in open_incidents(db, iid)] == []
    assert instance(db, iid).status == "completed"
    assert tick(pe, db).jobs_done == 1
    assert [m.event for m in crm_messages(db, iid)] == ["order_rejected"]


def test_audit_form_is_checked(make_pe, db):
    pe, _ = make_pe()
    iid, _ = start(pe, db)
    for bad, field in (({}, "audit_result"), ({"audit_result": "maybe"}, "audit_result"),
                       ({"audit_result": "pass", "note": "x"}, "note")):
        with pytest.raises(FormInvalid) as caught:
            complete(pe, db, iid, "audit", "gz_order_auditor", bad)
        assert field in caught.value.field_errors
    the_task(db, iid, "audit")
    with pytest.raises(InvalidInput):
        start(pe, db, "PROV-0002", region="HK")  # not one of the regions of the start form


# -- allocation fails: 人工调度 ----------------------------------------------------------------------------
def test_empty_pool_goes_to_the_resource_dispatcher(make_pe, db):
    pe, _ = make_pe()
    iid, _ = start(pe, db)
    assert pass_audit(pe, db, iid) == ["manual"]
    manual = the_task(db, iid, "manual")
    assert (manual.node_name, manual.form_key) == ("人工调度", "prov_manual")
    assert post_code(db, manual) == "resource_dispatcher@GZ"
    with db.sessions() as s:
        assert [t.id for t in pe.tasks.query(s, user(s, pe, "gz_resource_dispatcher")).items] == [manual.id]
        assert pe.tasks.query(s, user(s, pe, "sz_resource_dispatcher")).total == 0
    assert jobs(db, iid) == []
    assert open_incidents(db, iid) == []


def test_allocation_is_all_or_nothing(make_pe, db):
    pe, _ = make_pe()
    pool = stock(db, kinds=("port", "vlan"))  # no IP addresses in Guangzhou
    stock(db, "SZ", kinds=("ip",))  # Shenzhen's do not help a Guangzhou order
    iid, _ = start(pe, db)
    assert pass_audit(pe, db, iid) == ["manual"]
    inventory = resources(db)
    for value in (*pool["port"], *pool["vlan"]):
        assert (inventory[value].status, inventory[value].business_key) == ("free", None)
    assert all(r.status == "free" for r in resources(db, "SZ").values())


def test_reserved_resources_only_by_hand(make_pe, db):
    """Reserved resources are never allocated automatically; a dispatcher who names a resource that is not free
    gets the task back; naming reserved ones moves the order on to activation."""
    pe, _ = make_pe()
    free = stock(db, count=1)
    reserved = stock(db, count=2, reserved=True, first=5)
    first, _ = start(pe, db, "PROV-0001")
    assert pass_audit(pe, db, first) == []  # takes the only free set
    assert allocated_to(db, "PROV-0001") == {k: v[0] for k, v in free.items()}
    iid, _ = start(pe, db, "PROV-0002")
    assert pass_audit(pe, db, iid) == ["manual"]
    assert allocated_to(db, "PROV-0002") == {}
    assert all(resources(db)[v].status == "reserved" for values in reserved.values() for v in values)

    # the port named is PROV-0001's: refused as a whole, the reserved VLAN and IP named with it stay reserved
    taken_port = free["port"][0]
    assert complete(pe, db, iid, "manual", "gz_resource_dispatcher",
                    {"port": taken_port, "vlan": int(reserved["vlan"][0]), "ip": reserved["ip"][0]}) == ["manual"]
    assert allocated_to(db, "PROV-0002") == {}
    assert allocated_to(db, "PROV-0001") == {k: v[0] for k, v in free.items()}
    inventory = resources(db)
    assert (inventory[reserved["vlan"][0]].status, inventory[reserved["ip"][0]].status) == ("reserved", "reserved")
    assert jobs(db, iid) == []
    # a value that is not in the inventory at all is refused the same way
    assert complete(pe, db, iid, "manual", "gz_resource_dispatcher",
                    {"port": "GZ-NOWHERE-1", "vlan": int(reserved["vlan"][0]), "ip": reserved["ip"][0]}) == ["manual"]
    manual_rows = [(r.node_id, r.status) for r in task_rows(db, iid) if r.node_id == "manual"]
    assert manual_rows == [("manual", "completed"), ("manual", "completed"), ("manual", "ready")]

    wanted = {"port": reserved["port"][1], "vlan": reserved["vlan"][1], "ip": reserved["ip"][1]}
    assert complete(pe, db, iid, "manual", "gz_resource_dispatcher",
                    {"port": wanted["port"], "vlan": int(wanted["vlan"]), "ip": wanted["ip"]}) == []
    assert allocated_to(db, "PROV-0002") == wanted
    assert resources(db)[reserved["port"][0]].status == "reserved"
    (activation,) = jobs(db, iid, "network.activate")
    assert activation.payload["config"] == {"service": "互联网", "bandwidth": "100M", **wanted}
    assert tick(pe, db).jobs_done == 2
    the_task(db, iid, "test")
    the_task(db, first, "test")
    assert {c.business_key: c.config["port"] for c in network_configs(db)} == {
        "PROV-0001": free["port"][0], "PROV-0002": wanted["port"]}


def test_manual_dispatch_form_is_checked(make_pe, db):
    pe, _ = make_pe()
    reserved = stock(db, count=1, reserved=True)
    iid, _ = start(pe, db)
    assert pass_audit(pe, db, iid) == ["manual"]
    good = {"port": reserved["port"][0], "vlan": int(reserved["vlan"][0]), "ip": reserved["ip"][0]}
    for change, field in (({"ip": "10.1.9.256"}, "ip"), ({"vlan": 4095}, "vlan"), ({"vlan": 1.5}, "vlan"),
                          ({"port": ""}, "port")):
        with pytest.raises(FormInvalid) as caught:
            complete(pe, db, iid, "manual", "gz_resource_dispatcher", {**good, **change})
        assert list(caught.value.field_errors) == [field]
    assert allocated_to(db, "PROV-0001") == {}
    assert complete(pe, db, iid, "manual", "gz_resource_dispatcher", {**good, "vlan": str(good["vlan"])}) == []
    assert allocated_to(db, "PROV-0001") == {k: str(v) for k, v in good.items()}


# -- network activation: retries, then 人工开通 --------------------------------------------------------------
def test_activation_fails_twice_then_succeeds_once(make_pe, db, clock):
    pe, manager = make_pe(fail_first=2)
    stock(db)
    iid, _ = start(pe, db)
    assert pass_audit(pe, db, iid) == []

    report = tick(pe, db)  # attempt 1 fails: due again 10 s later
    assert (report.jobs_done, report.jobs_retried) == (0, 1)
    (job,) = jobs(db, iid, "network.activate")
    assert (job.status, job.attempts, job.due_at) == ("pending", 1, clock.now + timedelta(seconds=10))
    assert "NetworkError" in (job.last_error or "")
    clock.advance(seconds=9)
    assert tick(pe, db).jobs_retried == 0  # not due yet
    clock.advance(seconds=1)
    assert tick(pe, db).jobs_retried == 1  # attempt 2 fails: due again 20 s later
    (job,) = jobs(db, iid, "network.activate")
    assert (job.status, job.attempts, job.due_at) == ("pending", 2, clock.now + timedelta(seconds=20))
    assert open_tasks(db, iid) == []
    assert network_configs(db) == []
    clock.advance(seconds=20)
    assert tick(pe, db).jobs_done == 1  # attempt 3 succeeds

    (job,) = jobs(db, iid, "network.activate")
    assert (job.status, job.attempts, job.last_error) == ("done", 3, None)
    (config,) = network_configs(db)
    assert (config.business_key, config.idempotency_key) == ("PROV-0001", job.idempotency_key)
    assert manager.calls == 3
    the_task(db, iid, "test")
    assert open_incidents(db, iid) == []
    received = [e.payload for e in timeline(pe, db, iid) if e.event_type == "message_received"]
    assert received == [{"message": "activation_result", "keys": ["ok", "result"]}]
    clock.advance(minutes=5)
    assert tick(pe, db).jobs_done == 0
    assert len(network_configs(db)) == 1


def test_activation_failing_past_the_limit_goes_to_manual_activation(make_pe, db, clock):
    pe, manager = make_pe(fail_first=10)
    stock(db)
    iid, _ = start(pe, db)
    assert pass_audit(pe, db, iid) == []
    for wait in (0, 10, 20):
        clock.advance(seconds=wait)
        assert tick(pe, db).jobs_retried == 1
    (job,) = jobs(db, iid, "network.activate")
    assert (job.status, job.attempts, job.max_attempts) == ("failed", 3, 3)
    assert manager.calls == 3
    assert network_configs(db) == []
    assert open_incidents(db, iid) == []  # the process has its own path for this: no incident
    manual = the_task(db, iid, "manual_activation")
    assert (manual.node_name, manual.form_key) == ("人工开通", "prov_manual_activation")
    assert post_code(db, manual) == "network_operator@GZ"
    failed = [e.payload for e in timeline(pe, db, iid) if e.event_type == "job_failed"]
    assert len(failed) == 1 and failed[0]["handled_by"] == "process" and failed[0]["job_id"] == job.id
    clock.advance(minutes=10)
    assert tick(pe, db).jobs_retried == 0  # a failed job is not tried again
    assert manager.calls == 3

    # the operator must tick the box and say what was done
    with pytest.raises(FormInvalid) as caught:
        complete(pe, db, iid, "manual_activation", "gz_network_operator",
                 {"configured": False, "activation_note": "手工下发配置"})
    assert list(caught.value.field_errors) == ["configured"]
    with pytest.raises(FormInvalid) as caught:
        complete(pe, db, iid, "manual_activation", "gz_network_operator", {"configured": True})
    assert list(caught.value.field_errors) == ["activation_note"]
    assert complete(pe, db, iid, "manual_activation", "gz_network_operator",
                    {"configured": True, "activation_note": "手工下发配置"}) == ["test"]
    assert complete(pe, db, iid, "test", "gz_network_operator", {"test_result": "pass"}) == ["completion"]


def test_failed_test_goes_back_to_manual_activation(make_pe, db):
    pe, _ = make_pe()
    stock(db)
    iid = to_test(pe, db)
    assert complete(pe, db, iid, "test", "gz_network_operator",
                    {"test_result": "reject", "test_note": "丢包 30%"}) == ["manual_activation"]
    assert complete(pe, db, iid, "manual_activation", "gz_network_operator",
                    {"configured": True, "activation_note": "更换光模块"}) == ["test"]
    assert complete(pe, db, iid, "test", "gz_network_operator", {"test_result": "pass"}) == ["completion"]
    assert complete(pe, db, iid, "completion", "gz_implementer", {"completed_on": "2026-03-03"}) == []
    assert instance(db, iid).status == "completed"
    nodes = [(r.node_id, r.status) for r in task_rows(db, iid)]
    assert nodes == [("audit", "completed"), ("test", "completed"), ("manual_activation", "completed"),
                     ("test", "completed"), ("completion", "completed")]
    assert len(network_configs(db)) == 1  # the network manager was not asked again


# -- cancelling an order -----------------------------------------------------------------------------------
def test_cancel_releases_resources_and_tells_crm(make_pe, db, clock):
    pe, _ = make_pe()
    pool = stock(db, count=1)
    iid = to_test(pe, db)
    taken = allocated_to(db, "PROV-0001")
    assert taken == {k: v[0] for k, v in pool.items()}
    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.runtime.cancel(s, iid, actor=user(s, pe, "gz_network_operator"), reason="客户撤单")
    with db.sessions.begin() as s, pytest.raises(InvalidInput):
        pe.runtime.cancel(s, iid, actor=user(s, pe, "sup"), reason="  ")
    assert allocated_to(db, "PROV-0001") == taken

    clock.advance(minutes=10)
    with db.sessions.begin() as s:
        pe.runtime.cancel(s, iid, actor=user(s, pe, "sup"), reason="客户撤单")
    ended = instance(db, iid)
    assert (ended.status, ended.end_reason, ended.ended_at) == ("cancelled", "客户撤单", clock.now)
    assert open_tasks(db, iid) == []
    assert [(r.node_id, r.status) for r in task_rows(db, iid)] == [("audit", "completed"), ("test", "cancelled")]
    for value in taken.values():
        row = resources(db)[value]
        assert (row.status, row.business_key, row.instance_id, row.allocated_at) == ("free", None, None, None)
    (callback,) = jobs(db, iid, "crm.webhook")
    assert (callback.status, callback.idempotency_key) == ("pending", f"crm:{iid}:cancelled")
    assert tick(pe, db).jobs_done == 1
    (message,) = crm_messages(db, iid)
    assert message.event == "order_cancelled"
    assert message.payload == {"event": "order_cancelled", "order": "PROV-0001", "process": "provisioning",
                               "reason": "客户撤单"}

    # the freed resources serve the next order
    other = to_test(pe, db, "PROV-0002")
    assert allocated_to(db, "PROV-0002") == taken
    assert other != iid


def test_cancel_before_any_allocation_still_tells_crm(make_pe, db):
    pe, _ = make_pe()
    pool = stock(db, count=1)
    iid, _ = start(pe, db)
    with db.sessions.begin() as s:
        pe.runtime.cancel(s, iid, actor=user(s, pe, "boss"), reason="重复下单")
    assert all(resources(db)[v].status == "free" for values in pool.values() for v in values)
    assert tick(pe, db).jobs_done == 1
    assert [(m.event, m.payload.get("reason")) for m in crm_messages(db, iid)] == [("order_cancelled", "重复下单")]


def test_cancel_while_activation_is_queued_does_not_configure_the_network(make_pe, db):
    """An order cancelled while its activation job waits: its resources are freed at once and go to the next
    order, so the cancelled order's queued job must not configure the network with them afterwards."""
    pe, _ = make_pe()
    pool = stock(db, count=1)
    iid, _ = start(pe, db)
    assert pass_audit(pe, db, iid) == []
    (job,) = jobs(db, iid, "network.activate")
    assert job.status == "pending"
    with db.sessions.begin() as s:
        pe.runtime.cancel(s, iid, actor=user(s, pe, "sup"), reason="客户撤单")
    assert allocated_to(db, "PROV-0001") == {}
    other, _ = start(pe, db, "PROV-0002")
    assert pass_audit(pe, db, other) == []
    assert allocated_to(db, "PROV-0002") == {k: v[0] for k, v in pool.items()}  # the same port, VLAN and IP

    report = tick(pe, db)
    assert report.errors == 0
    assert [m.event for m in crm_messages(db, iid)] == ["order_cancelled"]
    assert instance(db, iid).status == "cancelled"
    the_task(db, other, "test")
    # only the live order's configuration reaches the network
    assert [(c.business_key, c.config["port"]) for c in network_configs(db)] == [("PROV-0002", pool["port"][0])]
    (job,) = jobs(db, iid, "network.activate")
    assert job.status != "done"


def test_cancel_gives_reserved_resources_back_as_reserved(make_pe, db):
    """Resources kept for 人工调度 and assigned by hand go back to reserved, never to the free pool the
    automatic allocation takes from."""
    pe, _ = make_pe()
    reserved = stock(db, count=1, reserved=True, first=5)
    iid, _ = start(pe, db, "PROV-0001")
    assert pass_audit(pe, db, iid) == ["manual"]
    wanted = {k: v[0] for k, v in reserved.items()}
    assert complete(pe, db, iid, "manual", "gz_resource_dispatcher",
                    {"port": wanted["port"], "vlan": int(wanted["vlan"]), "ip": wanted["ip"]}) == []
    assert allocated_to(db, "PROV-0001") == wanted
    with db.sessions.begin() as s:
        pe.runtime.cancel(s, iid, actor=user(s, pe, "sup"), reason="客户撤单")
    for value in wanted.values():
        row = resources(db)[value]
        assert (row.status, row.business_key, row.instance_id) == ("reserved", None, None)
    other, _ = start(pe, db, "PROV-0002")
    assert pass_audit(pe, db, other) == ["manual"]  # still not taken automatically
