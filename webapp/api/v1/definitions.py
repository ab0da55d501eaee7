"""Process definitions at ``/api/v1/process-definitions``: the deployed flows, their versions and BPMN, and
deploying a file — for analysts and administrators (the designer's users) with the ``engine.deploy`` scope."""

from __future__ import annotations

from flask import Response, jsonify
from flask.typing import ResponseReturnValue

from engine.errors import NotAllowed, NotFound
from webapp import db
from webapp.api.base import acting_user, body, listing, selected
from webapp.api.blueprint import ApiBlueprint, Param
from webapp.api.v1 import schemas
from webapp.api.v1.views import PREFIX, Names, arg_int, definition_resource
from webapp.designer.common import DESIGNERS
from webapp.supervisor.service import diagram_xml, versions

bp = ApiBlueprint("api_v1_definitions", __name__, url_prefix=PREFIX, tag="Engine: process definitions")
KEY = Param("key", "path", description="the process key (the BPMN process id)")
DIAGRAM_READERS = ("supervisor", "admin", "analyst")  # who sees a flow's diagram on the pages


def _versions(key: str) -> list:  # type: ignore[type-arg]
    found = versions(db.session(), key) if len(key) <= 200 and "\x00" not in key else []
    if not found:
        raise NotFound(f"process '{key}' is not deployed", details={"process": key})
    return found


@bp.operation("/process-definitions", "GET", summary="List the deployed processes (newest version of each)",
              scope="engine.read", response=schemas.EngineDefinitionSchema, many=True)
def list_definitions() -> ResponseReturnValue:
    s, pe = db.session(), db.engine()
    rows = pe.repository.list_latest(s)
    names = Names.of(s, user_ids=[r.deployed_by_id for r in rows])
    return listing([definition_resource(r, names) for r in rows], len(rows))


@bp.operation("/process-definitions/<key>", "GET", summary="A process: its newest version, start form, versions",
              scope="engine.read", response=schemas.EngineDefinitionDetailSchema, params=(KEY,))
def get_definition(key: str) -> ResponseReturnValue:
    s, pe = db.session(), db.engine()
    rows = _versions(key)
    names = Names.of(s, user_ids=[r.deployed_by_id for r in rows])
    start = pe.runtime.start_form(s, key)
    resource = {**definition_resource(rows[0], names), "startFormKey": start[0] if start else None,
                "startForm": start[1] if start else None,
                "versions": [definition_resource(r, names) for r in rows]}
    return selected(resource)


@bp.operation("/process-definitions/<key>/bpmn", "GET", summary="A process's BPMN XML (application/xml)",
              scope="engine.read", statuses=(200,), params=(
                  KEY, Param("version", kind="integer", description="default: the newest")))
def get_bpmn(key: str) -> ResponseReturnValue:
    """The diagram as deployed; for supervisors, analysts and administrators, as on the pages."""
    user = acting_user()
    if user.role not in DIAGRAM_READERS:
        raise NotAllowed(f"{user.username} may not read process diagrams")
    version = arg_int("version")
    rows = _versions(key)
    row = next((r for r in rows if r.version == version), None) if version else rows[0]
    xml = diagram_xml(db.session(), row.id) if row is not None else None
    if xml is None:
        raise NotFound(f"process '{key}' has no version {version}", details={"process": key, "version": version})
    return Response(xml, mimetype="application/xml")


@bp.operation("/process-definitions", "POST", summary="Deploy a BPMN file", scope="engine.deploy",
              request=schemas.EngineDeploySchema, response=schemas.EngineDeploymentSchema, statuses=(200, 201))
def deploy() -> ResponseReturnValue:
    """Analysts and administrators. Every executable process in the file becomes the next version of its key
    (201); the same content again keeps its version (200). A file the validation refuses is a 422 whose
    ``details.issues`` names each problem (file, element, rule, message, line); nothing is stored."""
    sent = body(schemas.EngineDeploySchema())
    s, pe, user = db.session(), db.engine(), acting_user()
    if user.role not in DESIGNERS:
        raise NotAllowed(f"{user.username} may not deploy processes")
    filename = sent.get("filename") or "process.bpmn"
    results = pe.repository.deploy(s, sent["bpmn"].encode("utf-8"), filename, deployed_by=user)
    s.commit()
    deployed = [{"id": r.definition_id, "href": f"{PREFIX}/process-definitions/{r.key}", "key": r.key,
                 "name": r.name, "version": r.version, "created": r.created} for r in results]
    response = jsonify({"deployed": deployed})
    new = any(r.created for r in results)
    if new:
        response.headers["Location"] = next(d["href"] for d in deployed if d["created"])
    return response, 201 if new else 200
