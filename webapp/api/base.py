"""What every API blueprint shares: bearer-token authentication, scopes, the rate limit, the call log, JSON
errors (TMF630 shape, carrying the engine's code and field details), paging, field selection and bodies read
through marshmallow schemas.

An answer never is an HTML page: engine errors, refusals, malformed bodies, unknown paths and server errors
alike come back as ``{"code", "reason", "message", "status", "details", "@type": "Error"}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from engine.errors import EomsError
from engine.identity.models import User
from webapp import db
from webapp.api import clients
from webapp.api.models import ApiClient
from webapp.api.ratelimit import RateWindows
from webapp.errors import status_of
from webapp.messages import explain, field_errors

F = TypeVar("F", bound=Callable[..., Any])
API_PREFIXES = ("/api/", "/tmf-api/")
MAX_LIMIT = 200
MAX_OFFSET = 2**31 - 1  # what every database's OFFSET takes
MAX_BODY = 1024 * 1024  # a JSON resource; larger bodies answer 413
FILE_ENDPOINTS = frozenset({"api_v1_tasks.attach_file"})  # base64 files: the upload limit applies
DEFAULT_LIMIT = 20

# the API's own codes (the engine's codes pass through as they are)
UNAUTHORIZED, RATE_LIMITED, BAD_REQUEST = "api.unauthorized", "api.rate_limited", "api.bad_request"
NOT_FOUND, METHOD_NOT_ALLOWED, TOO_LARGE, SERVER_ERROR = ("not_found", "api.method_not_allowed", "api.too_large",
                                                          "api.server_error")
REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}
REFUSED = {
    "missing": ("缺少访问令牌（Authorization: Bearer …）。", "The bearer token is missing (Authorization: Bearer …)."),
    "invalid": ("访问令牌无效。", "The bearer token is not valid."),
    "expired": ("访问令牌已过期。", "The bearer token has expired."),
    "revoked": ("访问令牌已被吊销。", "The bearer token has been revoked."),
    "disabled": ("该接口客户端所代表的用户已停用。", "The user this client acts as is disabled."),
}


class ApiProblem(Exception):
    """An API answer other than success: status, a stable code, a message and details."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details or {}, headers or {}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIXES)


def chinese() -> bool:
    return g.get("lang", "zh_CN") == "zh_CN"


def say(zh: str, en: str) -> str:
    return zh if chinese() else en


def error_response(problem: ApiProblem) -> Response:
    body = {"code": problem.code, "reason": REASONS.get(problem.status, "Error"), "message": problem.message,
            "status": str(problem.status), "details": problem.details, "@type": "Error"}
    response = jsonify(body)
    response.status_code = problem.status
    response.headers.update(problem.headers)
    return response


def from_engine(err: EomsError) -> ApiProblem:
    details: dict[str, Any] = {k: v for k, v in err.details.items() if k not in ("problems", "fields")}
    fields = field_errors(err)
    if fields:
        details["fields"] = fields
    return ApiProblem(status_of(err), str(err.code), explain(err), details)


def from_http(err: HTTPException) -> ApiProblem:
    status = err.code or 500
    if status == 404:
        return ApiProblem(404, NOT_FOUND, say("资源不存在，或无权查看。", "No such resource, or it may not be seen."))
    if status == 405:
        return ApiProblem(405, METHOD_NOT_ALLOWED, say("该资源不支持此方法。", "This method is not allowed here."),
                          {"allowed": sorted(getattr(err, "valid_methods", None) or [])})
    if status == 413:
        return ApiProblem(413, TOO_LARGE, say("请求体太大。", "The request body is too large."),
                          {"max_bytes": request.max_content_length})
    if status == 400:
        return ApiProblem(400, BAD_REQUEST, say("请求格式不正确。", "The request is malformed."))
    return ApiProblem(status, f"api.http_{status}", err.description or REASONS.get(status, "Error"))


def init_blueprint(bp: Blueprint) -> None:
    """Authenticate every call of ``bp`` by its bearer token, log it, and answer errors as JSON."""
    bp.before_request(_authenticate)
    bp.after_request(_log_call)
    bp.register_error_handler(ApiProblem, error_response)
    bp.register_error_handler(EomsError, lambda err: _rolled_back(from_engine(err)))
    bp.register_error_handler(HTTPException, lambda err: error_response(from_http(err)))


def _rolled_back(problem: ApiProblem) -> Response:
    session = g.get("db")
    if session is not None:
        session.rollback()
    return error_response(problem)


