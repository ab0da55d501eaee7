"""Pages explain engine errors by their code and details, never by the English wording: a stale double
submit (task.not_ready with the status met), a task a colleague claimed (task.claimed_by_other, whichever
action meets it), an invalid form (form.invalid with each field's message) — through the real app — and
``explain()`` itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask, session

from engine.errors import Code, ConcurrencyConflict, EomsError, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.forms.validation import FormInvalid, Problem
from tests.conftest import Database
from tests.web.test_task_pages import (
    ACCEPT,
    act,
    alerts,
    client_for,
    field_block,
    flashed,
    row,
    send,
    start_fault,
    start_form,
    text,
    to_handle,
)
from webapp import i18n
from webapp.messages import SENTENCES, explain

DONE = "该任务已处理完毕（可能是重复提交），无需再次操作。"
CLAIMED = "该任务已由他人签收，您不能处理；如需接手，请联系主管改派。"
FORM_INVALID = "表单有误，请按提示修改后再提交。"


def raised(app: Flask, db: Database, method: str, task_id: int, username: str, *args: object,
           **kwargs: object) -> EomsError:
    """What the engine raises when ``username`` does ``method`` to the task (nothing is stored)."""
    with pytest.raises(EomsError) as caught:
        act(app, db, method, task_id, username, *args, **kwargs)
    return caught.value


# -- through the app -------------------------------------------------------------------------------------------
def test_a_stale_double_submit_says_the_task_was_done(web_app: Flask, db: Database):
    _instance, accept = start_fault(web_app, db)
    client = client_for(web_app, "gz_dispatcher")
    stale = client.get(f"/tasks/{accept}")  # the page is open in two tabs …
    assert 'id="complete-form"' in text(stale)
    assert flashed(client, send(client, f"/tasks/{accept}/complete", ACCEPT)) == [  # … the first tab submits
        "已提交：故障受理。下一环节：故障处理。"]
    err = raised(web_app, db, "complete", accept, "gz_dispatcher", ACCEPT)
    assert (err.code, err.details["status"]) == (Code.TASK_NOT_READY, "completed")
    assert flashed(client, send(client, f"/tasks/{accept}/complete", ACCEPT)) == [DONE]  # … then the second


def test_a_task_a_colleague_claimed_is_explained_the_same_on_every_path(web_app: Flask, db: Database):
    _instance, handle = to_handle(web_app, db)
    act(web_app, db, "claim", handle, "gz_maintainer")
    for method, args, kwargs in [("complete", ({"progress": "抢着做"},), {}), ("claim", (), {}), ("unclaim", (), {}),
                                 ("transfer", (), {"to_user": "mike", "reason": "给我"})]:
        assert raised(web_app, db, method, handle, "mike", *args, **kwargs).code == Code.TASK_CLAIMED_BY_OTHER, method
    mike = client_for(web_app, "mike")
    for url, data in [(f"/tasks/{handle}/complete", {"progress": "抢着做"}), (f"/tasks/{handle}/claim", {}),
                      (f"/tasks/{handle}/unclaim", {}), (f"/tasks/{handle}/transfer",
                                                         {"target": "user:mike", "reason": "给我"}),
                      (f"/portal/tasks/{handle}/claim", {})]:
        assert flashed(mike, send(mike, url, data)) == [CLAIMED], url
    assert row(db, handle).assignee_id is not None and row(db, handle).status == "ready"


def test_an_invalid_form_shows_each_field_message(web_app: Flask, db: Database):
    _instance, accept = start_fault(web_app, db)
    err = raised(web_app, db, "complete", accept, "gz_dispatcher", {"fault_type": "停电", "priority": ""})
    assert err.code == Code.FORM_INVALID and set(err.details["problems"]) >= {"fault_type", "priority"}
    client = client_for(web_app, "gz_dispatcher")
    response = send(client, f"/tasks/{accept}/complete", {"fault_type": "停电", "priority": "", "accept_note": "留着"})
    html = text(response)
    assert response.status_code == 422 and alerts(html) == [FORM_INVALID]
    assert '<div class="error-text" role="alert">必填</div>' in field_block(html, "priority")
    assert "不是可选值之一" in field_block(html, "fault_type")
    assert ">留着</textarea>" in field_block(html, "accept_note")  # what was typed is kept
    assert "is not one of" not in html and "form fault_accept" not in html  # no English engine text in Chinese
    # in English the same fields get the English messages
    client.get("/lang/en")
    html = text(send(client, f"/tasks/{accept}/complete", {"fault_type": "停电", "priority": ""}))
    assert '<div class="error-text" role="alert">required</div>' in field_block(html, "priority")
    assert '<div class="error-text" role="alert">is not one of the options</div>' in field_block(html, "fault_type")


def test_an_invalid_start_form_comes_back_with_its_field_messages(web_app: Flask, db: Database):
    client = client_for(web_app, "gz_dispatcher")
    page = "/orders/new/aftersales_fault"
    html = text(client.get(page))
    assert 'id="f-customer"' in html
    response = send(client, page, start_form(business_key="START-BAD", customer=""))
    html = text(response)
    assert response.status_code == 422 and FORM_INVALID in alerts(html)
    assert "必填" in field_block(html, "customer") and 'value="START-BAD"' in html


# -- explain() -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare_app() -> Flask:
    """An app with nothing but the catalogues."""
    app = Flask(__name__)
    app.secret_key = "test"
    i18n.init_app(app)
    return app


@contextmanager
def page_in(app: Flask, lang: str) -> Iterator[None]:
    """A request whose page language is ``lang``."""
    with app.test_request_context():
        session["lang"] = lang
        yield


def test_the_same_code_gives_the_same_text_whatever_the_wording(bare_app: Flask):
    with page_in(bare_app, "zh_CN"):
        one = ConcurrencyConflict("task 7 is assigned to someone else", code=Code.TASK_CLAIMED_BY_OTHER)
        other = NotAllowed("Aufgabe 9 gehört jemand anderem", code=Code.TASK_CLAIMED_BY_OTHER)
        assert explain(one) == explain(other) == CLAIMED
        conflict = ConcurrencyConflict("task 7 is assigned to someone else")  # the old wording, another code
        assert explain(conflict) != CLAIMED and explain(conflict).startswith("该工单或任务刚被他人处理或修改")
        done = [InvalidState(words, code=Code.TASK_NOT_READY, details={"status": status})
                for words, status in (("task 1 is already completed", "completed"), ("gone", "returned"),
                                      ("x", "cancelled"), ("y", "transferred"))]
        assert {explain(e) for e in done} == {DONE}
        assert explain(InvalidState("task 1 is already completed", code=Code.TASK_NOT_READY,
                                    details={"status": "ready"})) != DONE  # the status decides, not the words
        assert explain(InvalidState("task 1 is already completed")) == "当前状态不允许此操作。"
        assert explain(NotFound("no such task")) == explain(NotFound("没有")) == "记录不存在，或您无权查看。"


def test_field_errors_come_from_the_details_in_chinese(bare_app: Flask):
    err = InvalidInput("reason is required", {"reason": "required"})
    duration = InvalidInput("cannot parse 'x'", {"by": "not a duration"})
    form = FormInvalid("fault_accept", {"priority": Problem("required"), "note": Problem("max_length", (("n", 5),))})
    with page_in(bare_app, "zh_CN"):
        assert explain(err) == "输入有误，请检查后重试。原因：必填。"
        assert explain(duration).endswith("延长时限：不是有效的时长（如 PT2H、P1D）。")
        assert explain(form) == "表单有误，请按提示修改后再提交。priority：必填；note：最多 5 个字符。"
    with page_in(bare_app, "en"):
        assert explain(err) == "Invalid input. Please check and try again. Reason: required."
        assert explain(duration).endswith("Extension: not a duration (e.g. PT2H, P1D).")
        claimed = ConcurrencyConflict("task 7 is assigned to someone else", code=Code.TASK_CLAIMED_BY_OTHER)
        assert explain(claimed) == ("Someone else has claimed this task, so you cannot handle it; ask a supervisor "
                                    "to reassign it if you should take over.")  # the engine's words stay in the logs
        assert explain(form) == "The form has errors. Please correct them as indicated and submit again. " \
                                "priority: required; note: at most 5 characters."


def test_every_code_has_a_sentence_in_both_languages(bare_app: Flask):
    assert set(Code) <= set(SENTENCES)
    with page_in(bare_app, "zh_CN"):
        chinese = {code: explain(EomsError("", code=code)) for code in Code}
    with page_in(bare_app, "en"):
        english = {code: explain(EomsError("", code=code)) for code in Code}
    assert all(english[code] and english[code] != chinese[code] for code in Code), english
    assert len(set(chinese.values())) > len(Code) // 2  # most codes say something of their own
