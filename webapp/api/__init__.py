"""综合接口平台: the integration API — TM Forum resources under ``/tmf-api/…`` and the engine's own under
``/api/v1/…`` — with bearer-token clients, scopes, a rate limit, the call log and a generated OpenAPI document.

Requests carry no session and no CSRF token: the bearer token authenticates each call (``webapp.api.base``)."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from webapp.api import openapi
from webapp.api.ratelimit import RateWindows
from webapp.api.tmf621.views import bp as tmf621
from webapp.api.tmf641.views import bp as tmf641
from webapp.api.tmf642.views import bp as tmf642
from webapp.api.v1 import BLUEPRINTS as ENGINE_V1

BLUEPRINTS = (tmf641, tmf621, tmf642, *ENGINE_V1)


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    app.extensions["eoms"]["rate_windows"] = RateWindows()
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    app.register_blueprint(openapi.bp)
