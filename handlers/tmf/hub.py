"""The TMF hub: listeners API clients register (``POST /hub``), the events published to them about their own
orders, and the ``tmf.event`` job that POSTs each event, signed, in ``seq`` order per (listener, order).

Delivery: every event gets its own durable job, but a job sends every unsent event of its (listener, order) up
to its own, in order, holding the order's row lock — so whichever job runs first after a listener recovers
sends the backlog in order and the other jobs find nothing left to do. A failure is raised (the job machinery
retries with backoff, and raises an incident after the last attempt) unless this run already delivered
something: the engine undoes a failed job's writes, which would forget those deliveries and send them twice,
so such a run keeps them and hands the rest to a new job instead. For the same reason an event's
``attempts``/``last_error`` count the outcomes that are kept (its delivery; a failure after part of a backlog
got through); a raised failure is counted on the job (attempts, last_error, the incident).
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.jobs.service import enqueue
from engine.registry import HandlerRegistry, JobContext
from handlers.tmf.models import ExternalOrder, HubSubscription, TmfEvent
from handlers.tmf.signing import HEADER as SIGNATURE_HEADER
from handlers.tmf.signing import sign

APIS = ("serviceOrdering", "troubleTicket", "alarmManagement")
JOB_KIND = "tmf.event"
MAX_URL = 500  # HubSubscription.callback
MAX_QUERY = 500  # HubSubscription.query
MAX_SECRET = 100  # HubSubscription.secret
MAX_ERROR = 2000
DELIVERY_TIMEOUT = 10  # seconds per POST
UNSUBSCRIBED = "unsubscribed"  # last_error of an event dropped because its listener went away
RESUME_AFTER = timedelta(seconds=10)  # a run that delivered part of a backlog: the rest is tried again after this
# Attempts of one event's job. The job service waits min(1 h, 10 s * 2**(n-1)) after the n-th failure
# (JobPolicy), so attempts 1..10 span 10+20+…+2560 s = 5110 s ≈ 85 min and each further one comes an hour
# later: 12 attempts keep trying for ≈ 3 h 25 min — a listener down for an hour (even one that went down a
# while before the event) is still served, and a listener gone for good becomes an incident the same day.
MAX_ATTEMPTS = 12

_EVENT_TYPE = re.compile(r"[A-Za-z]+Event")


class TmfDeliveryError(Exception):
    """A listener did not take an event (non-2xx answer, timeout, refused connection)."""


# -- subscriptions -----------------------------------------------------------------------------------------
def parse_query(query: str | None) -> frozenset[str] | None:
    """The event types a hub ``query`` asks for (``eventType=AEvent,BEvent``, comma = OR); None: every event.
    Anything else is refused (InvalidInput, field ``query``)."""
    query = (query or "").strip()
    if not query:
        return None
    name, sep, values = query.partition("=")
    types = [v.strip() for v in values.split(",")]
    if len(query) > MAX_QUERY or not sep or name.strip() != "eventType" \
            or not all(_EVENT_TYPE.fullmatch(t) for t in types):
        raise InvalidInput(f"the query must read eventType=<names ending in Event, comma-separated>, not {query!r}"
                           [:300], {"query": "invalid"})
    return frozenset(types)


def wants(subscription: HubSubscription, event_type: str) -> bool:
    """Whether the listener's query lets ``event_type`` through."""
    types = parse_query(subscription.query)
    return types is None or event_type in types


def _valid_callback(callback: Any) -> bool:
    if not isinstance(callback, str) or not callback or len(callback) > MAX_URL:
        return False
    if any(c.isspace() or not c.isprintable() for c in callback):
        return False
    try:
        parts = urlsplit(callback)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_api(api: str) -> None:
    if api not in APIS:
        raise InvalidInput(f"api must be one of {', '.join(APIS)}", {"api": "invalid"})


