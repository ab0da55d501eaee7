"""Task forms shown with the form-js viewer (static/forms.js), which posts its data as JSON in ``form_json``.

Through the Flask test client: the page hands the viewer its schema, values and errors in JSON blocks (no
inline script); ``form_json`` completes a task, keeps only the schema's fields, merges uploads, and is refused
field by field like the HTML fields; unreadable or oversized JSON is a clear field error; a field hidden by a
condition is not required. In headless chromium (Debian's, through Playwright): the viewer replaces the
server's fields, is filled and submitted, shows its own and the server's errors beside the fields in Chinese,
hides a field under a condition, and keeps file uploads working; the console stays free of errors and of
Content-Security-Policy violations."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import select

from engine.attachments.models import Attachment
from engine.history.models import HistoryEvent
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import PASSWORD, PROCESSES_DIR, Database, user
from tests.web.conftest import csrf_token, login, screenshot
from webapp.formdata import MAX_FORM_JSON_BYTES, FormJsonError, parse_form_json, viewer_data, viewer_schema

FAULT = {"customer": "中山大学附属医院", "customer_phone": "13912345678", "vip": False, "circuit": "GD-GZ-ZX-1001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高",
         "description": "客户反映专线业务中断"}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实，业务全断"}
HANDLE = {"progress": "已到场排查，定位光缆中断", "onsite": True}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆，业务恢复", "recovery_time": "2026-03-02T12:30"}
PDF = b"%PDF-1.4\n% fault report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FORM_INVALID = "表单有误，请按提示修改后再提交。"

# a form with what the viewer shows and the server form does not: a condition, a row of two columns in a group,
# a dynamic list, a table over it, text and html blocks
CHECK_FORM = {
    "type": "default", "id": "viewer_check", "schemaVersion": 16,
    "components": [
        {"type": "text", "id": "Text_intro", "text": "### 处理结果\n请选择结果；驳回时须写明原因。"},
        {"type": "radio", "id": "Field_result", "key": "result", "label": "处理结果",
         "values": [{"value": "pass", "label": "通过"}, {"value": "reject", "label": "驳回"}],
         "validate": {"required": True}},
        {"type": "textarea", "id": "Field_reason", "key": "reason", "label": "驳回原因",
         "conditional": {"hide": '=result != "reject"'}, "validate": {"required": True, "maxLength": 200}},
        {"type": "group", "id": "Group_site", "label": "现场信息", "components": [
            {"type": "textfield", "id": "Field_code", "key": "code", "label": "站点编号",
             "validate": {"required": True, "pattern": "[0-9]+"}, "layout": {"row": "r1", "columns": 8}},
            {"type": "number", "id": "Field_count", "key": "count", "label": "数量", "decimalDigits": 0,
             "validate": {"min": 1, "max": 10}, "layout": {"row": "r1", "columns": 8}},
        ]},
        {"type": "dynamiclist", "id": "Field_items", "path": "items", "label": "物料", "isRepeating": True,
         "allowAddRemove": True, "defaultRepetitions": 1, "components": [
             {"type": "textfield", "id": "Field_item_name", "key": "name", "label": "名称",
              "validate": {"required": True, "maxLength": 20}}]},
        {"type": "table", "id": "Table_items", "label": "物料一览", "dataSource": "=items",
         "columns": [{"label": "名称", "key": "name"}]},
        {"type": "html", "id": "Html_note", "content": "<p><b>提示：</b>提交后不可修改。</p>"},
        {"type": "checkbox", "id": "Field_confirm", "key": "confirm", "label": "已核实"},
        {"type": "button", "id": "Button_submit", "action": "submit", "label": "核查完毕，提交"},
    ],
}
CHECK_DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_viewer_check"
    targetNamespace="http://eoms.example/bpmn">
  <bpmn:process id="viewer_check" name="\xe8\xa1\xa8\xe5\x8d\x95\xe6\xa3\x80\xe6\x9f\xa5" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_dispatch" name="dispatcher">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <bpmn:userTask id="check" name="\xe7\x8e\xb0\xe5\x9c\xba\xe6\xa0\xb8\xe6\x9f\xa5">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="viewer_check"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
CHECK = {"result": "pass", "code": "4401", "count": 3, "items": [{"name": "尾纤"}], "confirm": True}


# -- setting up work through the engine ------------------------------------------------------------------------
def engine_of(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["eoms"]["engine"]


def act(app: Flask, db: Database, method: str, task_id: int, username: str, *args: Any, **kwargs: Any) -> Any:
    pe = engine_of(app)
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, pe.identity.get_user(s, username), *args, **kwargs)


def start_fault(app: Flask, db: Database, key: str = "VIEW-0001", **changes: Any) -> tuple[int, int]:
    """Report a fault; (instance id, 故障受理 task id)."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "aftersales_fault", business_key=key, data={**FAULT, **changes},
                                  actor=pe.identity.get_user(s, "gz_dispatcher"))
        return result.instance.id, result.tasks[0].id


