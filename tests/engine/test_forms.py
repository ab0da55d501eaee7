"""Task forms: server-side validation of every form-js component type (small schemas, no database), checking
form files on deploy, pinning form versions to process versions, start forms, and attachments (limits, magic
bytes, file names, who may upload, filepicker references) through the engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.attachments.models import Attachment
from engine.attachments.service import AttachmentPolicy, clean_filename
from engine.core import ProcessEngine
from engine.errors import BpmnValidationError, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.forms.schema import Field
from engine.forms.service import parse_form
from engine.forms.validation import FormInvalid, Problem, validate_submission
from engine.registry import HandlerRegistry
from engine.repository.models import ProcessDefinition
from engine.tasks.models import HumanTask
from tests.conftest import PROCESSES_DIR, FakeClock, user

PDF = b"%PDF-1.4\n% report\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


# -- small schemas -----------------------------------------------------------------------------------------
def schema(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": "default", "components": list(components)}


def field(kind: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "key": key, "label": key, **extra}


def options(*values: Any) -> list[dict[str, Any]]:
    return [{"value": v, "label": str(v)} for v in values]


def problems(form: dict[str, Any], data: dict[str, Any], check=None) -> dict[str, Problem]:  # type: ignore[no-untyped-def]
    """The problems of a submission (it must have some)."""
    with pytest.raises(FormInvalid) as caught:
        validate_submission("f", form, data, check)
    assert caught.value.form_key == "f"
    return caught.value.problems


def clean(form: dict[str, Any], data: dict[str, Any], check=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return validate_submission("f", form, data, check)


# -- component types ---------------------------------------------------------------------------------------
def test_textfield_lengths_pattern_and_validation_types():
    form = schema(
        field("textfield", "code", validate={"required": True, "minLength": 3, "maxLength": 6,
                                             "pattern": "^[A-Z0-9]+$"}),
        field("textfield", "mail", validate={"validationType": "email"}),
        field("textfield", "phone", validate={"validationType": "phone"}),
    )
    assert clean(form, {"code": "AB12", "mail": "ops@example.cn", "phone": "+86 138-0000-0000"}) == {
        "code": "AB12", "mail": "ops@example.cn", "phone": "+86 138-0000-0000"}
    # the shortest allowed; optional fields left out still get a value (None), so scripts may name them
    assert clean(form, {"code": "ABC"}) == {"code": "ABC", "mail": None, "phone": None}
    assert clean(form, {"code": "ABC123"}) == {"code": "ABC123", "mail": None, "phone": None}  # the longest
    assert problems(form, {"code": "AB"}) == {"code": Problem("min_length", (("n", 3),))}
    assert problems(form, {"code": "ABCDEFG"}) == {"code": Problem("max_length", (("n", 6),))}
    assert problems(form, {"code": "ab12"}) == {"code": Problem("pattern")}
    assert problems(form, {"code": "AB12\n"}) == {"code": Problem("pattern")}  # the whole value must match
    assert problems(form, {"code": 1234}) == {"code": Problem("type_string")}
    assert problems(form, {}) == {"code": Problem("required")}
    assert problems(form, {"code": ""}) == {"code": Problem("required")}
    assert problems(form, {"code": None}) == {"code": Problem("required")}
    assert problems(form, {"code": "ABC", "mail": "ops@example", "phone": "138x0000"}) == {
        "mail": Problem("email"), "phone": Problem("phone")}
    assert problems(form, {"code": "ABC", "mail": "two words@example.cn", "phone": "12"}) == {
        "mail": Problem("email"), "phone": Problem("phone")}
    # an optional field sent empty is kept as None
    assert clean(form, {"code": "ABC", "mail": ""}) == {"code": "ABC", "mail": None, "phone": None}


def test_textarea():
    form = schema(field("textarea", "note", validate={"required": True, "maxLength": 5}))
    assert clean(form, {"note": "一二\n三四"}) == {"note": "一二\n三四"}  # a line break counts as a character
    assert problems(form, {"note": "一二三四五六"}) == {"note": Problem("max_length", (("n", 5),))}
    assert problems(form, {"note": ["a"]}) == {"note": Problem("type_string")}


def test_number_ranges_and_whole_numbers():
    form = schema(field("number", "vlan", decimalDigits=0, validate={"required": True, "min": 1, "max": 4094}),
                  field("number", "ratio", validate={"min": 0, "max": 1}))
    assert clean(form, {"vlan": 1, "ratio": 0.25}) == {"vlan": 1, "ratio": 0.25}
    assert clean(form, {"vlan": 4094}) == {"vlan": 4094, "ratio": None}
    for given, expected in (("300", 300), (" 300 ", 300), (300.0, 300), ("3e2", 300)):
        cleaned = clean(form, {"vlan": given})["vlan"]
        assert (cleaned, type(cleaned)) == (expected, int), given
    assert clean(form, {"vlan": 7, "ratio": "0.5"}) == {"vlan": 7, "ratio": 0.5}
    assert problems(form, {"vlan": 0}) == {"vlan": Problem("min", (("n", 1),))}
    assert problems(form, {"vlan": 4095}) == {"vlan": Problem("max", (("n", 4094),))}
    assert problems(form, {"vlan": 1.5}) == {"vlan": Problem("type_integer")}
    assert problems(form, {"vlan": "1.5"}) == {"vlan": Problem("type_integer")}
    for bad in ("abc", True, [1], {"n": 1}):
        assert problems(form, {"vlan": bad}) == {"vlan": Problem("type_number")}, bad
    assert problems(form, {"vlan": 5, "ratio": 1.01}) == {"ratio": Problem("max", (("n", 1),))}
    assert problems(form, {"vlan": 5, "ratio": -0.01}) == {"ratio": Problem("min", (("n", 0),))}


def test_number_rejects_values_that_are_not_finite():
    """JSON parsers accept NaN and Infinity, and '1e999' overflows to infinity: none of them is a number a
    form may store (NaN even slips past min/max, and PostgreSQL's JSON refuses both)."""
    form = schema(field("number", "n"), field("number", "bounded", validate={"min": 0, "max": 10}))
    for value in ("1e999", "-1e999", float("inf"), float("nan")):
        assert set(problems(form, {"n": value})) == {"n"}, value
        assert set(problems(form, {"bounded": value})) == {"bounded"}, value


def test_select_and_radio_options():
    form = schema(field("select", "region", values=options("GZ", "SZ"), validate={"required": True}),
                  field("radio", "level", values=options(1, 2, 3)))
    assert clean(form, {"region": "SZ", "level": 2}) == {"region": "SZ", "level": 2}
    assert clean(form, {"region": "GZ", "level": "3"}) == {"region": "GZ", "level": 3}  # the option's own value
    assert problems(form, {"region": "HK"}) == {"region": Problem("option")}
    assert problems(form, {"region": "gz"}) == {"region": Problem("option")}
    assert problems(form, {"region": "GZ", "level": 4}) == {"level": Problem("option")}
    assert problems(form, {"region": ["GZ"]}) == {"region": Problem("option")}
    assert problems(form, {"level": 1}) == {"region": Problem("required")}


def test_checkbox_including_a_required_one():
    form = schema(field("checkbox", "agreed", validate={"required": True}), field("checkbox", "urgent"))
    assert clean(form, {"agreed": True}) == {"agreed": True, "urgent": False}
    assert clean(form, {"agreed": "on", "urgent": "false"}) == {"agreed": True, "urgent": False}
    assert clean(form, {"agreed": "yes", "urgent": None}) == {"agreed": True, "urgent": False}
    assert clean(form, {"agreed": 1, "urgent": 0}) == {"agreed": True, "urgent": False}
    for unticked in (False, "off", "false", 0, None, ""):
        assert problems(form, {"agreed": unticked}) == {"agreed": Problem("required")}, unticked
    assert problems(form, {}) == {"agreed": Problem("required")}
    assert problems(form, {"agreed": True, "urgent": "perhaps"}) == {"urgent": Problem("type_boolean")}


def test_checklist():
    form = schema(field("checklist", "units", values=options("GZ", "SZ", "DG"), validate={"required": True}))
    assert clean(form, {"units": ["GZ", "DG"]}) == {"units": ["GZ", "DG"]}
    assert clean(form, {"units": "SZ"}) == {"units": ["SZ"]}  # one value is a list of one
    assert problems(form, {"units": ["GZ", "HK"]}) == {"units": Problem("option")}
    assert problems(form, {"units": []}) == {"units": Problem("required")}
    optional = schema(field("checklist", "units", values=options("GZ", "SZ")))
    assert clean(optional, {"units": []}) == {"units": []}


def test_datetime_subtypes():
    form = schema(field("datetime", "day", subtype="date"), field("datetime", "at", subtype="time"),
                  field("datetime", "moment", subtype="datetime"))
    assert clean(form, {"day": "2026-03-02", "at": "09:30:15", "moment": "2026-03-02T09:30"}) == {
        "day": "2026-03-02", "at": "09:30", "moment": "2026-03-02T09:30:00+08:00"}  # no offset: Asia/Shanghai
    assert clean(form, {"moment": "2026-03-02T01:30:00+00:00"}) == {"day": None, "at": None,
                                                                     "moment": "2026-03-02T01:30:00+00:00"}
    assert clean(form, {"moment": "2026-07-01 23:59"}) == {"day": None, "at": None,
                                                           "moment": "2026-07-01T23:59:00+08:00"}
    assert problems(form, {"day": "2026-02-30", "at": "25:00", "moment": "yesterday"}) == {
        "day": Problem("date"), "at": Problem("time"), "moment": Problem("datetime")}
    assert problems(form, {"day": "02/03/2026"}) == {"day": Problem("date")}
    assert problems(form, {"day": 20260302, "at": 930, "moment": 1}) == {
        "day": Problem("date"), "at": Problem("time"), "moment": Problem("datetime")}
    untyped = schema(field("datetime", "when"))  # no subtype: a date and time
    assert clean(untyped, {"when": "2026-03-02T09:30"}) == {"when": "2026-03-02T09:30:00+08:00"}


def test_filepicker_accept_and_multiple():
    form = schema(field("filepicker", "report", accept=".pdf"), field("filepicker", "photos", multiple=True))
    seen: list[tuple[int, str]] = []

    def check(attachment_id: int, f: Field) -> Problem | None:
        seen.append((attachment_id, f.key))
        return None if attachment_id < 100 else Problem("file_foreign", (("id", str(attachment_id)),))

    assert clean(form, {"report": [3], "photos": [4, "5"]}, check) == {"report": [3], "photos": [4, 5]}
    assert seen == [(3, "report"), (4, "photos"), (5, "photos")]
    assert clean(form, {"report": "7"}, check) == {"report": [7], "photos": []}
    assert problems(form, {"report": [3, 4]}, check) == {"report": Problem("one_file")}
    assert problems(form, {"report": ["x"]}, check) == {
        "report": Problem("file_id", (("value", "x"),))}
    assert problems(form, {"photos": [4, 101]}, check) == {
        "photos": Problem("file_foreign", (("id", "101"),))}
    # without a way to check attachments, a reference is never accepted blindly
    assert problems(form, {"report": [3]}) == {
        "report": Problem("file")}
    assert clean(form, {"photos": []}) == {"report": [], "photos": []}


def test_dynamiclist_nested_fields_and_error_paths():
    """The real 电路信息 form of 售中实施: errors of nested fields are named like ``circuits[1].vlan``."""
    form = json.loads((PROCESSES_DIR / "forms" / "insale_circuits.json").read_text(encoding="utf-8"))
    first = {"circuit_id": "GDGZ-ZX-7001", "a_end": "客户机房", "z_end": "局端", "bandwidth": "1G", "vlan": "300"}
    second = {"circuit_id": "GDGZ-ZX-7002", "a_end": "分部", "z_end": "局端", "bandwidth": "100M", "port": "GE0/0/2"}
    cleaned = clean(form, {"circuits": [first, second], "service_details": "双上联"})
    assert cleaned == {"circuits": [{**first, "port": None, "vlan": 300}, {**second, "vlan": None}],
                       "service_details": "双上联"}

    found = problems(form, {"circuits": [first, {**second, "vlan": 5000, "colour": "red"},
                                         {"a_end": "x", "z_end": "y", "bandwidth": "3G"}],
                            "service_details": "双上联"})
    assert found == {
        "circuits[1].vlan": Problem("max", (("n", 4094),)),
        "circuits[1].colour": Problem("unknown"),
        "circuits[2].circuit_id": Problem("required"),
        "circuits[2].bandwidth": Problem("option"),
    }
    assert problems(form, {"circuits": [{**first, "circuit_id": "gd-1"}], "service_details": "x"}) == {
        "circuits[0].circuit_id": Problem("pattern")}
    assert problems(form, {"circuits": [], "service_details": "x"}) == {"circuits": Problem("required")}
    assert problems(form, {"circuits": first, "service_details": "x"}) == {"circuits": Problem("type_list")}
    assert problems(form, {"circuits": ["GDGZ-ZX-7001"], "service_details": "x"}) == {
        "circuits": Problem("type_list")}


def test_unknown_fields_are_rejected_and_static_components_carry_nothing():
    form = schema({"type": "text", "text": "说明文字"}, field("textfield", "name"),
                  {"type": "group", "components": [field("textfield", "inside")]}, {"type": "spacer"})
    assert clean(form, {"name": "a", "inside": "b"}) == {"name": "a", "inside": "b"}  # groups are flattened
    assert problems(form, {"name": "a", "is_admin": True, "text": "x"}) == {
        "is_admin": Problem("unknown"), "text": Problem("unknown")}


def test_conditional_fields_are_not_required():
    form = schema(field("radio", "result", values=options("pass", "reject"), validate={"required": True}),
                  field("textarea", "reason", conditional={"hide": "=result = \"pass\""},
                        validate={"required": True, "maxLength": 10}))
    assert clean(form, {"result": "pass"}) == {"result": "pass", "reason": None}
    assert clean(form, {"result": "reject", "reason": "资料不全"}) == {"result": "reject", "reason": "资料不全"}
    # its other rules still hold when it is filled in
    assert problems(form, {"result": "reject", "reason": "x" * 11}) == {"reason": Problem("max_length", (("n", 10),))}


def test_messages_in_chinese_and_english():
    form = schema(field("textfield", "code", validate={"required": True, "minLength": 3}),
                  field("number", "n", validate={"max": 9}), field("datetime", "day", subtype="date"),
                  field("filepicker", "doc"))
    with pytest.raises(FormInvalid) as caught:
        validate_submission("order_form", form, {"code": "ab", "n": 10, "day": "x", "doc": [1], "extra": 1})
    err = caught.value
    assert err.localized("zh") == {"code": "至少 3 个字符", "n": "不能大于 9", "day": "日期格式应为 YYYY-MM-DD",
                                   "doc": "附件无效", "extra": "不是本表单的字段"}
    assert err.localized("zh-CN") == err.localized("zh")
    assert err.localized("en") == {"code": "at least 3 characters", "n": "must be at most 9",
                                   "day": "must be a date like 2026-03-02",
                                   "doc": "invalid attachment",
                                   "extra": "not a field of this form"}
    assert err.field_errors == err.localized("en")
    assert isinstance(err, InvalidInput)
    assert str(err).startswith("form order_form: ") and "code: at least 3 characters" in str(err)
    assert Problem("required").text("zh") == "必填"
    assert Problem("required").text("en") == "required"
    assert Problem("one_file").text("zh") == "只能上传一个文件"


# -- checking form files -----------------------------------------------------------------------------------
def form_issues(content: bytes | str) -> list[tuple[str, str]]:
    """(rule, message) of each problem parse_form finds (it must find some)."""
    raw = content.encode() if isinstance(content, str) else content
    with pytest.raises(BpmnValidationError) as caught:
        parse_form(raw, "bad.json")
    assert all(i.file == "bad.json" for i in caught.value.issues)
    return [(i.rule, i.message) for i in caught.value.issues]


def test_parse_form_rejects_malformed_files():
    assert parse_form(json.dumps(schema(field("textfield", "a"))).encode(), "ok.json")["components"][0]["key"] == "a"
    assert parse_form(b"\xef\xbb\xbf" + json.dumps(schema()).encode(), "bom.json") == schema()  # a BOM is fine
    for content in ('{"components": [', "", "not json", b"\xff\xfe{}"):
        (issue,) = form_issues(content)
        assert issue[0] == "form-malformed", content
    for content in ("[]", '{"type": "default"}', '{"components": {}}', '"text"'):
        assert form_issues(content) == [("form-invalid", "a form-js schema is a JSON object with a 'components' list")]


def test_parse_form_rejects_unusable_components():
    issues = form_issues(json.dumps(schema(
        field("textfield", "name"),
        {"type": "signature", "key": "sign"},
        field("textfield", "name"),
        field("textfield", "code", validate={"pattern": "([A-Z]"}),
        field("textfield", "_secret"),
        field("number", "not-a-name"),
        {"type": "textfield", "label": "no key"},
        {"type": "group", "components": [field("textarea", "note"), {"type": "video"}]},
        field("textarea", "note"),
    )))
    rules = {rule for rule, _ in issues}
    assert rules == {"form-invalid"}
    messages = [m for _, m in issues]
    assert "component type 'signature' is not supported" in messages
    assert "component type 'video' is not supported" in messages
    assert "field key 'name' appears twice" in messages
    assert "field key 'note' appears twice" in messages  # a group does not make a key of its own
    assert any(m.startswith("field 'code': pattern '([A-Z]' is not a regular expression") for m in messages)
    for key in ("'_secret'", "'not-a-name'", "None"):
        assert f"field key {key} must be a name (letters, digits, '_', not starting with '_')" in messages
    assert len(messages) == 8


def test_parse_form_rejects_duplicate_keys_inside_a_dynamiclist():
    circuits = {"type": "dynamiclist", "path": "circuits",
                "components": [field("textfield", "circuit_id"), field("number", "vlan"), field("textfield", "vlan")]}
    messages = [m for _, m in form_issues(json.dumps(schema(circuits)))]
    assert len(messages) == 1 and "vlan" in messages[0] and "twice" in messages[0]
    bad_inner = {"type": "dynamiclist", "path": "circuits", "components": [{"type": "rating", "key": "x"}]}
    assert form_issues(json.dumps(schema(bad_inner))) == [
        ("form-invalid", "circuits.component type 'rating' is not supported")]


def test_a_nested_key_may_repeat_a_top_level_key_in_either_order():
    """``vlan`` of a circuit and a top-level ``vlan`` live at different levels of the data: no clash."""
    circuits = {"type": "dynamiclist", "path": "circuits", "components": [field("number", "vlan")]}
    top = field("number", "vlan")
    for components in ((top, circuits), (circuits, top)):
        form = parse_form(json.dumps(schema(*components)).encode(), "ok.json")
        assert clean(form, {"vlan": 10, "circuits": [{"vlan": 20}]}) == {"vlan": 10, "circuits": [{"vlan": 20}]}


# -- forms deployed with processes -------------------------------------------------------------------------
def diagram(task_form: str | None = "handle_form", start_form: str | None = None, name: str = "formed") -> bytes:
    def props(key: str | None) -> str:
        if not key:
            return ""
        return ("<bpmn:extensionElements><spiffworkflow:properties>"
                f'<spiffworkflow:property name="formKey" value="{key}"/>'
                "</spiffworkflow:properties></bpmn:extensionElements>")

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_{name}"
    targetNamespace="http://eoms.example/bpmn">
  <bpmn:process id="{name}" name="Formed" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_dispatch" name="dispatcher">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>handle</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start">{props(start_form)}</bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:userTask id="handle" name="Handle">{props(task_form)}</bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


HANDLE_V1 = schema(field("textarea", "note", validate={"required": True, "maxLength": 20}),
                   field("filepicker", "report", accept=".pdf"),
                   field("filepicker", "photos", accept=".png,.jpg", multiple=True))
HANDLE_V2 = schema(field("textarea", "note", validate={"required": True, "maxLength": 20}),
                   field("select", "cause", values=options("光缆", "设备"), validate={"required": True}))
START_FORM = schema(field("textfield", "customer", validate={"required": True, "maxLength": 10}),
                    field("checkbox", "vip"))


def deploy_form(pe: ProcessEngine, db, key: str, form: dict[str, Any]):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.forms.deploy(s, key, json.dumps(form, ensure_ascii=False).encode(), f"{key}.json")


def deploy_process(pe: ProcessEngine, db, content: bytes):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        (result,) = pe.repository.deploy(s, content, "formed.bpmn")
        return result


def start(pe: ProcessEngine, db, business_key: str, data: dict[str, Any] | None = None,  # type: ignore[no-untyped-def]
          process_key: str = "formed") -> tuple[int, int]:
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, process_key, business_key=business_key, data=data or {},
                                  actor=user(s, pe, "alice"))
        return result.instance.id, result.tasks[0].id


