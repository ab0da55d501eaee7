"""The process designer's server side: who may use it, drafts, validation pinned to element ids, deploy,
download and upload (hostile files refused, nothing stored). The real app on both databases."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.repository.models import ProcessDefinition
from engine.repository.rules import RULES
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import BPMN_DIR, PROCESSES_DIR, Database
from tests.web.conftest import csrf_token, login
from tests.web.test_authorization import FAULT as FAULT_DATA
from webapp.designer.models import ProcessDraft

FAULT = "aftersales_fault"


def client_as(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def token(client: FlaskClient) -> str:
    return csrf_token(client.get("/designer/").get_data(as_text=True))


def post_json(client: FlaskClient, url: str, body: dict):  # type: ignore[no-untyped-def]
    return client.post(url, data=json.dumps(body), content_type="application/json",
                       headers={"X-CSRFToken": token(client)})


def fault_xml() -> str:
    return (PROCESSES_DIR / f"{FAULT}.bpmn").read_text(encoding="utf-8")


def versions(db: Database, key: str) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(ProcessDefinition).where(ProcessDefinition.key == key))


def drafts(db: Database) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(ProcessDraft))


def test_only_analysts_and_admins_reach_any_designer_route(web_app: Flask, db: Database):
    """Every designer route (found in the URL map, so routes added later are covered): a post holder and a
    supervisor see 404 and change nothing; analysts and administrators get the page."""
    rules = [r for r in web_app.url_map.iter_rules() if r.endpoint.startswith("designer.")]
    assert len(rules) >= 9
    for username in ("alice", "sup"):
        client = client_as(web_app, username)
        csrf = csrf_token(client.get("/portal/").get_data(as_text=True))
        for rule in rules:
            url = rule.build({name: FAULT for name in rule.arguments})[1]
            if "GET" in rule.methods:
                assert client.get(url).status_code == 404, (username, url)
            if "POST" in rule.methods:
                response = client.post(url, data=json.dumps({"xml": fault_xml()}), content_type="application/json",
                                       headers={"X-CSRFToken": csrf})
                assert response.status_code == 404, (username, url)
    assert versions(db, FAULT) == 1 and drafts(db) == 0
    for username in ("ana", "admin"):
        page = client_as(web_app, username).get("/designer/")
        assert page.status_code == 200 and "售后故障" in page.get_data(as_text=True)


def test_the_catalogue_lists_each_flow_with_its_versions_and_running_work(web_app: Flask):
    html = client_as(web_app, "ana").get("/designer/").get_data(as_text=True)
    for key in ("aftersales_fault", "provisioning", "presales_demand", "workplan", "insale_implementation"):
        assert f'data-key="{key}"' in html
    assert "流程设计" in html and "上传 .bpmn" in html


def test_json_posts_need_the_csrf_token(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    response = client.post(f"/designer/{FAULT}/draft", data=json.dumps({"xml": fault_xml()}),
                           content_type="application/json")
    assert response.status_code == 400
    assert drafts(db) == 0


def test_a_draft_is_saved_reopened_and_discarded(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    changed = fault_xml().replace('name="故障受理"', 'name="故障受理（草稿）"')
    response = post_json(client, f"/designer/{FAULT}/draft", {"xml": changed})
    assert response.status_code == 200 and response.get_json()["ok"] is True
    assert "故障受理（草稿）" in client.get(f"/designer/{FAULT}/xml").get_data(as_text=True)
    assert "故障受理（草稿）" not in client.get(f"/designer/{FAULT}/xml?version=1").get_data(as_text=True)
    other = client_as(web_app, "admin")  # drafts are per analyst
    assert "故障受理（草稿）" not in other.get(f"/designer/{FAULT}/xml").get_data(as_text=True)
    page = client.get(f"/designer/{FAULT}/").get_data(as_text=True)
    config = json.loads(re.search(r'data-config="([^"]*)"', page).group(1).replace("&#34;", '"')
                        .replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                        .replace("&#39;", "'"))
    assert config["saveUrl"] == f"/designer/{FAULT}/draft" and config["readOnly"] is False
    assert {"code": "maintainer", "name": "维护员"} in config["posts"]
    assert "fault_accept" in config["forms"]
    sms = next(h for h in config["handlers"] if h["name"] == "sms.send")
    assert "template" in sms["params"] and sms["required"] == ["template"]
    client.post(f"/designer/{FAULT}/discard", data={"csrf_token": token(client)})
    assert drafts(db) == 0


def test_a_draft_that_is_not_safe_xml_is_not_saved(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    response = post_json(client, f"/designer/{FAULT}/draft", {"xml": "<not-closed"})
    assert response.status_code == 422
    assert response.get_json()["issues"][0]["rule"] == "xml-malformed"
    assert drafts(db) == 0


def test_validation_pins_every_issue_to_its_element_with_the_rule_text(web_app: Flask):
    client = client_as(web_app, "ana")
    broken = fault_xml().replace('spiffworkflow:serviceTaskOperator id="dispatch.route"',
                                 'spiffworkflow:serviceTaskOperator id="no.such.handler"')
    broken = broken.replace('<spiffworkflow:property name="timeLimit" value="PT2H"/>',
                            '<spiffworkflow:property name="timeLimit" value="two hours"/>')
    body = post_json(client, f"/designer/{FAULT}/validate", {"xml": broken}).get_json()
    assert body["ok"] is False
    found = {(i["element_id"], i["rule"]) for i in body["issues"]}
    assert ("route", "unknown-handler") in found and ("receipt", "bad-time-limit") in found
    for issue in body["issues"]:
        assert issue["rule_text"] == RULES[issue["rule"]][0]
    assert post_json(client, f"/designer/{FAULT}/validate", {"xml": fault_xml()}).get_json() == {"ok": True,
                                                                                               "issues": []}


def test_deploy_makes_the_next_version_and_clears_the_draft(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    changed = fault_xml().replace('name="恢复回单"', 'name="恢复回单（新）"')
    post_json(client, f"/designer/{FAULT}/draft", {"xml": changed})
    body = post_json(client, f"/designer/{FAULT}/deploy", {"xml": changed}).get_json()
    assert body["ok"] is True and {"key": FAULT, "version": 2, "created": True} in body["results"]
    assert versions(db, FAULT) == 2 and drafts(db) == 0
    with db.sessions() as s:
        row = s.scalar(select(ProcessDefinition).where(ProcessDefinition.key == FAULT,
                                                      ProcessDefinition.version == 2))
        assert row.deployed_by_id is not None and "恢复回单（新）" in row.bpmn_xml
    download = client.get(f"/designer/{FAULT}/download?version=2")
    assert download.headers["Content-Disposition"] == f'attachment; filename="{FAULT}-v2.bpmn"'
    assert "恢复回单（新）" in download.get_data(as_text=True)
    html = client.get("/designer/").get_data(as_text=True)
    assert "v2" in html


def test_a_deploy_refused_names_the_elements_and_stores_nothing(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    evil = fault_xml().replace('route_post = route["post"]', 'import os\nroute_post = route["post"]')
    response = post_json(client, f"/designer/{FAULT}/deploy", {"xml": evil})
    assert response.status_code == 422
    assert ("routed", "script-invalid") in {(i["element_id"], i["rule"]) for i in response.get_json()["issues"]}
    assert versions(db, FAULT) == 1


BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>')
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>')


@pytest.mark.parametrize(("name", "content", "says"), [
    ("not-xml.bpmn", b"PK\x03\x04 this is a zip file", "XML"),
    ("bomb.bpmn", BOMB.encode(), "DOCTYPE"),
    ("external.bpmn", EXTERNAL.encode(), "DOCTYPE"),
    ("huge.bpmn", b"<?xml version='1.0'?><a>" + b" " * (20 * 1024 * 1024) + b"</a>", "文件超过允许的大小"),
    ("script.bpmn", fault_xml().replace('route_post = route["post"]', 'import os\nroute_post = 1').encode(),
     "脚本"),
])
def test_a_hostile_or_malformed_upload_is_refused_with_a_clear_message(web_app: Flask, db: Database, name, content,
                                                                        says):
    client = client_as(web_app, "ana")
    response = client.post("/designer/upload", data={"csrf_token": token(client), "file": (BytesIO(content), name)},
                           content_type="multipart/form-data", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 413), response.status_code
    if response.status_code == 200:
        assert "文件未保存" in html and says in html, html[:2000]
    assert drafts(db) == 0 and versions(db, FAULT) == 1


def test_an_upload_from_another_modeler_becomes_a_draft_with_its_problems_counted(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    foreign = fault_xml().replace('<bpmn:lane id="L_maint" name="维护员">',
                                  '<bpmn:lane id="L_maint" name="Lane 2">')
    response = client.post("/designer/upload", data={"csrf_token": token(client),
                                                      "file": (BytesIO(foreign.encode()), "from-camunda.bpmn")},
                           content_type="multipart/form-data", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "已上传为草稿" in html
    assert drafts(db) == 1
    assert "Lane 2" in client.get(f"/designer/{FAULT}/xml").get_data(as_text=True)


def test_a_new_process_starts_as_a_runnable_draft(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    response = client.post("/designer/new", data={"csrf_token": token(client), "key": "fault_followup",
                                                  "name": "故障回访", "post": "maintainer"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/designer/fault_followup/")
    xml = client.get("/designer/fault_followup/xml").get_data(as_text=True)
    body = post_json(client, "/designer/fault_followup/deploy", {"xml": xml}).get_json()
    assert body["ok"] is True and body["results"][0]["version"] == 1
    again = client.post("/designer/new", data={"csrf_token": token(client), "key": "fault_followup",
                                               "name": "x", "post": "maintainer"}, follow_redirects=True)
    assert "已存在" in again.get_data(as_text=True)


def test_the_diff_lists_added_removed_and_changed_elements_of_two_versions(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    changed = fault_xml().replace('<spiffworkflow:property name="timeLimit" value="PT2H"/>',
                                  '<spiffworkflow:property name="timeLimit" value="PT3H"/>')
    evil = "恢复回单&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    changed = changed.replace('name="恢复回单"', f'name="{evil}"')
    assert post_json(client, f"/designer/{FAULT}/deploy", {"xml": changed}).get_json()["ok"] is True
    html = client.get(f"/designer/{FAULT}/diff?from=1&to=2").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    data = json.loads(re.search(r'<script type="application/json" id="diff-data">(.*?)</script>', html).group(1))
    assert ["名称", "恢复回单", "恢复回单</script><script>alert(1)</script>"] in data["changed"]["receipt"]
    assert ["时限", "PT2H", "PT3H"] in data["changed"]["receipt"]
    assert data["added"] == [] and data["removed"] == []
    assert data["old"].endswith("version=1") and data["new"].endswith("version=2")
    same = client.get(f"/designer/{FAULT}/diff?from=1&to=1").get_data(as_text=True)
    assert "没有区别" in same


def test_the_migration_page_dry_runs_then_moves_what_can_move_and_says_why_not(web_app: Flask, db: Database):
    pe = web_app.extensions["eoms"]["engine"]
    client = client_as(web_app, "ana")
    first = (BPMN_DIR / "migration/steps_v1.bpmn").read_text(encoding="utf-8")
    assert post_json(client, "/designer/steps/deploy", {"xml": first}).get_json()["ok"] is True
    with db.sessions.begin() as s:
        alice = pe.identity.get_user(s, "alice")
        at_first = pe.runtime.start(s, "steps", business_key="WO-A", data={}, actor=alice).instance.id
        cooling = pe.runtime.start(s, "steps", business_key="WO-B", data={}, actor=alice).instance.id
    with db.sessions.begin() as s:  # WO-B goes past "first": it waits on the cool-down timer
        row = s.scalar(select(HumanTask).where(HumanTask.instance_id == cooling, HumanTask.status == "ready"))
        pe.tasks.complete(s, row.id, pe.identity.get_user(s, "alice"), {})
    without_wait = (BPMN_DIR / "migration/steps_v4.bpmn").read_text(encoding="utf-8")
    assert post_json(client, "/designer/steps/deploy", {"xml": without_wait}).get_json()["results"][0]["version"] == 2
    page = client.get("/designer/steps/migrate").get_data(as_text=True)
    assert "WO-A" in page and "WO-B" in page and "迁移到 v2" in page
    form = {"csrf_token": token(client), "target": "2", "ids": [str(at_first), str(cooling)]}
    dry = client.post("/designer/steps/migrate", data={**form, "action": "dry"}).get_data(as_text=True)
    assert "试运行结果" in dry
    assert re.search(rf'data-instance="{at_first}" class="ok".*?可以迁移', dry, re.S)
    assert re.search(rf'data-instance="{cooling}" class="refused".*?工单当前所在的步骤「Cool down」在新版本中已删除',
                     dry, re.S)
    v1 = _definition_id(db, "steps", 1)
    assert _definitions(db, at_first, cooling) == {v1}  # a dry run changes nothing
    run = client.post("/designer/steps/migrate", data={**form, "action": "run"}).get_data(as_text=True)
    assert "迁移结果" in run and "已迁移 1 个工单到 v2，1 个未迁移" in run
    with db.sessions() as s:
        assert s.get(ProcessInstance, at_first).definition_id == _definition_id(db, "steps", 2)
        assert s.get(ProcessInstance, cooling).definition_id == v1
    timeline = client_as(web_app, "admin").get(f"/supervisor/instances/{at_first}").get_data(as_text=True)
    assert "迁移到新版本" in timeline and "v1 → v2" in timeline


def _definition_id(db: Database, key: str, version: int) -> int:
    with db.sessions() as s:
        return s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key,
                                                           ProcessDefinition.version == version))


def _definitions(db: Database, *ids: int) -> set[int]:
    with db.sessions() as s:
        return {s.get(ProcessInstance, i).definition_id for i in ids}


def test_the_impact_preview_recounts_last_month_under_the_drafts_limits(web_app: Flask, db: Database):
    """故障受理 was done in 20 minutes (limit 30 min for a non-VIP: on time); under a draft limit of 10
    minutes it would have been late. Real completions through the engine, KPI facts from its listener."""
    pe = web_app.extensions["eoms"]["engine"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    with time_machine.travel(t0, tick=False), db.sessions.begin() as s:
        result = pe.runtime.start(s, FAULT, business_key="IMPACT-1", data=dict(FAULT_DATA),
                                  actor=pe.identity.get_user(s, "gz_dispatcher"))
        accept = result.tasks[0].id
    with time_machine.travel(t0 + timedelta(minutes=20), tick=False), db.sessions.begin() as s:
        pe.tasks.complete(s, accept, pe.identity.get_user(s, "gz_dispatcher"), {"fault_type": "中断", "priority": "高"})
    client = client_as(web_app, "ana")
    same = client.get(f"/designer/{FAULT}/impact?ref=1").get_data(as_text=True)
    row = re.search(r'<tr data-node="accept">(.*?)</tr>', same, re.S).group(1)
    assert "<td>1</td>" in row and "1 / 0" in row and "100% → <b>100%</b>" in row
    stricter = fault_xml().replace('value="=&quot;PT15M&quot; if vip else &quot;PT30M&quot;"', 'value="PT10M"')
    assert stricter != fault_xml()
    post_json(client, f"/designer/{FAULT}/draft", {"xml": stricter})
    html = client.get(f"/designer/{FAULT}/impact").get_data(as_text=True)
    row = re.search(r'<tr data-node="accept">(.*?)</tr>', html, re.S).group(1)
    assert "1 / 0" in row and "0 / 1" in row and "100% → <b>0%</b>" in row and "IMPACT-1" in row
    assert "无历史" in re.search(r'<tr data-node="callback">(.*?)</tr>', html, re.S).group(1)


def test_a_form_edited_in_the_designer_is_saved_with_the_draft_and_deployed_with_it(web_app: Flask, db: Database):
    client = client_as(web_app, "ana")
    page = client.get(f"/designer/{FAULT}/forms/fault_followup")
    assert page.status_code == 200 and "新表单" in page.get_data(as_text=True)
    bad = {"type": "default", "components": [{"type": "textfield", "key": "1bad", "label": "x"}]}
    refused = post_json(client, f"/designer/{FAULT}/forms/fault_followup", {"schema": bad})
    assert refused.status_code == 422 and refused.get_json()["issues"][0]["rule"] == "form-invalid"
    good = {"type": "default", "id": "fault_followup", "components": [
        {"type": "textfield", "key": "satisfaction", "label": "满意度", "validate": {"required": True}}]}
    saved = post_json(client, f"/designer/{FAULT}/forms/fault_followup", {"schema": good}).get_json()
    assert saved["ok"] is True and saved["forms"] == ["fault_followup"]
    assert drafts(db) == 1  # the draft was started from version 1 to hold the form
    reopened = client.get(f"/designer/{FAULT}/forms/fault_followup").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="form-data">(.*?)</script>', reopened,
                                re.S).group(1))
    assert data["schema"] == good and "草稿" in reopened
    assert data["saveUrl"] == f"/designer/{FAULT}/forms/fault_followup"
    edit = client.get(f"/designer/{FAULT}/").get_data(as_text=True)
    assert "fault_followup" in edit
    xml = fault_xml().replace('<spiffworkflow:property name="formKey" value="fault_callback"/>',
                              '<spiffworkflow:property name="formKey" value="fault_followup"/>')
    body = post_json(client, f"/designer/{FAULT}/deploy", {"xml": xml}).get_json()
    assert body["ok"] is True, body
    with db.sessions() as s:
        row = s.scalar(select(ProcessDefinition).where(ProcessDefinition.key == FAULT,
                                                      ProcessDefinition.version == 2))
        assert "fault_followup" in row.forms
    assert client.get(f"/designer/{FAULT}/forms/fault_followup").get_data(as_text=True).count("已部署版本") == 1