def to_receipt(app: Flask, db: Database, key: str = "VIEW-0001") -> tuple[int, int]:
    """A fault at 恢复回单 for the maintainers of GZ; (instance id, task id)."""
    instance_id, accept = start_fault(app, db, key)
    (handle,) = act(app, db, "complete", accept, "gz_dispatcher", ACCEPT)
    (receipt,) = act(app, db, "complete", handle.id, "gz_maintainer", HANDLE)
    return instance_id, receipt.id


def start_check(app: Flask, db: Database, key: str = "CHECK-0001") -> tuple[int, int]:
    """The test form and its one-step diagram deployed, and started by alice; (instance id, task id)."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        pe.forms.deploy(s, "viewer_check", json.dumps(CHECK_FORM, ensure_ascii=False).encode(), "viewer_check.json")
        pe.repository.deploy(s, CHECK_DIAGRAM, "viewer_check.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "viewer_check", business_key=key, data={}, actor=user(s, pe, "alice"))
        return result.instance.id, result.tasks[0].id


# -- reading the results ---------------------------------------------------------------------------------------
def client_for(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    client.csrf = csrf_token(client.get("/tasks/0").get_data(as_text=True))  # type: ignore[attr-defined]
    return client


def send(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)  # type: ignore[attr-defined]


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def alerts(page: str) -> list[str]:
    return re.findall(r'<p class="alert alert-\w+" role="\w+">([^<]*)</p>', page)


def json_block(page: str, block: str) -> Any:
    match = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', page, re.S)
    assert match, f"no {block} block"
    return json.loads(match.group(1))


def field_block(page: str, name: str) -> str:
    for chunk in page.split('<div class="field')[1:]:
        if f'id="f-{name}"' in chunk:
            return chunk
    raise AssertionError(f"no field {name} on the page")


def task_row(db: Database, task_id: int) -> HumanTask:
    with db.sessions() as s:
        found = s.get(HumanTask, task_id)
        assert found is not None
        return found


def completions(db: Database, instance_id: int) -> list[str]:
    with db.sessions() as s:
        return list(s.scalars(select(HistoryEvent.node_id).where(HistoryEvent.instance_id == instance_id,
                                                                 HistoryEvent.event_type == "task_completed")))


def version(db: Database, instance_id: int) -> int:
    with db.sessions() as s:
        found = s.get(ProcessInstance, instance_id)
        assert found is not None
        return found.version


def form_schema(name: str) -> dict[str, Any]:
    return json.loads((PROCESSES_DIR / "forms" / f"{name}.json").read_text(encoding="utf-8"))


# -- what the viewer is given, what comes back (no database) ---------------------------------------------------
def test_the_viewer_schema_leaves_filepickers_to_the_server_and_spells_keys_as_form_js_reads_them():
    receipt = form_schema("fault_receipt")
    shown = viewer_schema(receipt)
    assert shown is not None and [c["key"] for c in shown["components"]] == ["cause", "measures", "recovery_time"]
    assert [c["key"] for c in receipt["components"]][-1] == "report"  # the schema itself is not changed
    grouped = {"components": [{"type": "group", "components": [{"type": "filepicker", "key": "photo"},
                                                                {"type": "textfield", "path": "note"}]},
                              {"type": "dynamiclist", "key": "rows", "components": [{"type": "number", "key": "n"}]}]}
    group, rows = viewer_schema(grouped)["components"]  # type: ignore[index]
    assert group["components"] == [{"type": "textfield", "path": "note", "key": "note"}]
    assert (rows["path"], rows["isRepeating"]) == ("rows", True)
    # a filepicker inside a list has no upload on the server: the page keeps the server's form
    nested = {"components": [{"type": "dynamiclist", "path": "rows",
                              "components": [{"type": "filepicker", "key": "f"}]}]}
    assert viewer_schema(nested) is None and viewer_schema(None) is None and viewer_schema({"components": 1}) is None


def test_viewer_data_holds_form_fields_only_and_form_json_keeps_the_schemas_fields():
    accept, start = form_schema("fault_accept"), form_schema("fault_start")
    data = viewer_data([accept, start], {**FAULT, "route": {"post": "x"}, "data_objects": {}}, {"priority": "紧急"})
    assert data == {**FAULT, "priority": "紧急"}
    components = CHECK_FORM["components"]
    sent = {"result": "pass", "extra": 1, "items": [{"name": "a", "x": 2}, 3], "Text_intro": "t"}
    assert parse_form_json(components, json.dumps(sent)) == {"result": "pass", "items": [{"name": "a"}, 3]}
    # at most 256 KiB, counted in UTF-8 bytes
    note = json.dumps({"reason": ""})
    fits = json.dumps({"reason": "x" * (MAX_FORM_JSON_BYTES - len(note))})
    assert len(fits) == MAX_FORM_JSON_BYTES and parse_form_json(components, fits)["reason"].startswith("x")
    with pytest.raises(FormJsonError) as caught:
        parse_form_json(components, json.dumps({"reason": "汉" * (MAX_FORM_JSON_BYTES // 3)}, ensure_ascii=False))
    assert caught.value.code == "too_large" and caught.value.text("en") == "the form data is too large (at most 256 KB)"


# -- the page ----------------------------------------------------------------------------------------------------
def test_the_page_hands_the_viewer_its_schema_values_and_no_inline_script(web_app: Flask, db: Database):
    _instance, accept = start_fault(web_app, db, description="</script><script>alert(1)</script>",
                                    customer="<b>医院</b>")
    client = client_for(web_app, "gz_dispatcher")
    response = client.get(f"/tasks/{accept}")
    page = text(response)
    assert '<script src="/vendor/form-viewer.js"></script><script src="/static/forms.js"></script>' in page
    assert '<link rel="stylesheet" href="/vendor/form-js.css">' in page and "/static/forms.css" in page
    assert json_block(page, "form-viewer-schema") == form_schema("fault_accept")
    # the step's values for its form and the other forms of the process, not the engine's own variables
    data = json_block(page, "form-viewer-data")
    assert data["fault_type"] == "中断" and data["priority"] == "高" and data["customer"] == "<b>医院</b>"
    assert data["description"] == "</script><script>alert(1)</script>"
    assert json_block(page, "form-viewer-errors") == {}
    # every script is a file or a JSON block, and the JSON cannot close its block
    for tag in re.findall(r"<script[^>]*>", page):
        assert re.fullmatch(r'<script src="/[^"]+">|<script type="application/json" id="[\w-]+">', tag), tag
    assert "</script><script>alert" not in page and "<b>医院</b>" not in page.split('id="form-viewer-data">')[1]
    # the server's fields stay, for the page without JavaScript
    assert '<div id="server-fields">' in page and 'id="f-fault_type"' in page
    assert 'id="form-viewer" class="form-viewer" data-form="complete-form" hidden' in page
    assert "Content-Security-Policy" in response.headers and "script-src 'self'" in response.headers[
        "Content-Security-Policy"]
    for asset in ("/vendor/form-viewer.js", "/vendor/form-js.css", "/static/forms.js", "/static/forms.css"):
        assert client.get(asset).status_code == 200, asset


def test_filepicker_fields_stay_the_servers_and_read_only_pages_have_no_viewer(web_app: Flask, db: Database):
    instance_id, receipt = to_receipt(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    page = text(client.get(f"/tasks/{receipt}"))
    shown = json_block(page, "form-viewer-schema")
    assert [c["key"] for c in shown["components"]] == ["cause", "measures", "recovery_time"]  # no report
    assert 'name="report__upload" accept=".pdf,.doc,.docx"' in page
    # a task that is done, or someone else's, is shown by the server alone
    with db.sessions() as s:
        accept = s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                     HumanTask.node_id == "accept"))
    done = text(client_for(web_app, "gz_dispatcher").get(f"/tasks/{accept}"))
    assert "form-viewer" not in done and "forms.js" not in done and "readonly-value" in done


# -- posting form_json -------------------------------------------------------------------------------------------
def test_form_json_completes_the_task_with_the_schemas_fields_only(web_app: Flask, db: Database):
    instance_id, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    sent = {**ACCEPT, "is_admin": True, "route": {"post": "boss"}, "_secret": 1}
    response = send(client, f"/tasks/{accept}/complete", {"form_json": json.dumps(sent, ensure_ascii=False)})
    assert response.status_code == 302, alerts(text(response))
    done = task_row(db, accept)
    assert (done.status, done.data) == ("completed", ACCEPT)
    assert completions(db, instance_id) == ["accept"]


def test_form_json_with_wrong_values_is_refused_field_by_field_and_nothing_is_stored(web_app: Flask, db: Database):
    instance_id, accept = start_fault(web_app, db)
    before = version(db, instance_id)
    client = client_for(web_app, "gz_dispatcher")
    sent = {"fault_type": "停电", "priority": "", "accept_note": "客" * 1001}
    response = send(client, f"/tasks/{accept}/complete", {"form_json": json.dumps(sent, ensure_ascii=False)})
    assert response.status_code == 422
    page = text(response)
    assert FORM_INVALID in alerts(page)
    expected = {"fault_type": "不是可选值之一", "priority": "必填", "accept_note": "最多 1000 个字符"}
    assert json_block(page, "form-viewer-errors") == expected
    for key, message in expected.items():  # the server's form says it too, beside each field
        block = field_block(page, key)
        assert block.startswith(' field-error"') and f'<div class="error-text" role="alert">{message}</div>' in block
    # what was sent comes back to the viewer (and to the server's form)
    data = json_block(page, "form-viewer-data")
    assert {k: data[k] for k in sent} == sent and data["customer"] == FAULT["customer"]
    assert ">" + "客" * 1001 + "</textarea>" in field_block(page, "accept_note")
    # nothing stored
    row = task_row(db, accept)
    assert (row.status, row.data) == ("ready", None)
    assert completions(db, instance_id) == [] and version(db, instance_id) == before


BAD_JSON = {
    "not JSON": ("{'fault_type': '中断'", "表单数据无法读取（不是有效的 JSON）"),
    "cut short": ('{"fault_type": "中断"', "表单数据无法读取（不是有效的 JSON）"),
    "NaN": ('{"fault_type": "中断", "priority": NaN}', "表单数据无法读取（不是有效的 JSON）"),
    "too deep": ("[" * 100_000 + "]" * 100_000, "表单数据无法读取（不是有效的 JSON）"),
    "a lone surrogate": ('{"fault_type": "中断", "accept_note": "\\ud800"}', "表单数据无法读取（不是有效的 JSON）"),
    "deep in an object": ('{"accept_note": ' + "[" * 5_000 + "]" * 5_000 + "}", "表单数据无法读取（不是有效的 JSON）"),
    "a list": ('[{"fault_type": "中断"}]', "表单数据格式不正确（应为 JSON 对象）"),
    "a string": ('"中断"', "表单数据格式不正确（应为 JSON 对象）"),
    "empty": ("", "表单数据无法读取（不是有效的 JSON）"),
    "too large": (json.dumps({**ACCEPT, "accept_note": "x" * (256 * 1024)}), "表单数据过大（上限 256 KB）"),
}


@pytest.mark.parametrize("kind", list(BAD_JSON))
def test_unreadable_or_oversized_form_json_is_a_clear_field_error(web_app: Flask, db: Database, kind: str):
    instance_id, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    raw, message = BAD_JSON[kind]
    response = send(client, f"/tasks/{accept}/complete", {"form_json": raw})
    assert response.status_code == 422
    page = text(response)
    assert FORM_INVALID in alerts(page)
    assert (f'<div class="field field-error" id="form-json-error"><div class="error-text" role="alert">{message}'
            '</div></div>') in page
    assert json_block(page, "form-viewer-errors") == {"form_json": message}
    assert json_block(page, "form-viewer-data")["fault_type"] == "中断"  # the step's data, to start again from
    assert task_row(db, accept).status == "ready" and completions(db, instance_id) == []


def test_nul_characters_in_form_json_are_dropped_as_from_any_field(web_app: Flask, db: Database):
    """A NUL cannot be stored in PostgreSQL text; the JSON escape for one is taken out like a posted NUL."""
    _instance, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    raw = json.dumps({**ACCEPT, "accept_note": "已电话\x00核实"}, ensure_ascii=False)
    assert "\\u0000" in raw and "\x00" not in raw  # the escape reaches the server, not the character
    response = send(client, f"/tasks/{accept}/complete", {"form_json": raw})
    assert response.status_code == 302, alerts(text(response))
    assert task_row(db, accept).data["accept_note"] == "已电话核实"


def test_form_json_errors_in_english(web_app: Flask, db: Database):
    _instance, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    client.get("/lang/en")
    response = send(client, f"/tasks/{accept}/complete", {"form_json": "[]"})
    assert response.status_code == 422
    assert json_block(text(response), "form-viewer-errors") == {
        "form_json": "the form data has the wrong shape (a JSON object is expected)"}
    response = send(client, f"/tasks/{accept}/complete", {"form_json": json.dumps({"priority": "x"})})
    assert json_block(text(response), "form-viewer-errors") == {"fault_type": "required",
                                                                "priority": "is not one of the options"}


def test_form_json_with_an_upload_and_with_a_chosen_attachment(web_app: Flask, db: Database):
    instance_id, receipt = to_receipt(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    # sent back (处理措施 missing): the upload is kept, and stays chosen on the page that comes back
    response = send(client, f"/tasks/{receipt}/complete",
                    {"form_json": json.dumps({**RECEIPT, "measures": ""}, ensure_ascii=False),
                     "report__upload": (io.BytesIO(PDF), "报告.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422
    page = text(response)
    assert json_block(page, "form-viewer-errors") == {"measures": "必填"}
    with db.sessions() as s:
        (attachment_id,) = s.scalars(select(Attachment.id).where(Attachment.instance_id == instance_id))
    assert re.search(rf'<input type="checkbox" name="report" value="{attachment_id}" checked>', page)
    assert task_row(db, receipt).status == "ready"
    # sent again with the attachment chosen (the server's checkbox posts beside form_json)
    response = send(client, f"/tasks/{receipt}/complete",
                    {"form_json": json.dumps(RECEIPT, ensure_ascii=False), "report": str(attachment_id)})
    assert response.status_code == 302, alerts(text(response))
    done = task_row(db, receipt)
    assert done.status == "completed" and done.data["report"] == [attachment_id]
    assert done.data["recovery_time"] == "2026-03-02T12:30:00+08:00"


def test_form_json_with_a_new_upload_completes(web_app: Flask, db: Database):
    instance_id, receipt = to_receipt(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    response = send(client, f"/tasks/{receipt}/complete",
                    {"form_json": json.dumps(RECEIPT, ensure_ascii=False),
                     "report__upload": (io.BytesIO(PDF), "现场报告.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302, alerts(text(response))
    with db.sessions() as s:
        (attachment,) = s.scalars(select(Attachment).where(Attachment.instance_id == instance_id))
    assert attachment.filename == "现场报告.pdf"
    assert task_row(db, receipt).data["report"] == [attachment.id]
    # no report at all is refused beside the field
    other_instance, other = to_receipt(web_app, db, "VIEW-0002")
    response = send(client, f"/tasks/{other}/complete", {"form_json": json.dumps(RECEIPT, ensure_ascii=False)})
    assert response.status_code == 422
    assert json_block(text(response), "form-viewer-errors") == {"report": "必填"}
    assert "必填" in field_block(text(response), "report") and completions(db, other_instance)[-1] == "handle"


def test_a_field_hidden_by_a_condition_is_not_required_by_the_server(web_app: Flask, db: Database):
    instance_id, task = start_check(web_app, db)
    client = client_for(web_app, "alice")
    page = text(client.get(f"/tasks/{task}"))
    assert json_block(page, "form-viewer-schema")["components"][2]["conditional"] == {"hide": '=result != "reject"'}
    # 通过: the viewer hides 驳回原因 and leaves it out; the server does not ask for it
    response = send(client, f"/tasks/{task}/complete", {"form_json": json.dumps(CHECK, ensure_ascii=False)})
    assert response.status_code == 302, alerts(text(response))
    assert task_row(db, task).data == {**CHECK, "reason": None}
    assert completions(db, instance_id) == ["check"]


def test_the_check_forms_other_rules_still_hold(web_app: Flask, db: Database):
    instance_id, task = start_check(web_app, db)
    client = client_for(web_app, "alice")
    sent = {"result": "reject", "reason": "原" * 201, "code": "ab12", "count": 2.5, "items": [{"name": ""}, "x"]}
    response = send(client, f"/tasks/{task}/complete", {"form_json": json.dumps(sent, ensure_ascii=False)})
    assert response.status_code == 422
    assert json_block(text(response), "form-viewer-errors") == {
        "reason": "最多 200 个字符", "code": "格式不正确", "count": "应为整数", "items": "应为列表"}
    sent["items"] = [{"name": ""}, {"name": "x" * 21, "extra": 1}]
    response = send(client, f"/tasks/{task}/complete", {"form_json": json.dumps(sent, ensure_ascii=False)})
    errors = json_block(text(response), "form-viewer-errors")
    assert errors["items[0].name"] == "必填" and errors["items[1].name"] == "最多 20 个字符"
    assert "items[1].extra" not in errors  # what the schema does not declare is dropped, not stored
    assert task_row(db, task).status == "ready" and completions(db, instance_id) == []


# -- in the browser ----------------------------------------------------------------------------------------------
@pytest.fixture
def watched(page: Page) -> Iterator[tuple[Page, list[str]]]:
    """The page, and what went wrong in it: console errors, uncaught exceptions, CSP violations."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        url = (message.location or {}).get("url", "")
        if url.endswith("/favicon.ico"):  # the site has no icon
            return
        if url.endswith("/complete") and "status of 422" in message.text:  # a form sent back answers 422
            return
        if message.type in ("error", "warning") or "Content-Security-Policy" in message.text:
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI); });")
    yield page, problems


