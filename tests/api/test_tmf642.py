"""TMF642 alarms from a network manager against the real app on both databases: a service-affecting alarm on a
customer's registered circuit opens a trouble ticket and its 售后故障 order; its repeat and another alarm on the
same circuit do not open more; the clear adds a 批注 and 恢复回单 offers its time; the rules decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.history.models import HistoryEvent
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from handlers.resources.inventory import register_circuits
from tests.api.conftest import Caller, engine_of, make_client
from tests.conftest import Database, user
from tests.web.conftest import csrf_token, make_web_app
from tests.web.test_e2e_queue import ACCEPT, HANDLE

BASE = "/tmf-api/alarmManagement/v4"
TICKETS = "/tmf-api/troubleTicket/v4"
CIRCUIT = "GZ-ZX-0001"
ALARM: dict[str, Any] = {
    "externalAlarmId": "NMS-GZ-000001", "alarmType": "communicationsAlarm", "perceivedSeverity": "critical",
    "probableCause": "lossOfSignal", "specificProblem": "光口无光", "alarmedObject": {"id": CIRCUIT},
    "alarmedObjectType": "circuit", "sourceSystemId": "华为U2000", "state": "raised",
    "alarmRaisedTime": "2026-03-02T02:00:00Z", "serviceAffecting": True, "@type": "Alarm",
}


def alarm(**changes: Any) -> dict[str, Any]:
    return {**ALARM, **changes}


def circuit_of_customer(app: Flask, db: Database, circuit_id: str = CIRCUIT, customer: str = "广州地铁") -> None:
    """A circuit in the inventory, registered by a 服务开通 order of ``customer`` in Guangzhou."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        data = {"order_no": f"CRM-{circuit_id}", "customer": customer, "customer_phone": "13912345678",
                "region": "GZ", "service": "专线", "bandwidth": "100M", "address": "广州市天河区"}
        started = pe.runtime.start(s, "provisioning", business_key=f"KT-{circuit_id}",
                                   actor=user(s, pe, "gz_order_auditor"), data=data)
        register_circuits(s, [{"circuit_id": circuit_id, "a_end": "天河机房", "z_end": "客户机房",
                               "bandwidth": "100M"}], business_key=started.instance.business_key,
                          instance_id=started.instance.id, customer=customer, now=pe.ctx.clock())


def faults(db: Database) -> list[ProcessInstance]:
    with db.sessions() as s:
        return list(s.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "aftersales_fault")))


@pytest.fixture
def nms(web_app: Flask, db: Database) -> Caller:
    circuit_of_customer(web_app, db)
    return make_client(web_app, db, "nms-gz", ["tmf642", "tmf621"])


