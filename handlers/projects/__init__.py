"""工程项目 handlers: ``project.register`` (the 项目立项 order's project, waiting for approval) and
``project.decide`` (项目审核's outcome)."""

from __future__ import annotations

from typing import Any

from engine.registry import HandlerContext, HandlerRegistry
from engine.runtime.models import ProcessInstance
from handlers.projects import service


def register(registry: HandlerRegistry) -> None:
    def register_project(ctx: HandlerContext) -> dict[str, Any]:
        """Register the project the start form describes (status 审批中)."""
        instance = ctx.session.get(ProcessInstance, ctx.instance_id)
        project = service.register(ctx.session, ctx.data, code=ctx.business_key, org_unit_id=ctx.org_unit_id,
                                   manager_id=instance.started_by_id if instance else None,
                                   instance_id=ctx.instance_id, now=ctx.now)
        return {"project_id": project.id, "code": project.code}

    def decide_project(ctx: HandlerContext, project_id: int, approved: bool) -> dict[str, Any]:
        """Record 项目审核's outcome: the project becomes active (立项) or rejected."""
        project = service.decide(ctx.session, int(project_id), bool(approved), ctx.now)
        return {"status": project.status}

    registry.register("project.register", register_project)
    registry.register("project.decide", decide_project)