def browser_login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))


def viewer_field(page: Page, label: str):  # type: ignore[no-untyped-def]
    """The form-js field with this label (not the group or list around it)."""
    return page.locator("#form-viewer .fjs-form-field:not(.fjs-form-field-grouplike)").filter(
        has=page.locator(".fjs-form-field-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$")))


def test_the_viewer_shows_the_task_form_and_submits_it(live_server: str, watched, web_app: Flask, db: Database):
    page, problems = watched
    instance_id, accept = start_fault(web_app, db)
    browser_login(page, live_server, "gz_dispatcher")
    page.goto(f"{live_server}/tasks/{accept}")
    expect(page.locator("#form-viewer .fjs-container")).to_be_visible()
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    expect(page.locator("#server-fields")).to_be_hidden()
    expect(page.locator("#f-fault_type")).to_be_disabled()
    # the analyst's labels, the step's values
    expect(viewer_field(page, "故障类型（核实）")).to_contain_text("业务中断")
    expect(viewer_field(page, "优先级（核实）")).to_contain_text("高")
    note = viewer_field(page, "受理说明").locator("textarea")
    note.fill("已电话核实，业务全断")
    screenshot(page, "form-viewer-task")
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.locator("main .alert[role=status]").first).to_contain_text("已提交：故障受理。")
    done = task_row(db, accept)
    assert (done.status, done.data) == ("completed", {"fault_type": "中断", "priority": "高",
                                                      "accept_note": "已电话核实，业务全断"})
    assert completions(db, instance_id) == ["accept"]
    assert problems == []


