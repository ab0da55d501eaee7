"""The form editor (表单设计): each user task's and start event's form in form-js's editor with a live
preview, saved with the analyst's draft of the diagram and deployed with it."""

from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from engine.errors import EomsError
from webapp import db
from webapp.access import roles_required
from webapp.auth import me
from webapp.designer import service
from webapp.designer.common import DESIGNERS, posted_json, refused
from webapp.i18n import gettext

bp = Blueprint("forms", __name__, template_folder="templates")


@bp.get("/<key>/forms/")
@roles_required(*DESIGNERS)
def open_form(key: str) -> Response:
    """The editor of the form key typed in (new or existing)."""
    form_key = request.args.get("form_key", "").strip()
    if not service.FORM_KEY.match(form_key):
        flash(gettext("表单标识只能包含字母、数字、_ . -。"), "error")
        return redirect(url_for("designer.edit", key=key))
    return redirect(url_for("designer.forms.edit_form", key=key, form_key=form_key))


@bp.get("/<key>/forms/<form_key>")
@roles_required(*DESIGNERS)
def edit_form(key: str, form_key: str) -> str:
    s, pe = db.session(), db.engine()
    found = service.entry(s, me(), key)
    schema, source = service.form_schema(s, pe.forms, me(), key, form_key)
    data = {"schema": schema, "saveUrl": url_for("designer.forms.save_form", key=key, form_key=form_key),
            "csrfToken": generate_csrf(), "formKey": form_key}
    return render_template("designer/form.html", entry=found, form_key=form_key, source=source, data=data)


@bp.post("/<key>/forms/<form_key>")
@roles_required(*DESIGNERS)
def save_form(key: str, form_key: str) -> Response | tuple[Response, int]:
    s, pe = db.session(), db.engine()
    schema = posted_json("schema")
    try:
        draft = service.save_form(s, me(), key, form_key, schema, pe.ctx.clock())
    except EomsError as err:
        return refused(err)
    s.commit()
    return jsonify(ok=True, saved_at=draft.updated_at.isoformat(), forms=sorted(draft.forms))
