"""个人设置: one's own password (the same rule as an administrator's reset), phone number, which optional SMS to
receive, the default language, and putting the portal's panels back as they came."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_login import current_user, login_required, user_logged_in
from werkzeug.wrappers import Response

from engine.audit.service import record
from engine.errors import EomsError, InvalidInput
from engine.identity import admin as identity_admin
from engine.identity.passwords import verify_password
from handlers.sms.templates import OPTIONAL, TEMPLATES, muted, set_muted
from webapp import db
from webapp.errors import fail_to, status_of
from webapp.i18n import LANGUAGES, gettext
from webapp.messages import explain, field_errors
from webapp.portal.models import UserPreference
from webapp.portal.service import LAYOUT_KEY

bp = Blueprint("account", __name__, url_prefix="/me", template_folder="templates")
LANGUAGE_KEY = "language"


def stored_language(user_id: int) -> str | None:
    """The language the user chose as default in 个人设置 (None: none chosen)."""
    pref = db.session().get(UserPreference, (user_id, LANGUAGE_KEY))
    return str(pref.value) if pref is not None and pref.value in LANGUAGES else None


@bp.record_once
def _language_at_login(state: BlueprintSetupState) -> None:
    """At each login the language the user chose as default in 个人设置 applies (the login page's otherwise)."""

    def apply(_app: Flask, user: Any) -> None:
        chosen = stored_language(user.row.id)
        if chosen:
            session["lang"] = chosen

    user_logged_in.connect(apply, state.app, weak=False)


@bp.get("/")
@login_required
def settings() -> str:
    return _page({}, 200)


@bp.post("/password")
@login_required
def change_password() -> Response | tuple[str, int]:
    s, me = db.session(), current_user.row
    fail_to(lambda err: _refused(err))
    current, new, again = (request.form.get(k, "") for k in ("current", "password", "password2"))
    if not verify_password(current, me.password_hash):
        raise InvalidInput("the current password is wrong", {"current": "wrong password"})
    if new != again:
        raise InvalidInput("the two passwords differ", {"password2": "differs"})
    if new == current:
        raise InvalidInput("the new password is the old one", {"password": "same as old"})
    identity_admin.set_password(s, me, new)
    _audit("user.password_change")
    s.commit()
    flash(gettext("密码已修改，下次登录请使用新密码。"), "info")
    return redirect(url_for("account.settings"))


@bp.post("/profile")
@login_required
def change_profile() -> Response | tuple[str, int]:
    s, me = db.session(), current_user.row
    fail_to(lambda err: _refused(err))
    old_phone = me.phone
    me.phone = identity_admin.check_phone(request.form.get("phone"))
    wanted = {name for name in OPTIONAL if request.form.get(f"sms_{name}") != "1"}
    before = muted(s, me.id)
    set_muted(s, me.id, wanted)
    language = request.form.get("language", "")
    if language not in ("", *LANGUAGES):
        raise InvalidInput(f"language '{language}' is not one of {', '.join(LANGUAGES)}", {"language": "unknown"})
    pref = s.get(UserPreference, (me.id, LANGUAGE_KEY))
    if language:
        pref = pref or UserPreference(user_id=me.id, key=LANGUAGE_KEY)
        pref.value = language
        s.add(pref)
        session["lang"] = language
    elif pref is not None:
        s.delete(pref)
    _audit("user.profile", phone=[old_phone, me.phone], sms_off=[sorted(before), sorted(wanted)],
           language=language or None)
    s.commit()
    flash(gettext("个人设置已保存。"), "info")
    return redirect(url_for("account.settings"))


@bp.post("/layout/reset")
@login_required
def reset_layout() -> Response:
    s, me = db.session(), current_user.row
    pref = s.get(UserPreference, (me.id, LAYOUT_KEY))
    if pref is not None:
        s.delete(pref)
        s.commit()
    flash(gettext("个人门户的面板已恢复默认布局。"), "info")
    return redirect(url_for("portal.home"))


def _audit(action: str, **details: object) -> None:
    me = current_user.row
    record(db.session(), action, "user", me.username, actor_id=me.id, now=db.engine().ctx.clock(), details=details)


def _refused(err: EomsError) -> tuple[str, int]:
    flash(explain(err), "error")
    return _page(field_errors(err), status_of(err))


def _page(errors: dict[str, str], status: int) -> tuple[str, int]:
    me = current_user.row
    return render_template("account/settings.html", me=me, errors=errors, optional=OPTIONAL, templates=TEMPLATES,
                           muted=muted(db.session(), me.id), languages=LANGUAGES,
                           language=stored_language(me.id) or ""), status
