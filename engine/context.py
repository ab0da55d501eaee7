"""What every engine service shares: handlers, the spec cache, the codec, the clock and the limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.identity.labels import Labels
from engine.identity.lookup import PostLookup
from engine.registry import HandlerRegistry, ListenerContext
from engine.repository.cache import SpecCache
from engine.sla.service import SlaService
from engine.spiff.serializer import WorkflowCodec


@dataclass(frozen=True)
class EngineLimits:
    """Tunable limits. Compaction keeps loops fast; ``max_tree_tasks`` stops a runaway instance loudly."""

    compaction_threshold: int = 300
    compaction_keep: int = 60
    finished_keep: int = 2  # links of the finished chain a completed instance keeps: the end event it reached and after
    max_tree_tasks: int = 20_000
    max_automatic_steps: int = 20_000


@dataclass
class EngineContext:
    """Shared, long-lived parts of a process engine (one per process)."""

    handlers: HandlerRegistry
    clock: Callable[[], datetime] = utcnow
    limits: EngineLimits = field(default_factory=EngineLimits)
    codec: WorkflowCodec = field(default_factory=WorkflowCodec)
    specs: SpecCache = field(default_factory=SpecCache)
    sla: SlaService = field(default_factory=SlaService)
    posts: PostLookup = field(default_factory=PostLookup)
    labels: Labels = field(default_factory=Labels)
    # where an instance's thrown signals and messages go when it is saved (the runtime service, wired by core)
    deliver: Callable[[Session, Any, list[Any]], None] | None = None

    def emit(self, event: str, session: Session, now: datetime, subject: object) -> None:
        """Call the lifecycle listeners of ``event`` inside the caller's transaction."""
        self.handlers.emit(event, ListenerContext(session, now, self.sla), subject)
