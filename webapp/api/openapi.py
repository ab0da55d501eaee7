"""The OpenAPI 3 document, generated from the operations the API blueprints declare and their marshmallow
schemas (apispec), served at ``/api/v1/openapi.json`` with a browsable page at ``/api/v1/docs``.

Both are open without a token: they describe the interface, not data, and an integrator reads them before a
client is created for them.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify, render_template
from werkzeug.wrappers import Response

from webapp.api.base import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, REASONS
from webapp.api.blueprint import ApiBlueprint, Operation
from webapp.api.clients import SCOPES

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1", template_folder="templates")
VERSION = "1.0.0"
SUCCESS = {200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content"}
CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
ERROR = {"type": "object", "required": ["code", "reason", "message", "status"], "properties": {
    "code": {"type": "string", "description": "stable error code (the engine's, or api.*)"},
    "reason": {"type": "string"}, "message": {"type": "string", "description": "in the Accept-Language"},
    "status": {"type": "string"}, "details": {"type": "object", "additionalProperties": True},
    "@type": {"type": "string"}}}


def operations(app: Flask) -> list[Operation]:
    return [op for blueprint in app.blueprints.values() if isinstance(blueprint, ApiBlueprint)
            for op in blueprint.operations]


def build(app: Flask) -> dict[str, Any]:
    """The whole document for ``app`` (every ApiBlueprint registered on it)."""
    spec = APISpec(title="EOMS 综合接口平台", version=VERSION, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "TM Forum TMF641 / TMF621 / TMF642 resources and the engine API of EOMS. "
                                        "Every call carries `Authorization: Bearer <token>` of an API client; "
                                        "the client's scopes decide which operations it may call."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", ERROR)
    seen: set[str] = set()
    by_path: dict[str, dict[str, Any]] = {}
    for op in operations(app):
        blueprint = app.blueprints[op.blueprint]
        path = (blueprint.url_prefix or "") + CONVERTER.sub(r"{\1}", op.rule)
        by_path.setdefault(path, {})[op.method.lower()] = _operation(spec, op, seen)
    for path, ops in sorted(by_path.items()):
        spec.path(path=path, operations=ops)
    return spec.to_dict()


def _schema_ref(spec: APISpec, schema: type, seen: set[str]) -> dict[str, str]:
    name = schema.__name__.removesuffix("Schema")
    if name not in seen:
        spec.components.schema(name, schema=schema)
        seen.add(name)
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(spec: APISpec, op: Operation, seen: set[str]) -> dict[str, Any]:
    params = [_param(p) for p in op.params]
    if op.paged:
        params += [
            {"name": "offset", "in": "query",
             "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
            {"name": "limit", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}}]
    if op.response is not None and op.method == "GET":
        params.append({"name": "fields", "in": "query", "schema": {"type": "string"},
                       "description": "comma-separated attributes to return"})
    responses: dict[str, Any] = {}
    for status in op.statuses:
        answer: dict[str, Any] = {"description": {**SUCCESS, **REASONS}.get(status, "OK")}
        if op.response is not None and status in (200, 201, 206):
            ref = _schema_ref(spec, op.response, seen)
            answer["content"] = {"application/json": {"schema": {"type": "array", "items": ref} if op.many
                                                      else ref}}
            if op.paged:
                answer["headers"] = {h: {"schema": {"type": "integer"}} for h in ("X-Total-Count", "X-Result-Count")}
        responses[str(status)] = answer
    refusals = (400, 401, 403, 404, 429) + ((413, 422) if op.request is not None else ())
    for status in refusals:
        responses.setdefault(str(status), {"description": REASONS[status], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    body: dict[str, Any] = {
        "summary": op.summary, "operationId": f"{op.blueprint}.{op.endpoint}", "tags": [op.tag],
        "description": f"{op.description}\n\nScope: `{op.scope}` ({SCOPES.get(op.scope, '')}).".strip(),
        "security": [{"bearer": []}], "parameters": params, "responses": responses,
    }
    if op.request is not None:
        body["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _schema_ref(spec, op.request, seen)}}}
    return body


def _param(p: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": p.kind}
    if p.enum:
        schema["enum"] = list(p.enum)
    if p.fmt:
        schema["format"] = p.fmt
    return {"name": p.name, "in": p.where, "required": p.required or p.where == "path", "schema": schema,
            "description": p.description}


@bp.get("/openapi.json")
def document() -> Response:
    cache = current_app.extensions.setdefault("eoms_openapi", {})
    if "doc" not in cache:
        cache["doc"] = build(current_app)
    return jsonify(cache["doc"])


@bp.get("/docs")
def page() -> str:
    """The document as a page: every operation with its scope, parameters, body and answers."""
    doc = document().get_json()
    return render_template("api/docs.html", doc=doc, scopes=SCOPES)
