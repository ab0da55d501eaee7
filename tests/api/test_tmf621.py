"""TMF621 Trouble Ticket against the real app on both databases: the call centre's ticket starts 售后故障 once
per externalId, goes through the flow with its status and status history as TMF621 names them, takes notes
and attachment references as 批注, and bad input is refused with details, storing nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.history.models import HistoryEvent
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from handlers.dispatch import add_rule, remove_rule, rules
from handlers.tmf.models import ExternalOrder
from tests.api.conftest import Caller, engine_of
from tests.api.test_tmf641 import complete_step, count
from tests.conftest import Database, user

BASE = "/tmf-api/troubleTicket/v4"
PHONE = "relatedParty[role=customer].contactMedium.characteristic.phoneNumber"
TICKET: dict[str, Any] = {
    "externalId": "CC-2026-000001",
    "name": "专线中断",
    "description": "客户反映专线业务中断",
    "severity": "Major",
    "ticketType": "outage",
    "channel": {"id": "10000", "name": "10000号客服热线"},
    "requestedResolutionDate": "2026-03-03T12:00:00+08:00",
    "relatedParty": [{"id": "C-88", "name": "中山大学附属医院", "role": "customer", "@referredType": "Organization",
                      "contactMedium": [{"mediumType": "phone", "characteristic": {"phoneNumber": "020-87654321"}},
                                        {"mediumType": "mobile", "preferred": True,
                                         "characteristic": {"phoneNumber": "13912345678"}}]}],
    "relatedEntity": [{"id": "GD-GZ-ZX-1001", "role": "circuit", "name": "中大附院专线", "@referredType": "Service"}],
    "note": [{"text": "客户称全院断网", "author": "王坐席"}],
    "region": "GZ", "serviceType": "专线",
    "@type": "TroubleTicket",
}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实"}
HANDLE = {"progress": "已到场排查，定位光缆中断", "onsite": True}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆，业务恢复", "recovery_time": "2026-03-02T12:30"}
PDF = b"%PDF-1.4\n% fault report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def ticket(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(TICKET)
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def open_task(db: Database, business_key: str, node_id: str) -> HumanTask:
    with db.sessions() as s:
        return s.scalars(select(HumanTask).where(HumanTask.business_key == business_key,
                                                 HumanTask.node_id == node_id, HumanTask.status == "ready")).one()


def recover(app: Flask, db: Database, business_key: str, username: str = "gz_maintainer") -> None:
    """恢复回单 with the fault report uploaded first."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        row = s.scalars(select(HumanTask).where(HumanTask.business_key == business_key, HumanTask.node_id == "receipt",
                                                HumanTask.status == "ready")).one()
        report = pe.tasks.upload(s, row.id, user(s, pe, username), filename="故障处理报告.pdf", data=PDF).id
    complete_step(app, db, business_key, "receipt", username, {**RECEIPT, "report": [str(report)]})


def work_to_resolved(app: Flask, db: Database, key: str) -> None:
    complete_step(app, db, key, "accept", "gz_dispatcher", ACCEPT)
    complete_step(app, db, key, "handle", "gz_maintainer", HANDLE)
    recover(app, db, key)


def statuses(caller: Caller, key: str) -> tuple[str, list[str]]:
    tt = caller("GET", f"{BASE}/troubleTicket/{key}").get_json()
    return tt["status"], [c["status"] for c in tt["statusChange"]]