def _authenticate() -> Response | None:
    g.api_started = time.perf_counter()
    if request.endpoint not in FILE_ENDPOINTS:  # a resource is small; only a file upload may be larger
        request.max_content_length = MAX_BODY
    g.lang = "en" if (request.accept_languages.best_match(["zh-CN", "zh", "en"]) or "zh").startswith("en") \
        else "zh_CN"
    s, now = db.session(), db.engine().ctx.clock()
    try:
        client = clients.authenticate(s, request.headers.get("Authorization"), now)
    except clients.Refused as refused:
        zh, en = REFUSED[refused.reason]
        return error_response(ApiProblem(401, UNAUTHORIZED, say(zh, en), {"token": refused.reason},
                                         {"WWW-Authenticate": 'Bearer realm="eoms"'}))
    g.api_client, g.api_caller = client, (client.id, client.last_used_at)
    windows: RateWindows = db.eoms()["rate_windows"]
    wait = windows.seconds_until_allowed(s, client.id, client.rate_per_minute, now)
    if wait:
        return error_response(ApiProblem(
            429, RATE_LIMITED, say(f"调用过于频繁，请 {wait} 秒后重试。", f"Too many calls; retry in {wait} s."),
            {"limit_per_minute": client.rate_per_minute, "retry_after": wait}, {"Retry-After": str(wait)}))
    return None


def _log_call(response: Response) -> Response:
    """Every call, successful or not, in the log. The view has committed (or its error handler rolled back)
    by now: what the session still holds is reads, dropped before the log row is written and committed."""
    caller: tuple[int, datetime | None] | None = g.get("api_caller")
    if caller is None:
        return response  # refused before a client was known: nothing to attribute (the web server logs it)
    started = g.get("api_started", time.perf_counter())
    session: Session = db.session()
    if session.in_transaction():
        session.rollback()
    client_id, last_used_at = caller
    if session.get_bind().dialect.name == "postgresql":
        # the log need not wait for its WAL flush: a crash may lose the last few milliseconds of log rows, never
        # a work order (those transactions committed before, synchronously)
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    clients.log_call(session, client_id, method=request.method, path=request.full_path.rstrip("?"),
                     status=response.status_code, duration_ms=int((time.perf_counter() - started) * 1000),
                     remote_addr=request.remote_addr or "", now=db.engine().ctx.clock(), last_used_at=last_used_at)
    session.commit()
    return response


def client() -> ApiClient:
    return g.api_client


def acting_user() -> User:
    return g.api_client.user


def scope(name: str) -> Callable[[F], F]:
    """The view needs the client to hold scope ``name`` (403 otherwise)."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if name not in client().scopes:
                raise ApiProblem(403, "api.scope", say(f"该客户端没有 {name} 权限。",
                                                       f"This client lacks the scope '{name}'."), {"scope": name})
            return view(*args, **kwargs)
        wrapped.api_scope = name  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]
    return decorate


def body(schema: Schema, *, partial: bool = False) -> dict[str, Any]:
    """The request's JSON body loaded by ``schema`` (400 naming each wrong field; unknown fields refused)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, BAD_REQUEST, say("请求体须为 JSON 对象。", "The body must be a JSON object."),
                         {"content_type": request.content_type or ""})
    try:
        return schema.load(data, partial=partial)
    except ValidationError as err:
        raise ApiProblem(400, BAD_REQUEST, say("请求内容有误。", "The request has invalid fields."),
                         {"fields": _flatten(err.messages)}) from None


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = " ".join(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(_flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix or "_schema"] = str(messages)
    return out


def page_args() -> tuple[int, int]:
    """``offset`` and ``limit`` (TMF630): 400 when they are not whole numbers in range."""
    try:
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise ApiProblem(400, BAD_REQUEST, say("offset 和 limit 须为整数。", "offset and limit must be integers."),
                         {"fields": {"offset": "integer", "limit": "integer"}}) from None
    if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_LIMIT:
        raise ApiProblem(400, BAD_REQUEST, say(f"offset 须在 0–{MAX_OFFSET} 之间，limit 须在 1–{MAX_LIMIT} 之间。",
                                               f"offset must be 0–{MAX_OFFSET} and limit 1–{MAX_LIMIT}."),
                         {"fields": {"offset": "out of range", "limit": "out of range"}})
    return offset, limit


def selected(resource: dict[str, Any], always: Iterable[str] = ("id", "href", "@type")) -> dict[str, Any]:
    """``fields=a,b`` keeps only those top-level attributes (and the resource's id, href and type)."""
    wanted = request.args.get("fields")
    if not wanted:
        return resource
    keep = {f.strip() for f in wanted.split(",") if f.strip()} | set(always)
    return {k: v for k, v in resource.items() if k in keep}


def listing(items: list[dict[str, Any]], total: int, offset: int = 0) -> Response:
    """A page of resources with ``X-Total-Count`` and ``X-Result-Count``: 200 when it is the whole result,
    206 Partial Content when there is more before or after it (TMF630)."""
    response = jsonify([selected(item) for item in items])
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Result-Count"] = str(len(items))
    response.status_code = 206 if offset > 0 or offset + len(items) < total else 200
    return response


def created(resource: dict[str, Any], *, new: bool) -> tuple[Response, int]:
    """201 with ``Location`` for a new resource, 200 for one that existed (an idempotent repeat)."""
    response = jsonify(resource)
    if new:
        response.headers["Location"] = resource["href"]
    return response, 201 if new else 200
