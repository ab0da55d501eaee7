"""Login, logout, the login rate limit and the idle logout (enforced on the server)."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.db import utcnow
from engine.identity.lookup import load_user
from engine.identity.models import User
from webapp import db
from webapp.auth import attempts
from webapp.i18n import gettext, lazy_gettext
from webapp.security import local_target

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "auth.logout_page", "static", "vendor.asset", "set_language"}
# requests a page makes by itself (the idle countdown, the new-work poll): not activity, never a page to return to
QUIET_ENDPOINTS = frozenset({"auth.idle_status", "notify.inbox"})


class Account(UserMixin):
    """The logged-in person for Flask-Login; ``row`` is the user loaded in the request's session."""

    def __init__(self, row: User):
        self.row = row
        self.id = str(row.id)


class LoginForm(FlaskForm):
    username = StringField(lazy_gettext("用户名"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(lazy_gettext("密码"), validators=[DataRequired(), Length(max=200)])


def me() -> User:
    """The current user's row (views behind ``login_required`` only)."""
    return current_user.row  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = lazy_gettext("请先登录。")

    @manager.user_loader
    def load(user_id: str) -> Account | None:
        row = load_user(db.session(), int(user_id)) if user_id.isdigit() else None
        return Account(row) if row is not None and row.is_active else None

    @app.before_request
    def idle_logout() -> Response | None:
        """Log out after EOMS_IDLE_LOGOUT_SECONDS without a request the user made (the countdown's polling
        does not count); the page's countdown warns first and offers to stay."""
        if request.endpoint in OPEN_ENDPOINTS or not current_user.is_authenticated:
            return None
        limit = app.config["EOMS_IDLE_LOGOUT_SECONDS"]
        last = session.get("last_active", 0)
        now = time.time()
        if limit > 0 and last and now - last > limit:
            logout_user()
            session.clear()
            flash(gettext("由于长时间未操作，您已自动退出，请重新登录。"), "warning")
            back = request.method == "GET" and request.endpoint not in QUIET_ENDPOINTS
            target = url_for("auth.login", next=request.path if back else None)
            if request.headers.get("HX-Request"):
                response = Response(status=204)
                response.headers["HX-Redirect"] = target
                return response
            return redirect(target)
        if request.endpoint not in QUIET_ENDPOINTS:
            session["last_active"] = now
        return None

    @app.context_processor
    def inject_idle() -> dict[str, Any]:
        return {"idle_seconds": app.config["EOMS_IDLE_LOGOUT_SECONDS"]}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    form = LoginForm()
    if request.method == "POST" and form.validate_on_submit():
        username = form.username.data.strip()
        addr = request.remote_addr or "-"  # the client's, through EOMS_PROXY_HOPS reverse proxies
        s, now = db.session(), utcnow()
        attempts.prune(s, now)
        wait = attempts.wait_before(s, username, addr, db.settings().login_max_failures, now,
                                    known_machine=username in known_machines())
        if wait:
            s.commit()
            return render_template("auth/login.html", form=form, error=gettext(
                "登录失败次数过多，请 %(wait)s后再试。", wait=wait_text(wait))), 429
        row = db.engine().identity.authenticate(s, username, form.password.data)
        attempts.record(s, username, addr, row is not None, now)
        s.commit()
        if row is None:
            return render_template("auth/login.html", form=form, error=gettext("用户名或密码错误。")), 401
        lang = session.get("lang")
        session.clear()  # a new session on login (no fixation); the language chosen on the login page stays
        if lang:
            session["lang"] = lang
        login_user(Account(row))
        session["last_active"] = time.time()
        response = redirect(local_target(request.args.get("next"), url_for("index")))
        remember_machine(response, row.username)
        return response
    return render_template("auth/login.html", form=form, error=None)


MACHINE_COOKIE = "eoms_machine"
MACHINE_DAYS = 180


def _machine_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="eoms-known-machine")


def known_machines() -> list[str]:
    """The user names that logged in from this browser before (a signed cookie; forged or old ones count not)."""
    raw = request.cookies.get(MACHINE_COOKIE)
    if not raw:
        return []
    try:
        names = _machine_signer().loads(raw)
    except BadSignature:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def remember_machine(response: Response, username: str) -> None:
    names = [username, *[n for n in known_machines() if n != username]][:5]
    response.set_cookie(MACHINE_COOKIE, _machine_signer().dumps(names), max_age=MACHINE_DAYS * 86400,
                        httponly=True, samesite="Lax", secure=current_app.config.get("SESSION_COOKIE_SECURE", False))


def wait_text(wait: timedelta) -> str:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    if seconds < 60:
        return gettext("%(n)s 秒", n=seconds)
    return gettext("%(n)s 分钟", n=-(-seconds // 60))


@bp.get("/logout")
def logout_page() -> Response | str:
    """A link, a bookmark or another site's image cannot log anyone out: a live session gets a page with the
    logout button (a POST with the CSRF token). Only the idle countdown's own visit, once the server's idle
    time has really run out, ends the session here."""
    if current_user.is_authenticated and not _idle_expired():
        return render_template("auth/logout.html")
    return _end_session()


@bp.post("/logout")
def logout() -> Response:
    return _end_session()


def _idle_expired() -> bool:
    limit = current_app.config["EOMS_IDLE_LOGOUT_SECONDS"]
    last = session.get("last_active", 0)
    return bool(limit > 0 and last and time.time() - last > limit and request.args.get("reason") == "idle")


def _end_session() -> Response:
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    if request.args.get("reason") == "idle":  # back to the page the user was on, once logged in again
        flash(gettext("由于长时间未操作，您已自动退出，请重新登录。"), "warning")
        return redirect(url_for("auth.login", next=local_target(request.args.get("next"), "") or None))
    return redirect(url_for("auth.login"))


@bp.post("/keepalive")
@login_required
def keepalive() -> Response:
    """The countdown's "stay signed in": like any request the user makes, it resets the idle clock."""
    return jsonify({"ok": True})


@bp.get("/idle")
@login_required
def idle_status() -> Response:
    """Seconds left before the idle logout (asking does not count as activity)."""
    limit = current_app.config["EOMS_IDLE_LOGOUT_SECONDS"]
    elapsed = time.time() - session.get("last_active", time.time())
    # whole seconds rounded up: 0 only once the idle logout would really end the session (a rounded-down 0.4 s
    # sent the page to /auth/logout?reason=idle before the server agreed, which then showed its confirmation)
    return jsonify({"left": 0 if elapsed > limit else max(1, math.ceil(limit - elapsed))})