def test_conditions_layout_lists_and_errors_in_the_browser(live_server: str, watched, web_app: Flask, db: Database):
    page, problems = watched
    instance_id, task = start_check(web_app, db)
    browser_login(page, live_server, "alice")
    page.goto(f"{live_server}/tasks/{task}")
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    # texts, html, the group's row of two columns, the list and its table, as designed
    expect(page.locator("#form-viewer .fjs-form-field-text h3")).to_have_text("处理结果")
    expect(page.locator("#form-viewer .fjs-form-field-html b")).to_have_text("提示：")
    code, count = viewer_field(page, "站点编号"), viewer_field(page, "数量")
    assert code.bounding_box()["y"] == count.bounding_box()["y"]  # type: ignore[index]  # one row
    assert code.bounding_box()["x"] < count.bounding_box()["x"]  # type: ignore[index]
    expect(page.locator("#form-viewer .fjs-form-field-group legend, #form-viewer .fjs-form-field-group label")
           .filter(has_text="现场信息").first).to_be_visible()
    # the condition: 驳回原因 only for 驳回
    reason = viewer_field(page, "驳回原因")
    expect(reason).to_have_count(0)
    viewer_field(page, "处理结果").get_by_label("驳回").check()
    expect(reason).to_be_visible()
    viewer_field(page, "处理结果").get_by_label("通过").check()
    expect(reason).to_have_count(0)

    # the viewer's own check first: nothing typed, nothing sent, the errors in Chinese beside the fields
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.locator("#complete-form button[type=submit]").click()
    expect(code.locator(".fjs-form-field-error")).to_have_text("必填")
    name = page.locator("#form-viewer .fjs-form-field-dynamiclist .fjs-form-field").filter(has_text="名称")
    expect(name.locator(".fjs-form-field-error")).to_have_text("必填")
    summary = page.locator(".form-viewer-summary")
    expect(summary).to_contain_text("站点编号：必填")
    expect(summary).to_contain_text("物料 · 第 1 行 · 名称：必填")
    assert posts == [] and task_row(db, task).status == "ready"

    # what only the server checks (the whole value must match the pattern) comes back beside the field
    code.locator("input").fill("ab12")
    expect(code.locator(".fjs-form-field-error")).to_have_count(0)
    count.locator("input").fill("3")
    name.locator("input").fill("尾纤")
    page.locator("#form-viewer .fjs-repeat-render-add").click()
    names = page.locator("#form-viewer .fjs-form-field-dynamiclist .fjs-form-field-textfield input")
    expect(names).to_have_count(2)
    names.nth(1).fill("法兰盘")
    expect(page.locator("#form-viewer .fjs-form-field-table")).to_contain_text("法兰盘")
    viewer_field(page, "已核实").locator("input").check()
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task}/complete$"))
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    expect(code.locator(".fjs-form-field-error")).to_have_text("格式不正确")
    expect(summary).to_contain_text("站点编号：格式不正确")
    expect(code.locator("input")).to_have_value("ab12")  # what was typed is kept
    expect(names.nth(1)).to_have_value("法兰盘")
    screenshot(page, "form-viewer-server-error")
    assert task_row(db, task).status == "ready"

    # fixed: the error (beside the field and in the list) goes as the field changes, and the task is done;
    # 驳回原因 was hidden, so it is not needed
    code.locator("input").fill("4401")
    expect(code.locator(".fjs-form-field-error")).to_have_count(0)
    expect(summary).to_be_hidden()
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    done = task_row(db, task)
    assert done.status == "completed", done.status
    assert done.data == {"result": "pass", "reason": None, "code": "4401", "count": 3,
                         "items": [{"name": "尾纤"}, {"name": "法兰盘"}], "confirm": True}
    assert completions(db, instance_id) == ["check"]
    assert problems == []


