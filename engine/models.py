"""Imports every table so ``Base.metadata`` is complete (for Alembic and for tests)."""

from engine.attachments.models import Attachment
from engine.audit.models import AuditEntry
from engine.db import Base
from engine.forms.models import FormDefinition
from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit, Post, User, user_post
from engine.jobs.models import Job, TimerSchedule, WorkerHeartbeat
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.sla.models import CalendarDay, CalendarWindows, CalendarYear
from engine.tasks.models import HumanTask

metadata = Base.metadata

__all__ = [
    "Attachment",
    "AuditEntry",
    "Base",
    "CalendarDay",
    "CalendarWindows",
    "CalendarYear",
    "FormDefinition",
    "HistoryEvent",
    "HumanTask",
    "Incident",
    "Job",
    "OrgUnit",
    "Post",
    "ProcessDefinition",
    "ProcessInstance",
    "TimerSchedule",
    "User",
    "WorkerHeartbeat",
    "metadata",
    "user_post",
]
