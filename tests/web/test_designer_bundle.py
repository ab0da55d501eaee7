"""The process designer's browser bundle (webapp/static/build/designer.js, built by `npm run build`) in
headless Chromium, on a page made here the way the server renders it, with the JSON endpoints faked by a small
local HTTP server: no Flask app, no database.

It opens every business flow and the MIWG samples (no console error, nothing of SpiffWorkflow's lost on the way
back out), edits EOMS properties through the panel (undo works), lints as one draws, pins server issues to their
elements, saves (also by itself), validates and deploys. The moddle descriptor's round trip is also checked in
node with bpmn-moddle alone.
"""

from __future__ import annotations

import functools
import html
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.conftest import IN_CI, PROCESSES_DIR, ROOT

ASSETS = ROOT / "webapp" / "designer" / "assets"
STATIC = ROOT / "webapp" / "static"
BUILD = STATIC / "build"
BUNDLE = BUILD / "designer.js"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MIWG_DIR = next((d for d in (ROOT.parent / "shared" / "bpmn-samples" / "miwg",
                             Path("/work/shared/bpmn-samples/miwg")) if d.is_dir()), None)
BUSINESS = sorted(PROCESSES_DIR.glob("*.bpmn"))
MIWG = sorted(MIWG_DIR.glob("*.bpmn")) if MIWG_DIR else []
CSRF_TOKEN = "test-csrf-token"
SAVED_AT = "2026-01-05T01:02:03Z"  # 09:02:03 in Asia/Shanghai


# the page's config, from the repository's own flows ////////////////////////////////////////////////////////

@functools.cache
def _posts() -> list[dict[str, str]]:
    from eoms.demo import POSTS

    return [{"code": code, "name": name} for code, name in POSTS]


@functools.cache
def _handlers() -> list[dict[str, Any]]:
    """Every handler the business flows name, with the parameters they pass, as the server lists them (names,
    and the required ones in `required`)."""
    found: dict[str, list[str]] = {}
    for path in BUSINESS:
        tree = etree.parse(str(path))
        for op in tree.iterfind(f".//{{{SPIFF}}}serviceTaskOperator"):
            params = found.setdefault(op.get("id"), [])
            for p in op.iterfind(f".//{{{SPIFF}}}parameter"):
                if p.get("id") not in params:
                    params.append(p.get("id"))
    return [{"name": name, "doc": f"{name} handler", "params": params, "required": params[:1]}
            for name, params in sorted(found.items())]


def base_config() -> dict[str, Any]:
    return {
        "xmlUrl": "/xml/aftersales_fault.bpmn", "saveUrl": "/api/save", "validateUrl": "/api/validate",
        "deployUrl": "/api/deploy", "downloadUrl": "/download/aftersales_fault.bpmn", "csrfToken": CSRF_TOKEN,
        "lang": "zh", "readOnly": False, "posts": _posts(),
        "forms": sorted(p.stem for p in (PROCESSES_DIR / "forms").glob("*.json")),
        "handlers": _handlers(), "calendars": ["workday", "24x7"],
        "actions": ["transfer", "return", "suspend", "extend"],
        "key": "aftersales_fault", "formEditorUrl": "/designer/forms/__FORM__",
    }


def page_html(config: dict[str, Any], wrapped: bool = False) -> str:
    """The page contract the server renders (the config in single quotes, HTML-escaped); `wrapped`: canvas and
    properties inside a <div class="designer-main">, as webapp/designer/templates/edit.html has them."""
    data = html.escape(json.dumps(config, ensure_ascii=False), quote=True)
    main = '<div id="designer-canvas"></div>\n  <div id="designer-properties"></div>'
    if wrapped:
        main = f'<div class="designer-main">{main}</div>'
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/build/designer.css"></head><body style="margin:0">
<div id="designer" data-config='{data}'>
  <div id="designer-toolbar"></div>
  {main}
  <div id="designer-issues"></div>
