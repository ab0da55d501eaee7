"""The CRM adapter: order events (maintenance data complete, order completed, cancelled …) go to CRM as
webhooks through durable jobs, once per idempotency key. Without ``EOMS_CRM_WEBHOOK_URL`` they are kept in
the ledger only; with ``EOMS_CRM_WEBHOOK_SECRET`` each body is signed (``X-Hub-Signature-256``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from sqlalchemy import select

from engine.jobs.service import enqueue
from engine.registry import HandlerContext, HandlerRegistry, JobContext, ListenerContext
from engine.runtime.models import ProcessInstance
from handlers.crm.models import CrmMessage
from handlers.tmf.signing import HEADER as SIGNATURE_HEADER
from handlers.tmf.signing import sign

JOB_KIND = "crm.webhook"
CRM_ORDER_PROCESSES = frozenset({"provisioning"})  # orders that came from CRM: CRM hears of their end
EVENTS = ("maintenance_complete", "order_completed", "order_rejected", "order_cancelled")


class CrmDeliveryError(Exception):
    pass


def _post(url: str, token: str | None, body: dict[str, Any], key: str, secret: str | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if secret:
        headers[SIGNATURE_HEADER] = sign(data, secret)  # over the exact bytes sent
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            if not 200 <= response.status < 300:
                raise CrmDeliveryError(f"CRM answered {response.status}")
    except urllib.error.HTTPError as err:
        raise CrmDeliveryError(f"CRM answered {err.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise CrmDeliveryError(f"CRM unreachable: {err}") from None


def register(registry: HandlerRegistry, webhook_url: str | None = None, token: str | None = None,
             secret: str | None = None) -> None:
    def notify_step(ctx: HandlerContext, event: str, **fields: Any) -> dict[str, Any]:
        """Queue a CRM callback for this work order."""
        if event not in EVENTS:
            raise ValueError(f"CRM event '{event}' is not one of {', '.join(EVENTS)}")
        body = {"event": event, "order": ctx.business_key, "process": ctx.process_key,
                **{k: v for k, v in fields.items() if v is not None}}
        job = enqueue(ctx.session, JOB_KIND, body, f"crm:{ctx.instance_id}:{ctx.step_id}", now=ctx.now,
                      instance_id=ctx.instance_id)
        return {"job_id": job.id}

    def deliver(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        if ctx.session.scalar(select(CrmMessage.id).where(CrmMessage.idempotency_key == ctx.idempotency_key)):
            return {"repeat": True}
        if webhook_url:
            _post(webhook_url, token, payload, ctx.idempotency_key, secret)
        ctx.session.add(CrmMessage(idempotency_key=ctx.idempotency_key, event=payload["event"],
                                   business_key=payload["order"], instance_id=ctx.instance_id, payload=payload,
                                   status="sent" if webhook_url else "stored", created_at=ctx.now))
        ctx.session.flush()
        return {"sent": bool(webhook_url)}

    def cancelled(ctx: ListenerContext, instance: ProcessInstance) -> None:
        """A cancelled order CRM already heard about is reported cancelled too."""
        told = ctx.session.scalar(select(CrmMessage.id).where(CrmMessage.instance_id == instance.id).limit(1))
        if told is None and instance.process_key not in CRM_ORDER_PROCESSES:
            return
        enqueue(ctx.session, JOB_KIND, {"event": "order_cancelled", "order": instance.business_key,
                                        "process": instance.process_key, "reason": instance.end_reason},
                f"crm:{instance.id}:cancelled", now=ctx.now, instance_id=instance.id)

    registry.register("crm.notify", notify_step)
    registry.register_job(JOB_KIND, deliver)
    registry.on("instance_cancelled", cancelled)
