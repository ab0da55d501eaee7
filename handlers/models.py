"""Imports every table the handlers own, so migrations and tests see them with the engine's."""

from handlers.crm.models import CrmMessage
from handlers.dispatch.models import RoutingRule
from handlers.kpi.models import KpiOrder, KpiStep
from handlers.network.models import NetworkConfig
from handlers.resources.models import Circuit, Resource
from handlers.sms.models import SmsMessage, SmsOptOut, SmsTemplateText
from handlers.tmf.models import Alarm, ExternalOrder, HubSubscription, TmfEvent

__all__ = ["Alarm", "Circuit", "CrmMessage", "ExternalOrder", "HubSubscription", "KpiOrder", "KpiStep", "NetworkConfig",
           "Resource", "RoutingRule", "SmsMessage", "SmsOptOut", "SmsTemplateText",
           "TmfEvent"]
