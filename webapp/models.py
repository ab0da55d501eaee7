"""Imports every table the web app owns, so migrations and tests see them with the engine's."""

from webapp.api.models import ApiCall, ApiClient
from webapp.auth.models import LoginAttempt
from webapp.designer.models import ProcessDraft
from webapp.notices.models import Announcement, AnnouncementRead, AnnouncementTarget
from webapp.portal.models import Note, QueueColumns, QueueFilter, ScheduleEntry, UserPreference
from webapp.tasks.models import TaskDraft

__all__ = ["Announcement", "AnnouncementRead", "AnnouncementTarget", "ApiCall", "ApiClient", "LoginAttempt", "Note",
           "ProcessDraft", "QueueColumns", "QueueFilter", "ScheduleEntry", "TaskDraft", "UserPreference"]
