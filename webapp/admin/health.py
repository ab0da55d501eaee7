"""系统状态: worker heartbeats, the job backlog, open incidents, the outboxes, database size and migrations."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from engine.runtime.models import Incident, IncidentStatus
from webapp import db
from webapp.access import roles_required
from webapp.admin import health_service as health
from webapp.admin.blueprint import bp


@bp.get("/health")
@roles_required("admin")
def health_page() -> str:
    s, pe = db.session(), db.engine()
    now = pe.ctx.clock()
    workers = pe.management.workers(s)
    incidents = s.scalar(select(func.count()).select_from(Incident).where(
        Incident.status == IncidentStatus.OPEN)) or 0
    return render_template(
        "admin/health.html", now=now, workers=workers, fresh={w.worker_id: health.worker_is_fresh(w, now)
                                                               for w in workers},
        backlog=pe.management.job_backlog(s), incidents=incidents, outbox=health.outbox(s, now),
        size=health.database_size(s), migrations=health.migrations(s), dialect=s.get_bind().dialect.name,
        gaps=health.calendar_gaps(s, pe, now))
