"""Static constraints on connections: sequence flows, default flows, gateways, conditions, message flows.

From BPMN 2.0.2: Sequence Flow (8.4.13), the Message Flow connection rules, the sequence-flow connection rules
of events and gateways (a gateway splits or joins, as its gatewayDirection says) and the Event-Based Gateway.
Every check reads the index in :mod:`engine.repository.constraints_model`.
"""

from __future__ import annotations

from lxml import etree

from engine.repository.constraints_model import ACTIVITIES, EVENTS, GATEWAYS, Model, clip, describe, kind
from engine.repository.graph import FLOW_NODES

EVENT_GATEWAY_TRIGGERS = frozenset({"message", "signal", "timer", "conditional"})
DEFAULT_HOLDERS = ACTIVITIES | {"exclusiveGateway", "inclusiveGateway", "complexGateway"}


def check_connections(model: Model, scope: list[etree._Element]) -> None:
    """Every connection rule for the elements of executable processes in ``scope``."""
    for el in scope:
        name = kind(el)
        if name == "sequenceFlow":
            _sequence_flow(model, el)
        elif name in GATEWAYS:
            _gateway(model, el)
        if name in DEFAULT_HOLDERS and el.get("default") is not None:
            _default_flow(model, el)
    _message_flows(model)


def has_condition(flow: etree._Element) -> bool:
    """A flow carries a condition when its conditionExpression has text (an empty one is a modeller's leftover
    that nothing evaluates)."""
    return any(kind(child) == "conditionExpression" and (child.text or "").strip() for child in flow)


def _sequence_flow(model: Model, flow: etree._Element) -> None:
    source = model.resolve(flow, flow.get("sourceRef"))
    target = model.resolve(flow, flow.get("targetRef"))
    if source is None or target is None:
        return  # a missing end is reported by the reference check
    for end, role in ((source, "source"), (target, "target")):
        if kind(end) not in FLOW_NODES:
            model.add(flow, "flow-endpoint-not-flow-node",
                      f"{describe(flow)} has {describe(end)} as its {role}; a sequence flow connects events, "
                      "activities and gateways")
            return
    container = flow.getparent()
    outside = [end for end in (source, target) if end.getparent() is not container]
    if outside:
        where = describe(container) if kind(container) else "the same scope"
        model.add(flow, "flow-crosses-boundary",
                  f"{describe(flow)} connects {describe(source)} to {describe(target)} across a sub-process or "
                  f"pool boundary; {describe(outside[0])} is not in {where}, which holds the flow")
        return
    _endpoint_kinds(model, flow, source, target)
    if has_condition(flow):
        _condition(model, flow, source)


def _endpoint_kinds(model: Model, flow: etree._Element, source: etree._Element, target: etree._Element) -> None:
    if kind(target) == "startEvent":
        model.add(target, "start-event-incoming",
                  f"{describe(target)} is the target of {describe(flow)}; a start event has no incoming flow")
    elif kind(target) == "boundaryEvent":
        model.add(target, "boundary-event-incoming",
                  f"{describe(target)} is the target of {describe(flow)}; a boundary event has no incoming flow")
    if kind(source) == "endEvent":
        model.add(source, "end-event-outgoing",
                  f"{describe(source)} is the source of {describe(flow)}; an end event has no outgoing flow")


def _condition(model: Model, flow: etree._Element, source: etree._Element) -> None:
    name = kind(source)
    if name == "parallelGateway":
        model.add(flow, "condition-on-parallel-gateway-flow",
                  f"{describe(flow)} out of {describe(source)} has a condition; a parallel gateway takes every "
                  "outgoing flow, so its flows have none")
    elif name == "eventBasedGateway":
        model.add(flow, "condition-on-event-gateway-flow",
                  f"{describe(flow)} out of {describe(source)} has a condition; after an event-based gateway the "
                  "first event decides, its flows have no condition")
    elif name in EVENTS:
        model.add(flow, "condition-on-event-flow",
                  f"{describe(flow)} out of {describe(source)} has a condition; flows out of events have none")
    elif name in ACTIVITIES and len(model.outgoing_of(source)) < 2:
        model.add(flow, "condition-on-sole-activity-flow",
                  f"{describe(flow)} is the only flow out of {describe(source)} and has a condition; a conditional "
                  "flow out of an activity needs another outgoing flow")


def _default_flow(model: Model, el: etree._Element) -> None:
    ref = el.get("default") or ""
    flow = model.resolve(el, ref)
    if flow is None:
        return  # reported by the reference check
    if kind(flow) != "sequenceFlow" or model.local_ref(flow, flow.get("sourceRef") or "") != el.get("id"):
        model.add(el, "default-flow-not-outgoing",
                  f"the default flow '{clip(ref)}' of {describe(el)} is not one of its outgoing sequence flows")