</div>
<script src="/static/build/designer.js"></script></body></html>"""


# the fake server ///////////////////////////////////////////////////////////////////////////////////////////

class FakeServer:
    """Serves webapp/static, the test pages, BPMN files, and answers the designer's POSTs from `responses`."""

    TYPES = {".js": "application/javascript", ".css": "text/css", ".map": "application/json",
             ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".eot": "application/vnd.ms-fontobject",
             ".svg": "image/svg+xml"}

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self.requests: list[dict[str, Any]] = []
        self.responses: dict[str, list[tuple[int, Any]]] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=600" if self.path.startswith("/static/") else "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path.startswith("/static/"):
                    file = (STATIC / path[len("/static/"):]).resolve()
                    if STATIC.resolve() in file.parents and file.is_file():
                        self.send(200, file.read_bytes(), self.TYPES_OF(file))
                        return
                elif path.startswith("/page/") and path[len("/page/"):] in fake.pages:
                    self.send(200, fake.pages[path[len("/page/"):]].encode(), "text/html; charset=utf-8")
                    return
                elif path.startswith("/xml/") and path[len("/xml/"):] in fake.files:
                    self.send(200, fake.files[path[len("/xml/"):]], "application/xml")
                    return
                self.send(404, b"not found", "text/plain")

            def TYPES_OF(self, file: Path) -> str:
                return FakeServer.TYPES.get(file.suffix, "application/octet-stream")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                    queue = fake.responses.get(self.path) or []
                    status, answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else (404, {}))
                self.send(status, json.dumps(answer).encode(), "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def posts_to(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def answer(self, path: str, *responses: tuple[int, Any]) -> None:
        """Answer POSTs to `path` with these responses in turn (the last one from then on)."""
        with self.lock:
            self.responses[path] = list(responses)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.responses = {
                "/api/save": [(200, {"saved_at": SAVED_AT})],
                "/api/validate": [(200, {"ok": True, "issues": []})],
                "/api/deploy": [(200, {"ok": True, "results": [{"key": "aftersales_fault", "version": 3,
                                                                   "created": True}]})],
            }


def _stale() -> bool:
    if not BUNDLE.exists() or not (BUILD / "designer.css").exists():
        return True
    built = min(BUNDLE.stat().st_mtime, (BUILD / "designer.css").stat().st_mtime)
    sources = [*ASSETS.iterdir(), ROOT / "package-lock.json"]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The built bundle; rebuilt here when a source is newer (npm install builds it, `npm run build` too)."""
    node = shutil.which("node")
    if _stale() and node and (ROOT / "node_modules" / "esbuild").is_dir():
        done = subprocess.run([node, str(ASSETS / "build.js")], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"npm run build failed:\n{done.stdout}\n{done.stderr}"
    if not BUNDLE.exists():
        reason = f"{BUNDLE.relative_to(ROOT)} is missing: run `npm install` (or `npm run build`) first"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return BUNDLE


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    for path in [*BUSINESS, *MIWG]:
        fake.files[path.name] = path.read_bytes()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.thread.join(timeout=5)


class Designer:
    """A designer page in the browser, with the console errors it logged."""

    def __init__(self, page, server: FakeServer, wrapped: bool = False,  # type: ignore[no-untyped-def]
                 **overrides: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        config = {**base_config(), **overrides}
        name = f"p{len(server.pages)}"
        server.pages[name] = page_html(config, wrapped)
        page.goto(f"{server.base}/page/{name}")
        page.wait_for_function("document.body.dataset.designerReady || document.body.dataset.designerError")

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def select(self, element_id: str) -> None:
        self.js("id => { const m = eomsDesigner.modeler;"
                " m.get('selection').select(m.get('elementRegistry').get(id)); }", element_id)

    def tick(self, entry_id: str, checked: bool) -> None:
        """Click a checkbox entry and wait until it shows `checked` (the panel's Checkbox briefly re-renders
        the old state after a change, which Playwright's check()/uncheck() take for a failed click)."""
        selector = f"#bio-properties-panel-{entry_id}"
        assert self.page.locator(selector).is_checked() != checked
        self.page.click(selector)
        self.page.wait_for_function("([s, c]) => document.querySelector(s).checked === c", arg=[selector, checked])

    def spiff_props(self, element_id: str) -> dict[str, str]:
        return self.js("""id => {
            const bo = eomsDesigner.modeler.get('elementRegistry').get(id).businessObject;
            const out = {};
            ((bo.extensionElements && bo.extensionElements.values) || [])
              .filter(v => v.$type === 'spiffworkflow:properties')
              .forEach(c => (c.properties || []).forEach(p => { out[p.name] = p.value; }));
            return out;
        }""", element_id)

    def xml(self) -> str:
        return self.js("async () => (await eomsDesigner.modeler.saveXML({ format: true })).xml")

    def lint(self) -> list[dict[str, str]]:
        return self.js("eomsDesigner.lintIssues()")

    def wait_lint(self, condition: str) -> None:
        """Wait until `condition` (JS, with `issues` the lint reports) holds."""
        self.page.wait_for_function(f"(() => {{ const issues = eomsDesigner.lintIssues(); return {condition}; }})()")

    def state(self) -> str:
        return self.page.locator(".eoms-state").inner_text()


def spiff_content(xml: bytes | str) -> list[tuple]:
    """Every spiffworkflow element (name, attributes, text) and attribute, in document order."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    out: list[tuple] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        qname = etree.QName(el)
        if qname.namespace == SPIFF:
            out.append((qname.localname, tuple(sorted(el.attrib.items())), (el.text or "").strip()))
        for key, value in el.attrib.items():
            if key.startswith(f"{{{SPIFF}}}"):
                out.append(("@" + etree.QName(key).localname, el.get("id"), value))
    return out


def loop_refs(xml: bytes | str) -> list[str]:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return [(el.text or "").strip() for tag in ("loopDataInputRef", "loopDataOutputRef")
            for el in root.iter(f"{{{BPMN}}}{tag}")]


def operator_of(xml: str, task_id: str) -> etree._Element:
    task = etree.fromstring(xml.encode()).find(f".//{{{BPMN}}}*[@id='{task_id}']")
    return task.find(f".//{{{SPIFF}}}serviceTaskOperator")


def params_of(operator: etree._Element) -> dict[str, tuple[str, str]]:
    return {p.get("id"): (p.get("type"), p.get("value")) for p in operator.iterfind(f".//{{{SPIFF}}}parameter")}


EXTRAS = """<bpmn:extensionElements>
  <spiffworkflow:preScript>x = 1</spiffworkflow:preScript>
  <spiffworkflow:postScript>y = x + 1</spiffworkflow:postScript>
  <spiffworkflow:instructionsForEndUser>请核实 {{ customer }}</spiffworkflow:instructionsForEndUser>
  <spiffworkflow:unitTests><spiffworkflow:unitTest id="t1"><spiffworkflow:inputJson>{}</spiffworkflow:inputJson>
    <spiffworkflow:expectedOutputJson>{"y": 2}</spiffworkflow:expectedOutputJson></spiffworkflow:unitTest>
  </spiffworkflow:unitTests>
  <spiffworkflow:taskMetadataValues><spiffworkflow:taskMetadataValue name="m" value="1"/>
  </spiffworkflow:taskMetadataValues>"""


def extras_sample() -> bytes:
    """aftersales_fault with the other spiffworkflow elements the descriptor knows, a retry and payloads."""
    text = (PROCESSES_DIR / "aftersales_fault.bpmn").read_text(encoding="utf-8")
    text = text.replace("<bpmn:extensionElements>", EXTRAS, 1)
    text = text.replace("</spiffworkflow:parameters>",
                        '</spiffworkflow:parameters><spiffworkflow:retry retries="3" backoff_base="2"/>', 1)
    text = text.replace('<bpmn:endEvent id="end" name="归档">',
                        '<bpmn:endEvent id="end" name="归档"><bpmn:extensionElements><spiffworkflow:messagePayload>'
                        '{"a": 1}</spiffworkflow:messagePayload><spiffworkflow:messageVariable>m'
                        '</spiffworkflow:messageVariable></bpmn:extensionElements>', 1)
    assert text.count("spiffworkflow:preScript") == 2
    return text.encode()


# node: the moddle descriptor alone /////////////////////////////////////////////////////////////////////////

ROUND_TRIP = """
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [ root, ...files ] = process.argv.slice(1);
const { BpmnModdle } = await import(pathToFileURL(root + '/node_modules/bpmn-moddle/dist/index.js'));
const spiff = JSON.parse(readFileSync(root + '/webapp/designer/assets/spiffworkflow-moddle.json', 'utf8'));
const moddle = BpmnModdle({ spiffworkflow: spiff });
const out = {};
for (const file of files) {
  const { rootElement, warnings } = await moddle.fromXML(readFileSync(file, 'utf8'), 'bpmn:Definitions');
  const { xml } = await moddle.toXML(rootElement, { format: true });
  out[file] = { xml, warnings: warnings.map(w => w.message) };
}
console.log(JSON.stringify(out));
"""


def test_spiffworkflow_descriptor_round_trips_in_node(tmp_path: Path) -> None:
    """bpmn-moddle with our descriptor reads and writes back every spiffworkflow element and attribute of the
    business flows, the MIWG samples and a file with SpiffWorkflow's other extensions, unchanged."""
    node = shutil.which("node")
    if not node or not (ROOT / "node_modules" / "bpmn-moddle").is_dir():
        pytest.skip("node and node_modules (npm install) are needed")
    sample = tmp_path / "extras.bpmn"
    sample.write_bytes(extras_sample())
    files = [*BUSINESS, *MIWG, sample]
    done = subprocess.run([node, "--input-type=module", "-e", ROUND_TRIP, str(ROOT), *map(str, files)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for path in files:
        entry = result[str(path)]
        assert not [w for w in entry["warnings"] if "spiffworkflow" in w], (path.name, entry["warnings"])
        before, after = spiff_content(path.read_bytes()), spiff_content(entry["xml"])
        assert after == before, path.name
    assert len(spiff_content(sample.read_bytes())) > len(spiff_content((PROCESSES_DIR / "aftersales_fault.bpmn")
                                                                       .read_bytes()))


# the browser ///////////////////////////////////////////////////////////////////////////////////////////////

@pytest.fixture(scope="module")
def context(chromium, server: FakeServer, bundle: Path):  # type: ignore[no-untyped-def]
    """One browser context for the module (1400×1000, Chinese first): the bundle comes from its cache."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture(scope="module")
def shared_page(context):  # type: ignore[no-untyped-def]
    """One page for the diagrams opened in turn."""
    page = context.new_page()
    yield page
    page.close()


@pytest.fixture
def designer_page(context, server: FakeServer):  # type: ignore[no-untyped-def]
    """A fresh page, and the fake server's default answers."""
    server.reset()
    page = context.new_page()
    yield page
    page.close()


@pytest.mark.parametrize("path", [*BUSINESS, *MIWG], ids=lambda p: p.name)
def test_opens_every_diagram_and_keeps_its_extensions(shared_page, server: FakeServer, path: Path) -> None:
    """Each business flow and MIWG sample opens with no console error; what it saves back keeps every
    spiffworkflow element and SpiffWorkflow's variable names in loopDataInputRef; the business flows lint clean."""
    d = Designer(shared_page, server, xmlUrl=f"/xml/{path.name}")
    assert d.js("document.body.dataset.designerReady") == "1", d.js("document.body.dataset.designerError")
    assert d.js("eomsDesigner.droppedElements") == []
    xml = d.xml()
    assert spiff_content(xml) == spiff_content(path.read_bytes())
    assert loop_refs(xml) == loop_refs(path.read_bytes())
    if path in BUSINESS:
        d.page.wait_for_function("document.getElementById('designer').dataset.lintCount !== undefined")
        assert d.lint() == [], d.lint()
    assert d.errors == []


def test_the_other_spiffworkflow_extensions_survive_the_bundle(designer_page, server: FakeServer) -> None:
    server.files["extras.bpmn"] = extras_sample()
    d = Designer(designer_page, server, xmlUrl="/xml/extras.bpmn")
    assert d.js("document.body.dataset.designerReady") == "1"
    assert spiff_content(d.xml()) == spiff_content(extras_sample())
    assert d.errors == []


def test_an_unknown_spiffworkflow_element_is_announced(designer_page, server: FakeServer) -> None:
    """An element of SpiffWorkflow's namespace the descriptor does not know cannot be kept: the state line says
    that saving drops it."""
    text = (PROCESSES_DIR / "aftersales_fault.bpmn").read_text(encoding="utf-8")
    server.files["unknown.bpmn"] = text.replace(
        "<spiffworkflow:properties>", "<spiffworkflow:futureThing>x</spiffworkflow:futureThing>"
                                      "<spiffworkflow:properties>", 1).encode()
    d = Designer(designer_page, server, xmlUrl="/xml/unknown.bpmn")
    assert d.js("document.body.dataset.designerReady") == "1"
    assert d.js("eomsDesigner.droppedElements") == ["spiffworkflow:futureThing"]
    assert "spiffworkflow:futureThing" in d.state() and "保存后会丢失" in d.state()


def test_user_task_group_edits_through_the_command_stack(designer_page, server: FakeServer) -> None:
    d = Designer(designer_page, server)
    page = d.page
    page.click('.djs-element[data-element-id="accept"]')
    group = page.locator('[data-group-id="group-eoms-task"]')
    assert "EOMS 岗位与时限" in group.locator(".bio-properties-panel-group-header").inner_text()
    assert page.locator("#bio-properties-panel-eoms-formKey").input_value() == "fault_accept"
    assert page.locator("#bio-properties-panel-eoms-timeLimit").input_value() == '="PT15M" if vip else "PT30M"'
    assert page.locator("#bio-properties-panel-eoms-calendar").input_value() == "24x7"
    assert page.locator("#bio-properties-panel-eoms-allow-transfer").is_checked()
    assert not page.locator("#bio-properties-panel-eoms-allow-return").is_checked()
    assert page.locator("a.eoms-form-link").get_attribute("href") == "/designer/forms/fault_accept"
    for label in ("表单", "时限", "预警提前量", "预警比例", "工作日历", "允许的操作", "转派", "退回", "挂起", "延期",
                  "岗位变量", "单位变量"):
        assert label in group.inner_text(), label

    # a bad duration shows an error at the field and is not what the diagram gets
    page.fill("#bio-properties-panel-eoms-timeLimit", "4h")
    assert "ISO-8601" in group.locator(".bio-properties-panel-error").first.inner_text()
    page.fill("#bio-properties-panel-eoms-timeLimit", "PT1H")
    page.wait_for_function("() => eomsDesigner.modeler.get('elementRegistry').get('accept').businessObject"
                           ".extensionElements.values[0].properties.some(p => p.value === 'PT1H')")
    d.tick("eoms-allow-return", True)
    page.select_option("#bio-properties-panel-eoms-formKey", "fault_handle")
    props = d.spiff_props("accept")
    assert (props["timeLimit"], props["allow"], props["formKey"]) == ("PT1H", "transfer,return", "fault_handle")
    assert 'name="timeLimit" value="PT1H"' in d.xml()

    # warnBefore with warnPercent: the panel says so
    page.fill("#bio-properties-panel-eoms-warnBefore", "PT10M")
    page.wait_for_selector(".eoms-time-problems")
    assert "只能设置其一" in page.locator(".eoms-time-problems").inner_text()

    page.screenshot(path="/tmp/designer-user-task.png")

    # undo, step by step, back to the file
    d.js("() => { const cs = eomsDesigner.modeler.get('commandStack'); while (cs.canUndo()) cs.undo(); }")
    props = d.spiff_props("accept")
    assert (props["timeLimit"], props["allow"], props["formKey"]) == ('="PT15M" if vip else "PT30M"', "transfer",
                                                                      "fault_accept")
    assert "warnBefore" not in props

    # all actions checked: no allow property (absent = all); none checked: allow=""
    for action in ("return", "suspend", "extend"):
        d.tick(f"eoms-allow-{action}", True)
    assert "allow" not in d.spiff_props("accept")
    for action in ("transfer", "return", "suspend", "extend"):
        d.tick(f"eoms-allow-{action}", False)
    assert d.spiff_props("accept")["allow"] == ""

    # a new user task gets extensionElements and properties on the first write; clearing removes the property
    new_id = d.js("""() => {
        const m = eomsDesigner.modeler;
        const shape = m.get('modeling').createShape({ type: 'bpmn:UserTask' }, { x: 700, y: 70 },
          m.get('elementRegistry').get('pool_aftersales_fault'));
        m.get('selection').select(shape);
        return shape.id;
    }""")
    page.fill("#bio-properties-panel-eoms-timeLimit", "P2D")
    page.wait_for_function(f"() => !!eomsDesigner.modeler.get('elementRegistry').get('{new_id}').businessObject"
                           ".extensionElements")
    assert d.spiff_props(new_id) == {"timeLimit": "P2D"}
    page.fill("#bio-properties-panel-eoms-timeLimit", "")
    page.wait_for_function(f"() => !eomsDesigner.modeler.get('elementRegistry').get('{new_id}').businessObject"
                           ".extensionElements.values[0].properties.length")
    assert d.spiff_props(new_id) == {}
    assert d.errors == []


def test_lane_and_service_task_groups(designer_page, server: FakeServer) -> None:
    d = Designer(designer_page, server)
    page = d.page

    d.select("L_disp")
    assert "EOMS 岗位" in page.locator('[data-group-id="group-eoms-lane"]').inner_text()
    assert page.locator("#bio-properties-panel-eoms-post").input_value() == "dispatcher"
    assert "调度员 (dispatcher)" in page.locator("#bio-properties-panel-eoms-post").inner_text()
    page.select_option("#bio-properties-panel-eoms-post", "maintainer")
    assert d.js("eomsDesigner.modeler.get('elementRegistry').get('L_disp').businessObject.name") == "维护员"

    d.select("notify")
    group = page.locator('[data-group-id="group-eoms-service"]')
    assert "EOMS 服务" in group.inner_text() and "处理程序" in group.inner_text()
    assert page.locator("#bio-properties-panel-eoms-handler").input_value() == "sms.send"
    assert page.locator("#bio-properties-panel-eoms-param-template").input_value() == "'dispatch'"
    page.fill("#bio-properties-panel-eoms-resultVariable", "sms")
    page.fill("#bio-properties-panel-eoms-param-to_post", "'maintainer'")
    page.wait_for_function("() => eomsDesigner.modeler.get('elementRegistry').get('notify').businessObject"
                           ".extensionElements.values[0].resultVariable === 'sms'")
    page.wait_for_function("() => eomsDesigner.modeler.get('elementRegistry').get('notify').businessObject"
                           ".extensionElements.values[0].parameters.parameters.some(p => p.value === \"'maintainer'\")")
    operator = operator_of(d.xml(), "notify")
    assert (operator.get("id"), operator.get("resultVariable")) == ("sms.send", "sms")
    assert params_of(operator)["to_post"] == ("any", "'maintainer'")

    # a service task without a handler is marked as one draws; choosing one clears the mark
    new_id = d.js("""() => {
        const m = eomsDesigner.modeler;
        const shape = m.get('modeling').createShape({ type: 'bpmn:ServiceTask' }, { x: 700, y: 210 },
          m.get('elementRegistry').get('pool_aftersales_fault'));
        m.get('modeling').updateProperties(shape, { name: '新服务' });
        return shape.id;
    }""")
    d.wait_lint(f"issues.some(i => i.element_id === '{new_id}' && i.rule === 'eoms/service-handler')")
    page.wait_for_selector(f'.djs-overlays[data-container-id="{new_id}"] .bjsl-overlay .bjsl-icon-error')
    button = page.locator(".bjsl-button")
    assert "个错误" in button.inner_text()
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    d.select(new_id)
    # the panel shows the new task (no handler yet) before it is changed: not the task selected before
    page.wait_for_function("() => { const h = document.querySelector('.bio-properties-panel-header-label');"
                           " const s = document.querySelector('#bio-properties-panel-eoms-handler');"
                           " return h && h.textContent.includes('新服务') && s && s.value === ''; }")
    page.select_option("#bio-properties-panel-eoms-handler", "dispatch.route")
    page.wait_for_selector("#bio-properties-panel-eoms-param-region")  # the handler's parameters
    assert "region（必填）" in page.locator('[data-group-id="group-eoms-service"]').inner_text()
    d.wait_lint(f"issues.some(i => i.element_id === '{new_id}' && i.message.includes('缺少必填参数 region'))")
    page.fill("#bio-properties-panel-eoms-param-region", "region")
    page.wait_for_function(f"() => !!eomsDesigner.modeler.get('elementRegistry').get('{new_id}').businessObject"
                           ".extensionElements.values[0].parameters")
    d.wait_lint(f"!issues.some(i => i.element_id === '{new_id}' && i.rule === 'eoms/service-handler')")
    operator = operator_of(d.xml(), new_id)
    assert operator.get("id") == "dispatch.route" and params_of(operator) == {"region": ("any", "region")}

    # a parameter the handler does not declare: added by name, marked until it has a value
    page.fill("#bio-properties-panel-eoms-param-new", "note")
    page.press("#bio-properties-panel-eoms-param-new", "Enter")
    page.wait_for_selector("#bio-properties-panel-eoms-param-note")
    assert "（处理程序未声明）" in page.locator('[data-entry-id="eoms-param-note"]').inner_text()
    assert page.locator("#bio-properties-panel-eoms-param-new").input_value() == ""
    d.wait_lint(f"issues.some(i => i.element_id === '{new_id}' && i.message.includes('参数 note 没有值'))")
    page.fill("#bio-properties-panel-eoms-param-note", "'备注'")
    d.wait_lint(f"!issues.some(i => i.element_id === '{new_id}' && i.rule === 'eoms/service-handler')")
    assert params_of(operator_of(d.xml(), new_id))["note"] == ("any", "'备注'")
    assert d.errors == []


def test_timer_preview_and_lint(designer_page, server: FakeServer) -> None:
    d = Designer(designer_page, server)
    page = d.page
    timer_id = d.js("""() => {
        const m = eomsDesigner.modeler;
        const shape = m.get('modeling').createShape(
          { type: 'bpmn:IntermediateCatchEvent', eventDefinitionType: 'bpmn:TimerEventDefinition' },
          { x: 760, y: 600 }, m.get('elementRegistry').get('pool_aftersales_fault'));
        m.get('modeling').updateProperties(shape, { name: '等待' });
        m.get('selection').select(shape);
        return shape.id;
    }""")

    def set_timer(kind: str, body: str) -> None:
        d.js("""([id, kind, body]) => {
            const m = eomsDesigner.modeler, shape = m.get('elementRegistry').get(id);
            const def = shape.businessObject.eventDefinitions[0];
            const expr = m.get('bpmnFactory').create('bpmn:FormalExpression', { body });
            m.get('modeling').updateModdleProperties(shape, def,
              { timeDuration: undefined, timeDate: undefined, timeCycle: undefined, [kind]: expr });
        }""", [timer_id, kind, body])

    preview = page.locator('[data-entry-id="eoms-timer-preview"]')
    for kind, body, text in (("timeDuration", '"PT2H"', "2小时后"), ("timeDuration", '"P3D"', "3天后"),
                             ("timeCycle", '"R/2026-01-05T09:00:00+08:00/P1D"', "从 2026-01-05 09:00 起每天"),
                             ("timeCycle", '"R5/2026-01-05T09:00:00+08:00/PT1H"', "每1小时，共5次")):
        set_timer(kind, body)
        page.wait_for_function("t => (document.querySelector('[data-entry-id=\"eoms-timer-preview\"]') || {})"
                               ".textContent?.includes(t)", arg=text)
    d.wait_lint(f"!issues.some(i => i.element_id === '{timer_id}' && i.rule === 'eoms/timer-quoted')")

    set_timer("timeDuration", "PT2H")
    page.wait_for_function("() => (document.querySelector('[data-entry-id=\"eoms-timer-preview\"]') || {})"
                           ".textContent?.includes('请加引号')")
    assert '请加引号："PT2H"' in preview.inner_text()
    d.wait_lint(f"issues.some(i => i.element_id === '{timer_id}' && i.rule === 'eoms/timer-quoted')")
    assert d.errors == []


def test_server_issues_save_validate_deploy(designer_page, server: FakeServer) -> None:
    d = Designer(designer_page, server)
    page = d.page
    issues = [
        {"element_id": "handle", "rule": "lane-unknown-post", "message": "lane 'x' is not the code or name of a post",
         "line": 86, "rule_text": "泳道名称不是已有岗位的编码或名称"},
        {"element_id": "", "rule": "no-executable-process", "message": "no executable process", "line": None,
         "rule_text": '文件中没有 isExecutable="true" 的流程'},
        {"element_id": "gone", "rule": "dead-end", "message": "no outgoing flow", "line": 3, "rule_text": "无输出"},
    ]
    server.answer("/api/validate", (200, {"ok": False, "issues": issues}))
    page.click('[data-action="validate"]')
    page.wait_for_selector('.djs-element.eoms-issue[data-element-id="handle"]')
    request = server.posts_to("/api/validate")[-1]
    assert request["headers"]["X-CSRFToken"] == CSRF_TOKEN
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"]["xml"].startswith("<?xml") and 'id="handle"' in request["body"]["xml"]
    assert page.locator(".eoms-issue-overlay").count() == 1
    assert "泳道名称不是已有岗位的编码或名称" in page.locator(".eoms-issue-overlay").inner_text()
    items = page.locator("#designer-issues li")
    assert items.count() == 3
    assert page.locator("#designer-issues li.eoms-issue-linked").count() == 1
    assert "第 86 行" in items.nth(0).inner_text()
    assert d.js("eomsDesigner.issues().length") == 3
    assert d.state() == "校验发现 3 个问题"
    page.screenshot(path="/tmp/designer-issues.png")
    page.click('#designer-issues li[data-element-id="handle"]')
    assert d.js("eomsDesigner.modeler.get('selection').get().map(e => e.id)") == ["handle"]

    # save: the time the server gives, in Asia/Shanghai
    page.click('[data-action="save"]')
    page.wait_for_function("document.querySelector('.eoms-state').textContent.startsWith('已保存')")
    assert d.state() == "已保存 09:02:03"
    assert server.posts_to("/api/save")[-1]["headers"]["X-CSRFToken"] == CSRF_TOKEN

    # a refused deploy replaces the markers, an accepted one clears them
    server.answer("/api/deploy",
                  (422, {"ok": False, "issues": [{"element_id": "audit", "rule": "bad-time-limit", "message": "x",
                                                  "line": 9, "rule_text": "时限无效"}]}),
                  (200, {"ok": True, "results": [{"key": "aftersales_fault", "version": 3, "created": True}]}))
    page.click('[data-action="deploy"]')
    page.wait_for_selector('.djs-element.eoms-issue[data-element-id="audit"]')
    assert page.locator(".djs-element.eoms-issue").count() == 1
    assert d.state() == "部署被拒绝：1 个问题"
    page.click('[data-action="deploy"]')
    page.wait_for_function("document.querySelector('.eoms-state').textContent.startsWith('已部署')")
    assert d.state() == "已部署：aftersales_fault 版本 3"
    assert page.locator(".djs-element.eoms-issue").count() == 0
    assert page.locator("#designer-issues li").count() == 0

    # autosave 2 s after the last change
    before = len(server.posts_to("/api/save"))
    d.js("() => { const m = eomsDesigner.modeler, r = m.get('elementRegistry');"
         " m.get('modeling').updateProperties(r.get('accept'), { name: '故障受理（改）' }); }")
    assert d.state() == "有未保存的修改"
    page.wait_for_function("() => document.querySelector('.eoms-state').textContent.startsWith('已保存')")
    saves = server.posts_to("/api/save")
    assert len(saves) == before + 1 and "故障受理（改）" in saves[-1]["body"]["xml"]
    assert not d.js("eomsDesigner.isDirty()")

    # a failing save says why
    server.answer("/api/save", (500, {"message": "磁盘已满"}))
    d.js("() => eomsDesigner.save().catch(() => {})")
    page.wait_for_function("document.querySelector('.eoms-state').textContent.startsWith('保存失败')")
    assert d.state() == "保存失败：磁盘已满"
    # (the browser logs the failed request of a 422 / 500 response itself)
    assert [e for e in d.errors if "status of 422" not in e and "status of 500" not in e] == []


def test_read_only_english_and_a_failed_import(designer_page, server: FakeServer) -> None:
    d = Designer(designer_page, server, readOnly=True, lang="en")
    page = d.page
    assert d.js("document.body.dataset.designerReady") == "1"
    assert page.locator('[data-action="save"]').count() == 0
    assert page.locator('[data-action="deploy"]').count() == 0
    assert page.locator('[data-action="validate"]').inner_text() == "Validate"
    assert page.locator('[data-action="download"]').get_attribute("href") == "/download/aftersales_fault.bpmn"
    d.select("accept")
    assert "EOMS post and time limit" in page.locator('[data-group-id="group-eoms-task"]').inner_text()
    assert d.errors == []

    failed = Designer(designer_page.context.new_page(), server, xmlUrl="/xml/missing.bpmn")
    assert failed.js("document.body.dataset.designerReady") is None
    assert "404" in failed.js("document.body.dataset.designerError")
    assert failed.state().startswith("无法打开流程")
    failed.page.close()


@pytest.mark.parametrize("wrapped", [False, True], ids=["contract", "edit-template"])
def test_layout_and_chinese_text(designer_page, server: FakeServer, wrapped: bool) -> None:
    """Toolbar above, canvas and properties side by side (whether the page wraps them or not), issues below;
    Chinese text has a font. The screenshot: /tmp/designer-aftersales.png."""
    d = Designer(designer_page, server, wrapped=wrapped)
    d.select("handle")
    d.page.wait_for_selector('[data-group-id="group-eoms-task"]')
    box = {name: d.page.locator(f"#designer-{name}").bounding_box() for name in ("toolbar", "canvas", "properties")}
    assert box["toolbar"]["y"] + box["toolbar"]["height"] <= box["canvas"]["y"] + 1
    assert abs(box["canvas"]["y"] - box["properties"]["y"]) < 2
    assert box["canvas"]["x"] + box["canvas"]["width"] <= box["properties"]["x"] + 1
    assert box["canvas"]["height"] > 400 and box["canvas"]["width"] > 600 and box["properties"]["width"] >= 300
    if wrapped:
        assert d.js("document.querySelector('.designer-main').classList.contains('eoms-designer-main')")
    d.page.screenshot(path=f"/tmp/designer-aftersales{'-wrapped' if wrapped else ''}.png")
    fonts = d.js("document.fonts.check('14px \"Noto Sans CJK SC\"', '岗位')")
    assert fonts, "no CJK font for the designer's Chinese text"
    assert d.errors == []
