"""The resource inventory: ports, VLANs and IP addresses per region, and registered circuits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class Resource(Base):
    """One allocatable resource. ``status`` free (or reserved) → allocated (to one work order) → back to what it
    was on release: ``reserved`` remembers a resource kept for 人工调度 while it is allocated."""

    __tablename__ = "resource"
    __table_args__ = (
        UniqueConstraint("region", "kind", "value", name="uq_resource_region_kind_value"),
        Index("ix_resource_pick", "region", "kind", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))  # port | vlan | ip
    value: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="free")
    reserved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Circuit(Base):
    """A circuit entered by maintenance staff (售中实施) and registered in the inventory."""

    __tablename__ = "circuit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    circuit_id: Mapped[str] = mapped_column(String(100), unique=True)
    business_key: Mapped[str] = mapped_column(String(200), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    customer: Mapped[str] = mapped_column(String(200), default="")
    a_end: Mapped[str] = mapped_column(String(200))
    z_end: Mapped[str] = mapped_column(String(200))
    bandwidth: Mapped[str] = mapped_column(String(50))
    port: Mapped[str] = mapped_column(String(100), default="")
    vlan: Mapped[int | None] = mapped_column(Integer)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
