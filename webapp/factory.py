"""The Flask application factory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from engine.core import ProcessEngine
from engine.db import make_engine, make_session_factory
from eoms.settings import Settings
from eoms.wiring import build_engine
from webapp import (
    account,
    admin,
    api,
    api_admin,
    auth,
    costs,
    designer,
    errors,
    i18n,
    kpi,
    notices,
    notify,
    orders,
    portal,
    projects,
    stats,
    supervisor,
    tasks,
    vendor,
)
from webapp.api.base import error_response as api_error
from webapp.api.base import from_http, is_api_request
from webapp.security import CleanRequest, apply_security_headers, secret_key


def create_app(settings: Settings | None = None, engine: ProcessEngine | None = None,
               config: dict[str, Any] | None = None) -> Flask:
    """Build the app for ``settings`` (default: the ``EOMS_*`` environment)."""
    settings = settings or Settings.from_env()
    settings.ensure_dirs()
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.request_class = CleanRequest
    if settings.proxy_hops > 0:  # behind that many reverse proxies: the client address and scheme are theirs
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=settings.proxy_hops)
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=(settings.max_upload_mb + 2) * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        EOMS_IDLE_LOGOUT_SECONDS=settings.idle_logout_seconds,
        EOMS_NODE_MODULES=str(Path(settings.node_modules_dir)),
    )
    app.config.update(config or {})
    engine = engine or build_engine(settings)
    db = make_engine(settings.database_url)
    app.extensions["eoms"] = {"engine": engine, "settings": settings, "sessions": make_session_factory(db),
                              "writer_sessions": make_session_factory(db, writer=True)}
    csrf = CSRFProtect(app)
    i18n.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    for blueprint in (auth.bp, portal.bp, tasks.bp, orders.bp, supervisor.bp, stats.bp, designer.bp, vendor.bp,
                      api_admin.bp, admin.bp, notices.bp,
                      account.bp, projects.bp, costs.bp, kpi.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(notify.bp)
    api.init_app(app, csrf)
    app.after_request(apply_security_headers)
    app.teardown_appcontext(_close_session)
    _error_pages(app)

    @app.get("/")
    def index() -> Response:
        """Supervisors land on their dashboard, everybody else on the personal portal."""
        if current_user.is_authenticated and current_user.row.role in ("supervisor", "admin"):
            return redirect(url_for("supervisor.dashboard"))
        return redirect(url_for("portal.home"))

    return app


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _error_pages(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(err: HTTPException) -> tuple[str, int] | Response:
        return api_error(from_http(err)) if is_api_request() else errors.not_found_page()

    @app.errorhandler(405)
    def not_allowed(err: HTTPException) -> tuple[str, int] | Response:
        return api_error(from_http(err)) if is_api_request() else (
            render_template("error.html", code=405, message=i18n.gettext("不支持此操作。")), 405)

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError) -> tuple[str, int]:
        return render_template("error.html", code=400,
                               message=i18n.gettext("表单已过期或来源无效，请刷新页面后重试。")), 400

    @app.errorhandler(413)
    def too_large(err: HTTPException) -> tuple[str, int] | Response:
        if is_api_request():
            return api_error(from_http(err))
        return render_template("error.html", code=413, message=i18n.gettext("上传的文件太大。")), 413

    @app.errorhandler(500)
    def server_error(err: HTTPException) -> tuple[str, int] | Response:
        if is_api_request():
            return api_error(from_http(err))
        return render_template("error.html", code=500, message=i18n.gettext("系统内部错误，请稍后再试。")), 500
