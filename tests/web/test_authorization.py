"""Who may see and do what, by direct URL: a matrix of users × other people's tasks, work-order pages,
attachments and task actions. What a user may not see answers 404 — exactly as if it did not exist — and
changes nothing (task rows, history, attachments, jobs); supervisors above a unit and administrators may look
at its work but not do it; the work-order search lists only what the user may see."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.attachments.models import Attachment
from engine.history.models import HistoryEvent
from engine.jobs.models import Job
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import Database
from tests.web.conftest import csrf_token, login

PDF = b"%PDF-1.4\n% field report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FAULT = {"customer": "广州地铁", "customer_phone": "13912345678", "vip": False, "circuit": "GZ-ZX-0001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "专线中断"}
GZ_KEY, SZ_KEY = "AUTHZ-GZ-0001", "AUTHZ-SZ-0001"
NOT_FOUND = "页面或记录不存在，或您无权查看。"
NOT_FOUND_FLASH = "记录不存在，或您无权查看。"
NOT_ALLOWED = "您无权执行此操作。"
MISSING = 999_999


# -- the work the matrix looks at -----------------------------------------------------------------------------
@dataclass
class World:
    gz_instance: int
    gz_accept: int  # completed by gz_dispatcher
    gz_handle: int  # 故障处理, open for the maintainers of GZ (mike, gz_maintainer), unclaimed
    gz_attachment: int  # uploaded by gz_maintainer on 故障处理
    sz_instance: int
    sz_accept: int  # 故障受理, open for the dispatchers of SZ (carol, sz_dispatcher)
    sz_attachment: int  # uploaded by sz_dispatcher on it


def engine_of(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["eoms"]["engine"]


def act(app: Flask, db: Database, method: str, task_id: int, username: str, *args: Any, **kwargs: Any) -> Any:
    pe = engine_of(app)
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, pe.identity.get_user(s, username), *args, **kwargs)


def start_fault(app: Flask, db: Database, key: str, starter: str, region: str = "GZ") -> tuple[int, int]:
    pe = engine_of(app)
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "aftersales_fault", business_key=key, data={**FAULT, "region": region},
                                  actor=pe.identity.get_user(s, starter))
        return result.instance.id, result.tasks[0].id


@pytest.fixture
def world(web_app: Flask, db: Database) -> World:
    gz_instance, gz_accept = start_fault(web_app, db, GZ_KEY, "gz_dispatcher")
    (handle,) = act(web_app, db, "complete", gz_accept, "gz_dispatcher", {"fault_type": "中断", "priority": "高"})
    gz_attachment = act(web_app, db, "upload", handle.id, "gz_maintainer", filename="现场照片.pdf", data=PDF).id
    sz_instance, sz_accept = start_fault(web_app, db, SZ_KEY, "sz_dispatcher", region="SZ")
    sz_attachment = act(web_app, db, "upload", sz_accept, "sz_dispatcher", filename="深圳报告.pdf", data=PDF).id
    return World(gz_instance, gz_accept, handle.id, gz_attachment, sz_instance, sz_accept, sz_attachment)


def client_for(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def alerts(html: str) -> list[str]:
    """The flashed messages and error texts on a page."""
    return re.findall(r'<p class="alert alert-\w+" role="\w+">([^<]*)</p>', html)


def snapshot(db: Database) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    with db.sessions() as s:
        tasks = [(t.id, t.status, t.assignee_id, t.claimed_at, t.post_id, t.org_unit_id, t.suspended_at, t.due_at,
                  t.warn_at, t.data, t.completed_by_id)
                 for t in s.scalars(select(HumanTask).order_by(HumanTask.id))]
        instances = [(i.id, i.status, i.version)
                     for i in s.scalars(select(ProcessInstance).order_by(ProcessInstance.id))]
        counts = [s.scalar(select(func.count()).select_from(model)) for model in (HistoryEvent, Attachment, Job)]
    return tasks, instances, counts


# -- seeing -------------------------------------------------------------------------------------------------
# user: (GZ 故障处理 (open), GZ 故障受理 (done by gz_dispatcher), GZ work order + attachment, SZ 故障受理 (open),
# SZ work order + attachment). alice holds the post of the GZ order's 故障受理 step, so she may look at the order
# (not at the maintainers' task). mike, gz_maintainer's colleague, is in the test of a claimed task below. Who
# may look at the done 故障受理 is checked for 404 here, for 200 in the test of completed tasks.
VIEWS = {
    "carol": (404, 404, 404, 200, 200),
    "sz_maintainer": (404, 404, 404, 404, 404),
    "bob": (404, 404, 404, 404, 404),
    "alice": (404, 200, 200, 404, 404),
    "gz_maintainer": (200, 404, 200, 404, 404),
    "sup": (200, 200, 200, 404, 404),
    "boss": (200, 200, 200, 200, 200),
    "admin": (200, 200, 200, 200, 200),
}


@pytest.mark.parametrize("username", list(VIEWS))
def test_who_sees_which_task_work_order_and_attachment(web_app: Flask, db: Database, world: World, username: str):
    handle, accept, gz_order, sz_accept, sz_order = VIEWS[username]
    client = client_for(web_app, username)
    expected = {
        f"/tasks/{world.gz_handle}": handle,
        f"/orders/{world.gz_instance}": gz_order, f"/orders/attachments/{world.gz_attachment}": gz_order,
        f"/tasks/{world.sz_accept}": sz_accept,
        f"/orders/{world.sz_instance}": sz_order, f"/orders/attachments/{world.sz_attachment}": sz_order,
    }
    if accept == 404:
        expected[f"/tasks/{world.gz_accept}"] = 404
    before = snapshot(db)
    pages = {}
    for url, status in expected.items():
        response = pages[url] = client.get(url)
        assert response.status_code == status, (username, url, response.status_code)
        body = response.get_data()
        if status == 404:
            assert NOT_FOUND in text(response)
            assert GZ_KEY.encode() not in body and SZ_KEY.encode() not in body  # not a hint of what is there
            assert b"%PDF" not in body
        elif "/attachments/" in url:
            assert body == PDF
        else:
            gz = url in (f"/tasks/{world.gz_handle}", f"/orders/{world.gz_instance}")
            assert (GZ_KEY if gz else SZ_KEY) in text(response)
    assert snapshot(db) == before
    # an id that does not exist answers the same
    for url in (f"/tasks/{MISSING}", f"/orders/{MISSING}", f"/orders/attachments/{MISSING}"):
        response = client.get(url)
        assert response.status_code == 404 and NOT_FOUND in text(response)
    # the task form is only offered to who may do the step; supervisors see the step without it
    if handle == 200:
        page = text(pages[f"/tasks/{world.gz_handle}"])
        assert GZ_KEY in page and "故障处理" in page
        assert ('id="complete-form"' in page) == (username == "gz_maintainer")
        if username in ("sup", "boss", "admin"):
            assert "该任务由他人处理。" in page
    # the search lists exactly the work orders the user may open
    listing = text(client.get("/orders/"))
    assert (f">{GZ_KEY}</a>" in listing) == (gz_order == 200), username
    assert (f">{SZ_KEY}</a>" in listing) == (sz_order == 200), username
    for key, status in ((GZ_KEY, gz_order), (SZ_KEY, sz_order)):
        found = text(client.get("/orders/", query_string={"number": key}))
        assert (f">{key}</a>" in found) == (status == 200)
        if status == 404:
            assert "没有符合条件的工单。" in found


# -- doing --------------------------------------------------------------------------------------------------
def task_actions(task_id: int, username: str) -> list[tuple[str, dict[str, str]]]:
    """Every action of the task page, by direct URL, with plausible data."""
    return [
        (f"/tasks/{task_id}/complete", {"progress": "我来处理", "onsite": "on"}),
        (f"/tasks/{task_id}/claim", {}),
        (f"/tasks/{task_id}/unclaim", {}),
        (f"/tasks/{task_id}/transfer", {"target": f"user:{username}", "reason": "转给我"}),
        (f"/tasks/{task_id}/transfer", {"target": "post:reviewer", "reason": "转给审核员"}),
        (f"/tasks/{task_id}/return", {"reason": "退回"}),
        (f"/tasks/{task_id}/suspend", {"reason": "挂起"}),
        (f"/tasks/{task_id}/resume", {"reason": "恢复"}),
        (f"/tasks/{task_id}/annotate", {"text": "路过批注"}),
        (f"/tasks/{task_id}/urge", {"note": "快点"}),
        (f"/tasks/{task_id}/extension", {"by": "PT1H", "reason": "延期"}),
        (f"/tasks/{task_id}/extension", {"by": "PT1H", "reason": "批准延期", "grant": "1"}),
    ]


def answer(client: FlaskClient, token: str, url: str, data: dict[str, str]) -> tuple[int, list[str]]:
    """The final status and messages of a POST, redirects followed."""
    response = client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)
    return response.status_code, alerts(text(response))


OUTSIDERS = ["carol", "sz_maintainer", "bob", "alice"]


@pytest.mark.parametrize("username", OUTSIDERS)
def test_outsiders_cannot_act_on_a_task_they_cannot_see(web_app: Flask, db: Database, world: World,
                                                       username: str):
    client = client_for(web_app, username)
    token = csrf_token(text(client.get("/portal/")))
    before = snapshot(db)
    for (url, data), (missing_url, _) in zip(task_actions(world.gz_handle, username),
                                             task_actions(MISSING, username), strict=True):
        status, messages = answer(client, token, url, data)
        assert status == 404, (username, url, status, messages)
        assert messages in ([], [NOT_FOUND_FLASH]), messages
        assert (status, messages) == answer(client, token, missing_url, data), url  # as if it did not exist
    # the portal's one-click claim too
    status, messages = answer(client, token, f"/portal/tasks/{world.gz_handle}/claim", {})
    assert (status, messages) == (200, [NOT_FOUND_FLASH])
    assert (status, messages) == answer(client, token, f"/portal/tasks/{MISSING}/claim", {})
    # uploading a file with the completion changes nothing either
    response = client.post(f"/tasks/{world.gz_handle}/complete",
                           data={"csrf_token": token, "progress": "x", "report__upload": (io.BytesIO(PDF), "x.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 404
    assert snapshot(db) == before


def test_supervisors_may_look_but_not_do_the_step(web_app: Flask, db: Database, world: World):
    before = snapshot(db)
    for username in ("sup", "boss", "admin"):
        client = client_for(web_app, username)
        page = client.get(f"/tasks/{world.gz_handle}")
        assert page.status_code == 200
        token = csrf_token(text(page))
        for url, data in [(f"/tasks/{world.gz_handle}/complete", {"progress": "主管代办", "onsite": "on"}),
                          (f"/tasks/{world.gz_handle}/claim", {}),
                          (f"/portal/tasks/{world.gz_handle}/claim", {})]:
            response = client.post(url, data={"csrf_token": token, **data})
            assert response.status_code == 302, (username, url)
            final = client.get(response.headers["Location"])
            assert final.status_code == 200
            assert NOT_ALLOWED in alerts(text(final)), (username, url, alerts(text(final)))
        assert snapshot(db) == before
        if username == "sup":  # the Guangzhou supervisor does not even see a Shenzhen task
            for url, data in task_actions(world.sz_accept, username):
                status, _messages = answer(client, token, url, data)
                assert status == 404, url
            assert snapshot(db) == before


def test_a_colleague_cannot_do_a_task_someone_claimed(web_app: Flask, db: Database, world: World):
    act(web_app, db, "claim", world.gz_handle, "gz_maintainer")
    client = client_for(web_app, "mike")
    page = client.get(f"/tasks/{world.gz_handle}")
    assert page.status_code == 200  # same post, same unit: he sees it …
    assert 'id="complete-form"' not in text(page) and "该任务由他人处理。" in text(page)
    token = csrf_token(text(page))
    before = snapshot(db)
    for url, data in [(f"/tasks/{world.gz_handle}/complete", {"progress": "抢着做"}),
                      (f"/tasks/{world.gz_handle}/claim", {}),
                      (f"/tasks/{world.gz_handle}/unclaim", {}),
                      (f"/tasks/{world.gz_handle}/suspend", {"reason": "挂起"}),
                      (f"/tasks/{world.gz_handle}/transfer", {"target": "user:mike", "reason": "给我"})]:
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code == 302, url
        final = client.get(response.headers["Location"])
        assert final.status_code == 200
        assert any("alert-error" in line for line in text(final).splitlines()), url  # … but may not take it
    assert snapshot(db) == before


def test_a_completed_task_stays_visible_to_who_completed_it(web_app: Flask, db: Database, world: World):
    # the Guangzhou maintainer hands the step to a Shenzhen colleague by name, who completes it on the page
    act(web_app, db, "transfer", world.gz_handle, "gz_maintainer", reason="请深圳协助", to_user="sz_maintainer")
    client = client_for(web_app, "sz_maintainer")
    page = client.get(f"/tasks/{world.gz_handle}")
    assert page.status_code == 200 and 'id="complete-form"' in text(page)
    response = client.post(f"/tasks/{world.gz_handle}/complete",
                           data={"csrf_token": csrf_token(text(page)), "progress": "深圳已协助处理"})
    assert response.status_code == 302
    with db.sessions() as s:
        row = s.get(HumanTask, world.gz_handle)
        assert row is not None and row.status == "completed"
        receipt = s.scalar(select(HumanTask.id).where(HumanTask.instance_id == world.gz_instance,
                                                      HumanTask.node_id == "receipt"))
    # he still sees its work order and attachment, and it is in his 已办 — but not the next step
    assert client.get(f"/orders/{world.gz_instance}").status_code == 200
    assert client.get(f"/orders/attachments/{world.gz_attachment}").status_code == 200
    assert client.get(f"/tasks/{receipt}").status_code == 404
    assert f">{GZ_KEY}</a>" in text(client.get("/orders/"))
    assert f'href="/tasks/{world.gz_handle}"' in text(client.get("/portal/"))  # in his 已办
    # and the step he did, read only; so do the completer and the viewers of the done 故障受理
    pages = {("sz_maintainer", world.gz_handle): client.get(f"/tasks/{world.gz_handle}")}
    for username in ("gz_dispatcher", "alice", "sup", "boss", "admin"):
        pages[username, world.gz_accept] = client_for(web_app, username).get(f"/tasks/{world.gz_accept}")
    assert {who: r.status_code for who, r in pages.items()} == {who: 200 for who in pages}
    done = text(pages["sz_maintainer", world.gz_handle])
    assert "深圳已协助处理" in done and 'id="complete-form"' not in done and "已完成" in done
