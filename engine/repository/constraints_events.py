"""Static constraints on events and activities: triggers per position, boundary events, event sub-processes,
loop and quantity attributes.

From BPMN 2.0.2: the Events section (which triggers a start event of a process, of a sub-process or of an event
sub-process, an intermediate catch or throw event, a boundary event and an end event may have; cancelActivity
per trigger), the Event Sub-Process and Ad-Hoc Sub-Process rules, and the Activity attributes (startQuantity,
completionQuantity) and loop characteristics.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.repository.constraints_model import (
    ACTIVITIES,
    SUB_PROCESSES,
    Model,
    article,
    clip,
    describe,
    is_event_subprocess,
    is_true,
    kind,
    words,
)

TOP_START = frozenset({"message", "timer", "conditional", "signal"})
EVENT_SUBPROCESS_START = frozenset({"message", "timer", "escalation", "error", "compensation", "conditional",
                                    "signal"})
END = frozenset({"message", "escalation", "error", "cancel", "compensation", "signal", "terminate"})
CATCH = frozenset({"message", "timer", "conditional", "link", "signal"})
THROW = frozenset({"message", "escalation", "compensation", "link", "signal"})
BOUNDARY = frozenset({"message", "timer", "escalation", "error", "cancel", "compensation", "conditional", "signal"})
_WHY = {
    "error": "error, escalation and compensation start events belong in event sub-processes",
    "escalation": "error, escalation and compensation start events belong in event sub-processes",
    "compensation": "error, escalation and compensation start events belong in event sub-processes",
    "link": "link events are intermediate events",
    "terminate": "terminate is a kind of end event",
    "cancel": "cancel is an end event in a transaction or a boundary event on one",
    "timer": "a timer is caught, never thrown",
    "conditional": "a condition is caught, never thrown",
}
_WHY_CATCH = {
    "error": "an error is caught by a boundary event or an event sub-process",
    "escalation": "an escalation is caught by a boundary event or an event sub-process",
    "compensation": "compensation is caught by a boundary event",
    "cancel": "cancel is caught by a boundary event on a transaction",
}
_NEGATIVE_INTEGER = re.compile(r"^\s*-\s*0*[1-9][0-9]*\s*$")
_INTEGER = re.compile(r"^\s*[+-]?[0-9]+\s*$")


def check_events_and_activities(model: Model, scope: list[etree._Element]) -> None:
    """Every event, boundary, event sub-process and activity-attribute rule for the elements in ``scope``."""
    for el in scope:
        name = kind(el)
        if name == "startEvent":
            _start_event(model, el)
        elif name == "endEvent":
            _end_event(model, el)
        elif name == "intermediateCatchEvent":
            _intermediate(model, el, CATCH, "catch")
        elif name == "intermediateThrowEvent":
            _intermediate(model, el, THROW, "throw")
        elif name == "boundaryEvent":
            _boundary_event(model, el)
        if name in ACTIVITIES:
            _activity(model, el)
        if is_event_subprocess(el):
            _event_subprocess(model, el)


def _not_allowed(model: Model, event: etree._Element, trigger: str, where: str, why: str | None = None) -> None:
    why = why or _WHY.get(trigger)
    text = f"{describe(event)} has {article(trigger)} trigger, which {where} may not have"
    model.add(event, "event-definition-not-allowed", f"{text}; {why}" if why else text)


def _start_event(model: Model, event: etree._Element) -> None:
    parent = event.getparent()
    container = kind(parent)
    triggers = model.triggers(event)
    if container == "adHocSubProcess":
        model.add(event, "adhoc-subprocess-event",
                  f"{describe(event)} is in {describe(parent)}; an ad-hoc sub-process has no start or end events")
    elif container == "process":
        for trigger, _ in triggers:
            if trigger not in TOP_START:
                _not_allowed(model, event, trigger, "the start event of a process")
    elif is_event_subprocess(parent):
        allowed = [t for t, _ in triggers if t in EVENT_SUBPROCESS_START]
        if not triggers or len(allowed) < len(triggers):
            names = [t for t, _ in triggers]
            shown = (f"{article(names[0])} trigger" if len(names) == 1 else f"{', '.join(names)} triggers") \
                if names else "no trigger"
            model.add(event, "event-subprocess-start-trigger",
                      f"{describe(event)} starts {describe(parent)} with {shown}; it needs a message, timer, "
                      "signal, conditional, error, escalation or compensation trigger")
        if not is_true(event, "isInterrupting", True) and any(t == "error" for t, _ in triggers):
            model.add(event, "non-interrupting-not-allowed",
                      f"{describe(event)} catches an error without interrupting; an error always interrupts")
    elif container in SUB_PROCESSES and triggers:
        model.add(event, "subprocess-start-trigger",
                  f"{describe(event)} in {describe(parent)} has {article(triggers[0][0])} trigger; the start event "
                  "of a sub-process is a none start event (the flow of the parent starts it)")


def _end_event(model: Model, event: etree._Element) -> None:
    parent = event.getparent()
    if kind(parent) == "adHocSubProcess":
        model.add(event, "adhoc-subprocess-event",
                  f"{describe(event)} is in {describe(parent)}; an ad-hoc sub-process has no start or end events")
    for trigger, _ in model.triggers(event):
        if trigger not in END:
            _not_allowed(model, event, trigger, "an end event")
        elif trigger == "cancel" and kind(parent) != "transaction":
            model.add(event, "cancel-outside-transaction",
                      f"{describe(event)} is a cancel end event outside a transaction; cancel ends only a "
                      "transaction")


def _intermediate(model: Model, event: etree._Element, allowed: frozenset[str], role: str) -> None:
    triggers = model.triggers(event)
    if role == "catch" and not triggers:
        model.add(event, "catch-event-without-trigger",
                  f"{describe(event)} waits for nothing: an intermediate catch event needs a trigger (message, "
                  "timer, signal, conditional or link)")
    for trigger, _ in triggers:
        if trigger not in allowed:
            why = _WHY_CATCH.get(trigger) if role == "catch" else None
            _not_allowed(model, event, trigger, f"an intermediate {role} event in the flow", why)


def _boundary_event(model: Model, event: etree._Element) -> None:
    host = model.resolve(event, event.get("attachedToRef"))
    triggers = model.triggers(event)
    names = {t for t, _ in triggers}
    if host is not None:
        if kind(host) not in ACTIVITIES:
            model.add(event, "boundary-event-not-on-activity",
                      f"{describe(event)} is attached to {describe(host)}; boundary events attach only to tasks, "
                      "sub-processes and call activities")
        elif host.getparent() is not event.getparent():
            model.add(event, "boundary-event-scope",
                      f"{describe(event)} is attached to {describe(host)}, which is in another "
                      f"{words(kind(host.getparent()) or 'scope')}; a boundary event sits beside its activity")
        elif "cancel" in names and kind(host) != "transaction":
            model.add(event, "cancel-outside-transaction",
                      f"{describe(event)} is a cancel boundary event on {describe(host)}, which is not a "
                      "transaction")
    if not triggers:
        model.add(event, "boundary-event-trigger",
                  f"{describe(event)} has no trigger; a boundary event catches a message, timer, signal, "
                  "conditional, error, escalation, cancel or compensation")
    for trigger in sorted(names - BOUNDARY):
        model.add(event, "boundary-event-trigger",
                  f"{describe(event)} has {article(trigger)} trigger, which a boundary event may not have")
    if not is_true(event, "cancelActivity", True) and names & {"error", "cancel"}:
        trigger = "an error" if "error" in names else "a cancel"
        model.add(event, "non-interrupting-not-allowed",
                  f"{describe(event)} catches {trigger} without interrupting (cancelActivity=\"false\"); "
                  f"{trigger} always interrupts the activity")
    outgoing = model.outgoing_of(event)
    if "compensation" in names and outgoing:
        model.add(event, "boundary-event-outgoing",
                  f"{describe(event)} is a compensation boundary event with an outgoing sequence flow; its handler "
                  "is linked by an association, not a flow")
    elif len(outgoing) > 1:
        model.add(event, "boundary-event-outgoing",
                  f"{describe(event)} has {len(outgoing)} outgoing sequence flows; a boundary event has one "
                  "(split with a gateway after it)")


def _event_subprocess(model: Model, sub: etree._Element) -> None:
    flows = model.incoming_of(sub) + model.outgoing_of(sub)
    if flows:
        model.add(sub, "event-subprocess-sequence-flow",
                  f"{describe(sub)} is connected by {describe(flows[0])}; an event sub-process is started by its "
                  "event, never by a sequence flow")
    starts = [child for child in sub if kind(child) == "startEvent"]
    if len(starts) != 1:
        model.add(sub, "event-subprocess-start-count",
                  f"{describe(sub)} has {len(starts)} start events; it needs exactly one")


def _activity(model: Model, activity: etree._Element) -> None:
    for attribute in ("startQuantity", "completionQuantity"):
        value = activity.get(attribute)
        if value is not None and not _integer_at_least(value, 1):
            model.add(activity, "activity-quantity-invalid",
                      f"{describe(activity)} has {attribute}=\"{clip(value)}\"; it must be a whole number of at "
                      "least 1")
    for child in activity:
        name = kind(child)
        if name == "standardLoopCharacteristics":
            value = child.get("loopMaximum")
            if value is not None and not _integer_at_least(value, 0):
                model.add(activity, "loop-maximum-invalid",
                          f"{describe(activity)} has loopMaximum=\"{clip(value)}\"; it must be a whole number, "
                          "0 or more")
        elif name == "multiInstanceLoopCharacteristics":
            for part in child:
                if kind(part) == "loopCardinality" and _NEGATIVE_INTEGER.match(part.text or ""):
                    model.add(activity, "loop-cardinality-negative",
                              f"{describe(activity)} has loopCardinality {clip(part.text or '')}; the number of "
                              "instances cannot be negative")


def _integer_at_least(value: str, least: int) -> bool:
    """An xsd:integer literal (ASCII digits, optional sign, no underscores) of at least ``least``."""
    if not _INTEGER.match(value):
        return False
    text = value.strip()
    if len(text) > 18:  # int() refuses very long literals; only the sign matters then
        return not text.startswith("-")
    return int(text) >= least