def complete(pe: ProcessEngine, db, task_id: int, data: dict[str, Any], username: str = "alice"):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.tasks.complete(s, task_id, user(s, pe, username), data)


def upload(pe: ProcessEngine, db, task_id: int, filename: str, data: bytes, username: str = "alice") -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.tasks.upload(s, task_id, user(s, pe, username), filename=filename, data=data).id


def task_status(db, task_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        return row.status


def test_deploying_a_process_whose_form_is_missing(pe, db):
    for content, element in ((diagram("handle_form"), "handle"), (diagram(None, start_form="order_form"), "start")):
        with db.sessions.begin() as s, pytest.raises(BpmnValidationError) as caught:
            pe.repository.deploy(s, content, "formed.bpmn")
        (issue,) = caught.value.issues
        assert (issue.rule, issue.element_id, issue.file) == ("unknown-form", element, "formed.bpmn")
        assert "is not a deployed form" in issue.message
    with db.sessions() as s:
        assert s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "formed")) is None
    deploy_form(pe, db, "handle_form", HANDLE_V1)
    assert deploy_process(pe, db, diagram("handle_form")).version == 1


def test_a_changed_form_makes_a_new_process_version_and_running_instances_keep_theirs(pe, db):
    first = deploy_form(pe, db, "handle_form", HANDLE_V1)
    assert (first.version, first.created) == (1, True)
    again = deploy_form(pe, db, "handle_form", json.loads(json.dumps(HANDLE_V1)))
    assert (again.version, again.form_id, again.created) == (1, first.form_id, False)
    v1 = deploy_process(pe, db, diagram())
    assert (v1.version, v1.created) == (1, True)
    _, old_task = start(pe, db, "WO-OLD")

    second = deploy_form(pe, db, "handle_form", HANDLE_V2)
    assert (second.version, second.created) == (2, True)
    with db.sessions() as s:  # deploying a form alone does not change the deployed process
        assert s.scalar(select(ProcessDefinition.version).where(ProcessDefinition.key == "formed")
                        .order_by(ProcessDefinition.version.desc()).limit(1)) == 1
    v2 = deploy_process(pe, db, diagram())  # the same BPMN, deployed again
    assert (v2.version, v2.created) == (2, True)
    assert deploy_process(pe, db, diagram()).definition_id == v2.definition_id  # and again: nothing new
    with db.sessions() as s:
        pinned = {r.version: r.forms for r in s.scalars(select(ProcessDefinition)
                                                          .where(ProcessDefinition.key == "formed"))}
    assert pinned == {1: {"handle_form": first.form_id}, 2: {"handle_form": second.form_id}}
    _, new_task = start(pe, db, "WO-NEW")

    # the running instance is held to version 1 of the form, the new one to version 2
    with pytest.raises(FormInvalid) as caught:
        complete(pe, db, old_task, {"note": "ok", "cause": "光缆"})
    assert caught.value.field_errors == {"cause": "not a field of this form"}
    with pytest.raises(FormInvalid) as caught:
        complete(pe, db, new_task, {"note": "ok"})
    assert caught.value.field_errors == {"cause": "required"}
    assert (task_status(db, old_task), task_status(db, new_task)) == ("ready", "ready")
    assert complete(pe, db, old_task, {"note": "ok"}) == []
    assert complete(pe, db, new_task, {"note": "ok", "cause": "设备"}) == []
    with db.sessions() as s:
        assert s.get(HumanTask, new_task).data == {"note": "ok", "cause": "设备"}  # type: ignore[union-attr]
        assert s.get(HumanTask, old_task).data == {  # type: ignore[union-attr]
            "note": "ok", "photos": [], "report": []}


