"""The integration API under test: the real app (both databases), an API client for CRM acting as a
supervisor account of the province, and a caller that sends its bearer token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine.core import ProcessEngine
from engine.worker import TickReport, Worker
from handlers.resources.inventory import add_resources
from tests.conftest import PASSWORD, Database
from tests.web.conftest import live_server, web_app  # noqa: F401  (the app's fixtures, shared)
from webapp.api import clients


@dataclass
class Caller:
    """Calls the app with one client's bearer token."""

    http: FlaskClient
    token: str
    name: str

    def __call__(self, method: str, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.open(path, method=method, json=json, headers=headers, **kwargs)


def engine_of(app: Flask) -> ProcessEngine:
    return app.extensions["eoms"]["engine"]


def make_client(app: Flask, db: Database, name: str, scopes: list[str], *, username: str = "crm",
                rate: int = 600) -> Caller:
    pe = engine_of(app)
    with db.sessions.begin() as s:
        if pe.identity.find_user(s, username) is None:
            pe.identity.add_user(s, username, display_name="CRM 系统", password=PASSWORD, org_code="GD",
                                 post_codes=[], role="supervisor")
        made = clients.create(s, name, user=pe.identity.get_user(s, username), scopes=scopes, now=pe.ctx.clock(),
                              rate_per_minute=rate)
        token = made.token
    return Caller(app.test_client(), token, name)


@pytest.fixture
def api_client(web_app: Flask, db: Database) -> Callable[..., Caller]:  # noqa: F811 (the imported fixture)
    """``api_client(name, scopes)`` → a Caller for a new client."""
    return lambda name="crm-gz", scopes=("tmf641", "tmf621", "tmf642"), **kw: make_client(
        web_app, db, name, list(scopes), **kw)


@pytest.fixture
def crm(api_client: Callable[..., Caller]) -> Caller:
    return api_client()


@pytest.fixture
def stocked(db: Database) -> None:
    """Two ports, VLANs and IPs free in Guangzhou."""
    with db.sessions.begin() as s:
        for kind, values in {"port": ["GZ-OLT1-GE0/0/1", "GZ-OLT1-GE0/0/2"], "vlan": ["101", "102"],
                             "ip": ["10.1.0.1", "10.1.0.2"]}.items():
            add_resources(s, "GZ", kind, values)


def tick(app: Flask, db: Database) -> TickReport:
    """One worker tick (timers, the SLA scan, due jobs), which must go without errors."""
    report = Worker(engine_of(app), db.sessions, "api-test").tick()
    assert report.errors == 0, report
    return report


def post_concurrently(url: str, token: str, body: dict[str, Any], times: int = 20) -> list[tuple[int, str]]:
    """POST ``body`` to ``url`` ``times`` at once (real HTTP, one thread each): each (status, resource id or
    error text)."""
    data = json.dumps(body).encode()

    def post(_: int) -> tuple[int, str]:
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())["id"]
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(post, range(times)))
