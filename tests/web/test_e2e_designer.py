"""End to end in a real browser (Debian's chromium through Playwright): an analyst changes 售后故障 in the
designer and moves running work onto the new version (issue 11, "Must show").

The analyst opens the flow; replaces the dispatch SMS step by a new service task, sees the lint marker (no
handler) and fixes it in the properties panel; drops 回单审核; adds 受理复核 after 故障受理 in the dispatchers'
lane with a time limit and a small form made in the form editor; deploys; sees the diff against version 1;
dry-runs and runs the migration of two running orders (the one still at 故障受理 moves, the one waiting at the
dropped 回单审核 cannot, and the page says why); a new order on version 2 brings 受理复核 to the dispatchers'
queue, its form drawn by the form-js viewer. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select as where

from engine.repository.diff import diff_diagrams
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from tests.conftest import PROCESSES_DIR, Database
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import ACCEPT, HANDLE, PDF, RECEIPT, complete, login, open_task, start_fault

KEY = "aftersales_fault"

REPLACE_SMS_STEP = """() => {
  const m = eomsDesigner.modeler, reg = m.get('elementRegistry'), modeling = m.get('modeling');
  const old = reg.get('notify');
  const sources = old.incoming.map(c => c.source), targets = old.outgoing.map(c => c.target);
  const at = { x: old.x + old.width / 2, y: old.y + old.height / 2 }, parent = old.parent;
  modeling.removeShape(old);
  // (bpmn-js bridges a removed step with a flow of its own: drop it, the new step takes the place)
  reg.filter(c => c.waypoints && sources.includes(c.source) && targets.includes(c.target))
     .forEach(c => modeling.removeConnection(c));
  const bo = m.get('bpmnFactory').create('bpmn:ServiceTask', { id: 'notify_sms', name: '短信派单通知' });
  const shape = modeling.createShape(m.get('elementFactory').createShape({ type: 'bpmn:ServiceTask',
                                                                          businessObject: bo }), at, parent);
  sources.forEach(s => modeling.connect(s, shape));
  targets.forEach(t => modeling.connect(shape, t));
}"""

DROP_AUDIT = """() => {
  const m = eomsDesigner.modeler, reg = m.get('elementRegistry'), modeling = m.get('modeling');
  modeling.removeElements([reg.get('audit'), reg.get('audit_gw')]);
  modeling.connect(reg.get('receipt'), reg.get('customer_sms'));
}"""

ADD_REVIEW_STEP = """() => {
  const m = eomsDesigner.modeler, reg = m.get('elementRegistry'), modeling = m.get('modeling');
  const accept = reg.get('accept'), flow = reg.get('f_accept'), route = reg.get('route');
  const right = reg.filter(e => !e.waypoints && e.type !== 'label' && e.x >= accept.x + accept.width
                           && !/Lane|Participant|Process/.test(e.type));
  modeling.moveElements(right, { x: 160, y: 0 });
  const bo = m.get('bpmnFactory').create('bpmn:UserTask', { id: 'accept_review', name: '受理复核' });
  const shape = modeling.createShape(m.get('elementFactory').createShape({ type: 'bpmn:UserTask',
                                                                          businessObject: bo }),
                                     { x: accept.x + accept.width + 110, y: accept.y + accept.height / 2 },
                                     accept.parent);
  modeling.reconnectEnd(flow, shape, { x: shape.x, y: shape.y + shape.height / 2 });
  modeling.connect(shape, route);
}"""


def select(page: Page, element_id: str) -> None:
    """Select the element and wait until the properties panel shows it (it re-renders asynchronously)."""
    page.evaluate("id => { const m = eomsDesigner.modeler;"
                  " m.get('selection').select(m.get('elementRegistry').get(id)); }", element_id)
    page.wait_for_function("id => { const input = document.querySelector('#bio-properties-panel-id');"
                           " return input && input.value === id; }", arg=element_id)


def lint_rules(page: Page, element_id: str) -> list[str]:
    return page.evaluate("id => eomsDesigner.lintIssues().filter(i => i.element_id === id).map(i => i.rule)",
                         element_id)


def test_an_analyst_changes_the_fault_flow_deploys_and_migrates_running_orders(
        live_server: str, page: Page, web_app: Flask, db: Database):
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    start_fault(web_app, db, "MIG-0001")  # stays at 故障受理: can move
    handle = complete(web_app, db, start_fault(web_app, db, "MIG-0002"), "gz_dispatcher", ACCEPT)
    receipt = complete(web_app, db, handle, "gz_maintainer", HANDLE)
    complete(web_app, db, receipt, "gz_maintainer", RECEIPT, upload=("故障处理报告.pdf", PDF))  # waits at 回单审核

    login(page, live_server, "ana")
    page.goto(f"{live_server}/designer/")
    expect(page.locator("#process-table")).to_contain_text("售后故障")
    page.locator("#process-table tr[data-key=aftersales_fault] a", has_text="编辑").click()
    page.wait_for_function("() => document.body.dataset.designerReady === '1'")
    screenshot(page, "designer-01-opened")

    # the dispatch SMS becomes a new service task: lint says it names no handler; the panel fixes it
    page.evaluate(REPLACE_SMS_STEP)
    page.wait_for_function("() => eomsDesigner.lintIssues().some(i => i.element_id === 'notify_sms')")
    assert "eoms/service-handler" in lint_rules(page, "notify_sms")
    select(page, "notify_sms")
    screenshot(page, "designer-02-lint-marker")
    page.select_option("#bio-properties-panel-eoms-handler", "sms.send")
    for param, value in (("template", "'dispatch'"), ("to_post", "route_post"), ("to_org", "route_org")):
        page.fill(f"#bio-properties-panel-eoms-param-{param}", value)
    for param, value in (("step", "'故障处理'"), ("summary", "customer + '：' + fault_type")):  # the SMS text's
        page.fill("#bio-properties-panel-eoms-param-new", param)                           # own values
        page.press("#bio-properties-panel-eoms-param-new", "Enter")
        page.fill(f"#bio-properties-panel-eoms-param-{param}", value)
    page.wait_for_function("() => !eomsDesigner.lintIssues().some(i => i.element_id === 'notify_sms'"
                           " && i.rule === 'eoms/service-handler')")

    # 回单审核 and its gateway are dropped (the receipt goes straight to the customer SMS);
    # 受理复核 comes after 故障受理, in the dispatchers' lane; saved as a draft before its form is made
    page.evaluate(DROP_AUDIT)
    page.evaluate(ADD_REVIEW_STEP)
    page.evaluate("() => eomsDesigner.save()")
    expect(page.locator(".eoms-state")).to_contain_text("已保存")

    page.goto(f"{live_server}/designer/{KEY}/forms/fault_accept_review")
    page.wait_for_function("() => document.body.dataset.formEditorReady === '1'")
    page.evaluate("""() => {
      const ed = eomsFormDesigner.editor, root = ed.get('formFieldRegistry').getAll().find(f => f.type === 'default');
      ed.get('modeling').addFormField({ type: 'textarea', key: 'review_note', label: '复核意见',
                                        validate: { required: true } }, root, 0);
    }""")
    expect(page.locator("#form-preview")).to_contain_text("复核意见")
    page.click("#form-save")
    expect(page.locator("#form-state")).to_contain_text("已保存")
    screenshot(page, "designer-03-form-editor")

    page.goto(f"{live_server}/designer/{KEY}/")
    page.wait_for_function("() => document.body.dataset.designerReady === '1'")
    select(page, "accept_review")
    page.select_option("#bio-properties-panel-eoms-formKey", "fault_accept_review")
    page.fill("#bio-properties-panel-eoms-timeLimit", "PT30M")
    page.select_option("#bio-properties-panel-eoms-calendar", "24x7")
    page.wait_for_timeout(300)
    assert lint_rules(page, "accept_review") == []
    page.locator("[data-action=deploy]").click()
    expect(page.locator(".eoms-state")).to_contain_text("已部署", timeout=20_000)
    screenshot(page, "designer-04-deployed")
    with db.sessions() as s:
        v2 = s.scalar(where(ProcessDefinition).where(ProcessDefinition.key == KEY, ProcessDefinition.version == 2))
        assert v2 is not None and "accept_review" in v2.bpmn_xml and "fault_accept_review" in v2.forms
        assert """<spiffworkflow:parameter id="step" type="any" value="&#39;故障处理&#39;" />""" in v2.bpmn_xml
        assert v2.bpmn_xml.count('sourceRef="routed"') == 1  # the new SMS step replaced the old one in the path
        assert v2.bpmn_xml.count('sourceRef="receipt"') == 1 and 'id="audit"' not in v2.bpmn_xml

    # the diff against version 1: added, removed and changed elements coloured and listed
    page.goto(f"{live_server}/designer/{KEY}/diff?from=1&to=2")
    page.wait_for_function("() => document.getElementById('diff-new').dataset.ready === 'true'")
    table = page.locator("#diff-table")
    expect(table.locator("tr.diff-added[data-id=accept_review]")).to_contain_text("受理复核")
    expect(table.locator("tr.diff-removed[data-id=audit]")).to_contain_text("回单审核")
    assert page.locator("#diff-new .eoms-diff-added").count() >= 1
    assert page.locator("#diff-old .eoms-diff-removed").count() >= 1
    screenshot(page, "designer-05-diff")

    # migration: dry run, then the real run; one order moves, the other is told why not
    page.goto(f"{live_server}/designer/{KEY}/migrate")
    for key in ("MIG-0001", "MIG-0002"):
        page.get_by_label(key).check()
    page.get_by_role("button", name="试运行").click()
    results = page.locator("#migrate-results")
    expect(results).to_contain_text("试运行结果")
    expect(results.locator("tr", has_text="MIG-0001")).to_contain_text("可以迁移")
    expect(results.locator("tr", has_text="MIG-0002")).to_contain_text(
        "工单当前所在的步骤「回单审核」在新版本中已删除")
    screenshot(page, "designer-06-dry-run")
    for key in ("MIG-0001", "MIG-0002"):
        page.get_by_label(key).check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="迁移到 v2").click()
    expect(page.locator("#migrate-results")).to_contain_text("已迁移")
    screenshot(page, "designer-07-migrated")
    with db.sessions() as s:
        versions = {row.business_key: row.definition_id for row in s.scalars(
            where(ProcessInstance).where(ProcessInstance.business_key.in_(("MIG-0001", "MIG-0002"))))}
    assert versions["MIG-0001"] == v2.id and versions["MIG-0002"] != v2.id

    # a new order on version 2: 受理复核 reaches the dispatchers' queue, drawn by the form-js viewer
    accept = start_fault(web_app, db, "MIG-0003")
    complete(web_app, db, accept, "gz_dispatcher", ACCEPT)
    page.locator(".topbar form button.link").click()
    login(page, live_server, "gz_dispatcher")
    task_id = open_task(page, "MIG-0003", "受理复核")
    expect(page.locator(".fjs-container")).to_contain_text("复核意见")
    screenshot(page, "designer-08-new-step-in-the-queue")
    assert re.search(r"/tasks/\d+$", page.url) and task_id > 0
    assert errors == [], errors


FLOWS = ("aftersales_fault", "provisioning", "presales_demand", "workplan", "insale_implementation")


def test_the_five_business_flows_round_trip_through_the_modeler_unchanged(live_server: str, page: Page,
                                                                         web_app: Flask, db: Database):
    """Open, save (the modeler's own XML) and export: what the engine would run is the same, and it deploys."""
    pe = web_app.extensions["eoms"]["engine"]
    login(page, live_server, "ana")
    for key in FLOWS:
        page.goto(f"{live_server}/designer/{key}/")
        page.wait_for_function("() => document.body.dataset.designerReady === '1'")
        saved = page.evaluate("async () => (await eomsDesigner.modeler.saveXML({ format: true })).xml")
        original = (PROCESSES_DIR / f"{key}.bpmn").read_bytes()
        changes = diff_diagrams(original, saved.encode("utf-8"))
        assert changes.empty, (key, changes.to_dict())
        assert page.evaluate("() => eomsDesigner.droppedElements.length") == 0
        with db.sessions() as s:
            pe.repository.validate(s, saved.encode("utf-8"), f"{key}.bpmn")  # raises if refused
