"""Imports every table the handlers own, so migrations and tests see them with the engine's."""

from handlers.costs.models import CostBudget, CostCategory, CostRequest, CostSetting
from handlers.crm.models import CrmMessage
from handlers.dispatch.models import RoutingRule
from handlers.kpi.models import KpiDefinition, KpiMonth, KpiOrder, KpiResult, KpiStep
from handlers.network.models import NetworkConfig
from handlers.projects.models import Project, ProjectOrder
from handlers.resources.models import Circuit, Resource
from handlers.sms.models import SmsMessage, SmsOptOut, SmsTemplateText
from handlers.tmf.models import Alarm, ExternalOrder, HubSubscription, TmfEvent

__all__ = [
           "Alarm",
           "Circuit",
           "CostBudget",
           "CostCategory",
           "CostRequest",
           "CostSetting",
           "CrmMessage",
           "ExternalOrder",
           "HubSubscription",
           "KpiDefinition",
    "KpiMonth",
    "KpiOrder",
    "KpiResult",
           "KpiStep",
           "NetworkConfig",
           "Project",
           "ProjectOrder",
           "Resource",
           "RoutingRule",
           "SmsMessage",
           "SmsOptOut",
           "SmsTemplateText",
           "TmfEvent",
]
