"""TMF641 Service Ordering against the real app on both databases: CRM's order starts 服务开通 once per
externalId, goes through the flow with its state, milestones and characteristics as TMF641 names them, can be
changed and cancelled (its resources go back), and bad input is refused with details, storing nothing. The
post holders work the order through the engine API, as another tool would for them."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.history.models import HistoryEvent
from engine.runtime.models import ProcessInstance
from handlers.resources.models import Resource
from handlers.tmf.models import ExternalOrder
from tests.api.conftest import Caller, make_client, tick
from tests.conftest import Database

BASE = "/tmf-api/serviceOrdering/v4"
ORDER: dict[str, Any] = {
    "externalId": "CRM-2026-000001",
    "description": "广州塔 100M 互联网专线",
    "category": "互联网",
    "priority": "1",
    "notificationContact": "13600000001",
    "relatedParty": [{"id": "C-88", "name": "广州塔", "role": "customer", "@referredType": "Organization"}],
    "serviceOrderItem": [{
        "id": "1", "action": "add", "@type": "ServiceOrderItem",
        "service": {"serviceType": "互联网", "@type": "Service", "serviceCharacteristic": [
            {"name": "region", "value": "GZ"}, {"name": "bandwidth", "value": "100M"},
            {"name": "aEndAddress", "value": "广州市海珠区阅江西路222号"}]}}],
    "@type": "ServiceOrder",
}


def order(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    body.update(changes)
    return body


def count(db: Database, model: type) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def holder(app: Flask, db: Database, username: str) -> Caller:
    """The post holder ``username`` as another tool would act for them: an engine API client of theirs."""
    callers: dict[str, Caller] = app.config.setdefault("HOLDERS", {})
    if username not in callers:
        callers[username] = make_client(app, db, f"as-{username.replace('_', '-')}", ["engine.read", "engine.write"],
                                        username=username)
    return callers[username]


def open_step(app: Flask, db: Database, business_key: str, node_id: str, username: str) -> dict[str, Any]:
    """The order's open step ``node_id`` in ``username``'s queue, through the engine API."""
    tasks = holder(app, db, username)("GET", "/api/v1/tasks", query_string={
        "businessKey": business_key, "nodeId": node_id, "scope": "inbox"})
    assert tasks.status_code == 200, tasks.get_json()
    (task,) = tasks.get_json()
    return task


def complete_step(app: Flask, db: Database, business_key: str, node_id: str, username: str,
                  data: dict[str, Any]) -> None:
    """A post holder does the order's open step ``node_id`` through the engine API (``/api/v1``)."""
    task = open_step(app, db, business_key, node_id, username)
    done = holder(app, db, username)("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})
    assert done.status_code == 200, done.get_json()


def upload_to_step(app: Flask, db: Database, business_key: str, node_id: str, username: str, filename: str,
                   content: bytes) -> int:
    """A file for the open step, through the engine API; its attachment id."""
    task = open_step(app, db, business_key, node_id, username)
    sent = holder(app, db, username)("POST", f"/api/v1/tasks/{task['id']}/attachments",
                                     {"filename": filename, "content": base64.b64encode(content).decode()})
    assert sent.status_code == 201, sent.get_json()
    return int(sent.get_json()["id"])


def test_an_order_goes_in_once_and_through_the_flow(web_app: Flask, db: Database, crm: Caller, stocked: None):
    created = crm("POST", f"{BASE}/serviceOrder", order())
    assert created.status_code == 201, created.get_json()
    so = created.get_json()
    assert created.headers["Location"] == so["href"] == f"{BASE}/serviceOrder/{so['id']}"
    assert so["id"].startswith("KT") and so["externalId"] == "CRM-2026-000001"
    assert so["state"] == "acknowledged" and so["@type"] == "ServiceOrder"
    assert so["relatedParty"][0]["name"] == "广州塔"
    (item,) = so["serviceOrderItem"]
    assert (item["id"], item["action"], item["state"]) == ("1", "add", "acknowledged")
    assert {c["name"]: c["value"] for c in item["service"]["serviceCharacteristic"]} == {
        "region": "GZ", "serviceType": "互联网", "bandwidth": "100M", "aEndAddress": "广州市海珠区阅江西路222号"}
    assert so["milestone"] == [] and so["jeopardyAlert"] == []

    # the same externalId again (even with another body) is the same order: 200, no second instance
    again = crm("POST", f"{BASE}/serviceOrder", order(description="重复"))
    assert again.status_code == 200 and again.get_json()["id"] == so["id"]
    assert count(db, ProcessInstance) == 1
    with db.sessions() as s:
        instance = s.scalars(select(ProcessInstance)).one()
        assert (instance.process_key, instance.business_key, instance.customer) == ("provisioning", so["id"], "广州塔")

    # 受理审核 passes: resources are allocated, the order is in progress with its first milestone
    complete_step(web_app, db, so["id"], "audit", "gz_order_auditor", {"audit_result": "pass", "audit_reason": "齐全"})
    now = crm("GET", f"{BASE}/serviceOrder/{so['id']}").get_json()
    assert now["state"] == "inProgress"
    assert [m["name"] for m in now["milestone"]] == ["受理审核"]
    chars = {c["name"]: c["value"] for c in now["serviceOrderItem"][0]["service"]["serviceCharacteristic"]}
    assert (chars["port"], chars["vlan"], chars["ip"]) == ("GZ-OLT1-GE0/0/1", "101", "10.1.0.1")

    tick(web_app, db)  # the network activation answers; 开通测试 and 竣工回单 follow
    complete_step(web_app, db, so["id"], "test", "gz_network_operator", {"test_result": "pass", "test_note": "通"})
    report = upload_to_step(web_app, db, so["id"], "completion", "gz_implementer", "竣工.pdf", b"%PDF-1.4\n%%EOF\n")
    complete_step(web_app, db, so["id"], "completion", "gz_implementer",
                  {"completed_on": "2026-03-02", "completion_note": "已竣工", "completion_report": [report]})
    done = crm("GET", f"{BASE}/serviceOrder/{so['id']}").get_json()
    assert done["state"] == "completed" and done["serviceOrderItem"][0]["state"] == "completed"
    assert done["serviceOrderItem"][0]["service"]["state"] == "active"
    assert [m["name"] for m in done["milestone"]] == ["受理审核", "开通测试", "竣工回单"]
    assert "completionDate" in done

    # the list: filters, paging headers, field selection
    listed = crm("GET", f"{BASE}/serviceOrder", query_string={"state": "completed,inProgress"})
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert crm("GET", f"{BASE}/serviceOrder", query_string={"externalId": "nope"}).get_json() == []
    picked = crm("GET", f"{BASE}/serviceOrder/{so['id']}", query_string={"fields": "state"}).get_json()
    assert picked == {"id": so["id"], "href": so["href"], "state": "completed", "@type": "ServiceOrder"}


def test_a_rejected_order_and_paging(web_app: Flask, db: Database, crm: Caller, stocked: None):
    ids = [crm("POST", f"{BASE}/serviceOrder", order(externalId=f"CRM-PAGE-{n:04d}")).get_json()["id"]
           for n in range(3)]
    complete_step(web_app, db, ids[0], "audit", "gz_order_auditor",
                  {"audit_result": "reject", "audit_reason": "缺资料"})
    assert crm("GET", f"{BASE}/serviceOrder/{ids[0]}").get_json()["state"] == "rejected"
    page = crm("GET", f"{BASE}/serviceOrder", query_string={"offset": 1, "limit": 1})
    assert page.status_code == 206
    assert (page.headers["X-Total-Count"], page.headers["X-Result-Count"]) == ("3", "1")
    assert [o["id"] for o in page.get_json()] == [ids[1]]  # newest first
    assert crm("GET", f"{BASE}/serviceOrder", query_string={"limit": 0}).status_code == 400
    assert crm("GET", f"{BASE}/serviceOrder", query_string={"state": "bogus"}).status_code == 400


def test_patch_adds_notes_to_the_open_step_and_refuses_the_rest(web_app: Flask, db: Database, crm: Caller,
                                                                stocked: None):
    so = crm("POST", f"{BASE}/serviceOrder", order()).get_json()
    changed = crm("PATCH", f"{BASE}/serviceOrder/{so['id']}", {
        "description": "改为 200M", "note": [{"text": "客户要求周五前开通", "author": "张经理"}]})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["description"] == "改为 200M" and body["note"][-1]["text"] == "客户要求周五前开通"
    with db.sessions() as s:
        notes = s.scalars(select(HistoryEvent).where(HistoryEvent.event_type == "task_annotated")).all()
        assert [n.payload.get("text") for n in notes] == ["CRM（张经理）：客户要求周五前开通"]
    for forbidden in ({"state": "completed"}, {"serviceOrderItem": []}, {"externalId": "X"}, {"id": "1"}):
        refused = crm("PATCH", f"{BASE}/serviceOrder/{so['id']}", forbidden)
        assert refused.status_code == 400, forbidden
        assert set(refused.get_json()["details"]["fields"]) == set(forbidden)
    assert crm("GET", f"{BASE}/serviceOrder/{so['id']}").get_json()["description"] == "改为 200M"


def test_cancel_releases_the_resources(web_app: Flask, db: Database, crm: Caller, stocked: None):
    so = crm("POST", f"{BASE}/serviceOrder", order()).get_json()
    complete_step(web_app, db, so["id"], "audit", "gz_order_auditor", {"audit_result": "pass", "audit_reason": "齐全"})
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Resource).where(Resource.status == "allocated")) == 3
    cancelled = crm("POST", f"{BASE}/cancelServiceOrder", {"serviceOrder": {"id": so["id"]},
                                                          "cancellationReason": "客户撤单"})
    assert cancelled.status_code == 201, cancelled.get_json()
    cso = cancelled.get_json()
    assert cso["state"] == "done" and cso["serviceOrder"]["id"] == so["id"]
    assert crm("GET", f"{BASE}/cancelServiceOrder/{cso['id']}").get_json() == cso
    now = crm("GET", f"{BASE}/serviceOrder/{so['id']}").get_json()
    assert (now["state"], now["cancellationReason"]) == ("cancelled", "CRM：客户撤单")
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Resource).where(Resource.status == "allocated")) == 0
    again = crm("POST", f"{BASE}/cancelServiceOrder", {"serviceOrder": {"id": so["id"]}})
    assert again.status_code == 409 and again.get_json()["code"] == "instance.not_running"
    assert crm("PATCH", f"{BASE}/serviceOrder/{so['id']}", {"description": "x"}).status_code == 409


