"""The instance and heatmap diagrams in a real browser (issue 12, bug 5): a wide flow is drawn whole, fitted to
its container, with 放大 / 缩小 / 适应窗口 and, on a work order, 定位当前环节; drag pans, the wheel zooms, the
container follows the window and re-fits unless the user zoomed; a flow too wide to read fitted opens on its
current step at zoom 1.

The wide flows are chains of user tasks in one lane, written here (with their diagram) and deployed through the
engine's repository; the heatmap draws the demo 服务开通 (provisioning.bpmn, the widest of processes/).
Screenshots: artifacts/screenshots/diagram-fitted.png, diagram-centred.png, diagram-too-wide.png,
diagram-heatmap.png.
"""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, Database, user
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import engine_of

STEP, GAP, LEFT = 100, 50, 160  # task width, space between tasks, x of the first task

# every shape, connection and badge of the diagram against the container's box (in page pixels); the root
# element (the plane itself) is no drawing
OUTSIDE = """() => {
  const box = document.getElementById("diagram").getBoundingClientRect(), out = [];
  document.querySelectorAll("#diagram .djs-element:not(.djs-root) > .djs-visual, #diagram .djs-overlay")
    .forEach((el) => {
      const r = el.getBoundingClientRect();
      if (!r.width && !r.height) { return; }
      if (r.left < box.left - 1 || r.top < box.top - 1 || r.right > box.right + 1 || r.bottom > box.bottom + 1) {
        const owner = el.closest("[data-element-id], [data-container-id]");
        out.push((owner && (owner.dataset.elementId || owner.dataset.containerId)) + " " +
                 [r.left, r.top, r.right, r.bottom].map(Math.round).join(","));
      }
    });
  return { box: [box.left, box.top, box.right, box.bottom].map(Math.round), outside: out };
}"""
ZOOM = "() => document.querySelector('#diagram .viewport').transform.baseVal.consolidate().matrix.a"
CENTRE = """(id) => {
  const box = document.getElementById("diagram").getBoundingClientRect();
  const r = document.querySelector(`#diagram .djs-element[data-element-id="${id}"] > .djs-visual`)
    .getBoundingClientRect();
  return { dx: r.left + r.width / 2 - (box.left + box.width / 2),
           dy: r.top + r.height / 2 - (box.top + box.height / 2) };
}"""


# -- a wide flow: start → 环节1 … 环节N → end, one lane, drawn left to right ----------------------------------
def chain_bpmn(key: str, steps: int) -> bytes:
    """A pool with one 调度员 lane and ``steps`` user tasks in a row, with its diagram (DI)."""
    width = LEFT + steps * (STEP + GAP) + 100
    tasks = "".join(f'<bpmn:userTask id="step{i}" name="环节{i}"/>'
                    f'<bpmn:sequenceFlow id="f{i}" sourceRef="{"start" if i == 1 else f"step{i - 1}"}" '
                    f'targetRef="step{i}"/>' for i in range(1, steps + 1))
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>"
                   for n in ["start", *(f"step{i}" for i in range(1, steps + 1)), "end"])
    shapes = [f'<bpmndi:BPMNShape id="pool_di" bpmnElement="pool" isHorizontal="true"><dc:Bounds x="0" y="0" '
              f'width="{width}" height="200"/></bpmndi:BPMNShape>',
              f'<bpmndi:BPMNShape id="lane_di" bpmnElement="lane" isHorizontal="true"><dc:Bounds x="30" y="0" '
              f'width="{width - 30}" height="200"/></bpmndi:BPMNShape>',
              '<bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="82" y="82" width="36" '
              'height="36"/></bpmndi:BPMNShape>']
    edges, previous_right = [], 118
    for i in range(1, steps + 1):
        x = LEFT + (i - 1) * (STEP + GAP)
        shapes.append(f'<bpmndi:BPMNShape id="step{i}_di" bpmnElement="step{i}"><dc:Bounds x="{x}" y="60" '
                      f'width="{STEP}" height="80"/></bpmndi:BPMNShape>')
        edges.append(f'<bpmndi:BPMNEdge id="f{i}_di" bpmnElement="f{i}"><di:waypoint x="{previous_right}" y="100"/>'
                     f'<di:waypoint x="{x}" y="100"/></bpmndi:BPMNEdge>')
        previous_right = x + STEP
    end_x = LEFT + steps * (STEP + GAP)
    shapes.append(f'<bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="{end_x}" y="82" width="36" '
                  f'height="36"/></bpmndi:BPMNShape>')
    edges.append(f'<bpmndi:BPMNEdge id="fend_di" bpmnElement="fend"><di:waypoint x="{previous_right}" y="100"/>'
                 f'<di:waypoint x="{end_x}" y="100"/></bpmndi:BPMNEdge>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        f'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="defs_{key}" targetNamespace="http://eoms.example/bpmn">'
        f'<bpmn:collaboration id="collab"><bpmn:participant id="pool" name="长链流程" processRef="{key}"/>'
        '</bpmn:collaboration>'
        f'<bpmn:process id="{key}" name="长链流程 {steps} 环节" isExecutable="true">'
        f'<bpmn:laneSet id="lanes"><bpmn:lane id="lane" name="dispatcher">{refs}</bpmn:lane></bpmn:laneSet>'
        f'<bpmn:startEvent id="start"/>{tasks}<bpmn:sequenceFlow id="fend" sourceRef="step{steps}" targetRef="end"/>'
        '<bpmn:endEvent id="end"/></bpmn:process>'
        f'<bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="collab">{"".join(shapes)}'
        f'{"".join(edges)}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>'
    ).encode()


