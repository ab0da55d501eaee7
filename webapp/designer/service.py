"""What the designer pages show and change: deployed versions with their running work, analysts' drafts,
uploads. Functions take the request's session; the views commit."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from engine.errors import BpmnValidationError, InvalidInput, NotFound, ValidationIssue
from engine.forms.models import FormDefinition
from engine.forms.service import parse_form
from engine.identity.models import User
from engine.repository.graph import NS
from engine.repository.models import ProcessDefinition
from engine.repository.xmlsafe import decode_xml, load_bpmn_xml
from engine.runtime.models import Incident, IncidentStatus, InstanceStatus, ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus
from webapp.designer.models import ProcessDraft

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")


@dataclass(frozen=True)
class VersionRow:
    """One deployed version of a process key."""

    id: int
    version: int
    name: str
    source_name: str
    deployed_at: datetime
    deployed_by: str
    running: int
    incidents: int


@dataclass
class ProcessEntry:
    """A process key with its versions (newest first) and the current analyst's draft of it."""

    key: str
    name: str
    versions: list[VersionRow] = field(default_factory=list)
    draft: ProcessDraft | None = None

    @property
    def latest(self) -> VersionRow | None:
        return self.versions[0] if self.versions else None


def catalogue(s: Session, owner: User, key: str | None = None) -> list[ProcessEntry]:
    """Every deployed process key (or only ``key``) and the drafts of ``owner``, keys in order."""

    def only(column: Any) -> Any:
        return column == key if key is not None else true()

    running = dict(s.execute(
        select(ProcessInstance.definition_id, func.count())
        .where(ProcessInstance.status == InstanceStatus.RUNNING, only(ProcessInstance.process_key))
        .group_by(ProcessInstance.definition_id)).all())
    incidents = dict(s.execute(
        select(ProcessInstance.definition_id, func.count(Incident.id))
        .join(Incident, Incident.instance_id == ProcessInstance.id)
        .where(Incident.status == IncidentStatus.OPEN, only(ProcessInstance.process_key))
        .group_by(ProcessInstance.definition_id)).all())
    entries: dict[str, ProcessEntry] = {}
    rows = s.execute(select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version,
                            ProcessDefinition.name, ProcessDefinition.source_name, ProcessDefinition.deployed_at,
                            User.username)
                     .outerjoin(User, User.id == ProcessDefinition.deployed_by_id)
                     .where(only(ProcessDefinition.key))
                     .order_by(ProcessDefinition.key, ProcessDefinition.version.desc()))
    for row in rows:
        found = entries.setdefault(row.key, ProcessEntry(row.key, row.name))
        found.versions.append(VersionRow(row.id, row.version, row.name, row.source_name, row.deployed_at,
                                         row.username or "", running.get(row.id, 0), incidents.get(row.id, 0)))
    for draft in s.scalars(select(ProcessDraft).where(ProcessDraft.owner_id == owner.id,
                                                      only(ProcessDraft.process_key))):
        found = entries.setdefault(draft.process_key, ProcessEntry(draft.process_key, draft.name))
        found.draft = draft
    return [entries[k] for k in sorted(entries)]


def entry(s: Session, owner: User, key: str) -> ProcessEntry:
    """One process key (deployed or only drafted); NotFound when it is neither."""
    found = catalogue(s, owner, key)
    if not found:
        raise NotFound(f"process '{key}' is neither deployed nor drafted", details={"process": key})
    return found[0]


def draft_of(s: Session, owner: User, key: str) -> ProcessDraft | None:
    return s.scalar(select(ProcessDraft).where(ProcessDraft.owner_id == owner.id, ProcessDraft.process_key == key))


def version_row(s: Session, key: str, version: int | None = None) -> ProcessDefinition:
    """A deployed version of ``key`` (the newest when ``version`` is None)."""
    query = select(ProcessDefinition).where(ProcessDefinition.key == key)
    query = query.where(ProcessDefinition.version == version) if version else query
    row = s.scalar(query.order_by(ProcessDefinition.version.desc()).limit(1))
    if row is None:
        raise NotFound(f"process '{key}' has no version {version or ''}".strip(), details={"process": key})
    return row


def xml_to_edit(s: Session, owner: User, key: str, version: int | None = None) -> str:
    """What the modeler opens: a chosen version, else the analyst's draft, else the newest version."""
    if version is None:
        draft = draft_of(s, owner, key)
        if draft is not None:
            return draft.bpmn_xml
    return version_row(s, key, version).bpmn_xml