def _gateway(model: Model, gateway: etree._Element) -> None:
    n_in, n_out = len(model.incoming_of(gateway)), len(model.outgoing_of(gateway))
    counts = f"{n_in} incoming and {n_out} outgoing sequence flow{'s' if n_out != 1 else ''}"
    if kind(gateway) == "eventBasedGateway":
        _event_gateway(model, gateway, n_out)
        if n_out < 2:
            return
    if n_in < 2 and n_out < 2:
        if (gateway.get("gatewayDirection") or "Unspecified").strip().lower() == "unspecified":
            return  # §10.5.1 says a gateway MUST split or join; a plain pass-through still runs unambiguously,
            # and modelers draw them, so only a gateway that declares a direction it does not have is refused
        model.add(gateway, "gateway-no-split-or-join",
                  f"{describe(gateway)} has {counts}; a gateway must split (several outgoing) or join "
                  "(several incoming) the flow")
        return
    direction = (gateway.get("gatewayDirection") or "Unspecified").strip().lower()
    wrong = {"mixed": n_in < 2 or n_out < 2, "converging": n_in < 2 or n_out > 1,
             "diverging": n_out < 2 or n_in > 1}.get(direction, False)
    if wrong:
        need = {"mixed": "several incoming and several outgoing",
                "converging": "several incoming and at most one outgoing",
                "diverging": "at most one incoming and several outgoing"}[direction]
        model.add(gateway, "gateway-direction",
                  f"{describe(gateway)} is declared {direction} and has {counts}; a {direction} gateway has {need}")


def _event_gateway(model: Model, gateway: etree._Element, n_out: int) -> None:
    if n_out < 2:
        model.add(gateway, "event-gateway-outgoing",
                  f"{describe(gateway)} has {n_out} outgoing sequence flow{'s' if n_out != 1 else ''}; an "
                  "event-based gateway waits for one of at least two events")
    if (gateway.get("eventGatewayType") or "Exclusive").strip().lower() == "parallel" and \
            (gateway.get("instantiate") or "false").strip().lower() != "true":
        model.add(gateway, "event-gateway-parallel",
                  f"{describe(gateway)} is parallel but does not instantiate the process; only an instantiating "
                  "event-based gateway may be parallel")
    message_events, receive_tasks = [], []
    for flow in model.outgoing_of(gateway):
        target = model.resolve(flow, flow.get("targetRef"))
        if target is None:
            continue
        name = kind(target)
        triggers = {t for t, _ in model.triggers(target)} if name == "intermediateCatchEvent" else set()
        if name == "receiveTask":
            receive_tasks.append(target)
            if model.attached.get(target.get("id") or ""):
                model.add(target, "event-gateway-target",
                          f"{describe(target)} follows {describe(gateway)} and has boundary events; a receive task "
                          "after an event-based gateway has none")
        elif triggers and triggers <= EVENT_GATEWAY_TRIGGERS:
            if "message" in triggers:
                message_events.append(target)
        else:
            model.add(target, "event-gateway-target",
                      f"{describe(target)} follows {describe(gateway)}; an event-based gateway leads only to "
                      "message, timer, signal or conditional catch events, or to receive tasks")
            continue
        others = [f for f in model.incoming_of(target) if f is not flow]
        if others:
            model.add(target, "event-gateway-target-joins",
                      f"{describe(target)} follows {describe(gateway)} and has another incoming flow "
                      f"'{clip(others[0].get('id') or '?')}'; it may be reached only from the gateway")
    if message_events and receive_tasks:
        model.add(gateway, "event-gateway-mixed-targets",
                  f"{describe(gateway)} leads to both {describe(message_events[0])} and "
                  f"{describe(receive_tasks[0])}; use message catch events or receive tasks, not both")


def _message_flows(model: Model) -> None:
    for flow in model.message_flows:
        ends = [model.resolve(flow, flow.get(attr)) for attr in ("sourceRef", "targetRef")]
        pools = [_pool_of(model, end) for end in ends]
        if None in pools or pools[0] is not pools[1]:
            continue
        pool = pools[0]
        if kind(pool) == "process" and not model.executable(pool):
            continue
        model.add(flow, "message-flow-same-pool",
                  f"{describe(flow)} connects {describe(ends[0])} and {describe(ends[1])}, both in "
                  f"{describe(pool)}; a message flow connects two different pools")


def _pool_of(model: Model, end: etree._Element | None) -> etree._Element | None:
    """The process (or, for a black-box pool, the participant) a message-flow end belongs to."""
    if end is None:
        return None
    if kind(end) == "participant":
        process = model.resolve(end, end.get("processRef"))
        return process if kind(process) == "process" else end
    return model.process_of.get(end.get("id") or "")