def test_a_report_uploads_beside_the_viewer(live_server: str, watched, web_app: Flask, db: Database, tmp_path):
    page, problems = watched
    instance_id, receipt = to_receipt(web_app, db)
    browser_login(page, live_server, "gz_maintainer")
    page.goto(f"{live_server}/tasks/{receipt}")
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    # the report's server block stays visible next to the viewer; the rest of the server form is hidden
    files = page.locator("#form-viewer-files")
    expect(files.locator("label", has_text="故障处理报告")).to_be_visible()
    viewer_field(page, "故障原因").locator(".fjs-input-group, .fjs-select-display, input").first.click()
    page.locator("#form-viewer .fjs-dropdownlist-item", has_text="光缆中断").click()
    viewer_field(page, "处理措施").locator("textarea").fill(RECEIPT["measures"])
    report = tmp_path / "故障处理报告.pdf"
    report.write_bytes(PDF)
    files.locator("input[type=file]").set_input_files(str(report))
    # 恢复时间 missing: the viewer stops, the file input keeps its file
    page.locator("#complete-form button[type=submit]").click()
    summary = page.locator(".form-viewer-summary")
    expect(summary).to_contain_text("恢复时间：必填")
    when = viewer_field(page, "恢复时间")
    day, hour = when.locator("input.fjs-input").nth(0), when.locator("input.fjs-input").nth(1)
    day.fill("2026-03-02")
    day.press("Tab")
    hour.fill("12:30")
    hour.press("Tab")
    expect(summary).to_be_hidden()
    assert files.locator("input[type=file]").evaluate("input => input.files.length") == 1  # the file is kept
    screenshot(page, "form-viewer-receipt")
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    done = task_row(db, receipt)
    with db.sessions() as s:
        (attachment,) = s.scalars(select(Attachment).where(Attachment.instance_id == instance_id))
    assert done.status == "completed" and attachment.filename == "故障处理报告.pdf"
    assert done.data["report"] == [attachment.id] and done.data["cause"] == "光缆"
    assert done.data["recovery_time"].startswith("2026-03-02T12:30")
    assert problems == []


