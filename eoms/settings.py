"""Settings come from ``EOMS_*`` environment variables, read once at the edge (CLI, app factory)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Every setting EOMS reads; the README's settings table documents the same names."""

    database_url: str
    storage_dir: str
    sms_backend: str = "outbox"
    idle_logout_seconds: int = 60

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        env = os.environ if env is None else env
        base = cwd or Path.cwd()
        instance = base / "instance"
        values = {
            "database_url": env.get("EOMS_DATABASE_URL") or f"sqlite:///{instance / 'eoms.db'}",
            "storage_dir": env.get("EOMS_STORAGE_DIR") or str(instance / "storage"),
            "sms_backend": env.get("EOMS_SMS_BACKEND") or "outbox",
            "idle_logout_seconds": _int(env, "EOMS_IDLE_LOGOUT_SECONDS", 60),
        }
        return cls(**values)

    def ensure_dirs(self) -> None:
        """Create the folders a SQLite file and stored attachments need."""
        if self.database_url.startswith("sqlite:///") and not self.database_url.endswith(":memory:"):
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        Path(self.storage_dir).mkdir(parents=True, exist_ok=True)

    def describe(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