def test_a_ticket_goes_in_once_and_through_the_flow(web_app: Flask, db: Database, crm: Caller):
    created = crm("POST", f"{BASE}/troubleTicket", ticket())
    assert created.status_code == 201, created.get_json()
    tt = created.get_json()
    key = tt["id"]
    assert created.headers["Location"] == tt["href"] == f"{BASE}/troubleTicket/{key}"
    assert key.startswith("GZ") and tt["externalId"] == "CC-2026-000001" and tt["@type"] == "TroubleTicket"
    assert (tt["status"], tt["severity"], tt["ticketType"], tt["name"]) == ("acknowledged", "Major", "outage",
                                                                          "专线中断")
    assert tt["statusChange"] == [{"status": "acknowledged", "changeDate": tt["creationDate"],
                                   "changeReason": "故障申告", "@type": "StatusChange"}]
    assert tt["relatedEntity"][0]["id"] == "GD-GZ-ZX-1001" and tt["channel"]["name"] == "10000号客服热线"
    assert "expectedResolutionDate" in tt and "resolutionDate" not in tt  # 故障受理's time limit
    assert (tt["region"], tt["serviceType"], tt["vip"]) == ("GZ", "专线", False)

    # the same externalId again (even with another body) is the same ticket: 200, no second instance
    again = crm("POST", f"{BASE}/troubleTicket", ticket(description="重复"))
    assert again.status_code == 200 and again.get_json()["id"] == key
    assert count(db, ProcessInstance) == 1 and count(db, ExternalOrder) == 1
    with db.sessions() as s:
        instance = s.scalars(select(ProcessInstance)).one()
        assert (instance.process_key, instance.customer, instance.customer_phone, instance.circuit) == (
            "aftersales_fault", "中山大学附属医院", "13912345678", "GD-GZ-ZX-1001")  # the preferred medium
        started = s.scalars(select(HistoryEvent).where(HistoryEvent.event_type == "instance_started")).one()
        assert {k: started.payload["data"][k] for k in ("fault_type", "priority", "region", "service_type")} == {
            "fault_type": "中断", "priority": "高", "region": "GZ", "service_type": "专线"}
        notes = s.scalars(select(HistoryEvent.payload).where(HistoryEvent.event_type == "task_annotated")).all()
        assert [n["text"] for n in notes] == ["crm-gz（王坐席）：客户称全院断网"]  # on 故障受理

    # 故障受理 → in progress; 挂起 holds it, 恢复 takes it on
    complete_step(web_app, db, key, "accept", "gz_dispatcher", ACCEPT)
    assert statuses(crm, key)[0] == "inProgress"
    pe = engine_of(web_app)
    handle = open_task(db, key, "handle").id
    with db.sessions.begin() as s:
        pe.tasks.suspend(s, handle, user(s, pe, "gz_maintainer"), reason="等待客户开放机房")
    held = crm("GET", f"{BASE}/troubleTicket/{key}").get_json()
    assert (held["status"], held["statusChangeReason"]) == ("held", "故障处理挂起：等待客户开放机房")
    with db.sessions.begin() as s:
        pe.tasks.resume(s, handle, user(s, pe, "gz_maintainer"), reason="机房已开放")
        pe.tasks.annotate(s, handle, user(s, pe, "gz_maintainer"), "光缆被挖断")
    complete_step(web_app, db, key, "handle", "gz_maintainer", HANDLE)
    assert statuses(crm, key)[0] == "inProgress"

    # 恢复回单: resolved; 回单审核 refuses the receipt: in progress again; the second receipt passes
    recover(web_app, db, key)
    resolved = crm("GET", f"{BASE}/troubleTicket/{key}").get_json()
    assert (resolved["status"], resolved["statusChangeReason"]) == ("resolved", "恢复回单完成，转回单审核")
    assert resolved["resolutionDate"] == resolved["statusChangeDate"] and "expectedResolutionDate" not in resolved
    complete_step(web_app, db, key, "audit", "gz_receipt_auditor", {"receipt_result": "reject",
                                                                     "receipt_reason": "缺现场照片"})
    assert statuses(crm, key)[0] == "inProgress"
    complete_step(web_app, db, key, "handle", "gz_maintainer", {"progress": "补充现场照片"})
    recover(web_app, db, key)
    complete_step(web_app, db, key, "audit", "gz_receipt_auditor", {"receipt_result": "pass"})
    assert statuses(crm, key)[0] == "resolved"  # 客户回访 still open

    # 客户回访 → 归档: closed, with the whole story
    complete_step(web_app, db, key, "callback", "gz_customer_service", {"satisfaction": "满意"})
    done = crm("GET", f"{BASE}/troubleTicket/{key}").get_json()
    assert done["status"] == "closed" and done["statusChangeReason"] == "归档"
    assert [(c["status"], c["changeReason"]) for c in done["statusChange"]] == [
        ("acknowledged", "故障申告"), ("inProgress", "故障受理完成，转故障处理"),
        ("held", "故障处理挂起：等待客户开放机房"), ("inProgress", "故障处理恢复：机房已开放"),
        ("resolved", "恢复回单完成，转回单审核"), ("inProgress", "回单审核完成，转故障处理"),
        ("resolved", "恢复回单完成，转回单审核"), ("closed", "归档")]
    dates = [c["changeDate"] for c in done["statusChange"]]
    assert dates == sorted(dates) and done["statusChangeDate"] == dates[-1]
    assert done["resolutionDate"] == dates[-2]  # the last 恢复回单
    assert [(a["name"], a["mimeType"]) for a in done["attachment"]] == [("故障处理报告.pdf", "application/pdf")] * 2
    assert done["attachment"][0]["size"] == {"amount": len(PDF), "units": "bytes"}
    assert [n["text"] for n in done["note"]] == ["客户称全院断网", "光缆被挖断"]  # its own, then the maintainer's
    assert done["note"][1]["author"] == "广州维护员" and done["lastUpdate"] >= dates[-1]

    picked = crm("GET", f"{BASE}/troubleTicket/{key}", query_string={"fields": "status"}).get_json()
    assert picked == {"id": key, "href": tt["href"], "status": "closed", "@type": "TroubleTicket"}