def test_without_javascript_the_servers_form_still_works(chromium, live_server: str, web_app: Flask, db: Database):
    context = chromium.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    try:
        instance_id, accept = start_fault(web_app, db)
        browser_login(page, live_server, "gz_dispatcher")
        page.goto(f"{live_server}/tasks/{accept}")
        expect(page.locator("#f-fault_type")).to_be_visible()
        page.select_option("#f-priority", "紧急")
        page.fill("#f-accept_note", ACCEPT["accept_note"])
        page.locator("#complete-form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/portal/$"))
        assert task_row(db, accept).data == ACCEPT and completions(db, instance_id) == ["accept"]
    finally:
        context.close()


def test_markup_typed_into_the_viewer_stays_text(live_server: str, watched, web_app: Flask, db: Database):
    page, problems = watched
    payload = '</script><img src=x onerror="window.hacked=1">'
    _instance, accept = start_fault(web_app, db, description=payload)  # also in the viewer's data block
    browser_login(page, live_server, "gz_dispatcher")
    response = page.goto(f"{live_server}/tasks/{accept}")
    assert response is not None and "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    viewer_field(page, "受理说明").locator("textarea").fill(payload)
    viewer_field(page, "受理说明").locator("textarea").press("Control+Enter")  # a textarea keeps Enter
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    assert task_row(db, accept).data["accept_note"] == payload
    assert page.evaluate("window.hacked === undefined")
    assert problems == []


