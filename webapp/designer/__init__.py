"""The process designer (流程设计): analysts and administrators open a flow in the browser modeler, draft,
validate, deploy versions, upload and download .bpmn files. The modeler itself is the bundle built from
``webapp/designer/assets`` (bpmn-js, its properties panel, bpmnlint) at install time."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from engine.errors import BpmnValidationError, EomsError, ValidationIssue
from engine.identity.models import Post
from engine.repository.diff import diff_diagrams
from engine.repository.properties import ACTIONS, CALENDARS
from engine.repository.rules import rule_text
from webapp import db
from webapp.access import roles_required
from webapp.auth import me
from webapp.designer import service
from webapp.designer.impact import preview as impact_preview
from webapp.errors import fail_to, rollback
from webapp.i18n import current_language, gettext
from webapp.messages import explain

bp = Blueprint("designer", __name__, url_prefix="/designer", template_folder="templates")
DESIGNERS = ("analyst", "admin")
MAX_XML_BYTES = 5 * 1024 * 1024
UNSAFE_RULES = frozenset({"script-invalid", "condition-invalid", "expression-invalid", "parameter-invalid"})


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
        flash(gettext("文件未保存：%(why)s", why=_issues_text(err.issues)), "error")
        return redirect(url_for("designer.index"))
    unsafe = [i for i in problems if i.rule in UNSAFE_RULES]
    if unsafe:  # a script the sandbox would stop is not kept, even as a draft
        rollback()
        flash(gettext("文件未保存：%(why)s", why=_issues_text(unsafe)), "error")
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
    s, pe = db.session(), db.engine()
    found = service.entry(s, me(), key)
    version = request.args.get("version", type=int)
    config = _config(key, version, read_only=version is not None)
    return render_template("designer/edit.html", entry=found, version=version, config=json.dumps(config,
                           ensure_ascii=False), handlers=pe.ctx.handlers.describe())


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
    text = _posted_xml()
    try:
        draft = service.save_draft(s, me(), key, text, pe.ctx.clock())
    except BpmnValidationError as err:
        rollback()
        return jsonify(ok=False, issues=_issues_json(err.issues)), 422
    except EomsError as err:
        rollback()
        return jsonify(ok=False, error=explain(err), code=str(err.code)), 422
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
    text = _posted_xml()
    try:
        pe.repository.validate(s, text.encode("utf-8"), f"{key}.bpmn")
    except BpmnValidationError as err:
        return jsonify(ok=False, issues=_issues_json(err.issues))
    finally:
        rollback()
    return jsonify(ok=True, issues=[])


@bp.post("/<key>/deploy")
@roles_required(*DESIGNERS)
def deploy(key: str) -> Response | tuple[Response, int]:
    s, pe = db.session(), db.engine()
    text = _posted_xml()
    draft = service.draft_of(s, me(), key)
    filename = (draft.source_name if draft is not None and draft.source_name else "") or f"{key}.bpmn"
    try:
        results = pe.repository.deploy(s, text.encode("utf-8"), filename, deployed_by=me())
    except BpmnValidationError as err:
        rollback()
        return jsonify(ok=False, issues=_issues_json(err.issues)), 422
    except EomsError as err:
        rollback()
        return jsonify(ok=False, error=explain(err), code=str(err.code)), 422
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


@bp.get("/<key>/diff")
@roles_required(*DESIGNERS)
def diff(key: str) -> str:
    """Two versions (or the draft) side by side, added / removed / changed elements coloured and listed."""
    s = db.session()
    found = service.entry(s, me(), key)
    numbers = [v.version for v in found.versions]
    new_ref = request.args.get("to") or ("draft" if found.draft is not None else str(numbers[0] if numbers else ""))
    default_old = next((n for n in numbers if str(n) != new_ref), None)
    old_ref = request.args.get("from") or (str(default_old) if default_old is not None else "")
    old_xml, new_xml = _xml_of(found, old_ref), _xml_of(found, new_ref)
    if old_xml is None or new_xml is None:
        flash(gettext("请选择两个存在的版本进行比较。"), "error")
        return render_template("designer/diff.html", entry=found, result=None, old_ref=old_ref, new_ref=new_ref,
                               data={})
    result = diff_diagrams(old_xml.encode("utf-8"), new_xml.encode("utf-8"))
    urls = {ref: url_for("designer.xml", key=key, **({} if ref == "draft" else {"version": ref}))
            for ref in (old_ref, new_ref)}
    data = {"old": urls[old_ref], "new": urls[new_ref], **result.to_dict()}
    return render_template("designer/diff.html", entry=found, result=result, old_ref=old_ref, new_ref=new_ref,
                           data=data)


@bp.route("/<key>/migrate", methods=["GET", "POST"])
@roles_required(*DESIGNERS)
def migrate(key: str) -> str:
    """Select running work orders of older versions and move them to a version, with a dry run first."""
    s, pe = db.session(), db.engine()
    found = service.entry(s, me(), key)
    if not found.versions:
        abort(404)
    newest = found.versions[0].version
    source = request.values.get("from_version", type=int)
    target = request.values.get("target", type=int) or newest
    step = request.values.get("step") or None
    with_incidents = request.values.get("incidents") == "1"
    results, dry = None, request.form.get("action") != "run"
    if request.method == "POST":
        ids = [int(v) for v in request.form.getlist("ids") if v.isdigit()][:200]
        if not ids:
            flash(gettext("请先勾选要迁移的工单。"), "error")
        else:
            try:
                results = pe.runtime.migrate(s, key, ids, version=target, actor=me(), dry_run=dry)
            except EomsError as err:
                rollback()
                flash(explain(err), "error")
            else:
                if dry:
                    rollback()
                else:
                    s.commit()
                    moved = sum(1 for r in results if r.moved)
                    flash(gettext("已迁移 %(moved)s 个工单到 v%(v)s，%(left)s 个未迁移。", moved=moved, v=target,
                                  left=len(results) - moved), "info" if moved == len(results) else "warning")
    candidates = service.migration_candidates(s, key, version=source, step=step, with_incidents=with_incidents,
                                              below=None if source else target)
    return render_template("designer/migrate.html", entry=found, candidates=candidates, results=results,
                           reasons=_reason_texts(results or []), target=target, source=source, step=step,
                           with_incidents=with_incidents, steps=service.open_steps(s, key), dry=dry,
                           chosen={int(v) for v in request.form.getlist("ids") if v.isdigit()})


@bp.get("/<key>/impact")
@roles_required(*DESIGNERS)
def impact(key: str) -> str:
    """How the last days' completed steps would have fared under the draft's (or a version's) limits."""
    s, pe = db.session(), db.engine()
    found = service.entry(s, me(), key)
    ref = request.args.get("ref") or ("draft" if found.draft is not None else
                                      str(found.versions[0].version) if found.versions else "")
    days = min(max(request.args.get("days", 30, type=int), 1), 365)
    text = _xml_of(found, ref)
    if text is None:
        abort(404)
    steps = impact_preview(s, pe, key, text.encode("utf-8"), pe.ctx.clock(), days)
    return render_template("designer/impact.html", entry=found, steps=steps, ref=ref, days=days)


def _reason_texts(results: list[Any]) -> dict[int, list[str]]:
    texts = {
        "not_running": gettext("工单状态为 %(s)s，不在运行中"),
        "same_version": gettext("工单已经在 v%(s)s 上运行"),
        "not_comparable": gettext("两个版本无法比较：%(s)s"),
        "subprocess_removed": gettext("子流程「%(s)s」在新版本中不存在"),
        "open_step_removed": gettext("工单当前所在的步骤「%(s)s」在新版本中已删除"),
        "done_step_removed": gettext("工单经过的步骤「%(s)s」在新版本中已删除，历史无法对应"),
        "multi_instance_open": gettext("会签（多实例）步骤「%(s)s」正在进行"),
        "state_unstorable": gettext("迁移后的状态无法保存：%(s)s"),
    }
    return {r.instance_id: [texts[x.code] % {"s": x.subject} if x.code in texts else x.text for x in r.reasons]
            for r in results}


def _xml_of(found: service.ProcessEntry, ref: str) -> str | None:
    if ref == "draft":
        return found.draft.bpmn_xml if found.draft is not None else None
    if not ref.isdigit():
        return None
    try:
        return service.version_row(db.session(), found.key, int(ref)).bpmn_xml
    except EomsError:
        return None


def _posted_xml() -> str:
    if request.content_length and request.content_length > MAX_XML_BYTES:
        abort(413)
    body: Any = request.get_json(silent=True)
    text = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        abort(400, description="a JSON body {\"xml\": \"...\"} is required")
    return text


def _deployed(key: str) -> bool:
    try:
        service.version_row(db.session(), key)
        return True
    except EomsError:
        return False


def _config(key: str, version: int | None, *, read_only: bool) -> dict[str, Any]:
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
        "lang": "zh" if current_language() == "zh_CN" else "en",
        "readOnly": read_only,
        "posts": [{"code": p.code, "name": p.name} for p in s.scalars(select(Post).order_by(Post.code))],
        "forms": sorted(pe.forms.keys(s)),
        "handlers": [{"name": h["name"], "doc": h["doc"], "params": [p["name"] for p in h["params"]],
                      "required": [p["name"] for p in h["params"] if p["required"]]}
                     for h in pe.ctx.handlers.describe()],
        "calendars": list(CALENDARS),
        "actions": list(ACTIONS),
    }


def _issues_json(issues: list[ValidationIssue]) -> list[dict[str, Any]]:
    lang = "zh" if current_language() == "zh_CN" else "en"
    return [{"element_id": i.element_id, "rule": i.rule, "message": i.message, "line": i.line,
             "rule_text": rule_text(i.rule, lang)} for i in issues]


def _issues_text(issues: list[ValidationIssue]) -> str:
    lang = "zh" if current_language() == "zh_CN" else "en"
    return "；".join(f"{rule_text(i.rule, lang)}（{i.message}）" for i in issues[:5])
