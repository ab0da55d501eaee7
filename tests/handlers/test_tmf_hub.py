"""The TMF hub's events-out half on SQLite and PostgreSQL: listeners (subscribe, unsubscribe, the query filter),
publishing into the outbox, and delivery by the real ``tmf.event`` jobs to a real HTTP listener on 127.0.0.1 —
signed, in seq order per order, each once, through 500s, outages and unsubscriptions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.core import ProcessEngine
from engine.errors import InvalidInput, NotFound
from engine.jobs.models import Job
from engine.jobs.service import JobPolicy, enqueue
from engine.runtime.models import Incident
from engine.worker import Worker
from handlers.tmf import hub
from handlers.tmf.models import ExternalOrder, HubSubscription, TmfEvent
from handlers.tmf.signing import verify
from tests.conftest import Database, FakeClock, user
from tests.handlers.conftest import Received, free_port
from webapp.api import clients

SECRET = "listener-secret-1"
STATE_CHANGE = "ServiceOrderStateChangeEvent"
MILESTONE = "ServiceOrderMilestoneEvent"
ATTRIBUTE_CHANGE = "ServiceOrderAttributeValueChangeEvent"


# -- the world: an engine with the hub's job, an API client, orders ------------------------------------------
@pytest.fixture
def engine(pe: ProcessEngine, deploy) -> ProcessEngine:  # type: ignore[no-untyped-def]
    hub.register(pe.ctx.handlers)
    deploy("review_loop.bpmn")
    return pe


def new_client(engine: ProcessEngine, db: Database, clock: FakeClock, name: str) -> int:
    with db.sessions.begin() as s:
        return clients.create(s, name, user=user(s, engine, "alice"), scopes=["tmf641"], now=clock()).client.id


@pytest.fixture
def client_id(engine: ProcessEngine, db: Database, clock: FakeClock) -> int:
    return new_client(engine, db, clock, "crm-test")


def new_order(engine: ProcessEngine, db: Database, clock: FakeClock, client: int, external_id: str) -> int:
    with db.sessions.begin() as s:
        started = engine.runtime.start(s, "review_loop", business_key=external_id,
                                       data={"rounds": 0, "approved": False}, actor=user(s, engine, "alice"))
        order = ExternalOrder(client_id=client, kind="serviceOrder", external_id=external_id,
                              instance_id=started.instance.id, request={}, changes={}, created_at=clock(),
                              updated_at=clock())
        s.add(order)
        s.flush()
        return order.id


def listen(db: Database, clock: FakeClock, client: int, callback: str, query: str | None = None,
           api: str = "serviceOrdering") -> int:
    with db.sessions.begin() as s:
        return hub.subscribe(s, client_id=client, api=api, callback=callback, query=query, secret=SECRET,
                             now=clock()).id


def publish(db: Database, clock: FakeClock, order_id: int, state: str, event_type: str = STATE_CHANGE,
            **kwargs: Any) -> list[str]:
    """Publish one event about the order; the event ids made (one per listener that wants it)."""
    with db.sessions.begin() as s:
        order = s.get(ExternalOrder, order_id)
        assert order is not None
        events = hub.publish(s, order, api="serviceOrdering", event_type=event_type, resource_key="serviceOrder",
                             resource={"id": order.external_id, "state": state}, now=clock(), **kwargs)
        return [e.event_id for e in events]


def tick(engine: ProcessEngine, db: Database) -> None:
    report = Worker(engine, db.sessions, "hub-test").tick()
    assert report.errors == 0, report


def tick_when_due(engine: ProcessEngine, db: Database, clock: FakeClock) -> None:
    """Move the clock to the next pending job's due time (if later) and tick."""
    with db.sessions() as s:
        due = s.scalar(select(Job.due_at).where(Job.status == "pending").order_by(Job.due_at).limit(1))
    if due is not None and due.replace(tzinfo=clock.now.tzinfo) > clock.now:
        clock.now = due.replace(tzinfo=clock.now.tzinfo)
    tick(engine, db)


def events(db: Database, order_id: int | None = None) -> list[TmfEvent]:
    with db.sessions() as s:
        query = select(TmfEvent).order_by(TmfEvent.id)
        if order_id is not None:
            query = query.where(TmfEvent.order_id == order_id)
        return list(s.scalars(query))