def test_an_incident_holds_the_ticket_until_it_is_resolved(web_app: Flask, db: Database, crm: Caller):
    with db.sessions.begin() as s:  # no routing rule: 自动派单 fails after 故障受理
        for rule in rules(s):
            remove_rule(s, rule.id)
    key = crm("POST", f"{BASE}/troubleTicket", ticket()).get_json()["id"]
    complete_step(web_app, db, key, "accept", "gz_dispatcher", ACCEPT)
    held = crm("GET", f"{BASE}/troubleTicket/{key}").get_json()
    assert held["status"] == "held" and held["statusChangeReason"].startswith("异常：自动派单")
    assert "expectedResolutionDate" not in held  # no step open
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
        incident = s.scalars(select(Incident)).one()
        pe.management.retry_incident(s, incident.id, actor=user(s, pe, "sup"))
    tt = crm("GET", f"{BASE}/troubleTicket/{key}").get_json()
    assert [(c["status"], c["changeReason"]) for c in tt["statusChange"]][1:] == [
        ("held", held["statusChangeReason"]), ("inProgress", "故障受理完成，转故障处理")]
    assert tt["status"] == "inProgress" and "expectedResolutionDate" in tt


def test_the_list_filters_and_pages(web_app: Flask, db: Database, crm: Caller):
    keys = [crm("POST", f"{BASE}/troubleTicket", ticket(externalId=f"CC-PAGE-{n}", ticketType=kind,
                                                          severity=severity)).get_json()["id"]
            for n, (kind, severity) in enumerate([("outage", "Critical"), ("degradation", "Minor"),
                                                  ("Outage", "Minor")])]
    listed = crm("GET", f"{BASE}/troubleTicket")
    assert listed.status_code == 200 and [t["id"] for t in listed.get_json()] == keys[::-1]  # newest first
    assert listed.headers["X-Total-Count"] == "3"

    def ids(**query: Any) -> list[str]:
        answer = crm("GET", f"{BASE}/troubleTicket", query_string=query)
        assert answer.status_code in (200, 206), answer.get_json()
        return [t["id"] for t in answer.get_json()]

    assert ids(ticketType="outage") == [keys[0]]  # as sent
    assert ids(severity="Minor") == [keys[2], keys[1]]
    assert ids(externalId="CC-PAGE-1") == [keys[1]]
    assert ids(status="acknowledged") == keys[::-1]  # not synced yet: still acknowledged
    assert ids(status="closed,resolved") == []
    assert ids(**{"creationDate.gt": "2000-01-01T00:00:00Z", "creationDate.lt": "2999-01-01T00:00:00+08:00"}) == \
        keys[::-1]
    assert ids(**{"creationDate.gt": "2999-01-01T00:00:00Z"}) == []
    page = crm("GET", f"{BASE}/troubleTicket", query_string={"offset": 1, "limit": 1})
    assert page.status_code == 206 and [t["id"] for t in page.get_json()] == [keys[1]]
    assert (page.headers["X-Total-Count"], page.headers["X-Result-Count"]) == ("3", "1")
    for bad in ({"status": "done"}, {"limit": 0}, {"creationDate.gt": "yesterday"},
                {"creationDate.lt": "2026-03-02T10:00:00"}):
        assert crm("GET", f"{BASE}/troubleTicket", query_string=bad).status_code == 400, bad


