"""Resource inventory handlers: availability checks, allocation (automatic and by hand), circuits; resources
of a cancelled work order are released."""

from __future__ import annotations

from typing import Any

from engine.registry import HandlerContext, HandlerRegistry, ListenerContext
from engine.runtime.models import ProcessInstance
from handlers.resources import inventory


def register(registry: HandlerRegistry) -> None:
    def check(ctx: HandlerContext, kind: str, region: str) -> dict[str, Any]:
        """How many resources of a kind are free in a region (the automatic part of a resource check)."""
        kinds = [k.strip() for k in str(kind).split(",") if k.strip()]
        free = {k: inventory.free_count(ctx.session, str(region), k) for k in kinds}
        return {"available": all(n > 0 for n in free.values()), "free": free}

    def allocate(ctx: HandlerContext, region: str, kinds: str = "port,vlan,ip") -> dict[str, Any]:
        """Allocate one of each kind from the region's inventory; ok False sends the order to 人工调度."""
        wanted = [k.strip() for k in str(kinds).split(",") if k.strip()]
        taken = inventory.allocate(ctx.session, str(region), wanted, business_key=ctx.business_key,
                                   instance_id=ctx.instance_id, now=ctx.now)
        if taken is None:
            return {"ok": False, "reason": f"no free {'/'.join(wanted)} left in {region}"}
        return {"ok": True, **taken}

    def assign(ctx: HandlerContext, region: str, **wanted: Any) -> dict[str, Any]:
        """Take resources named by the resource dispatcher; ok False when one is not free."""
        values = {k: str(v) for k, v in wanted.items() if k in inventory.KINDS and v not in (None, "")}
        taken, why = inventory.assign(ctx.session, str(region), values, business_key=ctx.business_key,
                                      instance_id=ctx.instance_id, now=ctx.now)
        return {"ok": True, **taken} if taken is not None else {"ok": False, "reason": why}

    def register_circuits(ctx: HandlerContext, circuits: list[dict[str, Any]], customer: str = "") -> dict[str, Any]:
        """Register the order's circuits in the inventory (re-entering them replaces the earlier ones)."""
        count = inventory.register_circuits(ctx.session, list(circuits or []), business_key=ctx.business_key,
                                            instance_id=ctx.instance_id, customer=str(customer or ""), now=ctx.now)
        return {"registered": count}

    def release_on_cancel(ctx: ListenerContext, instance: ProcessInstance) -> None:
        inventory.release(ctx.session, instance.id)

    registry.register("resource.check", check)
    registry.register("resource.allocate", allocate)
    registry.register("resource.assign", assign)
    registry.register("inventory.register_circuits", register_circuits)
    registry.on("instance_cancelled", release_on_cancel)