def states(received: list[Received]) -> list[str]:
    return [r.json["event"]["serviceOrder"]["state"] for r in received]


# -- subscriptions -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("callback", ["", "listener", "/hub/listener", "ftp://in.listener.com/x",
                                      "http://", "http:///x", "https://in.listener.com:99999/",
                                      "http://in listener.com/", "http://in.listener.com/" + "x" * 480, None])
def test_subscribe_refuses_a_callback_that_is_not_an_absolute_http_url(engine, db, clock, client_id, callback):
    with db.sessions.begin() as s, pytest.raises(InvalidInput) as raised:
        hub.subscribe(s, client_id=client_id, api="serviceOrdering", callback=callback, query=None, secret=SECRET,
                      now=clock())
    assert raised.value.field_errors == {"callback": "invalid"}


@pytest.mark.parametrize("query", ["state=completed", "eventType", "eventType=", "eventType=ServiceOrder",
                                   "eventType=ServiceOrderStateChangeEvent,", "eventType=Drop Table Event",
                                   "eventType=Service1Event", "eventType=AEvent&state=x", "eventtype=AEvent",
                                   "eventType=" + "A" * 500 + "Event"])
def test_subscribe_refuses_a_query_that_is_not_an_event_type_filter(engine, db, clock, client_id, query):
    with db.sessions.begin() as s, pytest.raises(InvalidInput) as raised:
        hub.subscribe(s, client_id=client_id, api="serviceOrdering", callback="https://in.listener.com/x",
                      query=query, secret=SECRET, now=clock())
    assert raised.value.field_errors == {"query": "invalid"}


def test_subscribe_refuses_an_unknown_api_and_a_duplicate(engine, db, clock, client_id):
    with db.sessions.begin() as s, pytest.raises(InvalidInput) as raised:
        hub.subscribe(s, client_id=client_id, api="productOrdering", callback="https://in.listener.com/x",
                      query=None, secret=SECRET, now=clock())
    assert raised.value.field_errors == {"api": "invalid"}
    listen(db, clock, client_id, "https://in.listener.com/x", f"eventType={STATE_CHANGE},{MILESTONE}")
    with db.sessions.begin() as s, pytest.raises(InvalidInput) as raised:  # the same filter, spelt otherwise
        hub.subscribe(s, client_id=client_id, api="serviceOrdering", callback="https://in.listener.com/x",
                      query=f"eventType = {MILESTONE}, {STATE_CHANGE}", secret=SECRET, now=clock())
    assert raised.value.field_errors == {"callback": "already exists"}
    # another filter, another API, another client: all fine
    listen(db, clock, client_id, "https://in.listener.com/x", None)
    listen(db, clock, client_id, "https://in.listener.com/x", None, api="troubleTicket")
    other = new_client(engine, db, clock, "call-centre")
    listen(db, clock, other, "https://in.listener.com/x", f"eventType={STATE_CHANGE},{MILESTONE}")
    with db.sessions() as s:
        assert len(hub.subscriptions(s, client_id, "serviceOrdering")) == 2
        assert len(hub.subscriptions(s, client_id, "troubleTicket")) == 1


def test_unsubscribe_of_another_clients_listener_is_not_found(engine, db, clock, client_id):
    mine = listen(db, clock, client_id, "https://in.listener.com/x")
    other = new_client(engine, db, clock, "call-centre")
    theirs = listen(db, clock, other, "https://in.listener.com/x")
    for client, api, subscription in [(client_id, "serviceOrdering", theirs), (client_id, "troubleTicket", mine),
                                      (client_id, "serviceOrdering", 9999), (client_id, "serviceOrdering", "x")]:
        with db.sessions.begin() as s, pytest.raises(NotFound):
            hub.unsubscribe(s, client_id=client, api=api, subscription_id=subscription, now=clock())
    with db.sessions.begin() as s:
        hub.unsubscribe(s, client_id=client_id, api="serviceOrdering", subscription_id=str(mine), now=clock())
    with db.sessions.begin() as s, pytest.raises(NotFound):  # once
        hub.unsubscribe(s, client_id=client_id, api="serviceOrdering", subscription_id=mine, now=clock())
    with db.sessions() as s:
        assert hub.subscriptions(s, client_id, "serviceOrdering") == []
        assert [x.id for x in hub.subscriptions(s, other, "serviceOrdering")] == [theirs]
        # the same listener may be registered again once the first is gone
    listen(db, clock, client_id, "https://in.listener.com/x")


