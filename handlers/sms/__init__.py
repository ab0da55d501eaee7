"""SMS: the ``sms.send`` service-task handler (queues a durable job) and the ``sms.send`` job that renders
a template for each recipient and hands it to the configured backend, once per idempotency key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.errors import InvalidInput
from engine.identity.models import User
from engine.identity.service import IdentityService
from engine.jobs.service import enqueue
from engine.registry import HandlerContext, HandlerRegistry, JobContext
from engine.runtime.models import ProcessInstance
from handlers.sms.backends import OutgoingSms, SmsBackend
from handlers.sms.models import SmsMessage
from handlers.sms.notices import register_notices
from handlers.sms.templates import OPTIONAL, get_template, muted, wording

JOB_KIND = "sms.send"  # queued by the sms.send step and by the engine's notices (warnings, 催办); sent here


def register(registry: HandlerRegistry, backend: SmsBackend) -> None:
    """Register the SMS service-task handler, the SMS job handler and the SMS for the engine's notices."""
    identity = IdentityService()

    def send_step(ctx: HandlerContext, template: str, to_post: str | None = None, to_org: str | None = None,
                  to_phone: str | None = None, to_user: str | None = None, **params: Any) -> dict[str, Any]:
        """Queue an SMS to a post's holders (in ``to_org`` or the work order's unit), a user, or a phone."""
        get_template(template)  # an unknown template fails the step now, not later in the worker
        recipients: list[dict[str, Any]] = []
        if to_post:
            post = identity.find_post(ctx.session, to_post)
            if post is None:
                raise InvalidInput(f"sms.send: post '{to_post}' does not exist")
            org_id = ctx.org_unit_id
            if to_org:
                unit = identity.find_org_unit(ctx.session, str(to_org))
                if unit is None:
                    raise InvalidInput(f"sms.send: org unit '{to_org}' does not exist")
                org_id = unit.id
            recipients += [{"user_id": u.id} for u in identity.holders(ctx.session, post.id, org_id)]
        if to_user:
            user = identity.find_user(ctx.session, to_user)
            if user is None or not user.is_active:
                raise InvalidInput(f"sms.send: user '{to_user}' does not exist")
            recipients.append({"user_id": user.id})
        if to_phone:
            recipients.append({"phone": str(to_phone)})
        if not recipients:
            return {"queued": False, "reason": "no recipients"}
        payload = {"template": template, "to": recipients,
                   "params": {"business_key": ctx.business_key, **{k: v for k, v in params.items() if v is not None}}}
        job = enqueue(ctx.session, JOB_KIND, payload, f"sms:{ctx.instance_id}:{ctx.step_id}", now=ctx.now,
                      instance_id=ctx.instance_id)
        return {"queued": True, "job_id": job.id, "recipients": len(recipients)}

    def deliver(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        """Render and send to each recipient; recipients already done on an earlier attempt are skipped."""
        instance = ctx.session.get(ProcessInstance, ctx.instance_id) if ctx.instance_id else None
        template = wording(ctx.session, payload["template"], instance.process_key if instance else None)
        sent = skipped = 0
        for recipient in payload.get("to", []):
            user = ctx.session.get(User, recipient["user_id"]) if "user_id" in recipient else None
            phone = (user.phone if user else recipient.get("phone")) or ""
            key = f"{ctx.idempotency_key}:{recipient.get('user_id') or phone}"
            if ctx.session.scalar(select(SmsMessage.id).where(SmsMessage.idempotency_key == key)) is not None:
                skipped += 1
                continue
            params = dict(payload.get("params", {}))
            if user is not None:
                params.setdefault("name", user.display_name)
            text = template.render(params)
            if user is not None and template.name in OPTIONAL and template.name in muted(ctx.session, user.id):
                status = "muted"  # the person turned this kind off in 个人设置: kept in the ledger, not sent
            else:
                status = backend.send(OutgoingSms(phone, text, key)) if phone else "no_phone"
            ctx.session.add(SmsMessage(idempotency_key=key, template=template.name, phone=phone,
                                       user_id=user.id if user else None, text=text, backend=backend.name,
                                       status=status, instance_id=ctx.instance_id, job_id=ctx.job_id,
                                       created_at=ctx.now))
            ctx.session.flush()
            sent += 1
        return {"sent": sent, "skipped": skipped}

    registry.register("sms.send", send_step)
    registry.register_job(JOB_KIND, deliver)
    register_notices(registry, JOB_KIND)