def test_start_form_checks_the_data_an_order_starts_with(pe, db):
    deploy_form(pe, db, "order_form", START_FORM)
    deploy_form(pe, db, "handle_form", HANDLE_V1)
    deploy_process(pe, db, diagram(start_form="order_form"))
    with pytest.raises(FormInvalid) as caught:
        start(pe, db, "WO-1", {"customer": "广州市第一人民医院附属", "vip": "maybe", "secret": 1})
    assert caught.value.field_errors == {"customer": "at most 10 characters", "vip": "must be yes or no",
                                         "secret": "not a field of this form"}
    with db.sessions() as s:
        assert s.scalar(select(HumanTask.id)) is None
    _, task_id = start(pe, db, "WO-1", {"customer": "广州塔", "vip": "on"})
    with pytest.raises(FormInvalid) as caught:  # the task's own form applies to the task
        complete(pe, db, task_id, {"customer": "x"})
    assert caught.value.localized("zh") == {"customer": "不是本表单的字段", "note": "必填"}
    assert complete(pe, db, task_id, {"note": "已处理"}) == []


def test_a_number_out_of_float_range_is_a_form_error_not_a_database_error(pe, db):
    deploy_form(pe, db, "handle_form", schema(field("number", "n")))
    deploy_process(pe, db, diagram())
    _, task_id = start(pe, db, "WO-1")
    with pytest.raises(FormInvalid) as caught:
        complete(pe, db, task_id, {"n": "1e999"})
    assert list(caught.value.field_errors) == ["n"]
    assert task_status(db, task_id) == "ready"
    assert complete(pe, db, task_id, {"n": "1e3"}) == []