def test_wants_follows_the_query():
    everything = HubSubscription(query="")
    some = HubSubscription(query=f"eventType={STATE_CHANGE},{MILESTONE}")
    assert hub.wants(everything, ATTRIBUTE_CHANGE)
    assert hub.wants(some, STATE_CHANGE) and hub.wants(some, MILESTONE)
    assert not hub.wants(some, ATTRIBUTE_CHANGE)


# -- publishing and delivery -------------------------------------------------------------------------------
def test_publish_queues_an_event_per_listener_that_wants_it(engine, db, clock, client_id, listener):
    everything = listen(db, clock, client_id, listener.url)
    changes_only = listen(db, clock, client_id, listener.url + "/changes", f"eventType={ATTRIBUTE_CHANGE}")
    listen(db, clock, client_id, listener.url, None, api="troubleTicket")  # another API hears nothing
    other = new_client(engine, db, clock, "call-centre")
    listen(db, clock, other, listener.url)  # nor another client
    order = new_order(engine, db, clock, client_id, "SO-1")
    assert len(publish(db, clock, order, "inProgress")) == 1
    assert len(publish(db, clock, order, "inProgress", ATTRIBUTE_CHANGE, field_path="state")) == 2
    made = events(db, order)
    assert [(e.subscription_id, e.seq, e.event_type) for e in made] == [
        (everything, 1, STATE_CHANGE), (everything, 2, ATTRIBUTE_CHANGE), (changes_only, 1, ATTRIBUTE_CHANGE)]
    with db.sessions() as s:
        queued = list(s.scalars(select(Job).where(Job.kind == hub.JOB_KIND).order_by(Job.id)))
    assert [(j.payload, j.idempotency_key, j.max_attempts) for j in queued] == [
        ({"event": e.id}, f"tmf-event:{e.event_id}", hub.MAX_ATTEMPTS) for e in made]
    assert listener.received == []  # nothing leaves before the worker runs the jobs
    tick(engine, db)
    assert sorted(r.path for r in listener.accepted()) == ["/listener", "/listener", "/listener/changes"]


def test_events_arrive_signed_in_order_with_the_tmf_envelope(engine, db, clock, client_id, listener):
    listen(db, clock, client_id, listener.url)
    first, second = new_order(engine, db, clock, client_id, "SO-1"), new_order(engine, db, clock, client_id, "SO-2")
    for state in ("acknowledged", "inProgress", "completed"):
        publish(db, clock, first, state, title="服务订单状态变更", description=f"SO-1 → {state}", priority="4")
        publish(db, clock, second, state)
        clock.advance(seconds=1)
    publish(db, clock, first, "completed", ATTRIBUTE_CHANGE, field_path="state")
    tick(engine, db)
    got = listener.accepted()
    assert len(got) == len(listener.received) == 7
    for request in got:
        assert verify(request.body, SECRET, request.headers["X-Hub-Signature-256"])
        assert not verify(request.body, "another secret", request.headers["X-Hub-Signature-256"])
        assert request.headers["Content-Type"] == "application/json;charset=utf-8"
        assert request.headers["X-EOMS-Event-Id"] == request.json["eventId"]
        assert request.headers["X-EOMS-Event-Type"] == request.json["eventType"]
    by_order = {key: [r for r in got if r.json["correlationId"] == key] for key in ("SO-1", "SO-2")}
    assert states(by_order["SO-1"]) == ["acknowledged", "inProgress", "completed", "completed"]
    assert states(by_order["SO-2"]) == ["acknowledged", "inProgress", "completed"]
    body = by_order["SO-1"][1].json
    assert body == {
        "eventId": body["eventId"], "eventTime": "2026-03-02T01:00:01.000Z", "eventType": STATE_CHANGE,
        "correlationId": "SO-1", "domain": "serviceOrdering", "title": "服务订单状态变更",
        "description": "SO-1 → inProgress", "priority": "4", "timeOcurred": "2026-03-02T01:00:01.000Z",
        "event": {"serviceOrder": {"id": "SO-1", "state": "inProgress"}}}
    assert len(body["eventId"]) == 32
    assert by_order["SO-1"][3].json["fieldPath"] == "state" and "fieldPath" not in body
    assert all(e.sent_at is not None and e.attempts == 1 and e.last_error is None for e in events(db))


