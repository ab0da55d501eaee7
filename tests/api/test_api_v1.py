"""The engine API (``/api/v1``) against the real app on both databases: a 售后故障 goes from report to archive
through the API alone, each step done by a client acting as that step's post holder; a colleague's client meets
409s, a user who may not see a work order meets 404s, a client without a scope 403s; analysts deploy (refused
files store nothing); signals and messages reach waiting work orders; administrators list and retry incidents;
and every /api/v1 operation keeps to its OpenAPI document under generated requests."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from handlers.dispatch import add_rule, remove_rule, rules
from tests.api.conftest import Caller, engine_of, make_client
from tests.api.test_tmf641 import count
from tests.conftest import Database, bpmn, user
from webapp.api.models import ApiCall, ApiClient
from webapp.api.openapi import operations

V1 = "/api/v1"
RW = ("engine.read", "engine.write")
FAULT = {"customer": "中山大学附属医院", "customer_phone": "13912345678", "vip": False, "circuit": "GD-GZ-ZX-1001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高",
         "description": "客户反映专线业务中断"}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实"}
HANDLE = {"progress": "已到场排查，定位光缆中断", "onsite": True}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆，业务恢复", "recovery_time": "2026-03-02T12:30"}
PDF = b"%PDF-1.4\n% fault report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
Clients = Callable[..., Caller]


def ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def refused(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert (response.status_code, body["code"]) == (status, code), body
    assert body["@type"] == "Error" and body["message"]
    return body


@pytest.fixture
def acting(api_client: Clients) -> Clients:
    """``acting(username, scopes=RW)`` → a client acting as that user (one per user and scopes)."""
    made: dict[tuple[str, tuple[str, ...]], Caller] = {}

    def caller(username: str, scopes: tuple[str, ...] = RW) -> Caller:
        if (username, scopes) not in made:
            name = f"{username.replace('_', '-')}-{len(made)}"
            made[(username, scopes)] = api_client(name, scopes, username=username)
        return made[(username, scopes)]

    return caller


def start_fault(caller: Caller, **data: Any) -> dict[str, Any]:
    return ok(caller("POST", f"{V1}/process-instances", {"processKey": "aftersales_fault", "data": {**FAULT, **data}}),
              201)


def task_ids(response: TestResponse) -> list[int]:
    return [t["id"] for t in ok(response, 200 if response.status_code == 200 else 206)]


def test_a_fault_goes_through_the_api_from_report_to_archive(db: Database, acting: Clients):
    dispatcher = acting("gz_dispatcher")

    # 故障申告: the start form refuses a bad phone number, naming the field, and nothing is stored
    bad = refused(dispatcher("POST", f"{V1}/process-instances", {"processKey": "aftersales_fault",
                                                                  "data": {**FAULT, "customer_phone": "12"}}),
                  422, "form.invalid")
    assert "customer_phone" in bad["details"]["fields"]
    assert count(db, ProcessInstance) == 0
    created = dispatcher("POST", f"{V1}/process-instances", {"processKey": "aftersales_fault", "data": FAULT})
    order = ok(created, 201)
    assert created.headers["Location"] == order["href"] == f"{V1}/process-instances/{order['id']}"
    assert order["businessKey"].startswith("GZ") and len(order["businessKey"]) == 19
    assert (order["status"], order["processName"], order["startedBy"], order["orgCode"]) == (
        "running", "售后故障", "gz_dispatcher", "GZ")
    assert order["startedAt"].endswith("Z") and order["endedAt"] is None
    assert order["data"]["customer"] == FAULT["customer"] and order["variables"] is None
    (accept,) = order["currentSteps"]
    assert (accept["nodeId"], accept["nodeName"], accept["post"], accept["orgCode"], accept["assignee"]) == (
        "accept", "故障受理", "dispatcher", "GZ", None)
    assert accept["dueAt"].endswith("Z") and 0 < accept["secondsLeft"] <= 30 * 60 and not accept["overdue"]

    # the queue: offered to the dispatchers' pool, then the dispatcher's own once claimed
    listed = dispatcher("GET", f"{V1}/tasks")
    assert task_ids(listed) == [accept["id"]] and listed.headers["X-Total-Count"] == "1"
    assert task_ids(dispatcher("GET", f"{V1}/tasks", query_string={"scope": "pool"})) == [accept["id"]]
    assert task_ids(dispatcher("GET", f"{V1}/tasks", query_string={"scope": "mine"})) == []
    claimed = ok(dispatcher("POST", f"{V1}/tasks/{accept['id']}/claim"))
    assert (claimed["assignee"], claimed["claimedAt"] is not None) == ("gz_dispatcher", True)
    assert task_ids(dispatcher("GET", f"{V1}/tasks", query_string={"scope": "mine"})) == [accept["id"]]
    task = ok(dispatcher("GET", f"{V1}/tasks/{accept['id']}"))
    assert (task["formKey"], task["offered"]) == ("fault_accept", True)
    assert {c["key"] for c in task["form"]["components"] if c.get("key")} >= {"fault_type", "priority"}
    assert task["data"]["fault_type"] == "中断"  # what the form starts from: the reported fault

    # 故障受理: the form refuses a missing field; done, 故障处理 goes to the maintainers; twice is a 409
    bad = refused(dispatcher("POST", f"{V1}/tasks/{accept['id']}/complete", {"data": {"priority": "紧急"}}),
                  422, "form.invalid")
    assert set(bad["details"]["fields"]) == {"fault_type"}
    done = ok(dispatcher("POST", f"{V1}/tasks/{accept['id']}/complete", {"data": ACCEPT}))
    assert (done["task"]["status"], done["task"]["completedBy"]) == ("completed", "gz_dispatcher")
    (handle,) = done["nextTasks"]
    assert (handle["nodeId"], handle["post"], handle["orgCode"]) == ("handle", "maintainer", "GZ")
    refused(dispatcher("POST", f"{V1}/tasks/{accept['id']}/complete", {"data": ACCEPT}), 409, "task.not_ready")

    # 故障处理: the maintainer takes it on; a colleague's client meets the claim; a 批注 goes into the history
    maintainer, mike = acting("gz_maintainer"), acting("mike")
    assert task_ids(maintainer("GET", f"{V1}/tasks")) == [handle["id"]]
    ok(maintainer("POST", f"{V1}/tasks/{handle['id']}/claim"))
    refused(mike("POST", f"{V1}/tasks/{handle['id']}/claim"), 409, "task.claimed_by_other")
    refused(mike("POST", f"{V1}/tasks/{handle['id']}/complete", {"data": HANDLE}), 409, "task.claimed_by_other")
    noted = maintainer("POST", f"{V1}/tasks/{handle['id']}/notes", {"text": "已联系客户，约定上门"})
    note = ok(noted, 201)
    assert noted.headers["Location"] == note["href"] and (note["author"], note["taskId"]) == (
        "gz_maintainer", handle["id"])
    (receipt,) = ok(maintainer("POST", f"{V1}/tasks/{handle['id']}/complete", {"data": HANDLE}))["nextTasks"]
    assert (receipt["nodeId"], receipt["assignee"]) == ("receipt", None)

    # 恢复回单 needs an uploaded report of an accepted type
    refused(maintainer("POST", f"{V1}/tasks/{receipt['id']}/complete", {"data": RECEIPT}), 422, "form.invalid")
    refused(maintainer("POST", f"{V1}/tasks/{receipt['id']}/attachments",
                       {"filename": "report.exe", "content": base64.b64encode(b"MZ").decode()}),
            422, "attachment.rejected")
    refused(maintainer("POST", f"{V1}/tasks/{receipt['id']}/attachments",
                       {"filename": "report.pdf", "content": "not base64!"}), 400, "api.bad_request")
    uploaded = maintainer("POST", f"{V1}/tasks/{receipt['id']}/attachments",
                          {"filename": "故障报告.pdf", "content": base64.b64encode(PDF).decode()})
    report = ok(uploaded, 201)
    assert uploaded.headers["Location"] == report["href"] and report["size"] == len(PDF)
    download = maintainer("GET", report["href"])
    assert download.status_code == 200 and download.data == PDF
    (audit,) = ok(maintainer("POST", f"{V1}/tasks/{receipt['id']}/complete",
                             {"data": {**RECEIPT, "report": [report["id"]]}}))["nextTasks"]
    assert (audit["nodeId"], audit["post"]) == ("audit", "receipt_auditor")

    # 回单审核 returns it (退回): 恢复回单 reopens for the maintainer who did it, who sends it again
    auditor = acting("gz_receipt_auditor")
    returned = ok(auditor("POST", f"{V1}/tasks/{audit['id']}/return", {"reason": "报告缺少现场照片"}))
    (again,) = returned["nextTasks"]
    assert (returned["task"]["status"], again["nodeId"], again["assignee"]) == ("returned", "receipt",
                                                                                "gz_maintainer")
    (audit2,) = ok(maintainer("POST", f"{V1}/tasks/{again['id']}/complete",
                              {"data": {**RECEIPT, "report": [report["id"]]}}))["nextTasks"]
    (callback,) = ok(auditor("POST", f"{V1}/tasks/{audit2['id']}/complete",
                             {"data": {"receipt_result": "pass"}}))["nextTasks"]
    assert (callback["nodeId"], callback["post"]) == ("callback", "customer_service")

    # 客户回访 → 归档
    service = acting("gz_customer_service")
    assert ok(service("POST", f"{V1}/tasks/{callback['id']}/complete",
                      {"data": {"satisfaction": "满意", "callback_note": "客户满意"}}))["nextTasks"] == []
    final = ok(dispatcher("GET", order["href"]))
    assert (final["status"], final["currentSteps"], final["endedAt"] is not None) == ("completed", [], True)
    assert [s["nodeId"] for s in final["steps"]] == ["accept", "handle", "receipt", "audit", "receipt", "audit",
                                                     "callback"]
    assert final["data"]["satisfaction"] == "满意" and final["data"]["cause"] == "光缆"
    history = ok(dispatcher("GET", f"{order['href']}/history"))
    kinds = [e["type"] for e in history]
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    assert {"task_claimed", "task_annotated", "task_returned", "attachment_added"} <= set(kinds)
    (annotated,) = [e for e in history if e["type"] == "task_annotated"]
    assert (annotated["actor"], annotated["payload"]["text"], annotated["taskId"]) == (
        "gz_maintainer", "已联系客户，约定上门", handle["id"])

    # the finished order in the search, by its filters; the dispatcher's done work
    search = {"processKey": "aftersales_fault", "status": "completed", "businessKey": order["businessKey"][:8]}
    found = ok(dispatcher("GET", f"{V1}/process-instances", query_string=search))
    assert [o["id"] for o in found] == [order["id"]] and found[0]["currentSteps"] == []
    assert ok(dispatcher("GET", f"{V1}/process-instances", query_string={"status": "running"})) == []
    assert task_ids(dispatcher("GET", f"{V1}/tasks", query_string={"scope": "done"})) == [accept["id"]]


def test_a_user_who_may_not_see_a_work_order_finds_nothing(db: Database, acting: Clients):
    order = start_fault(acting("gz_dispatcher"))
    (accept,) = order["currentSteps"]
    carol = acting("carol")  # a dispatcher in Shenzhen
    for method, path, body in [("GET", order["href"], None), ("GET", f"{order['href']}/history", None),
                               ("POST", f"{order['href']}/cancel", {"reason": "x"}),
                               ("GET", f"{V1}/tasks/{accept['id']}", None),
                               ("POST", f"{V1}/tasks/{accept['id']}/claim", None),
                               ("POST", f"{V1}/tasks/{accept['id']}/complete", {"data": ACCEPT}),
                               ("POST", f"{V1}/tasks/{accept['id']}/notes", {"text": "看看"})]:
        refused(carol(method, path, body), 404, "not_found")
    assert ok(carol("GET", f"{V1}/process-instances")) == []
    assert task_ids(carol("GET", f"{V1}/tasks")) == []
    # colleagues of the post, and the supervisors above Guangzhou, do see it
    assert ok(acting("alice")("GET", order["href"]))["id"] == order["id"]
    boss = ok(acting("boss")("GET", order["href"]))
    assert boss["variables"] is not None  # supervisors see the variables beside the business data
    # ids that cannot exist, and paths that are not ids, are the same 404
    refused(carol("GET", f"{V1}/tasks/99999999999"), 404, "not_found")
    refused(carol("GET", f"{V1}/process-instances/abc"), 404, "not_found")
    refused(carol("GET", f"{V1}/tasks", query_string={"overdue": "maybe"}), 400, "api.bad_request")
    refused(carol("GET", f"{V1}/process-instances", query_string={"startedAfter": "2026-03-02T10:00"}),
            400, "api.bad_request")


def test_scopes_decide_what_a_client_may_call(db: Database, acting: Clients, api_client: Clients):
    writer = acting("gz_dispatcher")
    order = start_fault(writer)
    task_id = order["currentSteps"][0]["id"]
    reader = acting("gz_dispatcher", ("engine.read",))
    assert ok(reader("GET", order["href"]))["id"] == order["id"]
    for method, path, body in [("POST", f"{V1}/process-instances", {"processKey": "aftersales_fault", "data": FAULT}),
                               ("POST", f"{V1}/tasks/{task_id}/claim", None),
                               ("POST", f"{V1}/tasks/{task_id}/complete", {"data": ACCEPT}),
                               ("POST", f"{order['href']}/cancel", {"reason": "撤销"}),
                               ("POST", f"{V1}/signals", {"name": "outage_cleared"}),
                               ("POST", f"{V1}/messages", {"name": "order_ready"}),
                               ("POST", f"{V1}/process-definitions", {"bpmn": "<x/>"})]:
        assert refused(reader(method, path, body), 403, "api.scope")["details"]["scope"] in (
            "engine.write", "engine.deploy")
    crm = api_client("crm-only", ("tmf641",))
    refused(crm("GET", f"{V1}/tasks"), 403, "api.scope")
    assert count(db, ProcessInstance) == 1


def test_cancel_paging_and_who_may_cancel(db: Database, acting: Clients):
    dispatcher, sup = acting("gz_dispatcher"), acting("sup")
    orders = [start_fault(dispatcher, customer=f"客户{n}") for n in range(3)]
    page = sup("GET", f"{V1}/process-instances", query_string={"offset": 1, "limit": 1})
    assert page.status_code == 206 and page.headers["X-Total-Count"] == "3"
    assert [o["id"] for o in page.get_json()] == [orders[1]["id"]]  # newest first
    page = sup("GET", f"{V1}/process-instances", query_string={"offset": 1, "limit": 2})
    assert [o["id"] for o in page.get_json()] == [orders[1]["id"], orders[0]["id"]]
    picked = ok(sup("GET", f"{V1}/process-instances", query_string={"customer": "客户2", "fields": "status"}))
    assert picked == [{"id": orders[2]["id"], "href": orders[2]["href"], "status": "running"}]
    refused(sup("GET", f"{V1}/process-instances", query_string={"limit": 500}), 400, "api.bad_request")
    far = sup("GET", f"{V1}/process-instances", query_string={"offset": 1000})
    assert (far.status_code, far.get_json(), far.headers["X-Total-Count"]) == (206, [], "3")
    refused(sup("GET", f"{V1}/tasks", query_string={"offset": 2**63}), 400, "api.bad_request")

    # 转派 to a colleague, who gives it back to the pool; a step that does not allow 退回 refuses it
    accept = orders[1]["currentSteps"][0]["id"]
    ok(dispatcher("POST", f"{V1}/tasks/{accept}/claim"))
    refused(dispatcher("POST", f"{V1}/tasks/{accept}/transfer", {"toUser": "alice", "toPost": "dispatcher",
                                                                 "reason": "换班"}), 422, "task.transfer_target")
    refused(dispatcher("POST", f"{V1}/tasks/{accept}/transfer", {"toUser": "alice"}), 400, "api.bad_request")
    moved = ok(dispatcher("POST", f"{V1}/tasks/{accept}/transfer", {"toUser": "alice", "reason": "换班"}))
    assert moved["assignee"] == "alice"
    alice = acting("alice")
    assert ok(alice("POST", f"{V1}/tasks/{accept}/unclaim"))["assignee"] is None
    refused(alice("POST", f"{V1}/tasks/{accept}/return", {"reason": "退回"}), 403, "task.action_not_allowed")

    target = orders[0]
    refused(dispatcher("POST", f"{target['href']}/cancel", {"reason": "客户撤单"}), 403, "not_allowed")
    refused(sup("POST", f"{target['href']}/cancel", {"reason": "   "}), 422, "input.invalid")
    cancelled = ok(sup("POST", f"{target['href']}/cancel", {"reason": "客户撤单"}))
    assert (cancelled["status"], cancelled["endReason"], cancelled["currentSteps"]) == ("cancelled", "客户撤单", [])
    assert cancelled["steps"][0]["status"] == "cancelled"
    refused(sup("POST", f"{target['href']}/cancel", {"reason": "再撤"}), 409, "instance.not_running")
    refused(dispatcher("POST", f"{V1}/tasks/{target['currentSteps'][0]['id']}/claim"), 409, "task.not_ready")


def test_analysts_deploy_and_a_refused_file_stores_nothing(db: Database, acting: Clients):
    analyst = acting("ana", ("engine.read", "engine.deploy"))
    plain_xml = bpmn("tasks/plain.bpmn").decode()
    deployed = analyst("POST", f"{V1}/process-definitions", {"bpmn": plain_xml, "filename": "plain.bpmn"})
    (one,) = ok(deployed, 201)["deployed"]
    assert (one["key"], one["version"], one["created"]) == ("plain", 1, True)
    assert deployed.headers["Location"] == one["href"] == f"{V1}/process-definitions/plain"
    assert ok(analyst("POST", f"{V1}/process-definitions", {"bpmn": plain_xml}))["deployed"][0]["created"] is False

    listed = ok(analyst("GET", f"{V1}/process-definitions"))
    assert {"plain", "aftersales_fault"} <= {d["key"] for d in listed}
    plain = ok(analyst("GET", one["href"]))
    assert (plain["version"], plain["deployedBy"], plain["startForm"], len(plain["versions"])) == (1, "ana", None, 1)
    fault = ok(analyst("GET", f"{V1}/process-definitions/aftersales_fault"))
    assert fault["startFormKey"] == "fault_start" and fault["startForm"]["components"]
    xml = analyst("GET", f"{one['href']}/bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/xml" and 'id="plain"' in xml.get_data(True)
    refused(analyst("GET", f"{one['href']}/bpmn", query_string={"version": 9}), 404, "not_found")
    refused(analyst("GET", f"{V1}/process-definitions/nope"), 404, "not_found")

    before = count(db, ProcessDefinition)
    broken = refused(analyst("POST", f"{V1}/process-definitions",
                             {"bpmn": bpmn("validation/malformed.bpmn").decode(), "filename": "malformed.bpmn"}),
                     422, "bpmn.invalid")
    assert broken["details"]["issues"] and {"rule", "message", "element_id"} <= set(broken["details"]["issues"][0])
    not_bpmn = refused(analyst("POST", f"{V1}/process-definitions", {"bpmn": "<definitions/>"}), 422, "bpmn.invalid")
    assert not_bpmn["details"]["issues"]
    assert count(db, ProcessDefinition) == before

    # a plain user may not deploy, whatever the client's scopes; nor read a diagram (supervisors may)
    alice = acting("alice", ("engine.read", "engine.write", "engine.deploy"))
    waiter = bpmn("conformance/signal_waiter.bpmn").decode()
    refused(alice("POST", f"{V1}/process-definitions", {"bpmn": waiter}), 403, "not_allowed")
    assert count(db, ProcessDefinition) == before
    refused(alice("GET", f"{one['href']}/bpmn"), 403, "not_allowed")
    assert acting("sup")("GET", f"{one['href']}/bpmn").status_code == 200
    refused(acting("ana", ("engine.read",))("POST", f"{V1}/process-definitions", {"bpmn": waiter}),
            403, "api.scope")
    # a flow without a start form but with a plain start event may be started by another tool; one whose start
    # waits for a signal is started by the signal only
    assert alice("POST", f"{V1}/process-instances", {"processKey": "plain"}).status_code == 201
    started_by_signal = bpmn("conformance/signal_started.bpmn").decode()
    ok(acting("ana", ("engine.read", "engine.deploy"))("POST", f"{V1}/process-definitions",
                                                        {"bpmn": started_by_signal}), 201)
    refused(alice("POST", f"{V1}/process-instances", {"processKey": "signal_started"}), 404, "not_found")


def test_signals_and_messages_reach_waiting_work_orders(web_app: Flask, db: Database, acting: Clients):
    analyst = acting("ana", ("engine.read", "engine.deploy"))
    for name in ("signal_waiter", "message_waiter"):
        ok(analyst("POST", f"{V1}/process-definitions",
                   {"bpmn": bpmn(f"conformance/{name}.bpmn").decode(), "filename": f"{name}.bpmn"}), 201)
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        alice = user(s, pe, "alice")
        ids = {key: pe.runtime.start(s, process, business_key=key, data={}, actor=alice).instance.id
               for process, key in (("signal_waiter", "W-1"), ("message_waiter", "M-1"), ("message_waiter", "M-2"))}
    sup = acting("sup")
    refused(acting("alice")("POST", f"{V1}/signals", {"name": "outage_cleared"}), 403, "not_allowed")

    signalled = ok(sup("POST", f"{V1}/signals", {"name": "outage_cleared", "data": {"cleared_by": "noc"}}))
    assert (signalled["woken"], signalled["wokenCount"], signalled["started"]) == ([ids["W-1"]], 1, [])
    assert [s["nodeId"] for s in ok(sup("GET", f"{V1}/process-instances/{ids['W-1']}"))["currentSteps"]] == [
        "notify"]
    assert ok(sup("POST", f"{V1}/signals", {"name": "nobody_waits"}))["wokenCount"] == 0

    # a message to the work order it names; again, it no longer waits (409); unknown is a 404
    sent = ok(sup("POST", f"{V1}/messages", {"name": "order_ready", "businessKey": "M-2", "data": {"ok": True}}))
    assert sent["woken"] == [ids["M-2"]]
    refused(sup("POST", f"{V1}/messages", {"name": "order_ready", "instanceId": ids["M-2"]}), 409,
            "instance.not_waiting")
    refused(sup("POST", f"{V1}/messages", {"name": "order_ready", "businessKey": "NOPE"}), 404, "not_found")
    refused(acting("alice")("POST", f"{V1}/messages", {"name": "order_ready", "businessKey": "M-1"}),
            403, "not_allowed")
    # without a target: the first work order waiting for it
    assert ok(sup("POST", f"{V1}/messages", {"name": "order_ready"}))["woken"] == [ids["M-1"]]
    steps = ok(sup("GET", f"{V1}/process-instances/{ids['M-1']}"))["currentSteps"]
    assert [s["nodeId"] for s in steps] == ["ship"]
    history = ok(sup("GET", f"{V1}/process-instances/{ids['M-2']}/history"))
    assert "message_received" in [e["type"] for e in history]


def test_incidents_for_administrators(web_app: Flask, db: Database, acting: Clients):
    with db.sessions.begin() as s:  # no routing rule: 自动派单 fails after 故障受理
        for rule in rules(s):
            remove_rule(s, rule.id)
    dispatcher = acting("gz_dispatcher")
    order = start_fault(dispatcher)
    assert ok(dispatcher("POST", f"{V1}/tasks/{order['currentSteps'][0]['id']}/complete",
                         {"data": ACCEPT}))["nextTasks"] == []
    admin, sup = acting("admin"), acting("sup")
    (incident,) = ok(admin("GET", f"{V1}/incidents"))
    assert (incident["businessKey"], incident["nodeId"], incident["status"], incident["attempts"]) == (
        order["businessKey"], "route", "open", 1)
    assert ok(sup("GET", order["href"]))["openIncidents"] == 1
    refused(sup("GET", f"{V1}/incidents"), 403, "not_allowed")
    refused(dispatcher("GET", f"{V1}/incidents"), 403, "not_allowed")
    retry = f"{V1}/incidents/{incident['id']}/retry"
    refused(dispatcher("POST", retry), 403, "not_allowed")
    refused(admin("POST", f"{V1}/incidents/999999/retry"), 404, "not_found")

    failing = ok(admin("POST", retry))
    assert (failing["outcome"], failing["status"], failing["attempts"]) == ("failing", "open", 2)
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    resolved = ok(sup("POST", retry))  # the supervisor of the work order's unit may retry, as on its page
    assert (resolved["outcome"], resolved["status"], resolved["resolvedAt"] is not None) == ("resolved", "resolved",
                                                                                            True)
    refused(admin("POST", retry), 409, "incident.closed")
    assert ok(admin("GET", f"{V1}/incidents")) == []
    assert [i["status"] for i in ok(admin("GET", f"{V1}/incidents", query_string={"status": "all"}))] == [
        "resolved"]
    now = ok(sup("GET", order["href"]))
    assert (now["openIncidents"], [s["nodeId"] for s in now["currentSteps"]]) == (0, ["handle"])


EXAMPLES = int(os.environ.get("EOMS_API_EXAMPLES", "10"))  # per operation; more to search harder


def test_the_engine_api_keeps_to_its_document(web_app: Flask, db: Database):
    """Every /api/v1 operation, with generated requests (valid and invalid) as an administrator holding every
    engine scope: no 5xx, documented statuses, headers and shapes only."""
    caller = make_client(web_app, db, "fuzz-engine", ["engine.read", "engine.write", "engine.deploy"],
                         username="admin", rate=100_000)
    start_fault(caller)  # something to find
    http = web_app.test_client()
    doc = http.get(f"{V1}/openapi.json").get_json()
    documented = {(method, path) for path, ops in doc["paths"].items() if path.startswith(V1) for method in ops}
    assert len(documented) == len([op for op in operations(web_app) if op.blueprint.startswith("api_v1_")]) == 23
    assert ("post", f"{V1}/tasks/{{task_id}}/complete") in documented
    assert doc["components"]["schemas"]["EngineTask"]["properties"]["status"]["enum"] == [
        "ready", "completed", "returned", "cancelled"]
    page = http.get(f"{V1}/docs")
    assert page.status_code == 200 and f"{V1}/process-instances/{{instance_id}}/cancel" in page.get_data(True)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web_app)
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(V1):
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def run(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers={"Authorization": f"Bearer {caller.token}"},
                                   excluded_checks=[positive_data_acceptance])

        run()
        checked += 1
    assert checked >= 20
    with db.sessions() as s:  # the generated requests reached the views, through the client's token
        calls = s.scalar(select(func.count()).select_from(ApiCall).join(ApiClient)
                         .where(ApiClient.name == "fuzz-engine"))
    assert calls >= checked * 5, calls
