"""Fixtures of the 系统管理 tests: the web app's (the real app on the test database) and an admin client. The
browser tests live in tests/web (one Playwright per run: its fixtures are there)."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import client, csrf_token, login, web_app  # noqa: F401 - fixtures used by these tests


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def send(as_user: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST with a CSRF token taken from the admin home."""
    token = csrf_token(as_user.get("/admin/").get_data(as_text=True))
    return as_user.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


@pytest.fixture
def admin(web_app: Flask) -> FlaskClient:  # noqa: F811 (the imported fixture)
    c = web_app.test_client()
    login(c, "admin")
    return c