def subscribe(session: Session, *, client_id: int, api: str, callback: str, query: str | None, secret: str,
              now: datetime) -> HubSubscription:
    """Register a listener of ``api``'s events about the client's orders. A second live listener with the same
    callback and the same filter is refused (``{"callback": "already exists"}``; TMF: 409)."""
    _check_api(api)
    if not _valid_callback(callback):
        raise InvalidInput(f"callback must be an absolute http(s) URL of at most {MAX_URL} characters",
                           {"callback": "invalid"})
    query = (query or "").strip()
    wanted = parse_query(query)
    if not secret or len(secret) > MAX_SECRET:
        raise InvalidInput(f"the signing secret must be 1-{MAX_SECRET} characters", {"secret": "invalid"})
    same_callback = session.scalars(select(HubSubscription).where(
        HubSubscription.client_id == client_id, HubSubscription.api == api, HubSubscription.callback == callback,
        HubSubscription.deleted_at.is_(None)))
    if any(parse_query(existing.query) == wanted for existing in same_callback):
        raise InvalidInput("this listener is registered already", {"callback": "already exists"})
    subscription = HubSubscription(client_id=client_id, api=api, callback=callback, query=query, secret=secret,
                                   created_at=now)
    session.add(subscription)
    session.flush()
    return subscription


def unsubscribe(session: Session, *, client_id: int, api: str, subscription_id: int | str, now: datetime) -> None:
    """End a listener; NotFound unless it is a live listener of this client and ``api`` (another client's id
    looks the same as one that does not exist). Its events not sent yet are dropped by their jobs."""
    try:
        wanted_id = int(subscription_id)
    except (TypeError, ValueError):
        wanted_id = None
    subscription = None if wanted_id is None else session.scalar(select(HubSubscription).where(
        HubSubscription.id == wanted_id, HubSubscription.client_id == client_id, HubSubscription.api == api,
        HubSubscription.deleted_at.is_(None)))
    if subscription is None:
        raise NotFound(f"hub listener {subscription_id} does not exist", details={"id": str(subscription_id)})
    subscription.deleted_at = now
    session.flush()


def subscriptions(session: Session, client_id: int, api: str) -> list[HubSubscription]:
    """The client's live listeners of ``api``, oldest first."""
    return list(session.scalars(select(HubSubscription).where(
        HubSubscription.client_id == client_id, HubSubscription.api == api, HubSubscription.deleted_at.is_(None))
        .order_by(HubSubscription.id)))