def order_at_step(app: Flask, db: Database, key: str, steps: int, current: int) -> int:
    """Deploy a chain of ``steps`` tasks, start an order by alice (广州调度员) and complete the steps before
    环节``current``; returns the instance id."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        pe.repository.deploy(s, chain_bpmn(key, steps), f"{key}.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, key, business_key=f"{key.upper()}-1", data={}, actor=user(s, pe, "alice"))
        task_id, instance_id = result.tasks[0].id, result.instance.id
    for _ in range(current - 1):
        with db.sessions.begin() as s:
            arrived = pe.tasks.complete(s, task_id, user(s, pe, "alice"), {})
            task_id = arrived[0].id if arrived else 0
    return instance_id


# -- browser helpers --------------------------------------------------------------------------------------------
def login(page: Page, base: str, username: str = "sup") -> None:
    """Sign in as the Guangzhou supervisor; lands on his dashboard."""
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/supervisor/$"))


def open_diagram(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true")


def outside(page: Page) -> list[str]:
    """The drawn parts of the diagram not wholly inside its container."""
    return page.evaluate(OUTSIDE)["outside"]  # type: ignore[no-any-return]


def zoom(page: Page) -> float:
    return float(page.evaluate(ZOOM))


def centre_offset(page: Page, element_id: str) -> dict[str, float]:
    """How far (px) the element's centre is from the container's centre."""
    return page.evaluate(CENTRE, element_id)  # type: ignore[no-any-return]


def tool(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(".diagram-tools").get_by_role("button", name=name)


def settle(page: Page, view: str) -> None:
    """Wait until the diagram shows ``view`` (fit / focus / user) after a resize frame."""
    expect(page.locator("#diagram")).to_have_attribute("data-view", view)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


# -- the stories ------------------------------------------------------------------------------------------------
def test_a_wide_flow_is_drawn_whole_and_zooms_pans_and_centres_its_current_step(
        live_server: str, page: Page, web_app: Flask, db: Database) -> None:
    instance_id = order_at_step(web_app, db, "chain12", 12, current=9)
    login(page, live_server)
    open_diagram(page, f"{live_server}/supervisor/instances/{instance_id}")
    diagram = page.locator("#diagram")

    # on load: fitted, nothing cut off (2,100 px of flow in a 1,200 px card), 环节9 marked current
    expect(page.locator('.djs-element[data-element-id="step9"].eoms-current')).to_have_count(1)
    assert outside(page) == []
    fitted = zoom(page)
    assert 0.45 < fitted < 0.75  # drawn smaller than life, but whole
    expect(diagram).to_have_attribute("data-view", "fit")
    for name in ("放大流程图", "缩小流程图", "适应窗口：完整显示流程图", "定位当前环节：移到流程图中央"):
        expect(tool(page, name)).to_have_attribute("type", "button")
        expect(tool(page, name)).to_be_enabled()
    expect(page.locator(".diagram-tools")).to_contain_text("放大")
    expect(page.locator("#diagram-zoom")).to_have_text(f"{round(fitted * 100)}%")
    expect(page.locator("#diagram-note")).to_be_hidden()
    screenshot(page, "diagram-fitted")

    # 放大 twice, 缩小 once: the canvas zoom follows; 适应窗口 restores the whole flow
    tool(page, "放大流程图").click()
    tool(page, "放大流程图").click()
    larger = zoom(page)
    assert larger > fitted * 1.4
    expect(diagram).to_have_attribute("data-view", "user")
    tool(page, "缩小流程图").click()
    assert fitted < zoom(page) < larger
    tool(page, "适应窗口：完整显示流程图").click()
    assert abs(zoom(page) - fitted) < 0.005
    assert outside(page) == []
    expect(diagram).to_have_attribute("data-view", "fit")

    # 定位当前环节: 环节9 in the middle, at a zoom one can read
    tool(page, "定位当前环节：移到流程图中央").click()
    offset = centre_offset(page, "step9")
    assert abs(offset["dx"]) < 8 and abs(offset["dy"]) < 8, offset
    assert abs(zoom(page) - 1) < 0.01
    expect(diagram).to_have_attribute("data-view", "focus")
    expect(page.locator('.djs-element[data-element-id="step9"] text')).to_have_text("环节9")
    screenshot(page, "diagram-centred")

    # drag pans (the step moves with the pointer), the wheel zooms about the pointer
    box = diagram.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 120, cy + 10, steps=6)
    page.mouse.move(cx - 200, cy + 20, steps=6)
    page.mouse.up()
    moved = centre_offset(page, "step9")
    assert abs(moved["dx"] + 200) < 6 and abs(moved["dy"] - 20) < 6, moved
    expect(diagram).to_have_attribute("data-view", "user")
    before = zoom(page)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"() => ({ZOOM})() > {before} + 0.05")
    page.mouse.wheel(0, 600)
    page.wait_for_function(f"() => ({ZOOM})() < {before}")
    # a trackpad pinch arrives as ctrl + wheel: bpmn-js's own zoom
    before = zoom(page)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -40)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => ({ZOOM})() > {before} + 0.01")

    # the keyboard: the buttons are real buttons (Enter on a focused one); on the canvas 0 fits, + zooms,
    # the arrows pan
    tool(page, "适应窗口：完整显示流程图").focus()
    page.keyboard.press("Enter")
    expect(diagram).to_have_attribute("data-view", "fit")
    assert abs(zoom(page) - fitted) < 0.005
    page.locator("#diagram svg").first.focus()
    page.keyboard.press("+")
    assert abs(zoom(page) - fitted * 1.25) < 0.01
    start = centre_offset(page, "step9")
    page.keyboard.press("ArrowLeft")
    assert abs(centre_offset(page, "step9")["dx"] - start["dx"] - 60) < 2
    page.keyboard.press("0")
    expect(diagram).to_have_attribute("data-view", "fit")
    assert abs(zoom(page) - fitted) < 0.005 and outside(page) == []


def test_the_diagram_follows_the_window_and_keeps_a_zoom_the_user_chose(
        live_server: str, page: Page, web_app: Flask, db: Database) -> None:
    instance_id = order_at_step(web_app, db, "chain11", 11, current=3)
    login(page, live_server)
    open_diagram(page, f"{live_server}/supervisor/instances/{instance_id}")
    diagram = page.locator("#diagram")
    wide_box, wide_zoom = diagram.bounding_box(), zoom(page)
    assert wide_box is not None and outside(page) == []

    # a narrower window: the container narrows, the flow is fitted again, still whole
    page.set_viewport_size({"width": 1000, "height": 900})
    page.wait_for_function(f"() => document.getElementById('diagram').clientWidth < {wide_box['width'] - 100}")
    page.wait_for_function(f"() => ({ZOOM})() < {wide_zoom - 0.05}")
    settle(page, "fit")
    assert outside(page) == []

    # zoomed by the user: a resize keeps that zoom
    tool(page, "放大流程图").click()
    chosen = zoom(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.wait_for_function(f"() => document.getElementById('diagram').clientWidth > {wide_box['width'] - 10}")
    settle(page, "user")
    assert abs(zoom(page) - chosen) < 0.005
    tool(page, "适应窗口：完整显示流程图").click()
    assert abs(zoom(page) - wide_zoom) < 0.005 and outside(page) == []


def test_a_flow_too_wide_to_read_fitted_opens_on_its_current_step(
        live_server: str, page: Page, web_app: Flask, db: Database) -> None:
    instance_id = order_at_step(web_app, db, "chain40", 40, current=25)
    login(page, live_server)
    open_diagram(page, f"{live_server}/supervisor/instances/{instance_id}")
    diagram = page.locator("#diagram")

    # 6,300 px of flow: fitted it would be a quarter of life size; it opens on 环节25 at zoom 1 instead
    expect(diagram).to_have_attribute("data-view", "focus")
    assert abs(zoom(page) - 1) < 0.01
    offset = centre_offset(page, "step25")
    assert abs(offset["dx"]) < 8 and abs(offset["dy"]) < 8, offset
    expect(page.locator("#diagram-note")).to_have_text("流程较宽，已定位到当前环节；点击「适应窗口」查看全图。")
    screenshot(page, "diagram-too-wide")

    # 适应窗口 still shows all of it, 定位当前环节 comes back to the step
    tool(page, "适应窗口：完整显示流程图").click()
    assert zoom(page) < 0.3 and outside(page) == []
    expect(page.locator("#diagram-note")).to_be_hidden()
    tool(page, "定位当前环节：移到流程图中央").click()
    offset = centre_offset(page, "step25")
    assert abs(offset["dx"]) < 8 and abs(offset["dy"]) < 8, offset


def test_the_heatmap_fits_the_widest_demo_flow(live_server: str, page: Page, web_app: Flask) -> None:
    login(page, live_server)
    open_diagram(page, f"{live_server}/supervisor/heatmap?flow=provisioning")
    expect(page.locator("h2").filter(has_text=re.compile(r"服务开通 v\d+"))).to_have_count(1)
    expect(page.locator('.djs-element[data-element-id="audit"]')).to_have_count(1)
    assert outside(page) == []
    fitted = zoom(page)
    assert fitted < 0.75  # 2,378 px wide: fitted, not cut off
    # no current step on a heatmap; the other tools work as on a work order
    expect(page.locator(".diagram-tools button")).to_have_count(3)
    tool(page, "放大流程图").click()
    assert zoom(page) > fitted
    assert outside(page) != []  # zoomed in, the ends are outside the view now
    tool(page, "适应窗口：完整显示流程图").click()
    assert abs(zoom(page) - fitted) < 0.005 and outside(page) == []
    screenshot(page, "diagram-heatmap")


def test_a_finished_order_has_nothing_to_centre(live_server: str, page: Page, web_app: Flask,
                                                db: Database) -> None:
    instance_id = order_at_step(web_app, db, "chain3", 3, current=4)  # all three done: the order ended
    login(page, live_server)
    open_diagram(page, f"{live_server}/supervisor/instances/{instance_id}")
    expect(tool(page, "定位当前环节：移到流程图中央")).to_be_disabled()
    expect(page.locator("#diagram")).to_have_attribute("data-view", "fit")
    assert outside(page) == []
    assert abs(zoom(page) - 1) < 0.01  # a short flow is not blown up past life size
