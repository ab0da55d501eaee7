"""The process designer (流程设计): analysts and administrators open a flow in the browser modeler, draft,
validate, deploy versions, upload and download .bpmn files. The modeler itself is the bundle built from
``webapp/designer/assets`` (bpmn-js, its properties panel, bpmnlint) at install time."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from engine.errors import BpmnValidationError, EomsError, ValidationIssue
from engine.identity.models import Post
from engine.repository.properties import ACTIONS, CALENDARS
from webapp import db
from webapp.access import roles_required
from webapp.auth import me
from webapp.designer import forms, service, versions
from webapp.designer.common import DESIGNERS, MAX_XML_BYTES, issues_json, issues_text, lang, posted_xml, refused
from webapp.errors import fail_to, rollback
from webapp.i18n import gettext

bp = Blueprint("designer", __name__, url_prefix="/designer", template_folder="templates")
UNSAFE_RULES = frozenset({"script-invalid", "condition-invalid", "expression-invalid", "parameter-invalid"})
bp.register_blueprint(versions.bp)
bp.register_blueprint(forms.bp)


@bp.get("/")
@roles_required(*DESIGNERS)
def index() -> str:
    s = db.session()
    posts = s.scalars(select(Post).order_by(Post.code)).all()
    return render_template("designer/index.html", entries=service.catalogue(s, me()), posts=posts)


@bp.post("/new")
@roles_required(*DESIGNERS)
def new() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("designer.index"))
    key = request.form.get("key", "").strip()
    name = request.form.get("name", "").strip() or key
    post = request.form.get("post", "").strip()
    if service.draft_of(s, me(), key) is not None or _deployed(key):
        flash(gettext("流程标识 %(key)s 已存在，请打开它或换一个标识。", key=key), "error")
        return redirect(url_for("designer.index"))
    service.save_draft(s, me(), key, service.new_diagram(key, name, post), pe.ctx.clock(), source_name=f"{key}.bpmn")
    s.commit()
    return redirect(url_for("designer.edit", key=key))


@bp.post("/upload")
@roles_required(*DESIGNERS)
def upload() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("designer.index"))
    file = request.files.get("file")
    if file is None or not file.filename:
        flash(gettext("请选择要上传的 .bpmn 文件。"), "error")
        return redirect(url_for("designer.index"))
    content = file.read(MAX_XML_BYTES + 1)
    try:
        draft = service.upload(s, me(), content, file.filename, pe.ctx.clock())
        problems = _problems(content, file.filename)
    except BpmnValidationError as err:
        rollback()
        flash(gettext("文件未保存：%(why)s", why=issues_text(err.issues)), "error")
        return redirect(url_for("designer.index"))
    unsafe = [i for i in problems if i.rule in UNSAFE_RULES]
    if unsafe:  # a script the sandbox would stop is not kept, even as a draft
        rollback()
        flash(gettext("文件未保存：%(why)s", why=issues_text(unsafe)), "error")
        return redirect(url_for("designer.index"))
    s.commit()
    if problems:
        flash(gettext("已上传为草稿：%(key)s。部署前还需修正 %(n)s 个问题（点“校验”查看）。", key=draft.process_key,
                      n=len(problems)), "warning")
    else:
        flash(gettext("已上传为草稿：%(key)s", key=draft.process_key), "info")
    return redirect(url_for("designer.edit", key=draft.process_key))


@bp.get("/<key>/")
@roles_required(*DESIGNERS)
def edit(key: str) -> str:
    s = db.session()
    found = service.entry(s, me(), key)
    version = request.args.get("version", type=int)
    drafted = dict(found.draft.forms or {}) if found.draft is not None else {}
    config = _config(key, version, drafted, read_only=version is not None)
    text = found.draft.bpmn_xml if found.draft is not None and version is None else \
        service.version_row(s, key, version).bpmn_xml
    form_keys = sorted(set(service.form_keys_in(text)) | set(drafted))
    return render_template("designer/edit.html", entry=found, version=version, config=json.dumps(config,
                           ensure_ascii=False), form_keys=form_keys, draft_forms=drafted)


@bp.get("/<key>/xml")
@roles_required(*DESIGNERS)
def xml(key: str) -> Response:
    s = db.session()
    text = service.xml_to_edit(s, me(), key, request.args.get("version", type=int))
    return Response(text, mimetype="application/xml")


@bp.get("/<key>/download")
@roles_required(*DESIGNERS)
def download(key: str) -> Response:
    s = db.session()
    version = request.args.get("version", type=int)
    text = service.xml_to_edit(s, me(), key, version)
    suffix = f"-v{version}" if version else ""
    return Response(text, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{key}{suffix}.bpmn"'})


@bp.post("/<key>/draft")
@roles_required(*DESIGNERS)
def save(key: str) -> Response | tuple[Response, int]:
    s, pe = db.session(), db.engine()
    text = posted_xml()
    try:
        draft = service.save_draft(s, me(), key, text, pe.ctx.clock())
    except EomsError as err:
        return refused(err)
    s.commit()
    return jsonify(ok=True, saved_at=draft.updated_at.isoformat())


@bp.post("/<key>/discard")
@roles_required(*DESIGNERS)
def discard(key: str) -> Response:
    s = db.session()
    if service.discard_draft(s, me(), key):
        s.commit()
        flash(gettext("已放弃草稿：%(key)s", key=key), "info")
    return redirect(url_for("designer.index"))


@bp.post("/<key>/validate")
@roles_required(*DESIGNERS)
def validate(key: str) -> Response:
    s, pe = db.session(), db.engine()
    text = posted_xml()
    try:
        pe.repository.validate(s, text.encode("utf-8"), f"{key}.bpmn")
    except BpmnValidationError as err:
        return jsonify(ok=False, issues=issues_json(err.issues))
    finally:
        rollback()
    return jsonify(ok=True, issues=[])


@bp.post("/<key>/deploy")
@roles_required(*DESIGNERS)
def deploy(key: str) -> Response | tuple[Response, int]:
    s, pe = db.session(), db.engine()
    text = posted_xml()
    draft = service.draft_of(s, me(), key)
    filename = (draft.source_name if draft is not None and draft.source_name else "") or f"{key}.bpmn"
    try:
        for form_key, schema in sorted((draft.forms or {}).items() if draft is not None else []):
            pe.forms.deploy(s, form_key, json.dumps(schema, ensure_ascii=False).encode("utf-8"), f"{form_key}.json")
        results = pe.repository.deploy(s, text.encode("utf-8"), filename, deployed_by=me())
    except EomsError as err:
        return refused(err)
    service.discard_draft(s, me(), key)
    s.commit()
    return jsonify(ok=True, results=[{"key": r.key, "version": r.version, "created": r.created} for r in results])


def _problems(content: bytes, filename: str) -> list[ValidationIssue]:
    """Everything the deploy check would say about ``content`` (nothing is stored by it)."""
    try:
        db.engine().repository.validate(db.session(), content, filename)
    except BpmnValidationError as err:
        return err.issues
    return []


def _deployed(key: str) -> bool:
    try:
        service.version_row(db.session(), key)
        return True
    except EomsError:
        return False


def _config(key: str, version: int | None, drafted: dict[str, Any], *, read_only: bool) -> dict[str, Any]:
    s, pe = db.session(), db.engine()
    query = {"version": version} if version else {}
    return {
        "key": key,
        "xmlUrl": url_for("designer.xml", key=key, **query),
        "saveUrl": url_for("designer.save", key=key),
        "validateUrl": url_for("designer.validate", key=key),
        "deployUrl": url_for("designer.deploy", key=key),
        "downloadUrl": url_for("designer.download", key=key, **query),
        "csrfToken": generate_csrf(),
        "lang": lang(),
        "readOnly": read_only,
        "posts": [{"code": p.code, "name": p.name} for p in s.scalars(select(Post).order_by(Post.code))],
        "forms": sorted(pe.forms.keys(s) | set(drafted)),
        "formEditorUrl": url_for("designer.forms.edit_form", key=key, form_key="__FORM__"),
        "handlers": [{"name": h["name"], "doc": h["doc"], "params": [p["name"] for p in h["params"]],
                      "required": [p["name"] for p in h["params"] if p["required"]]}
                     for h in pe.ctx.handlers.describe()],
        "calendars": list(CALENDARS),
        "actions": list(ACTIONS),
    }
