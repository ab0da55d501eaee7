"""One page of a query's rows with the count of them all (what a TMF list answers with X-Total-Count)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def counted_page(session: Session, query: Select[Any], offset: int, limit: int, *order: Any) -> tuple[int, list[Any]]:
    """``(total, rows)``: how many rows ``query`` has, and those from ``offset`` on in ``order`` (≤ ``limit``)."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return total, list(session.scalars(query.order_by(*order).offset(offset).limit(limit)))
