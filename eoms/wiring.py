"""Building the process engine the settings describe (used by the CLI and the web app)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.db import utcnow
from engine.jobs.service import JobPolicy
from engine.sla.calendar import parse_windows
from eoms.settings import Settings
from handlers import build_registry
from handlers.network import SimulatedNetworkManager


def build_engine(settings: Settings, clock: Callable[[], datetime] = utcnow) -> ProcessEngine:
    """The process engine as the settings describe it (handlers, SMS backend, work windows, job lease), on
    ``clock`` (the demo sets its stories in the past)."""
    windows = parse_windows(settings.work_windows)
    registry = build_registry(
        sms_backend=settings.sms_backend, sms_http_url=settings.sms_http_url, sms_http_token=settings.sms_http_token,
        crm_webhook_url=settings.crm_webhook_url, crm_webhook_token=settings.crm_webhook_token,
        crm_webhook_secret=settings.crm_webhook_secret,
        network_manager=SimulatedNetworkManager(failure_rate=settings.network_sim_failure_rate),
        network_max_attempts=settings.network_max_attempts, plugins=settings.plugins,
    )
    return ProcessEngine(
        registry, clock=clock, work_windows=windows,
        job_policy=JobPolicy(lease=timedelta(seconds=settings.job_lease_seconds)),
        attachments=AttachmentPolicy(Path(settings.storage_dir), max_bytes=settings.max_upload_mb * 1024 * 1024),
    )