def test_without_an_external_id_each_post_is_a_ticket(web_app: Flask, db: Database, crm: Caller):
    first = crm("POST", f"{BASE}/troubleTicket", ticket(externalId=None))
    second = crm("POST", f"{BASE}/troubleTicket", ticket(externalId=None))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["id"] != second.get_json()["id"] and "externalId" not in first.get_json()
    assert count(db, ProcessInstance) == 2


def test_patch_adds_notes_to_the_open_step_and_refuses_the_rest(web_app: Flask, db: Database, crm: Caller):
    key = crm("POST", f"{BASE}/troubleTicket", ticket(note=None)).get_json()["id"]
    complete_step(web_app, db, key, "accept", "gz_dispatcher", ACCEPT)
    changed = crm("PATCH", f"{BASE}/troubleTicket/{key}", {
        "description": "全院断网，影响挂号", "priority": "Critical", "requestedResolutionDate": "2026-03-02T18:00:00Z",
        "note": [{"text": "客户催单", "author": "李坐席"}],
        "attachment": [{"url": "https://cc.example/rec/88.mp3", "name": "通话录音", "mimeType": "audio/mpeg"}]})
    assert changed.status_code == 200, changed.get_json()
    tt = changed.get_json()
    assert (tt["description"], tt["priority"], tt["requestedResolutionDate"]) == (
        "全院断网，影响挂号", "Critical", "2026-03-02T18:00:00Z")
    assert tt["note"][-1]["text"] == "客户催单" and tt["attachment"][0]["url"] == "https://cc.example/rec/88.mp3"
    handle = open_task(db, key, "handle").id
    with db.sessions() as s:
        notes = s.scalars(select(HistoryEvent).where(HistoryEvent.event_type == "task_annotated")).all()
        assert [(n.human_task_id, n.payload["text"]) for n in notes] == [
            (handle, "crm-gz（李坐席）：客户催单"), (handle, "crm-gz附件：通话录音 https://cc.example/rec/88.mp3")]
    for forbidden in ({"status": "closed"}, {"severity": "Minor"}, {"statusChange": []}, {"id": "1"},
                      {"externalId": "X"}, {"relatedParty": []}):
        refused = crm("PATCH", f"{BASE}/troubleTicket/{key}", forbidden)
        assert refused.status_code == 400, forbidden
        assert set(refused.get_json()["details"]["fields"]) == set(forbidden)
    for bad, field in (({"priority": "P1"}, "priority"), ({"attachment": [{"name": "x"}]}, "attachment[0].url"),
                       ({"note": [{"author": "x"}]}, "note[0].text")):
        refused = crm("PATCH", f"{BASE}/troubleTicket/{key}", bad)
        assert refused.status_code in (400, 422) and field in refused.get_json()["details"]["fields"], bad
    after = crm("GET", f"{BASE}/troubleTicket/{key}").get_json()
    assert after["priority"] == "Critical" and len(after["note"]) == 1


