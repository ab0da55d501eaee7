"""Web fixtures: the real Flask app on the test database, a logged-in test client, a live server for the
browser, and Playwright driving Debian's chromium (never a downloaded browser)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from eoms.settings import Settings
from handlers import build_registry
from handlers.dispatch import add_rule
from tests.conftest import IN_CI, PASSWORD, ROOT, Database
from webapp import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def web_settings(db: Database, tmp_path: Path, **overrides: str) -> Settings:
    env = {"EOMS_DATABASE_URL": db.url, "EOMS_STORAGE_DIR": str(tmp_path / "storage"),
           "EOMS_SECRET_KEY": "test-secret-not-for-production", "EOMS_IDLE_LOGOUT_SECONDS": "600"}
    env.update(overrides)
    return Settings.from_env(env, cwd=tmp_path)


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates shared by the apps of the whole run (each test builds its own app)."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = MemoryBytecodeCache()


def make_web_app(db: Database, tmp_path: Path, **overrides: str) -> Flask:
    settings = web_settings(db, tmp_path, **overrides)
    engine = ProcessEngine(build_registry(), attachments=AttachmentPolicy(Path(settings.storage_dir)))
    app = create_app(settings, engine)
    app.config["TESTING"] = True
    app.jinja_env.bytecode_cache = TEMPLATES
    return app


@pytest.fixture
def web_app(db: Database, tmp_path: Path, deploy_flows) -> Flask:  # type: ignore[no-untyped-def]
    """The app with the five flows deployed and GZ faults routed to GZ maintainers."""
    app = make_web_app(db, tmp_path)
    deploy_flows(app.extensions["eoms"]["engine"])
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    return app


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Log in through the real form (CSRF included); returns the response."""
    page = client.get("/auth/login")
    return client.post("/auth/login", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                            "username": username, "password": password})


def post(client: FlaskClient, url: str, data: dict | None = None, page: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """POST with the CSRF token taken from ``page`` (default: the portal home)."""
    html = client.get(page or "/portal/").get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **(data or {})}, **kwargs)


@pytest.fixture
def client(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


@pytest.fixture
def live_server(web_app: Flask) -> Iterator[str]:
    """The app served on a free local port (threaded) for the browser; yields its base URL."""
    server = make_server("127.0.0.1", 0, web_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium():  # type: ignore[no-untyped-def]
    """Debian's chromium driven by Playwright; the tests skip (or fail in CI) when it is not installed."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):  # type: ignore[no-untyped-def]
    """A fresh browser context and page per test (1400×1000, Chinese first)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot under artifacts/screenshots/ (kept by CI as an artifact)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
