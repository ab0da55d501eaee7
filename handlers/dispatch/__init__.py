"""Dispatch routing (派单): which post in which org unit handles a fault, by region × service type.

Rules are a table an administrator edits (`eoms routing …`); the most specific rule wins:
(region, type) before (region, *) before (*, type) before (*, *).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ConfigurationError, InvalidInput, NotFound
from engine.identity.service import IdentityService
from engine.registry import HandlerContext, HandlerRegistry
from handlers.dispatch.models import RoutingRule

ANY = "*"


CALENDARS = ("workday", "24x7")


def add_rule(session: Session, region: str, service_type: str, *, post: str, org_unit: str,
             note: str = "", calendar: str | None = None) -> RoutingRule:
    """Add or replace the rule for (region, service type). ``calendar`` (workday or 24x7), when given, is the
    calendar the routed steps count their time limit on (a unit that works office hours only)."""
    identity = IdentityService()
    missing = {name: "required" for name, value in (("post", post), ("org_unit", org_unit)) if not value}
    if missing:
        raise InvalidInput(f"a routing rule needs {' and '.join(missing)}", missing)
    if region != ANY and identity.find_org_unit(session, region) is None:
        raise NotFound(f"region '{region}' is not an org unit code")
    identity.get_post(session, post)
    identity.get_org_unit(session, org_unit)
    if not service_type.strip():
        raise InvalidInput("service type is required (or * for any)", {"service_type": "required"})
    if len(service_type) > 64:
        raise InvalidInput("service type has at most 64 characters", {"service_type": "too long"})
    if calendar not in (None, "", *CALENDARS):
        raise InvalidInput(f"calendar '{calendar}' is not one of {', '.join(CALENDARS)}", {"calendar": "unknown"})
    rule = session.scalar(select(RoutingRule).where(RoutingRule.region == region,
                                                    RoutingRule.service_type == service_type))
    rule = rule or RoutingRule(region=region, service_type=service_type)
    rule.post, rule.org_unit, rule.note, rule.calendar = post, org_unit, note[:200], calendar or None
    session.add(rule)
    session.flush()
    return rule


def rules(session: Session) -> Sequence[RoutingRule]:
    return session.scalars(select(RoutingRule).order_by(RoutingRule.region, RoutingRule.service_type)).all()


def remove_rule(session: Session, rule_id: int) -> None:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"routing rule {rule_id} does not exist")
    session.delete(rule)


def route(session: Session, region: str, service_type: str) -> RoutingRule:
    """The rule that applies, most specific first; none is a clear error an administrator can fix."""
    for r, t in ((region, service_type), (region, ANY), (ANY, service_type), (ANY, ANY)):
        rule = session.scalar(select(RoutingRule).where(RoutingRule.region == r, RoutingRule.service_type == t))
        if rule is not None:
            return rule
    raise ConfigurationError(f"no routing rule for region '{region}' and service type '{service_type}': add one with "
                    f"`eoms routing add {region} {service_type} --post POST --org ORG`, then retry the incident")


def register(registry: HandlerRegistry) -> None:
    def dispatch_route(ctx: HandlerContext, region: str, service_type: str) -> dict[str, Any]:
        """Pick the post and org unit for a fault from the routing rules."""
        rule = route(ctx.session, str(region), str(service_type))
        routed: dict[str, Any] = {"post": rule.post, "org_unit": rule.org_unit, "rule_id": rule.id}
        if rule.calendar:
            routed["calendar"] = rule.calendar
        return routed

    registry.register("dispatch.route", dispatch_route)
