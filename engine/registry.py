"""The handler registry: service tasks name a handler (``sms.send``, ``resource.allocate``, …).

Handlers are plain callables ``handler(ctx, **params)`` registered by name (the ``handlers`` package builds the
registry the application uses). Whatever a handler returns is stored in the service task's result variable;
whatever it raises becomes an incident on the instance.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import ConfigurationError
from engine.sla.notices import NOTICE_EVENTS
from engine.sla.service import SlaService


@dataclass(frozen=True)
class HandlerContext:
    """What a handler may know about the step it runs for. ``data`` is a copy of the task data."""

    session: Session
    instance_id: int
    process_key: str
    business_key: str
    org_unit_id: int
    node_id: str
    step_id: str
    data: Mapping[str, Any]
    now: datetime


Handler = Callable[..., Any]


@dataclass(frozen=True)
class HandlerInfo:
    name: str
    func: Handler
    description: str


@dataclass(frozen=True)
class JobContext:
    """What a job handler gets besides its payload: the session (its writes commit with the job's success),
    the job's id, kind, idempotency key and attempt number, and the time."""

    session: Session
    job_id: int
    kind: str
    idempotency_key: str
    attempt: int
    instance_id: int | None
    now: datetime


# lifecycle events listeners may subscribe to; the notice events carry an ``engine.sla.notices.Notice``
LISTENER_EVENTS = ("task_completed", "instance_completed", "instance_cancelled", *NOTICE_EVENTS)


@dataclass(frozen=True)
class ListenerContext:
    """What a lifecycle listener gets: the session (its writes are part of the same transaction), the time, and
    the engine's working calendars."""

    session: Session
    now: datetime
    sla: SlaService


class HandlerRegistry:
    """Named service-task handlers, job handlers and lifecycle listeners."""

    def __init__(self) -> None:
        self._handlers: dict[str, HandlerInfo] = {}
        self._jobs: dict[str, HandlerInfo] = {}
        self._listeners: dict[str, list[Callable[..., Any]]] = {event: [] for event in LISTENER_EVENTS}

    def on(self, event: str, func: Callable[..., Any]) -> None:
        """Call ``func(ctx, subject)`` inside the transaction whenever ``event`` happens (a completed task row,
        a completed or cancelled instance). An exception fails the whole operation."""
        if event not in self._listeners:
            raise ConfigurationError(f"unknown lifecycle event '{event}' (known: {', '.join(LISTENER_EVENTS)})")
        self._listeners[event].append(func)

    def emit(self, event: str, ctx: ListenerContext, subject: Any) -> None:
        for func in self._listeners[event]:
            func(ctx, subject)

    def register_job(self, kind: str, func: Callable[[JobContext, dict[str, Any]], Any],
                     description: str = "") -> None:
        """Register the code that carries out jobs of ``kind`` (``func(ctx, payload)``)."""
        if kind in self._jobs:
            raise ConfigurationError(f"job kind '{kind}' is already registered")
        self._jobs[kind] = HandlerInfo(kind, func, description or (func.__doc__ or "").strip())

    def run_job(self, kind: str, ctx: JobContext, payload: dict[str, Any]) -> Any:
        info = self._jobs.get(kind)
        if info is None:
            raise ConfigurationError(f"no job handler for kind '{kind}' is registered")
        return info.func(ctx, payload)

    def register(self, name: str, func: Handler, description: str = "") -> None:
        if name in self._handlers:
            raise ConfigurationError(f"handler '{name}' is already registered")
        self._handlers[name] = HandlerInfo(name, func, description or (func.__doc__ or "").strip())

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def describe(self) -> list[dict[str, Any]]:
        """Every service-task handler with its description and named parameters (for the designer)."""
        described = []
        for name in self.names():
            info = self._handlers[name]
            params = []
            for param in list(inspect.signature(info.func).parameters.values())[1:]:  # after the context
                if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                    params.append({"name": param.name, "required": param.default is param.empty})
            described.append({"name": name, "doc": info.description, "params": params})
        return described

    def call(self, name: str, ctx: HandlerContext, params: dict[str, Any]) -> Any:
        """Run handler ``name``; an unknown name is an error, never a silent no-op."""
        info = self._handlers.get(name)
        if info is None:
            raise ConfigurationError(f"no handler named '{name}' is registered")
        return info.func(ctx, **params)