def test_an_alarm_opens_a_ticket_its_repeats_do_not_and_its_clear_is_noted(web_app: Flask, db: Database,
                                                                           nms: Caller):
    raised = nms("POST", f"{BASE}/alarm", alarm())
    assert raised.status_code == 201, raised.get_json()
    body = raised.get_json()
    assert raised.headers["Location"] == body["href"] and body["state"] == "raised"
    (ticket_ref,) = body["relatedEntity"]
    assert ticket_ref["@referredType"] == "TroubleTicket"
    (order,) = faults(db)
    assert (order.business_key, order.customer, order.customer_phone) == (ticket_ref["id"], "广州地铁", "13912345678")
    ticket = nms("GET", f"{TICKETS}/troubleTicket/{ticket_ref['id']}").get_json()
    assert ticket["status"] == "acknowledged" and ticket["severity"].lower() == "critical"
    assert {e["role"]: e["id"] for e in ticket["relatedEntity"]}["circuit"] == CIRCUIT

    # the network manager sends it again: the same alarm, counted; no second order
    again = nms("POST", f"{BASE}/alarm", alarm(alarmChangedTime="2026-03-02T02:05:00Z"))
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    assert any("repeated 1" in c["comment"] for c in again.get_json()["comment"])
    # another alarm on the same circuit while the ticket is open: linked to it, no second order
    other = nms("POST", f"{BASE}/alarm", alarm(externalAlarmId="NMS-GZ-000002", probableCause="linkDown"))
    assert other.status_code == 201 and other.get_json()["relatedEntity"][0]["id"] == ticket_ref["id"]
    assert len(faults(db)) == 1
    with db.sessions() as s:
        notes = [e.payload["text"] for e in s.scalars(select(HistoryEvent).where(
            HistoryEvent.instance_id == order.id, HistoryEvent.event_type == "task_annotated"))]
    assert any("关联告警" in n and "linkDown" in n for n in notes), notes

    # the fault is accepted and handled; the alarm clears; 恢复回单 offers the clear time
    pe = engine_of(web_app)
    for node, username, data in (("accept", "gz_dispatcher", ACCEPT), ("handle", "gz_maintainer", HANDLE)):
        with db.sessions.begin() as s:
            row = s.scalars(select(HumanTask).where(HumanTask.instance_id == order.id, HumanTask.node_id == node,
                                                    HumanTask.status == "ready")).one()
            pe.tasks.complete(s, row.id, user(s, pe, username), data)
    cleared = nms("PATCH", f"{BASE}/alarm/{body['id']}",
                  {"state": "cleared", "alarmClearedTime": "2026-03-02T04:30:00Z"})
    assert cleared.status_code == 200, cleared.get_json()
    assert (cleared.get_json()["state"], cleared.get_json()["perceivedSeverity"]) == ("cleared", "cleared")
    with db.sessions() as s:
        receipt = s.scalars(select(HumanTask).where(HumanTask.instance_id == order.id, HumanTask.node_id == "receipt",
                                                    HumanTask.status == "ready")).one()
        notes = [e.payload["text"] for e in s.scalars(select(HistoryEvent).where(
            HistoryEvent.human_task_id == receipt.id, HistoryEvent.event_type == "task_annotated"))]
    assert any("已清除" in n and "2026-03-02 12:30:00" in n for n in notes), notes
    page = web_app.test_client()
    token = csrf_token(page.get("/auth/login").get_data(as_text=True))
    page.post("/auth/login", data={"username": "gz_maintainer", "password": "secret123", "csrf_token": token})
    html = page.get(f"/tasks/{receipt.id}").get_data(as_text=True)
    assert "2026-03-02T12:30" in html  # Beijing time of 04:30Z, offered as 恢复时间

    stranger = make_client(web_app, db, "nms-sz", ["tmf642"])
    assert stranger("GET", f"{BASE}/alarm/{body['id']}").status_code == 404  # not its alarm: as if missing
    listed = nms("GET", f"{BASE}/alarm", query_string={"state": "cleared"})
    assert [a["id"] for a in listed.get_json()] == [body["id"]] and listed.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize(("changes", "why"), [
    ({"perceivedSeverity": "minor"}, "a minor alarm"),
    ({"serviceAffecting": False}, "not service-affecting"),
    ({"alarmedObject": {"id": "GZ-NO-SUCH"}}, "not a registered circuit"),
    ({"state": "cleared"}, "reported already cleared"),
])
def test_alarms_the_rules_do_not_ticket(web_app: Flask, db: Database, nms: Caller, changes: dict[str, Any],
                                        why: str):
    answer = nms("POST", f"{BASE}/alarm", alarm(**changes))
    assert answer.status_code == 201, (why, answer.get_json())
    assert "relatedEntity" not in answer.get_json() and faults(db) == [], why


def test_vip_only_rule(db: Database, tmp_path: Path, deploy_flows):  # type: ignore[no-untyped-def]
    app = make_web_app(db, tmp_path, EOMS_ALARM_VIP_ONLY="true")
    deploy_flows(engine_of(app))
    circuit_of_customer(app, db)
    nms = make_client(app, db, "nms-vip", ["tmf642", "tmf621"])
    assert "relatedEntity" not in nms("POST", f"{BASE}/alarm", alarm()).get_json()
    assert faults(db) == []


@pytest.mark.parametrize(("changes", "field"), [
    ({"alarmType": "spaceAlarm"}, "alarmType"),
    ({"perceivedSeverity": "catastrophic"}, "perceivedSeverity"),
    ({"alarmRaisedTime": "yesterday"}, "alarmRaisedTime"),
    ({"alarmedObject": {}}, "alarmedObject.id"),
    ({"serviceAffecting": "maybe"}, "serviceAffecting"),
    ({"id": "7"}, "id"),
])
def test_bad_alarms_are_refused_and_nothing_stored(web_app: Flask, db: Database, nms: Caller,
                                                   changes: dict[str, Any], field: str):
    answer = nms("POST", f"{BASE}/alarm", alarm(**changes))
    assert answer.status_code == 400 and field in answer.get_json()["details"]["fields"], answer.get_json()
    missing = nms("POST", f"{BASE}/alarm", {k: v for k, v in ALARM.items() if k != "sourceSystemId"})
    assert missing.status_code == 400 and "sourceSystemId" in missing.get_json()["details"]["fields"]
    assert nms("GET", f"{BASE}/alarm").get_json() == [] and faults(db) == []
    with db.sessions() as s:
        fault_tasks = select(func.count()).select_from(HumanTask).where(HumanTask.process_key == "aftersales_fault")
        assert s.scalar(fault_tasks) == 0