def check_xml(content: bytes, filename: str) -> tuple[str, str]:
    """The text of a safe, well-formed BPMN document and the id (and name) of its first process; raises
    :class:`BpmnValidationError` (not XML, DOCTYPE/entities, too large, no process) — nothing is stored."""
    tree = load_bpmn_xml(content, filename)
    processes = list(tree.getroot().iterfind("bpmn:process", NS))
    if not processes:
        raise BpmnValidationError([ValidationIssue(filename, "", "no-executable-process",
                                                   "the file holds no bpmn:process")])
    executable = [p for p in processes if p.get("isExecutable", "false").lower() == "true"] or processes
    return decode_xml(content), executable[0].get("id") or ""


def save_draft(s: Session, owner: User, key: str, xml: str, now: datetime, *, source_name: str = "",
               base_definition_id: int | None = None) -> ProcessDraft:
    """Create or overwrite ``owner``'s draft of ``key`` with ``xml`` (checked to be safe BPMN first)."""
    if not KEY.match(key or ""):
        raise InvalidInput(f"'{key}' is not a process key (letters, digits, _ . -; a letter first)",
                           {"key": "invalid"})
    text, _ = check_xml(xml.encode("utf-8"), source_name or f"{key}.bpmn")
    draft = draft_of(s, owner, key)
    if draft is None:
        draft = ProcessDraft(owner_id=owner.id, process_key=key, created_at=now, bpmn_xml=text,
                             base_definition_id=base_definition_id)
        if base_definition_id is None:
            latest = s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key)
                              .order_by(ProcessDefinition.version.desc()).limit(1))
            draft.base_definition_id = latest
        s.add(draft)
    draft.bpmn_xml, draft.updated_at = text, now
    draft.name = _process_name(text) or draft.name or key
    if source_name:
        draft.source_name = source_name
    s.flush()
    return draft


def upload(s: Session, owner: User, content: bytes, filename: str, now: datetime) -> ProcessDraft:
    """A .bpmn file made elsewhere (Camunda Modeler, bpmn.io, spiff-arena) becomes the draft of its process."""
    text, key = check_xml(content, filename)
    if not KEY.match(key):
        raise BpmnValidationError([ValidationIssue(filename, key, "bad-property",
                                                   f"the process id '{key}' cannot be a process key")])
    return save_draft(s, owner, key, text, now, source_name=filename)


def discard_draft(s: Session, owner: User, key: str) -> bool:
    draft = draft_of(s, owner, key)
    if draft is None:
        return False
    s.delete(draft)
    s.flush()
    return True


def new_diagram(key: str, name: str, post: str) -> str:
    """A minimal runnable diagram for a new process: start, one user task in the lane of ``post``, end."""
    esc = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}

    def x(text: str) -> str:
        return "".join(esc.get(c, c) for c in text)

    return f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="defs_{x(key)}" targetNamespace="http://eoms.example/bpmn">
  <bpmn:collaboration id="collab_{x(key)}">
    <bpmn:participant id="pool_{x(key)}" name="{x(name)}" processRef="{x(key)}"/>
  </bpmn:collaboration>
  <bpmn:process id="{x(key)}" name="{x(name)}" isExecutable="true">
    <bpmn:laneSet id="lanes_{x(key)}">
      <bpmn:lane id="lane_1" name="{x(post)}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>handle</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:userTask id="handle" name="处理">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="timeLimit" value="PT4H"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>
    <bpmn:endEvent id="end" name="结束"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{x(key)}">
    <bpmndi:BPMNPlane id="plane_{x(key)}" bpmnElement="collab_{x(key)}">
      <bpmndi:BPMNShape id="pool_{x(key)}_di" bpmnElement="pool_{x(key)}" isHorizontal="true">
        <dc:Bounds x="120" y="80" width="600" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_1_di" bpmnElement="lane_1" isHorizontal="true">
        <dc:Bounds x="150" y="80" width="570" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="202" y="162" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="handle_di" bpmnElement="handle"><dc:Bounds x="330" y="140" width="100" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="532" y="162" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="238" y="180"/><di:waypoint x="330" y="180"/>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="430" y="180"/><di:waypoint x="532" y="180"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
