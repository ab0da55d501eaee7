"""Work-order numbers made up for orders started without one (engine/runtime/numbering.py, which the pages and
the integration API share)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from flask import Flask

from engine.runtime import numbering
from engine.runtime.numbering import new_business_key
from tests.conftest import Database
from tests.web.test_task_pages import start_fault

MOMENT = datetime(2026, 3, 2, 2, 30, 15, tzinfo=UTC)  # 10:30:15 in Beijing


def test_a_number_has_the_flow_prefix_and_beijing_time(web_app: Flask, db: Database):
    with db.sessions() as s:
        assert re.fullmatch(r"GZ20260302103015\d{3}", new_business_key(s, "aftersales_fault", MOMENT))
        assert new_business_key(s, "provisioning", MOMENT).startswith("KT20260302103015")
        assert new_business_key(s, "some_site_flow", MOMENT).startswith("WO20260302103015")


def test_a_number_already_taken_is_not_given_again(web_app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch):
    start_fault(web_app, db, key="GZ20260302103015007")
    tails = itertools.chain([7, 7], itertools.repeat(8))
    monkeypatch.setattr(numbering.secrets, "randbelow", lambda _n: next(tails))
    with db.sessions() as s:
        assert new_business_key(s, "aftersales_fault", MOMENT) == "GZ20260302103015008"
