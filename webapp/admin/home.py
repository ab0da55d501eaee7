"""系统管理 overview: a card per area with its figure, and the problems an administrator should fix first."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from engine.identity.models import OrgUnit, Post, User
from engine.runtime.models import Incident, IncidentStatus
from handlers.dispatch.models import RoutingRule
from handlers.resources.models import Resource
from handlers.sms.models import SmsTemplateText
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import bp
from webapp.admin.health_service import calendar_gaps


@bp.get("/")
@roles_required("admin")
def home() -> str:
    s, pe = db.session(), db.engine()

    def count(model: type, *where: object) -> int:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0

    figures = {
        "users": count(User, User.is_active.is_(True)), "posts": count(Post), "units": count(OrgUnit),
        "rules": count(RoutingRule), "resources": count(Resource, Resource.status == "free"),
        "templates": count(SmsTemplateText),
        "incidents": count(Incident, Incident.status == IncidentStatus.OPEN),
    }
    return render_template("admin/home.html", figures=figures, gaps=calendar_gaps(s, pe, pe.ctx.clock()))
