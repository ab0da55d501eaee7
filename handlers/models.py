"""Imports every table the handlers own, so migrations and tests see them with the engine's."""

from handlers.sms.models import SmsMessage

__all__ = ["SmsMessage"]