@pytest.mark.parametrize(("body", "status", "field"), [
    ({k: v for k, v in TICKET.items() if k != "severity"}, 400, "severity"),
    ({k: v for k, v in TICKET.items() if k != "description"}, 400, "description"),
    (ticket(severity=3), 400, "severity"),
    (ticket(vip="maybe"), 400, "vip"),
    (ticket(relatedParty={"name": "x"}), 400, "relatedParty"),
    (ticket(colour="red"), 400, "colour"),
    (ticket(status="closed"), 400, "status"),
    (ticket(relatedEntity=[{"id": "GD-1", "@referredType": "Service"}]), 400, "relatedEntity[0].role"),
    (ticket(attachment=[{"url": "ftp://x/y"}]), 400, "attachment[0].url"),
    (ticket(ticketType="complaint"), 422, "ticketType"),
    (ticket(severity="Catastrophic"), 422, "severity"),
    (ticket(priority="P1"), 422, "priority"),
    (ticket(relatedParty=[]), 422, "relatedParty"),
    (ticket(relatedParty=[{"id": "C-1", "name": "甲", "role": "customer", "@referredType": "Organization"}]), 422,
     PHONE),
    (ticket(relatedParty=[{"id": "C-1", "name": "甲", "role": "customer", "@referredType": "Organization",
                           "contactMedium": [{"characteristic": {"phoneNumber": "12345"}}]}]), 422, PHONE),
    (ticket(relatedEntity=[]), 422, "relatedEntity[role=circuit].id"),
    (ticket(region="FS"), 422, "region"),
    (ticket(region="GD"), 422, "region"),
    (ticket(region=None), 422, "region"),
    (ticket(serviceType="宽带"), 422, "serviceType"),
])
def test_bad_tickets_are_refused_with_details_and_nothing_stored(web_app: Flask, db: Database, crm: Caller,
                                                                 body: dict[str, Any], status: int, field: str):
    answer = crm("POST", f"{BASE}/troubleTicket", body)
    assert answer.status_code == status, answer.get_json()
    error = answer.get_json()
    assert error["@type"] == "Error" and error["status"] == str(status) and error["code"] and error["message"]
    assert field in error["details"]["fields"], error
    assert count(db, ProcessInstance) == 0 and count(db, ExternalOrder) == 0 and count(db, HistoryEvent) == 0


def test_english_messages_name_the_attribute(web_app: Flask, db: Database, crm: Caller):
    en = crm("POST", f"{BASE}/troubleTicket", ticket(ticketType="complaint", severity="Huge"),
             headers={"Accept-Language": "en"}).get_json()
    assert en["code"] == "input.invalid" and en["details"]["fields"] == {"ticketType": "invalid",
                                                                         "severity": "invalid"}
    zh = crm("POST", f"{BASE}/troubleTicket", ticket(ticketType="complaint")).get_json()
    assert zh["details"]["fields"] == {"ticketType": "无效"} and zh["message"] != en["message"]


def test_tokens_scopes_other_clients_and_a_cancelled_ticket(web_app: Flask, db: Database, crm: Caller,
                                                            api_client):  # type: ignore[no-untyped-def]
    key = crm("POST", f"{BASE}/troubleTicket", ticket()).get_json()["id"]
    http = web_app.test_client()
    refused = http.get(f"{BASE}/troubleTicket/{key}")
    assert refused.status_code == 401 and refused.get_json()["details"] == {"token": "missing"}
    assert http.post(f"{BASE}/troubleTicket", json=ticket(), headers={"Authorization": "Bearer eoms_x"}
                     ).status_code == 401
    orders_only = api_client("crm-orders", ["tmf641"])
    assert orders_only("GET", f"{BASE}/troubleTicket").status_code == 403
    assert orders_only("POST", f"{BASE}/troubleTicket", ticket()).get_json()["code"] == "api.scope"
    other = api_client("call-centre-sz", ["tmf621"])
    assert other("GET", f"{BASE}/troubleTicket/{key}").status_code == 404  # not its ticket: as if missing
    assert other("PATCH", f"{BASE}/troubleTicket/{key}", {"description": "x"}).status_code == 404
    assert other("GET", f"{BASE}/troubleTicket").get_json() == []
    own = other("POST", f"{BASE}/troubleTicket", ticket())  # its own ticket with the same number is its own
    assert own.status_code == 201 and own.get_json()["id"] != key
    assert crm("GET", f"{BASE}/troubleTicket/NOPE").status_code == 404
    assert crm("DELETE", f"{BASE}/troubleTicket/{key}").status_code == 405
    assert count(db, ProcessInstance) == 2

    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        instance = s.scalars(select(ProcessInstance).where(ProcessInstance.business_key == key)).one()
        pe.runtime.cancel(s, instance.id, actor=user(s, pe, "sup"), reason="客户撤销报障")
    tt = crm("GET", f"{BASE}/troubleTicket/{key}").get_json()
    assert (tt["status"], tt["statusChangeReason"]) == ("cancelled", "客户撤销报障")
    assert [c["status"] for c in tt["statusChange"]] == ["acknowledged", "cancelled"]
    late = crm("PATCH", f"{BASE}/troubleTicket/{key}", {"note": [{"text": "还在吗"}]})
    assert late.status_code == 409 and late.get_json()["code"] == "instance.not_running"