# -- attachments -------------------------------------------------------------------------------------------
@pytest.fixture
def small_pe(clock: FakeClock, storage: Path) -> ProcessEngine:
    """An engine whose attachments may be 64 bytes at most."""
    return ProcessEngine(HandlerRegistry(), clock=clock, attachments=AttachmentPolicy(storage, max_bytes=64))


@pytest.fixture
def open_task(small_pe, db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    deploy_form(small_pe, db, "handle_form", HANDLE_V1)
    deploy_process(small_pe, db, diagram())
    return start(small_pe, db, "WO-1")


def test_attachment_limits(small_pe, db, open_task, storage):
    _, task_id = open_task
    cases = [
        ("报告.pdf", b"%PDF" + b"x" * 61, "too large"),
        ("tool.exe", b"MZ\x90\x00", "type not allowed"),
        ("noextension", b"hello", "type not allowed"),
        ("报告.pdf", b"MZ\x90\x00 not a pdf", "content does not match type"),
        ("photo.PNG", b"GIF89a", "content does not match type"),
        ("报告.pdf", b"", "empty"),
        ("../..", PDF, "no name"),
        ("", PDF, "no name"),
    ]
    for filename, data, why in cases:
        with pytest.raises(InvalidInput) as caught:
            upload(small_pe, db, task_id, filename, data)
        assert caught.value.field_errors == {"file": why}, filename
    with db.sessions() as s:
        assert s.scalar(select(Attachment.id)) is None
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))
    exactly = b"%PDF" + b"x" * 60
    assert len(exactly) == 64
    upload(small_pe, db, task_id, "报告.pdf", exactly)  # the limit itself is allowed
    upload(small_pe, db, task_id, "photo.PNG", PNG)  # the extension's case does not matter
    upload(small_pe, db, task_id, "notes.txt", b"plain text has no magic bytes")


