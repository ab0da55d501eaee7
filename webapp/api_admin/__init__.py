"""接口客户端 (administrators only): the integration API's clients — created with a token shown once, revoked,
rotated — and the log of every call they made."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine.errors import EomsError, InvalidInput
from engine.paging import Page
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import audit
from webapp.api import clients
from webapp.errors import fail_to, status_of
from webapp.i18n import gettext, lazy_gettext
from webapp.messages import MISSING, MISSING_EN, chinese, field_errors, field_list, sentence
from webapp.params import arg_int, arg_page

bp = Blueprint("api_admin", __name__, url_prefix="/admin/api-clients", template_folder="templates")

PAGE_SIZE = 50
MAX_EXPIRY_DAYS = 3650
DEFAULT_RATE = 600

# the labels of ``clients.SCOPES`` as literals, so the catalogue extracts them (a test keeps the two in step)
SCOPE_LABELS: dict[str, Any] = {
    "tmf641": lazy_gettext("TMF641 服务订单（服务开通）"),
    "tmf621": lazy_gettext("TMF621 故障单（售后故障）"),
    "tmf642": lazy_gettext("TMF642 告警"),
    "engine.read": lazy_gettext("流程、工单、任务只读"),
    "engine.write": lazy_gettext("发起、处理、取消工单，信号与消息"),
    "engine.deploy": lazy_gettext("部署流程（分析员）"),
}

# how the page names the fields the client service and this form check
FIELD_LABELS: dict[str, Any] = {
    "name": lazy_gettext("名称"), "user": lazy_gettext("代表用户"), "scopes": lazy_gettext("权限范围"),
    "rate": lazy_gettext("每分钟调用上限"), "expires_days": lazy_gettext("有效天数"),
    "description": lazy_gettext("说明"),
}


def scope_label(code: str) -> str:
    return str(SCOPE_LABELS.get(code) or clients.SCOPES.get(code, code))


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"api_scope_label": scope_label}


@bp.get("/")
@roles_required("admin")
def index() -> str:
    s, pe = db.session(), db.engine()
    return render_template("api_admin/index.html", clients=clients.listed(s), now=pe.ctx.clock())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def new() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return _form_page({"scopes": [], "rate": str(DEFAULT_RATE)}, {}, 200)
    values = _form_values(request.form)
    fail_to(lambda err: _refused(values, err))
    s, pe = db.session(), db.engine()
    now = pe.ctx.clock()
    user = pe.identity.find_user(s, values["username"]) if values["username"] else None
    problems: dict[str, str] = {}
    if user is None:
        problems["user"] = "unknown" if values["username"] else "required"
    expires_days = _whole(values["expires_days"], "expires_days", 1, MAX_EXPIRY_DAYS, problems)
    rate = _whole(values["rate"], "rate", 1, 100_000, problems)
    if problems or user is None:
        raise InvalidInput(f"the API client form has bad fields: {sorted(problems)}", problems)
    created = clients.create(s, values["name"], user=user, scopes=values["scopes"], now=now,
                             expires_at=now + timedelta(days=expires_days) if expires_days else None,
                             rate_per_minute=rate or DEFAULT_RATE, description=values["description"])
    audit("api_client.create", "api_client", created.client.name, user=user.username, scopes=created.client.scopes,
          rate=created.client.rate_per_minute)
    s.commit()
    return _token_page(created, gettext("接口客户端已创建"))


@bp.post("/<name>/rotate")
@roles_required("admin")
def rotate(name: str) -> Response:
    s = db.session()
    fail_to(url_for("api_admin.index"))
    rotated = clients.rotate(s, name)
    audit("api_client.rotate", "api_client", rotated.client.name)
    s.commit()
    return _token_page(rotated, gettext("已更换令牌"))


@bp.post("/<name>/revoke")
@roles_required("admin")
def revoke(name: str) -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("api_admin.index"))
    client = clients.revoke(s, name, pe.ctx.clock())
    audit("api_client.revoke", "api_client", client.name)
    s.commit()
    flash(gettext("接口客户端 %(name)s 已吊销，其令牌立即失效。", name=client.name), "info")
    return redirect(url_for("api_admin.index"))


@bp.get("/calls")
@roles_required("admin")
def calls() -> str:
    s = db.session()
    known = clients.listed(s)
    names = {c.id: c.name for c in known}
    wanted = request.args.get("client", "").strip().lower()
    client_id = next((c.id for c in known if c.name == wanted), -1) if wanted else None  # unknown: no calls
    status = arg_int("status", minimum=100, maximum=599)
    path = request.args.get("path", "").strip()[:200]
    page_no = arg_page()
    total, rows = clients.calls(s, client_id=client_id, status=status, path=path or None,
                                offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template("api_admin/calls.html", page=Page(rows, total, page_no, PAGE_SIZE), names=names,
                           clients=known, args=args)


def _form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    return {"name": form.get("name", "").strip(), "username": form.get("username", "").strip(),
            "scopes": [s for s in form.getlist("scopes") if s], "expires_days": form.get("expires_days", "").strip(),
            "rate": form.get("rate", "").strip(), "description": form.get("description", "").strip()}


def _whole(raw: str, field: str, low: int, high: int, problems: dict[str, str]) -> int | None:
    """``raw`` as a whole number in [low, high]; None when empty; a problem noted for anything else."""
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        problems[field] = "invalid"
        return None
    if not low <= int(raw) <= high:
        problems[field] = "out of range"
        return None
    return int(raw)


def _refused(values: dict[str, Any], err: EomsError) -> tuple[str, int]:
    """The form again with what was typed, the bad fields marked and why it was refused."""
    errors = field_errors(err)
    if (err.details.get("fields") or {}).get("user") == "unknown":
        errors["user"] = MISSING if chinese() else MISSING_EN
    flash(sentence(err) + field_list(errors, {k: str(v) for k, v in FIELD_LABELS.items()}), "error")
    return _form_page(values, errors, status_of(err))


def _form_page(values: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
    return render_template("api_admin/new.html", values=values, errors=errors, scopes=list(clients.SCOPES),
                           max_days=MAX_EXPIRY_DAYS), status


def _token_page(new: clients.NewClient, title: str) -> Response:
    """The token, this once: nothing keeps it (no session, no flash) and no cache may store the page."""
    response = make_response(render_template("api_admin/token.html", client=new.client, token=new.token,
                                             title=title))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