def test_a_listener_answering_500_gets_every_event_once_in_order_after_it_recovers(engine, db, clock, client_id,
                                                                                   listener):
    listen(db, clock, client_id, listener.url)
    order = new_order(engine, db, clock, client_id, "SO-1")
    listener.status = 500
    publish(db, clock, order, "acknowledged")
    tick(engine, db)  # the first event's job fails: it is due again in 10 s
    clock.advance(seconds=5)
    publish(db, clock, order, "inProgress")
    publish(db, clock, order, "completed")
    tick(engine, db)  # their jobs fail too, on the first event: nothing goes out of order
    assert {r.json["event"]["serviceOrder"]["state"] for r in listener.received} == {"acknowledged"}
    assert listener.accepted() == []
    with db.sessions() as s:
        failing = list(s.scalars(select(Job).where(Job.kind == hub.JOB_KIND).order_by(Job.id)))
    assert [(j.status, j.attempts) for j in failing] == [("pending", 1)] * 3
    assert "500" in (failing[0].last_error or "")
    listener.status = 201
    clock.advance(seconds=6)  # the later events' jobs are not due yet; the first one's is
    tick(engine, db)
    assert states(listener.accepted()) == ["acknowledged"]
    clock.advance(seconds=10)
    tick(engine, db)
    assert states(listener.accepted()) == ["acknowledged", "inProgress", "completed"]
    assert [(e.seq, e.attempts) for e in events(db) if e.sent_at is not None] == [(1, 1), (2, 1), (3, 1)]
    tick_when_due(engine, db, clock)
    with db.sessions() as s:
        assert {j.status for j in s.scalars(select(Job).where(Job.kind == hub.JOB_KIND))} == {"done"}
        assert s.scalars(select(Incident)).all() == []
    assert len(listener.accepted()) == 3


def test_a_later_event_sends_the_backlog_first_and_a_repeat_job_sends_nothing(engine, db, clock, client_id,
                                                                              listener):
    listen(db, clock, client_id, listener.url)
    order = new_order(engine, db, clock, client_id, "SO-1")
    listener.status = 500
    publish(db, clock, order, "acknowledged")
    tick(engine, db)  # due again in 10 s
    listener.status = 201
    publish(db, clock, order, "inProgress")
    tick(engine, db)  # the second event's job sends the first one, then its own
    assert states(listener.accepted()) == ["acknowledged", "inProgress"]
    tick_when_due(engine, db, clock)  # the first event's own job finds it sent
    with db.sessions.begin() as s:
        first = events(db)[0]
        enqueue(s, hub.JOB_KIND, {"event": first.id}, "tmf-event:again", now=clock())
    tick(engine, db)
    assert states(listener.accepted()) == ["acknowledged", "inProgress"]
    with db.sessions() as s:
        results = [j.result for j in s.scalars(select(Job).where(Job.kind == hub.JOB_KIND).order_by(Job.id))]
    assert results == [{"sent": 0}, {"sent": 2}, {"sent": 0}]


