"""Signed bodies: ``handlers.tmf.signing`` and the CRM webhook's ``X-Hub-Signature-256`` (on SQLite and
PostgreSQL, through the real ``crm.webhook`` job and a real listener)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.jobs.service import enqueue
from engine.worker import Worker
from eoms.settings import Settings
from handlers import build_registry
from handlers.tmf.signing import sign, verify
from tests.conftest import Database
from tests.handlers.conftest import Listener


def tick(engine: ProcessEngine, db: Database) -> None:
    report = Worker(engine, db.sessions, "signing-test").tick()
    assert report.errors == 0, report


def test_sign_and_verify():
    body = '{"event":"订单完成"}'.encode()
    header = sign(body, "k")
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(body, "k", header) and verify(body, "k", f" {header} ")
    assert not verify(body + b" ", "k", header)
    assert not verify(body, "k2", header)
    assert not verify(body, "k", None) and not verify(body, "k", "") and not verify(body, "", header)
    assert not verify(body, "k", "sha256=" + "0" * 64) and not verify(body, "k", "签名")


@pytest.mark.parametrize("secret", ["crm-secret", None])
def test_the_crm_webhook_is_signed_when_a_secret_is_set(db, clock, listener: Listener, storage: Path, secret):
    registry = build_registry(crm_webhook_url=listener.url, crm_webhook_token="tok", crm_webhook_secret=secret)
    crm_engine = ProcessEngine(registry, clock=clock, attachments=AttachmentPolicy(storage))
    with db.sessions.begin() as s:
        enqueue(s, "crm.webhook", {"event": "order_completed", "order": "CRM-2026-00001", "process": "provisioning",
                                   "note": "竣工"}, "crm:test:1", now=clock())
    tick(crm_engine, db)
    (request,) = listener.received
    assert request.json["order"] == "CRM-2026-00001" and request.headers["Authorization"] == "Bearer tok"
    if secret:
        assert verify(request.body, secret, request.headers["X-Hub-Signature-256"])
    else:
        assert "X-Hub-Signature-256" not in request.headers


def test_the_crm_webhook_secret_is_a_setting():
    settings = Settings.from_env({"EOMS_CRM_WEBHOOK_SECRET": "s3cret"}, cwd=Path("/tmp"))
    assert settings.crm_webhook_secret == "s3cret"
    assert settings.describe()["crm_webhook_secret"] == "***"
    assert Settings.from_env({}, cwd=Path("/tmp")).crm_webhook_secret is None
