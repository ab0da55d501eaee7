"""Writes BPMN 2.0 XML with diagram interchange (BPMNDI) from a compact description of a flow.

The five business flows in ``processes/`` were first generated with this (``python -m tools.build_processes``)
and are then maintained as BPMN files in a modeler; the layout is simple and readable: one column per step
along the longest path, one swimlane per post.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

SIZES = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50)}
COL_GAP, ROW_GAP, LANE_PAD, LABEL_W = 60, 30, 30, 30
TASK_KINDS = {"userTask", "serviceTask", "scriptTask", "subProcess"}
GATEWAYS = {"exclusiveGateway", "parallelGateway"}


@dataclass
class Node:
    id: str
    kind: str  # startEvent endEvent userTask serviceTask scriptTask exclusiveGateway parallelGateway
    #            intermediateTimer intermediateMessage boundaryTimer subProcess
    name: str = ""
    lane: str = ""
    props: dict[str, str] = field(default_factory=dict)
    script: str = ""
    operator: str = ""
    params: dict[str, str] = field(default_factory=dict)
    result: str = ""
    timer: tuple[str, str] | None = None  # (timeDuration|timeDate|timeCycle, expression)
    message: str = ""
    attached_to: str = ""
    interrupting: bool = True
    default: str = ""
    multi_instance: tuple[str, str] | None = None  # (collection variable, item variable)
    inner: Process | None = None


@dataclass
class Flow:
    id: str
    src: str
    dst: str
    name: str = ""
    cond: str = ""


@dataclass
class Process:
    id: str
    name: str
    lanes: list[tuple[str, str]]  # (lane id, lane name = post code or name)
    nodes: list[Node]
    flows: list[Flow]
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, variable)
    documentation: str = ""


# -- layout ---------------------------------------------------------------------------------------------------
@dataclass
class Box:
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _size(node: Node) -> tuple[float, float]:
    if node.kind == "subProcess" and node.inner is not None:
        inner = layout(node.inner, lanes=False)
        return inner["width"] + 40, inner["height"] + 40
    if node.kind in TASK_KINDS:
        return SIZES["task"]
    if node.kind in GATEWAYS:
        return SIZES["gateway"]
    return SIZES["event"]


def _columns(process: Process) -> tuple[dict[str, int], set[str]]:
    main = [n for n in process.nodes if n.kind != "boundaryTimer"]
    outgoing: dict[str, list[Flow]] = {n.id: [] for n in process.nodes}
    for f in process.flows:
        outgoing[f.src].append(f)
    boundary_of = {n.attached_to: [] for n in process.nodes if n.kind == "boundaryTimer"}
    for n in process.nodes:
        if n.kind == "boundaryTimer":
            boundary_of[n.attached_to].append(n.id)
    back: set[str] = set()
    state: dict[str, int] = {}

    def dfs(node_id: str) -> None:
        state[node_id] = 1
        targets = [(f.id, f.dst) for f in outgoing[node_id]] + [("", b) for b in boundary_of.get(node_id, [])]
        for flow_id, dst in targets:
            if state.get(dst) == 1:
                back.add(flow_id)
            elif dst not in state:
                dfs(dst)
        state[node_id] = 2

    for start in [n.id for n in main if n.kind == "startEvent"]:
        dfs(start)
    column = {n.id: 0 for n in process.nodes}
    changed = True
    while changed:
        changed = False
        for f in process.flows:
            if f.id not in back and column[f.dst] < column[f.src] + 1:
                column[f.dst] = column[f.src] + 1
                changed = True
        for n in process.nodes:
            if n.kind == "boundaryTimer" and column[n.id] != column[n.attached_to]:
                column[n.id] = column[n.attached_to]
                changed = True
    return column, back


def layout(process: Process, lanes: bool = True) -> dict:
    column, back = _columns(process)
    sizes = {n.id: _size(n) for n in process.nodes}
    lane_ids = [lid for lid, _ in process.lanes] if lanes else [""]
    lane_of = {n.id: (n.lane if lanes else "") for n in process.nodes}
    cols = max(column.values()) + 1
    col_w = [max([sizes[n.id][0] for n in process.nodes if column[n.id] == c and n.kind != "boundaryTimer"] or [0])
             for c in range(cols)]
    cells: dict[tuple[str, int], list[Node]] = {}
    for n in process.nodes:
        if n.kind != "boundaryTimer":
            cells.setdefault((lane_of[n.id], column[n.id]), []).append(n)
    lane_h = {}
    for lid in lane_ids:
        tallest = max([sum(sizes[n.id][1] for n in cells.get((lid, c), [])) + ROW_GAP * (len(cells.get((lid, c), [])) - 1)
                       for c in range(cols)] or [0])
        lane_h[lid] = max(tallest, 80) + 2 * LANE_PAD
    x0 = (2 * LABEL_W if lanes else 0) + 20
    col_x = []
    x = x0
    for c in range(cols):
        col_x.append(x)
        x += col_w[c] + COL_GAP
    width = x - COL_GAP + 20
    boxes: dict[str, Box] = {}
    lane_boxes: dict[str, Box] = {}
    y = 0.0
    for lid in lane_ids:
        lane_boxes[lid] = Box(LABEL_W, y, width - LABEL_W, lane_h[lid])
        for c in range(cols):
            stack = cells.get((lid, c), [])
            total = sum(sizes[n.id][1] for n in stack) + ROW_GAP * max(0, len(stack) - 1)
            yy = y + (lane_h[lid] - total) / 2
            for n in stack:
                w, h = sizes[n.id]
                boxes[n.id] = Box(col_x[c] + (col_w[c] - w) / 2, yy, w, h)
                yy += h + ROW_GAP
        y += lane_h[lid]
    for n in process.nodes:
        if n.kind == "boundaryTimer":
            host = boxes[n.attached_to]
            siblings = [b.id for b in process.nodes if b.kind == "boundaryTimer" and b.attached_to == n.attached_to]
            i = siblings.index(n.id)
            boxes[n.id] = Box(host.x + host.w - 46 - 40 * i, host.y + host.h - 18, 36, 36)
    return {"boxes": boxes, "lanes": lane_boxes, "width": width, "height": y, "back": back}


# -- XML --------------------------------------------------------------------------------------------------------
def _ext(node: Node) -> str:
    parts = []
    if node.props:
        props = "".join(f'<spiffworkflow:property name={quoteattr(k)} value={quoteattr(v)}/>' for k, v in node.props.items())
        parts.append(f"<spiffworkflow:properties>{props}</spiffworkflow:properties>")
    if node.operator:
        params = "".join(f'<spiffworkflow:parameter id={quoteattr(k)} type="any" value={quoteattr(v)}/>'
                         for k, v in node.params.items())
        result = f' resultVariable={quoteattr(node.result)}' if node.result else ""
        parts.append(f'<spiffworkflow:serviceTaskOperator id={quoteattr(node.operator)}{result}>'
                     f"<spiffworkflow:parameters>{params}</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>")
    return f"<bpmn:extensionElements>{''.join(parts)}</bpmn:extensionElements>" if parts else ""


def _node_xml(node: Node, process: Process, incoming: dict[str, list[str]], outgoing: dict[str, list[str]]) -> str:
    attrs = f'id="{node.id}"' + (f' name={quoteattr(node.name)}' if node.name else "")
    flows = "".join(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming.get(node.id, [])) + \
        "".join(f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing.get(node.id, []))
    body = _ext(node) + flows
    if node.kind in ("exclusiveGateway",) and node.default:
        attrs += f' default="{node.default}"'
    if node.kind == "scriptTask":
        return f"<bpmn:scriptTask {attrs}>{body}<bpmn:script>{escape(node.script)}</bpmn:script></bpmn:scriptTask>"
    if node.kind in ("intermediateTimer", "boundaryTimer"):
        kind, expr = node.timer or ("timeDuration", '"PT1H"')
        definition = (f'<bpmn:timerEventDefinition id="{node.id}_def"><bpmn:{kind}>{escape(expr)}</bpmn:{kind}>'
                      "</bpmn:timerEventDefinition>")
        if node.kind == "boundaryTimer":
            cancel = "" if node.interrupting else ' cancelActivity="false"'
            return (f'<bpmn:boundaryEvent {attrs} attachedToRef="{node.attached_to}"{cancel}>{body}{definition}'
                    "</bpmn:boundaryEvent>")
        return f"<bpmn:intermediateCatchEvent {attrs}>{body}{definition}</bpmn:intermediateCatchEvent>"
    if node.kind == "intermediateMessage":
        message_id, variable = next((mid, var) for mid, name, var in process.messages if name == node.message)
        return (f"<bpmn:intermediateCatchEvent {attrs}>{body}<bpmn:messageEventDefinition id=\"{node.id}_def\" "
                f'messageRef="{message_id}"><bpmn:extensionElements><spiffworkflow:messageVariable>{variable}'
                "</spiffworkflow:messageVariable></bpmn:extensionElements></bpmn:messageEventDefinition>"
                "</bpmn:intermediateCatchEvent>")
    if node.kind == "subProcess" and node.inner is not None:
        loop = ""
        if node.multi_instance:
            collection, item = node.multi_instance
            loop = (f'<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>{collection}</bpmn:loopDataInputRef>'
                    f'<bpmn:inputDataItem id="{item}" name="{item}"/></bpmn:multiInstanceLoopCharacteristics>')
        inner = _process_body(node.inner)
        return f"<bpmn:subProcess {attrs}>{body}{loop}{inner}</bpmn:subProcess>"
    return f"<bpmn:{node.kind} {attrs}>{body}</bpmn:{node.kind}>"


def _process_body(process: Process) -> str:
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for f in process.flows:
        outgoing.setdefault(f.src, []).append(f.id)
        incoming.setdefault(f.dst, []).append(f.id)
    parts = []
    if process.lanes:
        lanes = []
        for lid, lname in process.lanes:
            refs = "".join(f"<bpmn:flowNodeRef>{n.id}</bpmn:flowNodeRef>" for n in process.nodes if n.lane == lid)
            lanes.append(f'<bpmn:lane id="{lid}" name={quoteattr(lname)}>{refs}</bpmn:lane>')
        parts.append(f'<bpmn:laneSet id="{process.id}_lanes">{"".join(lanes)}</bpmn:laneSet>')
    parts += [_node_xml(n, process, incoming, outgoing) for n in process.nodes]
    for f in process.flows:
        name = f" name={quoteattr(f.name)}" if f.name else ""
        cond = f"<bpmn:conditionExpression>{escape(f.cond)}</bpmn:conditionExpression>" if f.cond else ""
        parts.append(f'<bpmn:sequenceFlow id="{f.id}"{name} sourceRef="{f.src}" targetRef="{f.dst}">{cond}'
                     "</bpmn:sequenceFlow>")
    return "".join(parts)


def _di(process: Process, geo: dict, dx: float, dy: float, out: list[str]) -> None:
    boxes: dict[str, Box] = geo["boxes"]
    for n in process.nodes:
        b = boxes[n.id]
        extra = ' isExpanded="true"' if n.kind == "subProcess" else (' isMarkerVisible="true"' if n.kind == "exclusiveGateway" else "")
        out.append(f'<bpmndi:BPMNShape id="{n.id}_di" bpmnElement="{n.id}"{extra}>'
                   f'<dc:Bounds x="{b.x + dx:.0f}" y="{b.y + dy:.0f}" width="{b.w:.0f}" height="{b.h:.0f}"/></bpmndi:BPMNShape>')
        if n.kind == "subProcess" and n.inner is not None:
            _di(n.inner, layout(n.inner, lanes=False), b.x + dx + 20, b.y + dy + 20, out)
    for f in process.flows:
        s, t = boxes[f.src], boxes[f.dst]
        if f.id in geo["back"] or t.x <= s.x:
            top = min(s.y, t.y) - 25
            points = [(s.cx, s.y), (s.cx, top), (t.cx, top), (t.cx, t.y)]
        elif abs(s.cy - t.cy) < 1:
            points = [(s.x + s.w, s.cy), (t.x, t.cy)]
        elif next(n for n in process.nodes if n.id == f.src).kind == "boundaryTimer":
            points = [(s.cx, s.y + s.h), (s.cx, t.cy), (t.x, t.cy)]
        else:
            mid = t.x - COL_GAP / 2
            points = [(s.x + s.w, s.cy), (mid, s.cy), (mid, t.cy), (t.x, t.cy)]
        way = "".join(f'<di:waypoint x="{x + dx:.0f}" y="{y + dy:.0f}"/>' for x, y in points)
        out.append(f'<bpmndi:BPMNEdge id="{f.id}_di" bpmnElement="{f.id}">{way}</bpmndi:BPMNEdge>')


def to_bpmn(process: Process) -> str:
    geo = layout(process)
    messages = "".join(f'<bpmn:message id="{mid}" name="{name}"/>' for mid, name, _ in process.messages)
    doc = f"<bpmn:documentation>{escape(process.documentation)}</bpmn:documentation>" if process.documentation else ""
    shapes: list[str] = [
        f'<bpmndi:BPMNShape id="pool_{process.id}_di" bpmnElement="pool_{process.id}" isHorizontal="true">'
        f'<dc:Bounds x="0" y="0" width="{geo["width"]:.0f}" height="{geo["height"]:.0f}"/></bpmndi:BPMNShape>'
    ]
    for lid, box in geo["lanes"].items():
        shapes.append(f'<bpmndi:BPMNShape id="{lid}_di" bpmnElement="{lid}" isHorizontal="true">'
                      f'<dc:Bounds x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}"/>'
                      "</bpmndi:BPMNShape>")
    _di(process, geo, 0, 0, shapes)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        f'id="defs_{process.id}" targetNamespace="http://eoms.example/bpmn" exporter="EOMS flowgen" '
        'exporterVersion="1.0">'
        f'<bpmn:collaboration id="collab_{process.id}"><bpmn:participant id="pool_{process.id}" '
        f'name={quoteattr(process.name)} processRef="{process.id}"/></bpmn:collaboration>'
        f"{messages}"
        f'<bpmn:process id="{process.id}" name={quoteattr(process.name)} isExecutable="true">{doc}'
        f"{_process_body(process)}</bpmn:process>"
        f'<bpmndi:BPMNDiagram id="diagram_{process.id}"><bpmndi:BPMNPlane id="plane_{process.id}" '
        f'bpmnElement="collab_{process.id}">{"".join(shapes)}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>'
        "</bpmn:definitions>\n"
    )