def test_attachment_file_names_are_cleaned(small_pe, db, open_task, storage):
    iid, task_id = open_task
    names = {"../../etc/cron.d/报告.pdf": "报告.pdf", "..\\..\\windows\\report.pdf": "report.pdf",
             "/abs/path/a.pdf": "a.pdf", 'we"ird<na>me|?.pdf': "we_ird_na_me__.pdf",
             "line\nbreak.pdf": "line_break.pdf",
             " spaced. .pdf ": "spaced. .pdf"}
    for given, expected in names.items():
        assert clean_filename(given) == expected, given
        attachment_id = upload(small_pe, db, task_id, given, PDF)
        with db.sessions() as s:
            row = s.get(Attachment, attachment_id)
            assert row is not None
            assert (row.filename, row.instance_id, row.human_task_id, row.size) == (expected, iid, task_id, len(PDF))
            assert row.content_type == "application/pdf"
            stored = (storage / row.storage_key).resolve()
        assert stored.is_relative_to(storage.resolve()) and stored.read_bytes() == PDF
        assert ".." not in row.storage_key
    assert clean_filename("x" * 300 + ".pdf") == ("x" * 300 + ".pdf")[-200:]
    files = [p for p in storage.resolve().rglob("*") if p.is_file()]
    assert len(files) == len(names)
    assert not (storage.parent / "etc").exists()


