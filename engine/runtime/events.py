"""Signals and messages between instances (BPMN 2.0.2 §10.5.1): who waits for what, and delivering.

A signal is a broadcast: it reaches every instance waiting for it and starts every process with a matching
signal start event. A message goes to one receiver: the first instance waiting for it that catches it (its
correlation decides), else it starts a process with a matching message start event. Subscriptions are
rows (``event_subscription``) kept in step with the state, so delivery never reads state JSON.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.runtime.models import EventSubscription, ProcessInstance
from engine.spiff.event_names import Subscription, kinds_of


def sync_instance(session: Session, instance: ProcessInstance, wanted: set[Subscription]) -> None:
    """Make the instance's subscription rows what it waits for now (nothing when it has ended)."""
    rows = session.scalars(select(EventSubscription).where(EventSubscription.instance_id == instance.id)).all()
    have = {(r.kind, r.name): r for r in rows}
    for key, row in have.items():
        if key not in wanted:
            session.delete(row)
    for kind, name in wanted - set(have):
        session.add(EventSubscription(kind=kind, name=name[:200], instance_id=instance.id,
                                      process_key=instance.process_key))


def subscribers(session: Session, kind: str, name: str) -> tuple[list[int], list[int]]:
    """(waiting instance ids, oldest first; definition ids whose start event listens)."""
    rows = session.execute(select(EventSubscription.instance_id, EventSubscription.definition_id)
                           .where(EventSubscription.kind == kind, EventSubscription.name == name)
                           .order_by(EventSubscription.id)).all()
    instances = [i for i, _ in rows if i is not None]
    definitions = [d for _, d in rows if d is not None]
    return list(dict.fromkeys(instances)), list(dict.fromkeys(definitions))


def describe(event: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(kind, name, payload) of an event an instance threw and did not catch itself; None for other kinds."""
    definition = getattr(event, "event_definition", None)
    kinds = kinds_of(definition)
    if not kinds:
        return None
    kind, name = next(iter(kinds))
    payload = event.payload if isinstance(event.payload, dict) else {}
    return kind, name, payload
