"""运维成本 handlers: ``cost.register`` (the request, with the approval thresholds in force) and ``cost.decide``
(归档 or 驳回)."""

from __future__ import annotations

from typing import Any

from engine.registry import HandlerContext, HandlerRegistry
from engine.runtime.models import ProcessInstance
from handlers.costs import service


def register(registry: HandlerRegistry) -> None:
    def register_request(ctx: HandlerContext) -> dict[str, Any]:
        """Register the cost request of the start form; returns its id, the thresholds and its route."""
        instance = ctx.session.get(ProcessInstance, ctx.instance_id)
        request, limits = service.register(ctx.session, ctx.data, code=ctx.business_key, instance_id=ctx.instance_id,
                                           org_unit_id=ctx.org_unit_id,
                                           applicant_id=instance.started_by_id if instance else None, now=ctx.now)
        return {"request_id": request.id, "finance_threshold": float(limits["finance"]),
                "leader_threshold": float(limits["leader"]), "route": request.route}

    def decide_request(ctx: HandlerContext, request_id: int, approved: bool) -> dict[str, Any]:
        """Archive an approved request (its amount counts as spent) or record the rejection."""
        return {"status": service.decide(ctx.session, int(request_id), bool(approved), ctx.now).status}

    registry.register("cost.register", register_request)
    registry.register("cost.decide", decide_request)