def test_a_listener_failing_halfway_through_a_backlog_gets_nothing_twice(engine, db, clock, client_id, listener):
    listen(db, clock, client_id, listener.url)
    order = new_order(engine, db, clock, client_id, "SO-1")
    listener.status = 500
    publish(db, clock, order, "acknowledged")
    tick(engine, db)
    publish(db, clock, order, "inProgress")
    publish(db, clock, order, "completed")
    listener.script = [201, 500]  # the backlog's first event is taken, the next one not
    listener.status = 503
    with db.sessions() as s:
        second_job = s.scalars(select(Job).where(Job.kind == hub.JOB_KIND).order_by(Job.id)).all()[1].id
    Worker(engine, db.sessions, "hub-test").tick()
    assert states(listener.accepted()) == ["acknowledged"]
    with db.sessions() as s:
        job = s.get(Job, second_job)
        assert job is not None and job.status == "done" and job.result is not None
        assert job.result["sent"] == 1 and job.result["resumed_by"]
    first, second, _ = events(db)
    assert first.sent_at is not None and first.attempts == 1
    assert second.sent_at is None and second.attempts == 1 and "500" in (second.last_error or "")
    listener.status = 201
    for _ in range(4):
        tick_when_due(engine, db, clock)
    assert states(listener.accepted()) == ["acknowledged", "inProgress", "completed"]
    assert [e.attempts for e in events(db)] == [1, 2, 1]
    with db.sessions() as s:
        assert s.scalars(select(Incident)).all() == []


def test_a_listener_down_for_an_hour_is_still_served(engine, db, clock, client_id, listener):
    listen(db, clock, client_id, listener.url)
    order = new_order(engine, db, clock, client_id, "SO-1")
    listener.stop()  # connection refused
    publish(db, clock, order, "acknowledged")
    went_down = clock()
    tick(engine, db)
    while clock() - went_down < timedelta(hours=1):
        tick_when_due(engine, db, clock)
    listener.start()
    tick_when_due(engine, db, clock)
    assert states(listener.accepted()) == ["acknowledged"]
    with db.sessions() as s:
        job = s.scalar(select(Job).where(Job.kind == hub.JOB_KIND))
        assert job is not None and job.status == "done" and job.attempts < hub.MAX_ATTEMPTS
        assert s.scalars(select(Incident)).all() == []


def test_max_attempts_outlast_an_hour_long_outage():
    policy = JobPolicy()
    waits = [policy.backoff(n) for n in range(1, hub.MAX_ATTEMPTS)]  # after failures 1 … MAX-1
    assert sum(waits, timedelta()) >= timedelta(hours=3)
    assert sum(waits, timedelta()) <= timedelta(hours=12)  # a listener gone for good is an incident that day


def test_an_unsubscribed_listener_gets_nothing_more(engine, db, clock, client_id, listener):
    subscription = listen(db, clock, client_id, listener.url)
    order = new_order(engine, db, clock, client_id, "SO-1")
    publish(db, clock, order, "acknowledged")
    tick(engine, db)
    listener.status = 500
    publish(db, clock, order, "inProgress")
    tick(engine, db)
    with db.sessions.begin() as s:
        hub.unsubscribe(s, client_id=client_id, api="serviceOrdering", subscription_id=subscription, now=clock())
    assert publish(db, clock, order, "completed") == []
    listener.status = 201
    tick_when_due(engine, db, clock)
    assert states(listener.accepted()) == ["acknowledged"]
    assert [(e.seq, e.sent_at is not None, e.last_error) for e in events(db)] == [
        (1, True, None), (2, False, hub.UNSUBSCRIBED)]
    with db.sessions() as s:
        job = s.scalars(select(Job).where(Job.kind == hub.JOB_KIND).order_by(Job.id)).all()[1]
        assert (job.status, job.result) == ("done", {"sent": 0, "dropped": 1})


def test_a_job_whose_event_is_gone_has_nothing_to_do(engine, db, clock, client_id, listener):
    listen(db, clock, client_id, listener.url)
    order = new_order(engine, db, clock, client_id, "SO-1")
    publish(db, clock, order, "acknowledged")
    with db.sessions.begin() as s:
        s.delete(s.get(TmfEvent, events(db)[0].id))
    tick(engine, db)
    assert listener.received == []


def test_an_unreachable_listener_is_a_retried_failure(engine, db, clock, client_id):
    listen(db, clock, client_id, f"http://127.0.0.1:{free_port()}/listener")
    order = new_order(engine, db, clock, client_id, "SO-1")
    publish(db, clock, order, "acknowledged")
    tick(engine, db)
    with db.sessions() as s:
        job = s.scalar(select(Job).where(Job.kind == hub.JOB_KIND))
        assert job is not None and job.status == "pending" and "unreachable" in (job.last_error or "")
