"""Pages of query results, shared by every list the engine serves (tasks, instances)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from engine.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE_SIZE = 200


@dataclass
class Page(Generic[T]):
    """One page of ``total`` results."""

    items: Sequence[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def check_page(page: int, page_size: int, sort: str | None, sorts: Sequence[str]) -> None:
    """Refuse a page number, page size or sort key out of range, naming the field."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and page size 1-{MAX_PAGE_SIZE}", {"page": "out of range"})
    if sort is not None and sort not in sorts:
        raise InvalidInput(f"sort '{sort}' is not one of {', '.join(sorts)}", {"sort": "unknown"})
