"""Front-end libraries installed from npm (package.json + lock file), served locally: no CDN. Only the files
the pages use are served; add an entry when a page needs another. The designer's modeler is a bundle built
from ``webapp/designer/assets`` at install time (``npm run build``), served from ``static/build/``."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_file
from werkzeug.wrappers import Response

bp = Blueprint("vendor", __name__, url_prefix="/vendor")

FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-font/css/bpmn.css": "bpmn-js/dist/assets/bpmn-font/css/bpmn.css",
    "bpmn-font/font/bpmn.woff": "bpmn-js/dist/assets/bpmn-font/font/bpmn.woff",
    "bpmn-font/font/bpmn.ttf": "bpmn-js/dist/assets/bpmn-font/font/bpmn.ttf",
    "bpmn-font/font/bpmn.eot": "bpmn-js/dist/assets/bpmn-font/font/bpmn.eot",
    "bpmn-font/font/bpmn.svg": "bpmn-js/dist/assets/bpmn-font/font/bpmn.svg",
    "echarts.min.js": "echarts/dist/echarts.min.js",
    "form-viewer.js": "@bpmn-io/form-js/dist/form-viewer.umd.js",
    "form-editor.js": "@bpmn-io/form-js/dist/form-editor.umd.js",
    "form-js.css": "@bpmn-io/form-js/dist/assets/form-js.css",
    "form-js-editor.css": "@bpmn-io/form-js/dist/assets/form-js-editor.css",
    "form-properties-panel.css": "@bpmn-io/form-js/dist/assets/properties-panel.css",
    "draggle.css": "@bpmn-io/form-js/dist/assets/draggle.css",
}


@bp.get("/<path:name>")
def asset(name: str) -> Response:
    relative = FILES.get(name)
    if relative is None:
        abort(404)
    path = Path(current_app.config["EOMS_NODE_MODULES"]) / relative
    if not path.is_file():
        abort(404, description=f"{name} is missing: run the Quick start (npm ci) first")
    return send_file(path, max_age=86400)
