"""Normalization of sequence flows: link event pairs become a flow, several outgoing flows get a gateway.

BPMN 2.0.2 §10.2 (Sequence Flow) and §13.3.2: an activity (or intermediate event) whose outgoing flows are
all plain starts every one of them, like a parallel gateway; when some carry a condition, each true one is
taken and a plain one always, and the activity's ``default`` flow only when no other flow is taken, like an
inclusive gateway. SpiffWorkflow refuses an activity with several outgoing flows, so the gateway is drawn in:
``node → <node>__split`` and the flows leave from the gateway (a plain flow next to conditional ones gets the
condition ``True``). A start event keeps its flows: the library already starts them all. Several incoming flows
stay as they are: the library runs the activity once per arrival, which is BPMN's uncontrolled merge.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from engine.repository.constraints_flow import has_condition
from engine.repository.constraints_model import GATEWAYS, kind
from engine.repository.graph import FLOW_NODES
from engine.repository.normalize_common import SCOPES, Ids, add_to_lane, element
from engine.repository.normalize_links import link_pairs

SPLIT_AT = FLOW_NODES - GATEWAYS - {"startEvent", "endEvent"}
ALWAYS = "True"


def _scopes(root: etree._Element) -> list[etree._Element]:
    return [el for el in root.iter() if kind(el) in SCOPES]


def _flows(scope: etree._Element) -> list[etree._Element]:
    return [el for el in scope if kind(el) == "sequenceFlow"]


def connect_links(root: etree._Element, ids: Ids) -> None:
    """Give each paired link throw event (one without outgoing flows) a sequence flow to its catch event."""
    for scope in _scopes(root):
        sources = {flow.get("sourceRef") for flow in _flows(scope)}
        for throw, catch in link_pairs(scope):
            throw_id, catch_id = throw.get("id"), catch.get("id")
            if not throw_id or not catch_id or throw_id in sources:
                continue
            flow_id = ids.fresh(f"{throw_id}__link")
            throw.addnext(element(scope, "sequenceFlow",
                                  {"id": flow_id, "sourceRef": throw_id, "targetRef": catch_id}))
            _list_flow(throw, "outgoing", flow_id)
            _list_flow(catch, "incoming", flow_id)


def split_outgoing(root: etree._Element, ids: Ids) -> None:
    """Put a gateway after every activity or intermediate event that has several outgoing flows."""
    for scope in _scopes(root):
        outgoing: dict[str, list[etree._Element]] = defaultdict(list)
        for flow in _flows(scope):
            outgoing[(flow.get("sourceRef") or "").strip()].append(flow)
        for node in list(scope):
            node_id = node.get("id") if kind(node) in SPLIT_AT else None
            if node_id and len(outgoing.get(node_id, [])) > 1:
                _split(scope, node, node_id, outgoing[node_id], ids)


def _split(scope: etree._Element, node: etree._Element, node_id: str, flows: list[etree._Element],
           ids: Ids) -> None:
    default = node.get("default")
    if default not in {flow.get("id") for flow in flows}:
        default = None
    conditional = any(has_condition(flow) for flow in flows if flow.get("id") != default)
    gateway_id = ids.fresh(f"{node_id}__split")
    link_id = ids.fresh(f"{node_id}__split_flow")
    attributes = {"id": gateway_id, "gatewayDirection": "Diverging"}
    if conditional and default:
        attributes["default"] = default
    gateway = element(scope, "inclusiveGateway" if conditional else "parallelGateway", attributes)
    link = element(scope, "sequenceFlow", {"id": link_id, "sourceRef": node_id, "targetRef": gateway_id})
    node.addnext(gateway)
    gateway.addnext(link)
    if default:
        del node.attrib["default"]
    moved = []
    for flow in flows:
        flow.set("sourceRef", gateway_id)
        moved.append(flow.get("id") or "")
        if conditional and flow.get("id") != default and not has_condition(flow):
            _always(flow)
    _relist(node, moved, link_id)
    _list_flow(gateway, "incoming", link_id)
    for flow_id in moved:
        if flow_id:
            _list_flow(gateway, "outgoing", flow_id)
    add_to_lane(scope, node_id, gateway_id)


def _always(flow: etree._Element) -> None:
    """A plain flow out of an inclusive split: taken whatever the data (an empty condition is dropped)."""
    for child in list(flow):
        if kind(child) == "conditionExpression":
            flow.remove(child)
    condition = element(flow, "conditionExpression", {})
    condition.text = ALWAYS
    flow.append(condition)


def _relist(node: etree._Element, moved: list[str], link_id: str) -> None:
    """The node's own ``outgoing`` list (when it keeps one) names the flow to the gateway instead."""
    listed = [child for child in node if kind(child) == "outgoing" and (child.text or "").strip() in moved]
    if not listed:
        return
    listed[0].text = link_id
    for child in listed[1:]:
        node.remove(child)


def _list_flow(node: etree._Element, which: str, flow_id: str) -> None:
    """Add ``<incoming>``/``<outgoing>`` to a node that lists its flows, where the schema wants it (after the
    incoming ones, before what follows them)."""
    if not any(kind(child) in ("incoming", "outgoing") for child in node) and kind(node) not in GATEWAYS:
        return
    entry = element(node, which, {})
    entry.text = flow_id
    before = ("incoming",) if which == "incoming" else ("incoming", "outgoing")
    ahead = ("documentation", "extensionElements", "auditing", "monitoring", "categoryValueRef", *before)
    position = 0
    for index, child in enumerate(node):
        if kind(child) in ahead:
            position = index + 1
    node.insert(position, entry)
