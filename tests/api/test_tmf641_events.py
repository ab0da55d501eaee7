"""Events out for TMF641: a listener CRM registers on the hub (a real HTTP server on loopback) receives its
order's creation, milestones and state changes — acknowledged → inProgress → completed — in order, each once,
in the TMF688 envelope and signed with the client's secret; and the externalId race on PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from engine.jobs.models import Job
from engine.runtime.models import ProcessInstance
from handlers.tmf.models import ExternalOrder
from handlers.tmf.signing import verify
from tests.api.conftest import Caller, engine_of, post_concurrently, tick
from tests.api.test_tmf641 import BASE, complete_step, order, upload_to_step
from tests.conftest import Database
from webapp.api.models import ApiClient


class Listener:
    """CRM's event listener: records what it is sent; ``down`` makes it answer 503."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.down = False
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if listener.down:
                    self.send_response(503)
                else:
                    listener.received.append((dict(self.headers.items()), body))
                    self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/listener"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def drain(app: Flask, db: Database, rounds: int = 4) -> None:
    """Worker ticks until the sync jobs have published and the events are sent."""
    for _ in range(rounds):
        tick(app, db)


def secret_of(db: Database, name: str) -> str:
    with db.sessions() as s:
        return s.scalars(select(ApiClient.secret).where(ApiClient.name == name)).one()


def test_the_listener_hears_the_order_from_creation_to_completion(web_app: Flask, db: Database, crm: Caller,
                                                                  stocked: None, listener: Listener):
    hub = crm("POST", f"{BASE}/hub", {"callback": listener.url})
    assert hub.status_code == 201, hub.get_json()
    assert hub.get_json()["callback"] == listener.url and hub.headers["Location"].endswith(hub.get_json()["id"])
    so = crm("POST", f"{BASE}/serviceOrder", order()).get_json()
    drain(web_app, db)
    complete_step(web_app, db, so["id"], "audit", "gz_order_auditor", {"audit_result": "pass", "audit_reason": "齐全"})
    drain(web_app, db)  # the milestone, the new state, and the network activation
    complete_step(web_app, db, so["id"], "test", "gz_network_operator", {"test_result": "pass", "test_note": "通"})
    drain(web_app, db)
    pe = engine_of(web_app)
    report = upload_to_step(web_app, db, so["id"], "completion", "gz_implementer", "竣工.pdf", b"%PDF-1.4\n%%EOF\n")
    listener.down = True  # CRM's listener is away while the order completes …
    complete_step(web_app, db, so["id"], "completion", "gz_implementer",
                  {"completed_on": "2026-03-02", "completion_note": "已竣工", "completion_report": [report]})
    drain(web_app, db)
    before = len(listener.received)
    listener.down = False  # … and back: what it missed arrives once each, in order
    with db.sessions.begin() as s:  # (the retries are due now rather than after their backoff)
        s.execute(update(Job).where(Job.status == "pending").values(due_at=pe.ctx.clock()))
    drain(web_app, db)

    secret = secret_of(db, crm.name)
    for headers, body in listener.received:
        assert verify(body, secret, headers["X-Hub-Signature-256"]), headers
    events = listener.events()
    story = [(e["eventType"], e["event"]["serviceOrder"]["state"]) for e in events]
    assert story == [
        ("ServiceOrderCreateEvent", "acknowledged"),
        ("ServiceOrderMilestoneEvent", "inProgress"),
        ("ServiceOrderStateChangeEvent", "inProgress"),
        ("ServiceOrderMilestoneEvent", "inProgress"),
        ("ServiceOrderMilestoneEvent", "completed"),
        ("ServiceOrderStateChangeEvent", "completed"),
    ], story
    assert before == 4  # the last two waited for the listener
    assert len({e["eventId"] for e in events}) == len(events)  # each once
    for event in events:
        assert event["correlationId"] == "CRM-2026-000001" and event["domain"] == "serviceOrdering"
        assert event["eventTime"].endswith("Z") and event["timeOcurred"] == event["eventTime"]
        assert event["event"]["serviceOrder"]["id"] == so["id"]
    assert [e["title"] for e in events if e["eventType"] == "ServiceOrderMilestoneEvent"] == [
        "受理审核", "开通测试", "竣工回单"]

    # unregistered: nothing more arrives; another client cannot remove someone else's listener
    assert crm("DELETE", f"{BASE}/hub/{hub.get_json()['id']}").status_code == 204
    assert crm("DELETE", f"{BASE}/hub/{hub.get_json()['id']}").status_code == 404


def test_a_query_filters_the_events_and_bad_callbacks_are_refused(web_app: Flask, db: Database, crm: Caller,
                                                                  stocked: None, listener: Listener):
    assert crm("POST", f"{BASE}/hub", {"callback": listener.url,
                                       "query": "eventType=ServiceOrderStateChangeEvent"}).status_code == 201
    for bad in ({"callback": "ftp://x"}, {"callback": ""}, {"query": "eventType=A"}, {"callback": listener.url,
                                                                                       "query": "state=x"}):
        answer = crm("POST", f"{BASE}/hub", {"callback": listener.url, **bad} if "callback" not in bad else bad)
        assert answer.status_code in (400, 422), (bad, answer.get_json())
    so = crm("POST", f"{BASE}/serviceOrder", order()).get_json()
    complete_step(web_app, db, so["id"], "audit", "gz_order_auditor", {"audit_result": "reject", "audit_reason": "缺"})
    drain(web_app, db)
    assert [(e["eventType"], e["event"]["serviceOrder"]["state"]) for e in listener.events()] == [
        ("ServiceOrderStateChangeEvent", "rejected")]


def test_twenty_concurrent_posts_of_one_external_id_make_one_order(db: Database, crm: Caller, live_server: str,
                                                                   stocked: None):
    if db.kind != "postgresql":
        pytest.skip("SQLite takes one writer at a time: the race is PostgreSQL's")
    answers = post_concurrently(f"{live_server}{BASE}/serviceOrder", crm.token, order(externalId="CRM-RACE-0001"))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 19 + [201], answers
    assert len({order_id for _, order_id in answers}) == 1
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 1
        assert s.scalar(select(func.count()).select_from(ExternalOrder)) == 1