# -- publishing --------------------------------------------------------------------------------------------
def _timestamp(now: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (a naive time is taken as UTC)."""
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def publish(session: Session, order: ExternalOrder, *, api: str, event_type: str, resource_key: str,
            resource: dict[str, Any], now: datetime, title: str = "", description: str = "", priority: str = "",
            field_path: str | None = None) -> list[TmfEvent]:
    """Queue ``event_type`` about ``order`` (``{"event": {resource_key: resource}}`` in the TMF envelope) for each
    live listener of the order's client and ``api`` whose query wants it, with the next ``seq`` of that
    (listener, order), and one ``tmf.event`` job each — all in the caller's transaction."""
    _check_api(api)
    if not _EVENT_TYPE.fullmatch(event_type):
        raise InvalidInput(f"event type {event_type!r} is not a TMF event name", {"event_type": "invalid"})
    listeners = [s for s in subscriptions(session, order.client_id, api) if wants(s, event_type)]
    if not listeners:
        return []
    if order.id is None:
        session.flush()
    # one publisher at a time per order, so two never take the same seq (a no-op on SQLite, whose writers
    # take turns anyway)
    session.execute(select(ExternalOrder.id).where(ExternalOrder.id == order.id).with_for_update())
    stamp = _timestamp(now)
    events = []
    for listener in listeners:
        last = session.scalar(select(func.max(TmfEvent.seq)).where(TmfEvent.subscription_id == listener.id,
                                                                   TmfEvent.order_id == order.id))
        event_id = uuid.uuid4().hex
        body: dict[str, Any] = {
            "eventId": event_id, "eventTime": stamp, "eventType": event_type, "correlationId": order.external_id,
            "domain": api, "title": title, "description": description, "priority": priority,
            "timeOcurred": stamp,  # sic: the TMF specs' spelling
            "event": {resource_key: resource},
        }
        if field_path is not None:
            body["fieldPath"] = field_path
        event = TmfEvent(event_id=event_id, subscription_id=listener.id, order_id=order.id, seq=(last or 0) + 1,
                         event_type=event_type, body=body, created_at=now, attempts=0)
        session.add(event)
        session.flush()
        events.append(event)
    for event in events:
        enqueue(session, JOB_KIND, {"event": event.id}, f"tmf-event:{event.event_id}", now=now,
                max_attempts=MAX_ATTEMPTS, instance_id=order.instance_id)
    return events


# -- delivery ----------------------------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is not a delivery (urllib would follow it with a GET and lose the body): it fails as a 3xx."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def body_bytes(event: TmfEvent) -> bytes:
    """The exact bytes POSTed (and signed) for ``event``."""
    return json.dumps(event.body, ensure_ascii=False, separators=(",", ":")).encode()


def _post(subscription: HubSubscription, event: TmfEvent) -> str | None:
    """POST one event to its listener; None when it took it (2xx), else what went wrong."""
    data = body_bytes(event)
    headers = {"Content-Type": "application/json;charset=utf-8", "X-EOMS-Event-Id": event.event_id,
               "X-EOMS-Event-Type": event.event_type, SIGNATURE_HEADER: sign(data, subscription.secret)}
    request = urllib.request.Request(subscription.callback, data=data, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=DELIVERY_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        return f"the listener answered {err.code}"
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError, ValueError) as err:
        return f"the listener is unreachable: {err}"
    return None if 200 <= status < 300 else f"the listener answered {status}"


def deliver(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Send the event ``payload["event"]`` and every unsent one before it of the same (listener, order), in
    order; drop them if the listener was unsubscribed."""
    session = ctx.session
    ref = session.execute(select(TmfEvent.subscription_id, TmfEvent.order_id, TmfEvent.seq, TmfEvent.event_id)
                          .where(TmfEvent.id == payload["event"])).first()
    if ref is None:  # its order or listener was deleted, and the event with it
        return {"sent": 0, "missing": True}
    # one sender at a time per order (PostgreSQL; SQLite's writers take turns anyway); read what is sent after it
    session.execute(select(ExternalOrder.id).where(ExternalOrder.id == ref.order_id).with_for_update())
    subscription = session.get(HubSubscription, ref.subscription_id, populate_existing=True)
    if subscription is None:
        return {"sent": 0, "missing": True}
    unsent = (select(TmfEvent)
              .where(TmfEvent.subscription_id == ref.subscription_id, TmfEvent.order_id == ref.order_id,
                     TmfEvent.sent_at.is_(None),
                     or_(TmfEvent.last_error.is_(None), TmfEvent.last_error != UNSUBSCRIBED))
              .order_by(TmfEvent.seq).execution_options(populate_existing=True))
    if subscription.deleted_at is not None:
        dropped = list(session.scalars(unsent))
        for event in dropped:
            event.last_error = UNSUBSCRIBED
        session.flush()
        return {"sent": 0, "dropped": len(dropped)}
    sent = 0
    for event in session.scalars(unsent.where(TmfEvent.seq <= ref.seq)).all():
        error = _post(subscription, event)
        if error is None:
            event.sent_at, event.attempts, event.last_error = ctx.now, event.attempts + 1, None
            session.flush()
            sent += 1
            continue
        if not sent:  # nothing delivered to lose: the job is retried (its attempts and last_error say why)
            raise TmfDeliveryError(f"event {event.seq} ({event.event_id}) to {subscription.callback}: {error}")
        event.attempts, event.last_error = event.attempts + 1, error[:MAX_ERROR]
        session.flush()
        resumed = enqueue(session, JOB_KIND, {"event": payload["event"]}, f"tmf-event:{ref.event_id}:{ctx.job_id}",
                          now=ctx.now, due_at=ctx.now + RESUME_AFTER, max_attempts=MAX_ATTEMPTS,
                          instance_id=ctx.instance_id)
        return {"sent": sent, "failed": event.event_id, "resumed_by": resumed.id}
    return {"sent": sent}


def register(registry: HandlerRegistry) -> None:
    """Register the ``tmf.event`` job."""
    registry.register_job(JOB_KIND, deliver, "POST a TMF event (and any before it) to the listener, signed")
