"""Non-interrupting boundary events fire every time their event occurs while the activity runs (BPMN 2.0.2
§10.5.4), through the engine services with persistence; once the activity is done they listen no more."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import EomsError
from engine.runtime.models import EventSubscription
from tests.conftest import user
from tests.engine.test_conditional_starts import begin, finish, ready
from tests.engine.test_timers import instance


def note(pe, db, iid: int, text: str) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        pe.runtime.correlate(s, iid, "customer_note", {"note": text})


def listening(db, iid: int) -> list[str]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return sorted(s.scalars(select(EventSubscription.name).where(EventSubscription.instance_id == iid)))


def test_every_message_during_the_activity_fires_the_boundary_again(pe, db, deploy):
    deploy("conformance/repeating_boundary.bpmn")
    iid = begin(pe, db, "repeating_boundary", {})
    note(pe, db, iid, "请上午来")
    note(pe, db, iid, "改到下午")
    note(pe, db, iid, "电话联系")
    assert ready(db, iid) == ["read_note", "read_note", "read_note", "repair"]
    assert listening(db, iid) == ["area_outage", "customer_note"]
    finish(pe, db, iid, "repair")
    assert listening(db, iid) == []  # the activity is done: its boundary events are gone
    with db.sessions.begin() as s, pytest.raises(EomsError):
        pe.runtime.correlate(s, iid, "customer_note", {"note": "too late"})
    for _ in range(3):
        finish(pe, db, iid, "read_note")
    assert instance(db, iid).status == "completed"


def test_every_signal_during_the_activity_fires_the_boundary_again(pe, db, deploy):
    deploy("conformance/repeating_boundary.bpmn")
    iid = begin(pe, db, "repeating_boundary", {})
    for _ in range(2):
        with db.sessions.begin() as s:
            pe.runtime.broadcast_signal(s, "area_outage", {}, actor=user(s, pe, "admin"))
    assert ready(db, iid) == ["repair", "tell_customer", "tell_customer"]