def test_upload_only_to_a_task_offered_to_the_user(small_pe, db, open_task):
    _, task_id = open_task
    for stranger in ("bob", "carol", "mike"):  # another post; the same post in another city
        with pytest.raises(NotFound):
            upload(small_pe, db, task_id, "报告.pdf", PDF, username=stranger)
    with pytest.raises(NotAllowed):  # a supervisor sees the task but does not work on it
        upload(small_pe, db, task_id, "报告.pdf", PDF, username="sup")
    upload(small_pe, db, task_id, "报告.pdf", PDF, username="anna")  # another dispatcher of Guangzhou may
    assert complete(small_pe, db, task_id, {"note": "完成"}) == []
    with pytest.raises(InvalidState):
        upload(small_pe, db, task_id, "报告.pdf", PDF)
    with db.sessions() as s:
        assert len(s.scalars(select(Attachment)).all()) == 1


def test_filepicker_references_are_checked_against_the_work_order(small_pe, db, open_task):
    _, task_id = open_task
    _, other_task = start(small_pe, db, "WO-2")
    pdf_id = upload(small_pe, db, task_id, "报告.pdf", PDF)
    png_id = upload(small_pe, db, task_id, "现场.png", PNG)
    png2_id = upload(small_pe, db, task_id, "现场2.png", PNG)
    foreign = upload(small_pe, db, other_task, "别人的.pdf", PDF)
    bad = [
        ({"report": [foreign]}, {"report": f"attachment {foreign} does not belong to this work order"}),
        ({"report": [999]}, {"report": "attachment 999 does not belong to this work order"}),
        ({"report": [png_id]}, {"report": "现场.png is not a type this field accepts (.pdf)"}),
        ({"report": [pdf_id, pdf_id]}, {"report": "only one file is allowed"}),
        ({"photos": [png_id, pdf_id]}, {"photos": "报告.pdf is not a type this field accepts (.png、.jpg)"}),
    ]
    for extra, errors in bad:
        with pytest.raises(FormInvalid) as caught:
            complete(small_pe, db, task_id, {"note": "完成", **extra})
        assert caught.value.field_errors == errors, extra
    with pytest.raises(FormInvalid) as caught:  # Chinese pages read every problem in Chinese
        complete(small_pe, db, task_id, {"note": "完成", "report": [999], "photos": [pdf_id]})
    assert caught.value.localized("zh") == {"report": "附件 999 不属于本工单",
                                            "photos": "报告.pdf 不是本栏可接受的类型（可接受：.png、.jpg）"}
    assert task_status(db, task_id) == "ready"
    assert complete(small_pe, db, task_id, {"note": "完成", "report": [pdf_id], "photos": [png_id, png2_id]}) == []
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None and row.data == {"note": "完成", "report": [pdf_id], "photos": [png_id, png2_id]}
