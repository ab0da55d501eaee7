"""What the diagram of an instance shows: per step whether it is done or current, how often it ran, how long
it took, and time left or overdue for the open ones; and the heatmap of a process version."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.history.models import HistoryEvent
from engine.tasks.models import HumanTask
from webapp.stats.queries import StatsFilter, step_stats


def instance_overlays(session: Session, instance_id: int, now: datetime) -> dict[str, Any]:
    """``{node_id: {state, runs, total_seconds, mean_seconds, open: [...]}}`` for the bpmn-js overlays."""
    nodes: dict[str, dict[str, Any]] = defaultdict(lambda: {"state": "done", "runs": 0, "total_seconds": 0.0,
                                                            "open": []})
    for row in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)):
        node = nodes[row.node_id]
        node["runs"] += 1
        if row.status == "ready":
            node["state"] = "overdue" if row.is_overdue(now) else "current"
            node["open"].append({
                "task_id": row.id, "due_at": row.due_at.isoformat() if row.due_at else None,
                "seconds_left": (row.due_at - now).total_seconds() if row.due_at else None,
                "suspended": row.suspended_at is not None,
            })
        elif row.completed_at is not None:
            node["total_seconds"] += (row.completed_at - row.created_at).total_seconds()
    automatic = session.execute(select(HistoryEvent.node_id).where(
        HistoryEvent.instance_id == instance_id, HistoryEvent.event_type.in_(("step_completed", "timer_fired"))))
    for (node_id,) in automatic:
        if node_id:
            nodes[node_id]["runs"] += 1
    for node in nodes.values():
        finished = node["runs"] - len(node["open"])
        node["mean_seconds"] = node["total_seconds"] / finished if finished and node["total_seconds"] else None
    return dict(nodes)


def heatmap(session: Session, definition_id: int, process_key: str, start: datetime, end: datetime,
            org_path: str | None) -> dict[str, Any]:
    """Per step of one process version: count, mean and p90 handling time, overdue rate, and a heat level 0-4
    by mean duration relative to the slowest step."""
    rows = step_stats(session, StatsFilter(start=start, end=end, org_path=org_path, process_key=process_key),
                      definition_id=definition_id)
    slowest = max((r.mean_seconds for r in rows), default=0.0)
    return {r.node_id: {"name": r.node_name, "count": r.count, "mean_seconds": r.mean_seconds,
                        "p90_seconds": r.p90_seconds, "overdue_rate": r.overdue_rate,
                        "heat": min(4, int(5 * r.mean_seconds / slowest)) if slowest else 0} for r in rows}
