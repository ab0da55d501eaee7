"""Imports every table so ``Base.metadata`` is complete (for Alembic and for tests)."""

from engine.db import Base
from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit, Post, User, user_post
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask

metadata = Base.metadata

__all__ = [
    "Base", "HistoryEvent", "HumanTask", "Incident", "OrgUnit", "Post", "ProcessDefinition", "ProcessInstance",
    "User", "metadata", "user_post",
]
