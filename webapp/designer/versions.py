"""Designer pages about versions: the diff of two versions, migrating running work orders, and the impact of
a version's time limits on the last days' completed steps."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, render_template, request, url_for

from engine.errors import EomsError
from engine.repository.diff import diff_diagrams
from webapp import db
from webapp.access import roles_required
from webapp.auth import me
from webapp.designer import service
from webapp.designer.common import DESIGNERS
from webapp.designer.impact import preview as impact_preview
from webapp.errors import rollback
from webapp.i18n import gettext
from webapp.messages import explain

bp = Blueprint("versions", __name__, template_folder="templates")


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
