"""The one way an engine error ends a request.

A view calls engine services and commits once; when a service raises :class:`EomsError` the app's handler
rolls the request's session back and answers: where the view said to go back to (``fail_to``) with the
explanation flashed, or what the view's own function renders (a form sent back keeps its values), or — when
the view said nothing — the error page (a record that does not exist or may not be seen is a 404).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, flash, g, redirect, render_template
from flask.typing import ResponseReturnValue

from engine.errors import Code, EomsError
from webapp import db
from webapp.i18n import gettext
from webapp.messages import explain

T = TypeVar("T")
Answer = Callable[[EomsError], ResponseReturnValue]

STATUS: dict[str, int] = {
    Code.NOT_FOUND: 404, Code.NOT_ALLOWED: 403, Code.TASK_NOT_OFFERED: 403, Code.TASK_ACTION_NOT_ALLOWED: 403,
    Code.INPUT_INVALID: 422, Code.FORM_INVALID: 422, Code.ATTACHMENT_REJECTED: 422, Code.TRANSFER_TARGET: 422,
    Code.BPMN_INVALID: 422, Code.HANDLER_FAILED: 500, Code.SCRIPT_FAILED: 500, Code.CONFIGURATION: 500,
    Code.STATE_CORRUPT: 500, Code.ENGINE_FAILED: 500,
}


def status_of(err: EomsError) -> int:
    """The HTTP status an error page answers with: 404, 403, 422 for bad input, 500 for broken steps, else 409."""
    return STATUS.get(str(err.code), 409)


def fail_to(target: str | Answer) -> None:
    """Where this request goes when an engine call raises from now on: a URL (redirected to, the explanation
    flashed) or a function of the error that answers."""
    g.eoms_fail_to = target


def rollback() -> None:
    """Undo what the request's session did since its last commit (nothing when it has none)."""
    session = g.get("db")
    if session is not None:
        session.rollback()


def not_found_page() -> tuple[str, int]:
    """The 404 page: what does not exist and what may not be seen look the same."""
    return render_template("error.html", code=404, message=gettext("页面或记录不存在，或您无权查看。")), 404


def handle(err: EomsError) -> ResponseReturnValue:
    rollback()
    target = g.pop("eoms_fail_to", None)
    if callable(target):
        try:
            return target(err)
        except EomsError as again:  # the page to go back to cannot be shown either
            rollback()
            return error_page(again)
    if target is not None:
        flash(explain(err), "error")
        return redirect(target)
    return error_page(err)


def error_page(err: EomsError) -> tuple[str, int]:
    if str(err.code) == Code.NOT_FOUND:
        return not_found_page()
    return render_template("error.html", code=status_of(err), message=explain(err)), status_of(err)


def or_else(call: Callable[[], T], fallback: Callable[[], T]) -> T:
    """``call()``; when it raises, flash the explanation and return ``fallback()`` (a search with a bad filter
    lists everything)."""
    try:
        return call()
    except EomsError as err:
        rollback()
        flash(explain(err), "error")
        return fallback()


def attempt(work: Callable[[], T]) -> T | EomsError:
    """``work()`` committed as one transaction, or — rolled back — the error it raised: for a loop in which one
    failure must not end the request (retry every incident)."""
    try:
        result = work()
        db.session().commit()
        return result
    except EomsError as err:
        rollback()
        return err


def init_app(app: Flask) -> None:
    app.register_error_handler(EomsError, handle)
