"""Settings come from ``EOMS_*`` environment variables, read once at the edge (CLI, app factory)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Every setting EOMS reads; the README's settings table documents the same names."""

    database_url: str
    storage_dir: str
    sms_backend: str = "outbox"
    sms_http_url: str | None = None
    sms_http_token: str | None = None
    idle_logout_seconds: int = 60
    notify_poll_seconds: int = 20
    work_windows: str = "08:30-12:00,13:30-17:30"
    worker_tick_seconds: float = 0.5
    job_lease_seconds: int = 60
    plugins: tuple[str, ...] = ()
    crm_webhook_url: str | None = None
    crm_webhook_token: str | None = None
    crm_webhook_secret: str | None = None
    alarm_ticket_severities: str = "critical,major"
    alarm_vip_only: bool = False
    network_sim_failure_rate: float = 0.0
    network_max_attempts: int = 3
    max_upload_mb: int = 20
    secret_key: str | None = None
    secure_cookies: bool = False
    node_modules_dir: str = "node_modules"
    login_max_failures: int = 5
    proxy_hops: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``). ``cwd`` holds the default ``instance/eoms.db``
        (default: the current folder); the default storage folder is beside the SQLite file, or — for another
        database — ``instance/storage`` under ``cwd`` or else the checkout, never the current folder."""
        env = os.environ if env is None else env
        database_url = env.get("EOMS_DATABASE_URL") or f"sqlite:///{(cwd or Path.cwd()) / 'instance' / 'eoms.db'}"
        values = {
            "database_url": database_url,
            "storage_dir": env.get("EOMS_STORAGE_DIR") or str(default_storage(database_url, cwd or PROJECT_ROOT)),
            "sms_backend": env.get("EOMS_SMS_BACKEND") or "outbox",
            "sms_http_url": env.get("EOMS_SMS_HTTP_URL") or None,
            "sms_http_token": env.get("EOMS_SMS_HTTP_TOKEN") or None,
            "idle_logout_seconds": _int(env, "EOMS_IDLE_LOGOUT_SECONDS", 60),
            "notify_poll_seconds": _int(env, "EOMS_NOTIFY_POLL_SECONDS", 20),
            "work_windows": env.get("EOMS_WORK_WINDOWS") or "08:30-12:00,13:30-17:30",
            "worker_tick_seconds": _float(env, "EOMS_WORKER_TICK_SECONDS", 0.5),
            "job_lease_seconds": _int(env, "EOMS_JOB_LEASE_SECONDS", 60),
            "plugins": tuple(p.strip() for p in (env.get("EOMS_PLUGINS") or "").split(",") if p.strip()),
            "crm_webhook_url": env.get("EOMS_CRM_WEBHOOK_URL") or None,
            "crm_webhook_token": env.get("EOMS_CRM_WEBHOOK_TOKEN") or None,
            "crm_webhook_secret": env.get("EOMS_CRM_WEBHOOK_SECRET") or None,
            "alarm_ticket_severities": (env.get("EOMS_ALARM_TICKET_SEVERITIES") or "critical,major").lower(),
            "alarm_vip_only": (env.get("EOMS_ALARM_VIP_ONLY") or "").lower() in ("1", "true", "yes"),
            "network_sim_failure_rate": _float(env, "EOMS_NETWORK_SIM_FAILURE_RATE", 0.0),
            "network_max_attempts": _int(env, "EOMS_NETWORK_MAX_ATTEMPTS", 3),
            "max_upload_mb": _int(env, "EOMS_MAX_UPLOAD_MB", 20),
            "secret_key": env.get("EOMS_SECRET_KEY") or None,
            "secure_cookies": (env.get("EOMS_SECURE_COOKIES") or "").lower() in ("1", "true", "yes"),
            "node_modules_dir": env.get("EOMS_NODE_MODULES") or str(PROJECT_ROOT / "node_modules"),
            "login_max_failures": _int(env, "EOMS_LOGIN_MAX_FAILURES", 5),
            "proxy_hops": _int(env, "EOMS_PROXY_HOPS", 0),
        }
        return cls(**values)

    def ensure_dirs(self) -> None:
        """Create the folders a SQLite file and stored attachments need."""
        db_file = sqlite_file(self.database_url)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        Path(self.storage_dir).mkdir(parents=True, exist_ok=True)

    def describe(self) -> dict[str, object]:
        """Every setting, secrets masked."""
        return {f.name: ("***" if f.name.endswith(("token", "secret", "secret_key")) and getattr(self, f.name)
                         else getattr(self, f.name))
                for f in fields(self)}


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///path``, query string dropped); None for other databases and
    in-memory SQLite."""
    if not database_url.startswith("sqlite:///"):
        return None
    path = database_url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def default_storage(database_url: str, base: Path) -> Path:
    """Where uploads go when ``EOMS_STORAGE_DIR`` is unset, as an absolute path that does not change with the
    current folder: ``storage`` beside the SQLite file, else ``instance/storage`` under ``base`` (the checkout)."""
    db_file = sqlite_file(database_url)
    folder = db_file.resolve().parent if db_file is not None else base.resolve() / "instance"
    return folder / "storage"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