@pytest.mark.parametrize(("body", "status", "field"), [
    ({k: v for k, v in ORDER.items() if k != "serviceOrderItem"}, 400, "serviceOrderItem"),
    (order(serviceOrderItem=[{"id": "1", "action": "upgrade", "service": {}}]), 400, "serviceOrderItem[0].action"),
    (order(state="completed"), 400, "state"),
    (order(priority=3), 400, "priority"),
    (order(relatedParty=[{"id": "C-1", "role": "customer"}]), 400, "relatedParty[0].@referredType"),
    (order(relatedParty=[]), 422, "relatedParty"),
    (order(notificationContact="12345"), 422, "notificationContact"),
    (order(externalId="bad id!"), 422, "externalId"),
    (order(serviceOrderItem=[{"id": "1", "action": "delete", "service": {"serviceType": "互联网"}}]), 422,
     "serviceOrderItem.action"),
])
def test_bad_orders_are_refused_with_details_and_nothing_stored(web_app: Flask, db: Database, crm: Caller,
                                                                body: dict[str, Any], status: int, field: str):
    answer = crm("POST", f"{BASE}/serviceOrder", body)
    assert answer.status_code == status, answer.get_json()
    error = answer.get_json()
    assert error["@type"] == "Error" and error["status"] == str(status) and error["code"]
    assert field in error["details"]["fields"], error
    assert count(db, ProcessInstance) == 0 and count(db, ExternalOrder) == 0


