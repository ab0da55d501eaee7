"""The OpenAPI document the app serves describes every API operation, and the app keeps to it: schemathesis
generates requests from the document (bounded examples, valid and invalid) against the real app and checks
that nothing answers 5xx, schema-invalid requests are refused, and every answer matches its documented status,
headers and schema. (Schema-valid requests may still be refused with 422: the flow's own rules, such as a
phone number's pattern or a region that exists, are the engine's, not the document's.)"""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select

from tests.api.conftest import make_client
from tests.conftest import Database
from webapp.api.models import ApiCall, ApiClient
from webapp.api.openapi import operations

BASE = "/tmf-api/serviceOrdering/v4"
EXAMPLES = 12  # per operation: bounded, so the suite stays quick


def test_the_document_lists_every_declared_operation(web_app: Flask):
    http = web_app.test_client()
    doc = http.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.0") and doc["info"]["title"]
    declared = {(op.method.lower(), (web_app.blueprints[op.blueprint].url_prefix or "") + op.rule)
                for op in operations(web_app)}
    assert len(declared) >= 8
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert (("post", f"{BASE}/serviceOrder") in documented and ("get", f"{BASE}/serviceOrder/{{order_id}}")
            in documented)
    assert len(documented) == len(declared)
    so = doc["components"]["schemas"]["ServiceOrder"]
    assert so["properties"]["state"]["enum"][:3] == ["acknowledged", "rejected", "pending"]
    create = doc["components"]["schemas"]["ServiceOrderCreate"]
    assert set(create["required"]) == {"externalId", "serviceOrderItem"}
    assert "state" not in create["properties"]  # the spec's skipped properties are not settable
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["security"] == [{"bearer": []}] and "401" in op["responses"]
    page = http.get("/api/v1/docs")
    assert page.status_code == 200 and "serviceOrder" in page.get_data(as_text=True)


def test_the_app_keeps_to_its_document(web_app: Flask, db: Database):
    """Every operation, with bounded generated requests (positive and negative data), through the WSGI app."""
    caller = make_client(web_app, db, "fuzz", ["tmf641", "tmf621", "tmf642"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web_app)
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def run(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers={"Authorization": f"Bearer {caller.token}"},
                                   excluded_checks=[positive_data_acceptance])

        run()
        checked += 1
    assert checked == len(operations(web_app))
    with db.sessions() as s:  # the generated requests really reached the app, through the token's client
        calls = s.scalar(select(func.count()).select_from(ApiCall).join(ApiClient).where(ApiClient.name == "fuzz"))
    assert calls >= checked * 5, calls
