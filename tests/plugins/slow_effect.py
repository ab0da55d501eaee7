"""Job kind ``test.slow_effect``: writes its effect, then sleeps before returning, so that a worker killed with
SIGKILL dies after the write and before the commit.

The effect is a row in ``sms_message`` keyed by the job's idempotency key (a unique column: an effect that
survived a crashed attempt would make the next attempt fail). After the write is flushed the handler appends
``<pid> <attempt>`` to the file named by ``payload["marker"]``, so a test knows the write happened. How long it
then sleeps comes from the worker's environment (``SLOW_EFFECT_SLEEP_SECONDS``, default 0), so one worker of a
test can be slow and the next one quick.
"""

from __future__ import annotations

import os
import time
from typing import Any

from engine.registry import HandlerRegistry, JobContext
from handlers.sms.models import SmsMessage

KIND = "test.slow_effect"
SLEEP_ENV = "SLOW_EFFECT_SLEEP_SECONDS"


def slow_effect(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Write the effect row, report it to the marker file, sleep, and return which process did it."""
    ctx.session.add(SmsMessage(idempotency_key=ctx.idempotency_key, template="slow_effect", phone="",
                               text=f"effect of job {ctx.job_id}", backend="test", status="stored",
                               job_id=ctx.job_id, created_at=ctx.now))
    ctx.session.flush()
    with open(payload["marker"], "a", encoding="utf-8") as marker:
        marker.write(f"{os.getpid()} {ctx.attempt}\n")
    time.sleep(float(os.environ.get(SLEEP_ENV) or 0))
    return {"pid": os.getpid(), "attempt": ctx.attempt}


def register(registry: HandlerRegistry) -> None:
    registry.register_job(KIND, slow_effect)
