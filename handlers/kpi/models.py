"""The facts 考核 statistics are computed from: one row per finished step and per finished work order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class KpiStep(Base):
    """A completed user task: who, where, how long (wall and working time), on time or not."""

    __tablename__ = "kpi_step"
    __table_args__ = (
        Index("ix_kpi_step_completed", "completed_at"),
        # each flow's and each step's working times in order, with what the statistics filter by: an exact p90
        # is read from the top of these (webapp/stats/queries.p90_from_top)
        Index("ix_kpi_step_flow_working", "process_key", "working_seconds", "completed_at", "org_unit_id"),
        Index("ix_kpi_step_step_working", "process_key", "node_id", "working_seconds", "completed_at",
              "org_unit_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str] = mapped_column(String(200))
    node_id: Mapped[str] = mapped_column(String(200))
    node_name: Mapped[str] = mapped_column(String(300))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int] = mapped_column(Integer)
    working_seconds: Mapped[int] = mapped_column(Integer)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    transfers: Mapped[int] = mapped_column(Integer, default=0)


class KpiOrder(Base):
    """A finished work order: its span, how many steps, returns and transfers, and whether every step with a
    limit met it."""

    __tablename__ = "kpi_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    business_key: Mapped[str] = mapped_column(String(200))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    returns: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(Integer)
    overdue_steps: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[bool] = mapped_column(Boolean)


class KpiStepDay(Base):
    """The step facts summed per Beijing day, flow, step and unit, kept up as each fact is written
    (``handlers.kpi.rollup``): what the statistics add up over long ranges. Percentiles and the views filtered
    by work order still read the facts."""

    __tablename__ = "kpi_step_day"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # Beijing days since 1970-01-01
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), primary_key=True)
    node_name: Mapped[str] = mapped_column(String(300))  # the greatest of the facts' names (as their max())
    steps: Mapped[int] = mapped_column(Integer)
    with_limit: Mapped[int] = mapped_column(Integer)  # steps that had a deadline
    on_time: Mapped[int] = mapped_column(Integer)
    working_seconds: Mapped[int] = mapped_column(BigInteger)  # their sum
    transfers: Mapped[int] = mapped_column(Integer)


class KpiOrderDay(Base):
    """The finished work orders summed per Beijing day, flow and unit, kept up as each order's fact is written."""

    __tablename__ = "kpi_order_day"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    returns: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(Integer)


class KpiDefinition(Base):
    """考核指标: a measure over the steps of a flow (or every flow) and one step (or every step), with its target
    and weight, for the posts and units it applies to (empty: everyone)."""

    __tablename__ = "kpi_definition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    process_key: Mapped[str] = mapped_column(String(200), default="")  # "" every flow
    node_id: Mapped[str] = mapped_column(String(200), default="")  # "" every step of the flow
    measure: Mapped[str] = mapped_column(String(30))
    target: Mapped[float] = mapped_column(Float)
    weight: Mapped[int] = mapped_column(Integer, default=10)
    post_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # each with the units below it
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KpiMonth(Base):
    """A closed assessment month: its figures are the stored ``kpi_result`` rows and no longer change."""

    __tablename__ = "kpi_month"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-03 (Beijing time)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class KpiResult(Base):
    """One figure of a closed month: a definition's value for a person, a post or a unit."""

    __tablename__ = "kpi_result"
    __table_args__ = (Index("ix_kpi_result_month", "month", "subject_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(ForeignKey("kpi_month.month", ondelete="CASCADE"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("kpi_definition.id"))
    subject_type: Mapped[str] = mapped_column(String(10))  # user | post | unit
    subject_id: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[int] = mapped_column(Integer)
    steps: Mapped[list[int]] = mapped_column(JSON)  # the kpi_step ids behind the figure (drill-down)
