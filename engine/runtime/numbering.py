"""Work-order numbers (工单号) for orders started without one: a prefix per flow, the Beijing date and time,
and a random three-digit tail, e.g. ``GZ20260302103015123``. Used by the pages and the integration API."""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.runtime.models import ProcessInstance

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFIXES = {"aftersales_fault": "GZ", "presales_demand": "SQ", "insale_implementation": "SZ", "workplan": "JH",
            "provisioning": "KT", "project_setup": "XM", "cost_request": "CB"}
DEFAULT_PREFIX = "WO"
TRIES = 20


def prefix_of(process_key: str) -> str:
    return PREFIXES.get(process_key, DEFAULT_PREFIX)


def candidate(process_key: str, now: datetime) -> str:
    """One number for ``now``: prefix, ``yyyymmddHHMMSS`` in Beijing, three random digits."""
    return f"{prefix_of(process_key)}{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.randbelow(1000):03d}"


def new_business_key(session: Session, process_key: str, now: datetime) -> str:
    """A number no work order carries yet (the start still refuses a duplicate that races in meanwhile)."""
    number = candidate(process_key, now)
    for _ in range(TRIES):
        if session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == number).limit(1)) is None:
            return number
        number = candidate(process_key, now)
    return number
