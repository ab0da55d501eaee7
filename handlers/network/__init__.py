"""Network activation through the network-manager adapter, as a durable job whose outcome returns to the
instance as the message ``activation_result`` (``{"ok": …}``): retried with backoff, and after the last
failure the process takes its 人工开通 path."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.jobs.service import enqueue
from engine.registry import HandlerContext, HandlerRegistry, JobContext
from handlers.network.models import NetworkConfig

JOB_KIND = "network.activate"
REPLY_MESSAGE = "activation_result"


class NetworkError(Exception):
    """The network manager refused or could not be reached."""


class NetworkManager(Protocol):
    def activate(self, session: Session, key: str, business_key: str, instance_id: int | None,
                 config: dict[str, Any], now: Any) -> dict[str, Any]:
        """Apply ``config``; the same ``key`` twice applies it once."""


@dataclass
class SimulatedNetworkManager:
    """Records the configuration it was sent. ``failure_rate`` fails that share of calls at random;
    ``fail_first`` fails the first n calls (for tests and demonstrations of the retry path)."""

    failure_rate: float = 0.0
    fail_first: int = 0
    rng: random.Random = field(default_factory=random.Random)
    calls: int = 0

    def activate(self, session: Session, key: str, business_key: str, instance_id: int | None,
                 config: dict[str, Any], now: Any) -> dict[str, Any]:
        self.calls += 1
        existing = session.scalar(select(NetworkConfig).where(NetworkConfig.idempotency_key == key))
        if existing is not None:
            return {"config_id": existing.id, "repeat": True}
        if self.calls <= self.fail_first or self.rng.random() < self.failure_rate:
            raise NetworkError(f"network manager rejected the configuration of {business_key} (simulated)")
        row = NetworkConfig(idempotency_key=key, business_key=business_key, instance_id=instance_id,
                            config=config, applied_at=now)
        session.add(row)
        session.flush()
        return {"config_id": row.id}


def register(registry: HandlerRegistry, manager: NetworkManager, max_attempts: int = 3) -> None:
    def activate_step(ctx: HandlerContext, **config: Any) -> dict[str, Any]:
        """Queue the activation; the instance waits for the message ``activation_result``."""
        job = enqueue(ctx.session, JOB_KIND,
                      {"config": config, "business_key": ctx.business_key,
                       "reply": {"instance_id": ctx.instance_id, "message": REPLY_MESSAGE}},
                      f"network:{ctx.instance_id}:{ctx.step_id}", now=ctx.now, instance_id=ctx.instance_id,
                      max_attempts=max_attempts)
        return {"job_id": job.id}

    def activate_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        return manager.activate(ctx.session, ctx.idempotency_key, payload["business_key"], ctx.instance_id,
                                payload["config"], ctx.now)

    registry.register("network.activate", activate_step)
    registry.register_job(JOB_KIND, activate_job)