def test_a_submit_button_of_the_form_sends_the_page_form(live_server: str, watched, web_app: Flask, db: Database):
    page, problems = watched
    instance_id, task = start_check(web_app, db)
    browser_login(page, live_server, "alice")
    page.goto(f"{live_server}/tasks/{task}")
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    viewer_field(page, "处理结果").get_by_label("通过").check()
    viewer_field(page, "数量").locator("input").fill("2")
    page.locator("#form-viewer .fjs-form-field-dynamiclist input").fill("光模块")
    code = viewer_field(page, "站点编号").locator("input")
    code.fill("4402")
    page.locator("#form-viewer button", has_text="核查完毕，提交").click()  # at once: nothing typed is lost
    expect(page).to_have_url(re.compile(r"/portal/$"))
    done = task_row(db, task)
    assert done.status == "completed" and done.data["code"] == "4402" and done.data["items"] == [{"name": "光模块"}]
    assert completions(db, instance_id) == ["check"]
    assert problems == []


def test_an_english_page_gets_the_viewers_texts_in_english(live_server: str, watched, web_app: Flask,
                                                           db: Database):
    page, problems = watched
    _instance, task = start_check(web_app, db)
    browser_login(page, live_server, "alice")
    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/tasks/{task}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    expect(page.locator("#form-viewer .fjs-repeat-render-add")).to_contain_text("Add new")
    page.locator("#complete-form button[type=submit]").click()
    summary = page.locator(".form-viewer-summary")
    expect(summary).to_contain_text("Please correct the following:")
    expect(summary).to_contain_text("站点编号: Field is required.")
    expect(summary).to_contain_text("物料 · row 1 · 名称: Field is required.")
    assert task_row(db, task).status == "ready"
    assert problems == []
