"""Who may use 系统管理: every route under /admin (the URL map walked, so a new route is covered the day it is
added) answers 404 to everybody but administrators — supervisors, analysts and post holders alike — for reads
and for changes made with a valid CSRF token, and changes nothing; anonymous visitors are sent to log in."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.audit.models import AuditEntry
from engine.identity.models import OrgUnit, Post, User
from tests.admin.conftest import send, text
from tests.conftest import Database
from tests.web.conftest import csrf_token, login

SAMPLE_ARGS = {"user_id": 1, "code": "GZ", "rule_id": 1, "day": "2026-03-05", "name": "dispatch"}
NOT_FOUND = "页面或记录不存在，或您无权查看。"


def admin_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, url, method) of every route of the admin areas, its arguments filled with sample values."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/admin"):
                continue
            url = app.url_for(rule.endpoint, **{a: SAMPLE_ARGS.get(a, "x") for a in rule.arguments})
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, url, method))
    return found


def counts(db: Database) -> tuple[int, ...]:
    with db.sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0 for m in (User, Post, OrgUnit, AuditEntry))


def test_the_walk_finds_every_admin_area(web_app: Flask) -> None:
    endpoints = {e for e, _, _ in admin_routes(web_app)}
    for expected in ("admin.home", "admin.users", "admin.user_new", "admin.user_edit", "admin.user_password",
                     "admin.user_active", "admin.user_unlock", "admin.posts", "admin.org", "admin.org_move",
                     "admin.routing", "admin.inventory", "admin.inventory_import", "admin.calendar",
                     "admin.calendar_windows", "admin.sms_index", "admin.sms_edit", "admin.health_page",
                     "admin.audit", "api_admin.index"):
        assert expected in endpoints


@pytest.mark.parametrize("username", ["sup", "ana", "gz_dispatcher"])
def test_only_administrators_reach_any_admin_route(web_app: Flask, db: Database, username: str) -> None:
    client = web_app.test_client()
    assert login(client, username).status_code == 302
    token = csrf_token(client.get("/portal/").get_data(as_text=True))
    before = counts(db)
    for endpoint, url, method in admin_routes(web_app):
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, "code": "EVIL", "name": "恶意", "username": "evil",
                                              "password": "Evil12345", "org_code": "GZ", "role": "admin",
                                              "active": "0", "parent": "SZ", "unit": "GZ"})
        assert response.status_code == 404, (username, endpoint, method, response.status_code)
        assert NOT_FOUND in text(response), (username, endpoint)
    assert counts(db) == before


def test_anonymous_visitors_are_sent_to_log_in(web_app: Flask) -> None:
    client: FlaskClient = web_app.test_client()
    for endpoint, url, method in admin_routes(web_app):
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302 and "/auth/login" in response.headers["Location"], endpoint


def test_administrators_reach_every_admin_page(admin: FlaskClient) -> None:
    for endpoint, url, method in admin_routes(admin.application):
        if method != "GET" or endpoint in ("admin.org_move_preview",):
            continue
        response = admin.get(url)
        assert response.status_code in (200, 302), (endpoint, url, response.status_code)


def test_admin_forms_need_the_csrf_token(admin: FlaskClient, db: Database) -> None:
    before = counts(db)
    response = admin.post("/admin/posts", data={"code": "nocsrf", "name": "无令牌岗位"})
    assert response.status_code == 400
    assert counts(db) == before
    response = send(admin, "/admin/posts", {"code": "withcsrf", "name": "有令牌岗位"}, follow_redirects=True)
    assert "岗位 有令牌岗位 已添加" in text(response)


# -- the business modules: every route classified by who may use it ------------------------------------------
EVERYONE, SUPERVISING, ADMIN = {"alice", "sup", "ana", "admin"}, {"sup", "admin"}, {"admin"}
MODULE_ROUTES: dict[str, set[str]] = {
    "projects.index": EVERYONE, "projects.contracts": EVERYONE, "projects.show": EVERYONE,
    "projects.close": EVERYONE,  # the view itself allows only the project's manager and administrators
    "projects.stats": SUPERVISING, "projects.stats_export": SUPERVISING,
    "costs.index": EVERYONE, "costs.budgets": SUPERVISING, "costs.stats": SUPERVISING,
    "costs.stats_export": SUPERVISING, "costs.budget_save": ADMIN, "costs.settings": ADMIN,
    "costs.thresholds_save": ADMIN, "costs.category_save": ADMIN,
    "kpi.assessment": SUPERVISING, "kpi.assessment_export": SUPERVISING, "kpi.drill": SUPERVISING,
    "kpi.definitions": ADMIN, "kpi.definition_save": ADMIN, "kpi.close_month": ADMIN, "kpi.reopen_month": ADMIN,
    "notices.index": EVERYONE, "notices.show": EVERYONE, "notices.manage": ADMIN, "notices.new": ADMIN,
    "notices.edit": ADMIN, "notices.receipts": ADMIN, "notices.withdraw": ADMIN,
    "account.settings": EVERYONE, "account.change_password": EVERYONE, "account.change_profile": EVERYONE,
    "account.reset_layout": EVERYONE,
}
MODULE_PREFIXES = ("/projects", "/costs", "/kpi", "/notices", "/me")
# with the sample arguments these look for a record that does not exist: a 404 to anyone
NO_SUCH_RECORD = ("projects.show", "notices.show", "notices.edit", "notices.receipts", "kpi.drill")
MODULE_ARGS = {"project_id": 1, "item_id": 1, "fmt": "xlsx", "month": "2020-01"}


def module_routes(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.rule.startswith(MODULE_PREFIXES):
                url = app.url_for(rule.endpoint, **{a: MODULE_ARGS.get(a, "x") for a in rule.arguments})
                found += [(rule.endpoint, url, m) for m in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    return found


def test_every_module_route_is_classified(web_app: Flask) -> None:
    assert {e for e, _, _ in module_routes(web_app)} == set(MODULE_ROUTES)


@pytest.mark.parametrize("username", ["alice", "sup", "ana", "admin"])
def test_module_routes_answer_only_whom_they_are_for(web_app: Flask, db: Database, username: str) -> None:
    client = web_app.test_client()
    assert login(client, username).status_code == 302
    token = csrf_token(client.get("/portal/").get_data(as_text=True))
    for endpoint, url, method in module_routes(web_app):
        response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token})
        if username in MODULE_ROUTES[endpoint]:
            assert response.status_code != 404 or endpoint in NO_SUCH_RECORD, (username, endpoint)
        else:
            assert response.status_code == 404, (username, endpoint, method, response.status_code)
