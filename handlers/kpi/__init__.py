"""KPI recorder: lifecycle listeners that write the facts statistics need, and add them to their day's rollup,
in the same transaction as the completion they describe."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.history.models import HistoryEvent
from engine.registry import HandlerRegistry, ListenerContext
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from handlers.kpi import rollup
from handlers.kpi.models import KpiOrder, KpiStep


def register(registry: HandlerRegistry) -> None:
    def step_done(ctx: ListenerContext, row: HumanTask) -> None:
        done = row.completed_at or ctx.now
        paused = timedelta(seconds=row.paused_seconds or 0)
        working = ctx.sla.counted_time(ctx.session, row.calendar, row.created_at, done)  # as its deadline counts
        transfers = ctx.session.scalar(select(func.count()).select_from(HistoryEvent).where(
            HistoryEvent.human_task_id == row.id, HistoryEvent.event_type == "task_transferred")) or 0
        fact = KpiStep(
            human_task_id=row.id, instance_id=row.instance_id, process_key=row.process_key,
            business_key=row.business_key, node_id=row.node_id, node_name=row.node_name, post_id=row.post_id,
            org_unit_id=row.org_unit_id, user_id=row.completed_by_id, created_at=row.created_at, completed_at=done,
            due_at=row.due_at, duration_seconds=int((done - row.created_at).total_seconds()),
            working_seconds=max(0, int((working - paused).total_seconds())), paused_seconds=int(paused.total_seconds()),
            on_time=None if row.due_at is None else done <= row.due_at, transfers=transfers,
        )
        ctx.session.add(fact)
        rollup.add_step(ctx.session, fact)

    def order_done(ctx: ListenerContext, instance: ProcessInstance) -> None:
        session = ctx.session
        session.flush()
        steps = session.scalars(select(KpiStep).where(KpiStep.instance_id == instance.id)).all()
        events = session.scalars(select(HistoryEvent).where(
            HistoryEvent.instance_id == instance.id,
            HistoryEvent.event_type.in_(("task_returned", "task_transferred", "task_created")))).all()
        returns = sum(1 for e in events if e.event_type == "task_returned" or
                      (e.event_type == "task_created" and (e.payload or {}).get("rework")))
        transfers = sum(1 for e in events if e.event_type == "task_transferred")
        ended = instance.ended_at or ctx.now
        overdue = sum(1 for s in steps if s.on_time is False)
        fact = KpiOrder(
            instance_id=instance.id, process_key=instance.process_key, business_key=instance.business_key,
            org_unit_id=instance.org_unit_id, started_at=instance.started_at, ended_at=ended,
            duration_seconds=int((ended - instance.started_at).total_seconds()), steps=len(steps),
            returns=returns, transfers=transfers,
            overdue_steps=overdue, on_time=overdue == 0,
        )
        session.add(fact)
        rollup.add_order(session, fact)

    registry.on("task_completed", step_done)
    registry.on("instance_completed", order_done)
