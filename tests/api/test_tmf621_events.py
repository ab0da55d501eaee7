"""Events out for TMF621: a listener the call centre registers on the hub (a real HTTP server on loopback)
receives its ticket's creation and status changes — acknowledged → inProgress → resolved → closed — in order,
each once, in the TMF688 envelope and signed with the client's secret (TMF621 has no milestone events, and
none are sent); and the externalId race on PostgreSQL."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.runtime.models import ProcessInstance
from handlers.tmf.models import ExternalOrder
from handlers.tmf.signing import verify
from tests.api.conftest import Caller, post_concurrently
from tests.api.test_tmf621 import ACCEPT, BASE, HANDLE, recover, ticket
from tests.api.test_tmf641 import complete_step
from tests.api.test_tmf641_events import Listener, drain, listener, secret_of  # noqa: F401  (the fixture)
from tests.conftest import Database


def test_the_listener_hears_the_ticket_from_creation_to_closing(web_app: Flask, db: Database, crm: Caller,
                                                                listener: Listener):  # noqa: F811
    hub = crm("POST", f"{BASE}/hub", {"callback": listener.url})
    assert hub.status_code == 201, hub.get_json()
    assert hub.headers["Location"] == f"{BASE}/hub/{hub.get_json()['id']}"
    key = crm("POST", f"{BASE}/troubleTicket", ticket()).get_json()["id"]
    drain(web_app, db)
    complete_step(web_app, db, key, "accept", "gz_dispatcher", ACCEPT)
    drain(web_app, db)
    complete_step(web_app, db, key, "handle", "gz_maintainer", HANDLE)  # still in progress: nothing to tell
    drain(web_app, db)
    recover(web_app, db, key)
    drain(web_app, db)
    complete_step(web_app, db, key, "audit", "gz_receipt_auditor", {"receipt_result": "pass"})
    drain(web_app, db)
    complete_step(web_app, db, key, "callback", "gz_customer_service", {"satisfaction": "满意"})
    drain(web_app, db)

    secret = secret_of(db, crm.name)
    for headers, body in listener.received:
        assert verify(body, secret, headers["X-Hub-Signature-256"]), headers
    events = listener.events()
    story = [(e["eventType"], e["event"]["troubleTicket"]["status"]) for e in events]
    assert story == [
        ("TroubleTicketCreateEvent", "acknowledged"),
        ("TroubleTicketStatusChangeEvent", "inProgress"),
        ("TroubleTicketStatusChangeEvent", "resolved"),
        ("TroubleTicketStatusChangeEvent", "closed"),
    ], story
    assert [e["title"] for e in events[1:]] == ["acknowledged → inProgress", "inProgress → resolved",
                                                "resolved → closed"]
    assert len({e["eventId"] for e in events}) == len(events)  # each once
    for event in events:
        assert event["correlationId"] == "CC-2026-000001" and event["domain"] == "troubleTicket"
        assert event["eventTime"].endswith("Z") and event["timeOcurred"] == event["eventTime"]
        assert event["event"]["troubleTicket"]["id"] == key
        assert event["event"]["troubleTicket"]["@type"] == "TroubleTicket"
    closed = events[-1]["event"]["troubleTicket"]
    assert [c["status"] for c in closed["statusChange"]] == ["acknowledged", "inProgress", "resolved", "closed"]

    # unregistered: gone (a second time, or through the other API, it is not found)
    hub_id = hub.get_json()["id"]
    assert crm("DELETE", f"/tmf-api/serviceOrdering/v4/hub/{hub_id}").status_code == 404
    assert crm("DELETE", f"{BASE}/hub/{hub_id}").status_code == 204
    assert crm("DELETE", f"{BASE}/hub/{hub_id}").status_code == 404
    assert crm("DELETE", f"{BASE}/hub/abc").status_code == 404


def test_a_query_filters_the_events_and_other_apis_are_not_heard(web_app: Flask, db: Database, crm: Caller,
                                                                 listener: Listener):  # noqa: F811
    assert crm("POST", f"{BASE}/hub", {"callback": listener.url,
                                       "query": "eventType=TroubleTicketStatusChangeEvent"}).status_code == 201
    again = crm("POST", f"{BASE}/hub", {"callback": listener.url,
                                        "query": "eventType=TroubleTicketStatusChangeEvent"})
    assert again.status_code in (409, 422), again.get_json()
    for bad in ({"callback": "ftp://x"}, {"callback": listener.url, "query": "status=x"}, {"query": "x"}):
        assert crm("POST", f"{BASE}/hub", bad).status_code in (400, 422), bad
    key = crm("POST", f"{BASE}/troubleTicket", ticket()).get_json()["id"]
    complete_step(web_app, db, key, "accept", "gz_dispatcher", ACCEPT)
    drain(web_app, db)
    assert [(e["eventType"], e["event"]["troubleTicket"]["status"]) for e in listener.events()] == [
        ("TroubleTicketStatusChangeEvent", "inProgress")]


def test_twenty_concurrent_posts_of_one_external_id_make_one_ticket(db: Database, crm: Caller, live_server: str):
    if db.kind != "postgresql":
        pytest.skip("SQLite takes one writer at a time: the race is PostgreSQL's")
    answers = post_concurrently(f"{live_server}{BASE}/troubleTicket", crm.token, ticket(externalId="CC-RACE-0001"))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 19 + [201], answers
    assert len({ticket_id for _, ticket_id in answers}) == 1
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 1
        assert s.scalar(select(func.count()).select_from(ExternalOrder)) == 1