def test_tokens_scopes_and_other_clients(web_app: Flask, db: Database, crm: Caller, api_client):  # type: ignore[no-untyped-def]
    so = crm("POST", f"{BASE}/serviceOrder", order()).get_json()
    http = web_app.test_client()
    for headers, reason in (({}, "missing"), ({"Authorization": "Bearer eoms_wrong"}, "invalid"),
                            ({"Authorization": "Basic Zm9vOmJhcg=="}, "missing")):
        refused = http.get(f"{BASE}/serviceOrder/{so['id']}", headers=headers)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.get_json()["details"] == {"token": reason}
    tickets_only = api_client("call-centre", ["tmf621"])
    assert tickets_only("GET", f"{BASE}/serviceOrder").status_code == 403
    other = api_client("crm-sz", ["tmf641"])
    assert other("GET", f"{BASE}/serviceOrder/{so['id']}").status_code == 404  # not its order: as if missing
    assert other("GET", f"{BASE}/serviceOrder").get_json() == []
    same_number = other("POST", f"{BASE}/serviceOrder", order())  # its own order with the same number is its own
    assert same_number.status_code == 201 and same_number.get_json()["id"] != so["id"]
    assert crm("GET", f"{BASE}/serviceOrder/NOPE").status_code == 404
    assert crm("DELETE", f"{BASE}/serviceOrder/{so['id']}").status_code == 405
    assert crm("GET", "/tmf-api/nothing/here").status_code == 404
    for size_mb in (5, 30):  # an order is a few kB; 5 MB is refused before it is read
        huge = crm("POST", f"{BASE}/serviceOrder", data=b"{" + b" " * (size_mb * 1024 * 1024) + b"}",
                   headers={"Content-Type": "application/json"})
        assert huge.status_code == 413 and huge.get_json()["code"] == "api.too_large"
        assert huge.get_json()["details"]["max_bytes"] == 1024 * 1024
    assert crm("POST", f"{BASE}/serviceOrder", data="not json", headers={"Content-Type": "application/json"}
               ).status_code == 400


def test_the_rate_limit_answers_429_with_retry_after(web_app: Flask, db: Database, api_client):  # type: ignore[no-untyped-def]
    slow = api_client("slow", ["tmf641"], rate=3)
    assert [slow("GET", f"{BASE}/serviceOrder").status_code for _ in range(3)] == [200, 200, 200]
    limited = slow("GET", f"{BASE}/serviceOrder")
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.get_json()["code"] == "api.rate_limited"


def test_english_messages_with_accept_language(web_app: Flask, db: Database, crm: Caller):
    zh = crm("POST", f"{BASE}/serviceOrder", order(notificationContact="12345")).get_json()
    en = crm("POST", f"{BASE}/serviceOrder", order(notificationContact="12345"),
             headers={"Accept-Language": "en-US,en;q=0.9"}).get_json()
    assert zh["code"] == en["code"] == "form.invalid"
    assert zh["message"] != en["message"]
    assert zh["details"]["fields"]["notificationContact"] and en["details"]["fields"]["notificationContact"]
