"""Repository service: validate and deploy BPMN files; a changed file makes the next version of its key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.errors import BpmnValidationError, EomsError, NotFound, ValidationIssue
from engine.forms.service import FormService
from engine.identity.models import OrgUnit, Post, User
from engine.jobs.models import TimerSchedule
from engine.registry import HandlerRegistry
from engine.repository.models import ProcessDefinition
from engine.repository.validation import ParsedFile, parse_and_validate
from engine.repository.xmlsafe import decode_xml, xml_encoding
from engine.runtime.models import EventSubscription
from engine.spiff.event_names import start_subscriptions
from engine.spiff.serializer import WorkflowCodec
from engine.spiff.timers import schedule_for, start_timer_of


@dataclass(frozen=True)
class DeployResult:
    key: str
    version: int
    name: str
    definition_id: int
    created: bool


def form_keys(spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> set[str]:
    """Every formKey a process (and its subprocesses) refers to."""
    keys = set()
    for proc in (spec, *subprocess_specs.values()):
        for task_spec in proc.task_specs.values():
            key = getattr(task_spec, "extensions", {}).get("properties", {}).get("formKey")
            if key:
                keys.add(key)
    return keys


class RepositoryService:
    """Deployed process definitions."""

    def __init__(self, clock: Callable[[], datetime], codec: WorkflowCodec, handlers: HandlerRegistry,
                 forms: FormService):
        self.clock = clock
        self.codec = codec
        self.handlers = handlers
        self.forms = forms

    def validate(self, session: Session, content: bytes, filename: str,
                 extra_forms: Iterable[str] = (), extra_processes: Mapping[str, bytes] | None = None) -> ParsedFile:
        """Parse and check a BPMN file against the posts in the database, the registered handlers and the
        deployed forms and processes (plus ``extra_forms`` and ``extra_processes``, process id → BPMN, about to be
        deployed with it)."""
        posts: set[str] = set()
        for code, name in session.execute(select(Post.code, Post.name)):
            posts.update((code, name))
        forms = self.forms.keys(session) | set(extra_forms)

        def deployed(key: str) -> bytes | None:
            if extra_processes and key in extra_processes:
                return extra_processes[key]
            xml = session.scalar(select(ProcessDefinition.bpmn_xml).where(ProcessDefinition.key == key)
                                 .order_by(ProcessDefinition.version.desc()).limit(1))
            if xml is None:
                return None
            return xml.encode(xml_encoding(xml[:200].encode("ascii", "replace")), errors="replace")

        return parse_and_validate(content, filename, posts, set(self.handlers.names()), forms, deployed)

    def deploy(self, session: Session, content: bytes, filename: str,
               deployed_by: User | None = None) -> list[DeployResult]:
        """Deploy every executable process in the file with the newest version of each form it uses; the same
        content (file and forms) keeps its existing version."""
        parsed = self.validate(session, content, filename)
        xml = decode_xml(content)
        results = []
        for key, (spec, subprocess_specs) in parsed.specs.items():
            forms = self.forms.latest(session, form_keys(spec, subprocess_specs))
            digest = hashlib.sha256(
                content + "".join(f"|{k}:{f.content_hash}" for k, f in sorted(forms.items())).encode()
            ).hexdigest()
            existing = session.scalar(
                select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                ProcessDefinition.content_hash == digest)
            )
            if existing is not None:
                results.append(DeployResult(key, existing.version, existing.name, existing.id, False))
                continue
            latest = session.scalar(
                select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key)
            ) or 0
            row = ProcessDefinition(
                key=key, version=latest + 1, name=parsed.names.get(key, key), content_hash=digest,
                source_name=filename, bpmn_xml=xml, spec_json=self._stored_spec(filename, key, spec, subprocess_specs),
                deployed_at=self.clock(), deployed_by_id=deployed_by.id if deployed_by else None,
                forms={k: f.id for k, f in forms.items()},
            )
            session.add(row)
            session.flush()
            self._schedule_start_timer(session, row, spec, filename)
            _subscribe_starts(session, key, row.id, start_subscriptions(spec))
            results.append(DeployResult(key, row.version, row.name, row.id, True))
        return results

    def _stored_spec(self, filename: str, key: str, spec: BpmnProcessSpec,
                     subprocess_specs: dict[str, BpmnProcessSpec]) -> str:
        """The spec as stored; a construct the serializer cannot store is refused at deploy, never a crash."""
        try:
            text = self.codec.dump_spec(spec, subprocess_specs)
            self.codec.load_spec(text)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise BpmnValidationError([ValidationIssue(filename, key, "unsupported-element",
                                                       f"the process cannot be stored for execution: {err}")]) from None
        return text

    def _schedule_start_timer(self, session: Session, row: ProcessDefinition, spec: BpmnProcessSpec,
                              filename: str) -> None:
        """Keep the timer-start schedule of a process key in step with its newest version."""
        existing = session.get(TimerSchedule, row.key)
        timer = start_timer_of(spec)
        if timer is None:
            if existing is not None:
                session.delete(existing)
            return
        if timer.org_code and session.scalar(select(OrgUnit.id).where(OrgUnit.code == timer.org_code)) is None:
            raise BpmnValidationError([ValidationIssue(filename, timer.node_id, "bad-property",
                                                       f"orgUnit: org unit '{timer.org_code}' does not exist")])
        try:
            plan = schedule_for(timer, self.clock())
        except EomsError as err:
            raise BpmnValidationError([ValidationIssue(filename, timer.node_id, "bad-timer", str(err))]) from None
        schedule = existing or TimerSchedule(process_key=row.key)
        schedule.definition_id, schedule.expression, schedule.org_code = row.id, timer.expression, timer.org_code
        schedule.next_due, schedule.remaining = plan.next_due, plan.remaining
        schedule.interval_seconds = int(plan.interval.total_seconds())
        session.add(schedule)
        session.flush()

    def latest(self, session: Session, key: str) -> ProcessDefinition:
        row = session.scalar(
            select(ProcessDefinition).where(ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version.desc()).limit(1)
        )
        if row is None:
            raise NotFound(f"process '{key}' is not deployed")
        return row

    def list_latest(self, session: Session) -> Sequence[ProcessDefinition]:
        """The newest version of every process key."""
        newest = (
            select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
            .group_by(ProcessDefinition.key).subquery()
        )
        return session.scalars(
            select(ProcessDefinition)
            .join(newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.v))
            .order_by(ProcessDefinition.key)
        ).all()


def _subscribe_starts(session: Session, key: str, definition_id: int, wanted: set[tuple[str, str]]) -> None:
    """The newest version of a process is the one its signal and message start events start."""
    session.execute(delete(EventSubscription).where(EventSubscription.process_key == key,
                                                    EventSubscription.instance_id.is_(None)))
    for kind, name in wanted:
        session.add(EventSubscription(kind=kind, name=name[:200], definition_id=definition_id, process_key=key))
