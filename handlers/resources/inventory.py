"""Inventory operations. Allocation never hands one resource to two work orders: on PostgreSQL the free row
is taken with ``FOR UPDATE SKIP LOCKED`` and re-checked by ``UPDATE … WHERE status = 'free'``."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from handlers.resources.models import Circuit, Resource

KINDS = ("port", "vlan", "ip")


def add_resources(session: Session, region: str, kind: str, values: Iterable[str], *, reserved: bool = False) -> int:
    """Add resources; values already present are skipped. Returns how many were added. ``reserved`` ones are
    never taken by automatic allocation, only named by a resource dispatcher (人工调度)."""
    if kind not in KINDS:
        raise InvalidInput(f"resource kind '{kind}' is not one of {', '.join(KINDS)}", {"kind": "unknown"})
    existing = set(session.scalars(select(Resource.value).where(Resource.region == region, Resource.kind == kind)))
    added = 0
    for value in values:
        value = str(value).strip()
        _check_value(kind, value)
        if value and value not in existing:
            session.add(Resource(region=region, kind=kind, value=value, status="reserved" if reserved else "free",
                                 reserved=reserved))
            existing.add(value)
            added += 1
    session.flush()
    return added


def _check_value(kind: str, value: str) -> None:
    if kind == "vlan" and not (value.isdigit() and 1 <= int(value) <= 4094):
        raise InvalidInput(f"VLAN '{value}' is not a number from 1 to 4094", {"value": "bad vlan"})
    if kind == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InvalidInput(f"'{value}' is not an IP address", {"value": "bad ip"}) from None


def free_count(session: Session, region: str, kind: str) -> int:
    return session.scalar(select(func.count()).select_from(Resource).where(
        Resource.region == region, Resource.kind == kind, Resource.status == "free")) or 0


def _take_one(session: Session, region: str, kind: str, business_key: str, instance_id: int,
              now: datetime) -> Resource | None:
    postgres = session.get_bind().dialect.name == "postgresql"
    for _ in range(5):
        query = (select(Resource).where(Resource.region == region, Resource.kind == kind, Resource.status == "free")
                 .order_by(Resource.id).limit(1))
        if postgres:
            query = query.with_for_update(skip_locked=True)
        candidate = session.scalar(query)
        if candidate is None:
            return None
        taken = session.execute(
            update(Resource).where(Resource.id == candidate.id, Resource.status == "free")
            .values(status="allocated", business_key=business_key, instance_id=instance_id, allocated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken == 1:
            session.refresh(candidate)
            return candidate
    return None


def allocate(session: Session, region: str, kinds: Sequence[str], *, business_key: str, instance_id: int,
             now: datetime) -> dict[str, str] | None:
    """One free resource of each kind for a work order, all or none (None when any kind has none left)."""
    taken: dict[str, str] = {}
    with session.begin_nested() as savepoint:
        for kind in kinds:
            found = _take_one(session, region, kind, business_key, instance_id, now)
            if found is None:
                savepoint.rollback()
                return None
            taken[kind] = found.value
    return taken


def assign(session: Session, region: str, wanted: dict[str, str], *, business_key: str, instance_id: int,
           now: datetime) -> tuple[dict[str, str] | None, str]:
    """Take the named resources (人工调度); returns them, or None and why not."""
    with session.begin_nested() as savepoint:
        for kind, value in wanted.items():
            taken = session.execute(
                update(Resource).where(Resource.region == region, Resource.kind == kind, Resource.value == str(value),
                                       Resource.status.in_(("free", "reserved")))
                .values(status="allocated", business_key=business_key, instance_id=instance_id, allocated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken != 1:
                savepoint.rollback()
                return None, f"{kind} {value} is not a free or reserved resource in {region}"
    return dict(wanted), ""


def release(session: Session, instance_id: int) -> int:
    """Give back everything allocated to an instance (a cancelled order): reserved resources become reserved
    again, the others free."""
    return session.execute(
        update(Resource).where(Resource.instance_id == instance_id)
        .values(status=case((Resource.reserved, "reserved"), else_="free"), business_key=None, instance_id=None,
                allocated_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def register_circuits(session: Session, circuits: list[dict[str, Any]], *, business_key: str, instance_id: int,
                      customer: str, now: datetime) -> int:
    """Replace the circuits of a work order with ``circuits``; a circuit id owned by another order is an error."""
    ids = [str(c.get("circuit_id", "")).strip() for c in circuits]
    if not all(ids) or len(set(ids)) != len(ids):
        raise InvalidInput("every circuit needs its own circuit id", {"circuits": "missing or repeated circuit id"})
    owned = session.scalars(select(Circuit).where(Circuit.circuit_id.in_(ids),
                                                  Circuit.business_key != business_key)).all()
    if owned:
        raise InvalidInput(f"circuit {owned[0].circuit_id} is already registered to work order {owned[0].business_key}",
                           {"circuits": "already registered"})
    for old in session.scalars(select(Circuit).where(Circuit.business_key == business_key)):
        session.delete(old)
    session.flush()
    for item in circuits:
        vlan = item.get("vlan")
        session.add(Circuit(
            circuit_id=str(item["circuit_id"]).strip(), business_key=business_key, instance_id=instance_id,
            customer=customer, a_end=str(item.get("a_end", "")), z_end=str(item.get("z_end", "")),
            bandwidth=str(item.get("bandwidth", "")), port=str(item.get("port") or ""),
            vlan=int(vlan) if vlan not in (None, "") else None, registered_at=now,
        ))
    session.flush()
    return len(circuits)


def resources(session: Session, region: str | None = None) -> Sequence[Resource]:
    query = select(Resource).order_by(Resource.region, Resource.kind, Resource.id)
    if region:
        query = query.where(Resource.region == region)
    return session.scalars(query).all()