'''


def _process_name(text: str) -> str:
    match = re.search(r'<(?:\w+:)?process\b[^>]*\bname="([^"]*)"', text)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Candidate:
    """A running work order of the key, where it stands, for the migration page."""

    id: int
    business_key: str
    version: int
    steps: str
    incidents: int
    started_at: datetime


def migration_candidates(s: Session, key: str, *, version: int | None = None, step: str | None = None,
                         with_incidents: bool = False, below: int | None = None, limit: int = 200
                         ) -> list[Candidate]:
    """Running work orders of ``key`` (on ``version``, or below version ``below``; at ``step``; with open
    incidents), oldest first, at most ``limit``."""
    query = (select(ProcessInstance.id, ProcessInstance.business_key, ProcessDefinition.version,
                    ProcessInstance.started_at)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .where(ProcessInstance.process_key == key, ProcessInstance.status == InstanceStatus.RUNNING))
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    elif below is not None:
        query = query.where(ProcessDefinition.version < below)
    if step:
        query = query.where(select(HumanTask.id).where(HumanTask.instance_id == ProcessInstance.id,
                                                       HumanTask.status == TaskStatus.READY,
                                                       HumanTask.node_id == step).exists())
    if with_incidents:
        query = query.where(select(Incident.id).where(Incident.instance_id == ProcessInstance.id,
                                                      Incident.status == IncidentStatus.OPEN).exists())
    rows = s.execute(query.order_by(ProcessInstance.started_at, ProcessInstance.id).limit(limit)).all()
    ids = [r.id for r in rows]
    steps: dict[int, list[str]] = {}
    for instance_id, name in s.execute(select(HumanTask.instance_id, HumanTask.node_name)
                                       .where(HumanTask.instance_id.in_(ids), HumanTask.status == TaskStatus.READY)):
        steps.setdefault(instance_id, []).append(name)
    incidents = dict(s.execute(select(Incident.instance_id, func.count()).where(
        Incident.instance_id.in_(ids), Incident.status == IncidentStatus.OPEN).group_by(Incident.instance_id)).all())
    return [Candidate(r.id, r.business_key, r.version, "、".join(sorted(set(steps.get(r.id, [])))) or "—",
                      incidents.get(r.id, 0), r.started_at) for r in rows]


def open_steps(s: Session, key: str) -> list[tuple[str, str]]:
    """(node id, name) of the steps where running work orders of ``key`` wait, for the filter."""
    rows = s.execute(select(HumanTask.node_id, HumanTask.node_name).where(
        HumanTask.process_key == key, HumanTask.status == TaskStatus.READY).distinct())
    return sorted({(r.node_id, r.node_name) for r in rows}, key=lambda r: r[1])


FORM_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def form_keys_in(xml: str) -> list[str]:
    """The form keys a diagram's tasks and start events name (``formKey`` properties), in order."""
    keys = re.findall(r'<spiffworkflow:property\s+name="formKey"\s+value="([^"]+)"', xml)
    return list(dict.fromkeys(keys))


def form_schema(s: Session, pe_forms: Any, owner: User, key: str, form_key: str) -> tuple[dict[str, Any], str]:
    """The schema to edit for ``form_key``: the draft's, else the newest deployed, else a new empty form;
    with where it came from ("draft", "deployed", "new")."""
    draft = draft_of(s, owner, key)
    if draft is not None and form_key in (draft.forms or {}):
        return draft.forms[form_key], "draft"
    row = s.scalar(select(FormDefinition).where(FormDefinition.key == form_key)
                   .order_by(FormDefinition.version.desc()).limit(1))
    if row is not None:
        return row.schema, "deployed"
    return {"type": "default", "id": form_key, "schemaVersion": 16,
            "exporter": {"name": "EOMS designer", "version": "1.0"}, "components": []}, "new"


def save_form(s: Session, owner: User, key: str, form_key: str, schema: Any, now: datetime) -> ProcessDraft:
    """Keep ``schema`` as the draft's version of form ``form_key`` (checked as deploy checks it); the draft is
    started from the newest version of the diagram when there is none yet."""
    if not FORM_KEY.match(form_key or ""):
        raise InvalidInput(f"'{form_key}' is not a form key (letters, digits, _ . -)", {"form_key": "invalid"})
    parse_form(json.dumps(schema, ensure_ascii=False).encode("utf-8"), f"{form_key}.json")
    draft = draft_of(s, owner, key)
    if draft is None:
        draft = save_draft(s, owner, key, version_row(s, key).bpmn_xml, now)
    draft.forms = {**(draft.forms or {}), form_key: schema}
    draft.updated_at = now
    s.flush()
    return draft
