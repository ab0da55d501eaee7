"""The handler registry: service tasks name a handler (``sms.send``, ``resource.allocate``, …).

Handlers are plain callables ``handler(ctx, **params)`` registered by name (the ``handlers`` package builds the
registry the application uses). Whatever a handler returns is stored in the service task's result variable;
whatever it raises becomes an incident on the instance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import EomsError


@dataclass(frozen=True)
class HandlerContext:
    """What a handler may know about the step it runs for. ``data`` is a copy of the task data."""

    session: Session
    instance_id: int
    process_key: str
    business_key: str
    org_unit_id: int
    node_id: str
    data: Mapping[str, Any]
    now: datetime


Handler = Callable[..., Any]


@dataclass(frozen=True)
class HandlerInfo:
    name: str
    func: Handler
    description: str


class HandlerRegistry:
    """Named handlers; a name can be registered once."""

    def __init__(self) -> None:
        self._handlers: dict[str, HandlerInfo] = {}

    def register(self, name: str, func: Handler, description: str = "") -> None:
        if name in self._handlers:
            raise EomsError(f"handler '{name}' is already registered")
        self._handlers[name] = HandlerInfo(name, func, description or (func.__doc__ or "").strip())

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[HandlerInfo]:
        return iter(sorted(self._handlers.values(), key=lambda h: h.name))

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def call(self, name: str, ctx: HandlerContext, params: dict[str, Any]) -> Any:
        """Run handler ``name``; an unknown name is an error, never a silent no-op."""
        info = self._handlers.get(name)
        if info is None:
            raise EomsError(f"no handler named '{name}' is registered")
        return info.func(ctx, **params)
