"""The engine API's shapes (marshmallow): the bodies a client sends, read strictly (unknown attributes, wrong
types and out-of-range values are a 400), and the resources it gets back, as the OpenAPI document describes them.

Names start with ``Engine`` so that they never meet the TM Forum resources' in the shared document. Times are
ISO-8601 in UTC with ``Z``; ids are integers; ``null`` stands for "not set"."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from engine.runtime.models import INSTANCE_STATUSES
from engine.tasks.models import TaskStatus

TEXT = validate.Length(min=1, max=2000)
NAME = validate.Length(min=1, max=200)
CODE = validate.Length(min=1, max=64)
TASK_STATUSES = tuple(TaskStatus)
OUTCOMES = ("resolved", "queued", "failing")


def when(**kw: Any) -> fields.String:
    """A moment in time (``2026-03-02T10:30:00Z``)."""
    return fields.String(metadata={"format": "date-time", **kw.pop("metadata", {})}, **kw)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# -- requests ------------------------------------------------------------------------------------------------
class EngineDeploySchema(_Strict):
    """A BPMN file to deploy: every executable process in it becomes the next version of its key."""

    bpmn = fields.String(required=True, validate=validate.Length(min=1, max=5 * 1024 * 1024),
                         metadata={"description": "the BPMN 2.0 XML"})
    filename = fields.String(validate=validate.Length(min=1, max=200),
                             metadata={"description": "the file's name (default <process>.bpmn)"})


class EngineStartSchema(_Strict):
    """Start the newest version of a process; ``data`` is its start form's values."""

    process_key = fields.String(data_key="processKey", required=True, validate=NAME)
    business_key = fields.String(data_key="businessKey", validate=NAME,
                                 metadata={"description": "the work order number (generated when absent)"})
    data = fields.Dict(keys=fields.String(), metadata={"description": "the start form's values"})
    org_code = fields.String(data_key="orgCode", validate=CODE,
                             metadata={"description": "the unit it belongs to (default: the caller's)"})


class EngineReasonSchema(_Strict):
    reason = fields.String(required=True, validate=TEXT)


class EngineCompleteSchema(_Strict):
    data = fields.Dict(keys=fields.String(), metadata={"description": "the step's form values"})


class EngineTransferSchema(_Strict):
    """To one person (``toUser``) or to the pool of a post (``toPost``, in ``toOrg`` or the task's unit)."""

    to_user = fields.String(data_key="toUser", validate=NAME, metadata={"description": "a username"})
    to_post = fields.String(data_key="toPost", validate=NAME, metadata={"description": "a post's code or name"})
    to_org = fields.String(data_key="toOrg", validate=CODE, metadata={"description": "an org unit's code"})
    reason = fields.String(required=True, validate=TEXT)


class EngineNoteInputSchema(_Strict):
    text = fields.String(required=True, validate=TEXT)


class EngineUploadSchema(_Strict):
    """A file for the task (to reference from a file field of its form by the attachment's id)."""

    filename = fields.String(required=True, validate=validate.Length(min=1, max=200))
    content = fields.String(required=True, validate=validate.Length(min=1, max=30 * 1024 * 1024),
                            metadata={"description": "the file's bytes, base64-encoded"})


class EngineSignalSchema(_Strict):
    name = fields.String(required=True, validate=NAME)
    data = fields.Dict(keys=fields.String(), metadata={"description": "the signal's payload"})
    org_code = fields.String(data_key="orgCode", validate=CODE,
                             metadata={"description": "unit of the work orders it starts (default: the root)"})


class EngineMessageSchema(EngineSignalSchema):
    """Given ``instanceId`` or ``businessKey``, the message goes to that work order; otherwise to the first
    one waiting for it that catches it, else it starts the process whose start event receives it."""

    business_key = fields.String(data_key="businessKey", validate=NAME)
    instance_id = fields.Integer(data_key="instanceId", strict=True,
                                 validate=validate.Range(min=1, max=2**31 - 1))


# -- answers (on a GET, ``fields=a,b`` may leave out all but id and href) --------------------------------
class EngineTaskSchema(Schema):
    """A task (one occurrence of a user step)."""

    id = fields.Integer(required=True)
    href = fields.String(required=True)
    instance_id = fields.Integer(data_key="instanceId")
    process_key = fields.String(data_key="processKey")
    process_name = fields.String(data_key="processName", allow_none=True)
    business_key = fields.String(data_key="businessKey")
    node_id = fields.String(data_key="nodeId")
    node_name = fields.String(data_key="nodeName")
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    post = fields.String(allow_none=True, metadata={"description": "the post's code"})
    post_name = fields.String(data_key="postName", allow_none=True)
    org_code = fields.String(data_key="orgCode", allow_none=True)
    assignee = fields.String(allow_none=True, metadata={"description": "username; null: waiting to be claimed"})
    completed_by = fields.String(data_key="completedBy", allow_none=True)
    customer = fields.String(allow_none=True)
    form_key = fields.String(data_key="formKey", allow_none=True)
    allow = fields.List(fields.String(), metadata={"description": "the actions the step allows"})
    time_limit = fields.String(data_key="timeLimit", allow_none=True)
    created_at = when(data_key="createdAt")
    claimed_at = when(data_key="claimedAt", allow_none=True)
    completed_at = when(data_key="completedAt", allow_none=True)
    warn_at = when(data_key="warnAt", allow_none=True)
    due_at = when(data_key="dueAt", allow_none=True)
    suspended = fields.Boolean()
    overdue = fields.Boolean(metadata={"description": "past its deadline (open), or done late"})
    seconds_left = fields.Integer(data_key="secondsLeft", allow_none=True,
                                  metadata={"description": "until the deadline (negative: overdue); open tasks"})


class EngineStepSchema(EngineTaskSchema):
    """A step of a work order (a task)."""


class EngineTaskDetailSchema(EngineTaskSchema):
    data = fields.Dict(metadata={"description": "the form's current values"})
    form = fields.Dict(allow_none=True, metadata={"description": "the step's form-js schema"})
    offered = fields.Boolean(metadata={"description": "the caller may work on it"})


class EngineTaskOutcomeSchema(Schema):
    task = fields.Nested(EngineTaskSchema)
    next_tasks = fields.List(fields.Nested(EngineTaskSchema), data_key="nextTasks", required=True,
                             metadata={"description": "the tasks that arrived"})


class EngineNoteSchema(Schema):
    """A 批注 on a task, kept in the work order's history."""

    id = fields.Integer(required=True)
    href = fields.String(required=True)
    task_id = fields.Integer(data_key="taskId")
    instance_id = fields.Integer(data_key="instanceId")
    text = fields.String()
    author = fields.String()
    at = when()


class EngineAttachmentSchema(Schema):
    id = fields.Integer(required=True)
    href = fields.String(required=True)
    task_id = fields.Integer(data_key="taskId", allow_none=True)
    instance_id = fields.Integer(data_key="instanceId")
    filename = fields.String()
    content_type = fields.String(data_key="contentType")
    size = fields.Integer()
    created_at = when(data_key="createdAt")


class EngineIncidentSchema(Schema):
    """A step or job that failed and waits for a fix and a retry."""

    id = fields.Integer(required=True)
    href = fields.String(required=True)
    instance_id = fields.Integer(data_key="instanceId", allow_none=True)
    business_key = fields.String(data_key="businessKey", allow_none=True)
    job_id = fields.Integer(data_key="jobId", allow_none=True)
    node_id = fields.String(data_key="nodeId")
    kind = fields.String()
    message = fields.String()
    status = fields.String(validate=validate.OneOf(("open", "resolved")))
    attempts = fields.Integer()
    created_at = when(data_key="createdAt")
    updated_at = when(data_key="updatedAt")
    resolved_at = when(data_key="resolvedAt", allow_none=True)


class EngineInstanceIncidentSchema(EngineIncidentSchema):
    """An open incident of a work order."""


class EngineRetrySchema(EngineIncidentSchema):
    outcome = fields.String(validate=validate.OneOf(OUTCOMES), metadata={
        "description": "resolved; queued (the job runs again in the background); failing (failed again)"})


class EngineInstanceSchema(Schema):
    """A work order (a process instance)."""

    id = fields.Integer(required=True)
    href = fields.String(required=True)
    process_key = fields.String(data_key="processKey")
    process_name = fields.String(data_key="processName")
    version = fields.Integer()
    definition_id = fields.Integer(data_key="definitionId")
    business_key = fields.String(data_key="businessKey")
    status = fields.String(validate=validate.OneOf(INSTANCE_STATUSES))
    org_code = fields.String(data_key="orgCode", allow_none=True)
    customer = fields.String(allow_none=True)
    customer_phone = fields.String(data_key="customerPhone", allow_none=True)
    circuit = fields.String(allow_none=True)
    started_at = when(data_key="startedAt")
    started_by = fields.String(data_key="startedBy", allow_none=True)
    ended_at = when(data_key="endedAt", allow_none=True)
    end_reason = fields.String(data_key="endReason", allow_none=True)
    current_steps = fields.List(fields.Nested(EngineStepSchema), data_key="currentSteps",
                                metadata={"description": "the open tasks"})
    open_incidents = fields.Integer(data_key="openIncidents")


class EngineInstanceDetailSchema(EngineInstanceSchema):
    data = fields.Dict(metadata={"description": "the business data: its forms' fields"})
    variables = fields.Dict(allow_none=True, metadata={
        "description": "the other variables (routing results, job replies); supervisors and administrators"})
    steps = fields.List(fields.Nested(EngineStepSchema), metadata={"description": "every task"})
    incidents = fields.List(fields.Nested(EngineInstanceIncidentSchema))


class EngineHistoryEventSchema(Schema):
    id = fields.Integer(required=True)
    type = fields.String(metadata={"description": "task_completed, task_transferred, …"})
    at = when()
    actor = fields.String(allow_none=True, metadata={"description": "username; null: the system"})
    node_id = fields.String(data_key="nodeId", allow_none=True)
    task_id = fields.Integer(data_key="taskId", allow_none=True)
    payload = fields.Dict()


class EngineDefinitionSchema(Schema):
    """A deployed version of a process."""

    id = fields.Integer(required=True)
    href = fields.String(required=True)
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    source_name = fields.String(data_key="sourceName", allow_none=True)
    deployed_at = when(data_key="deployedAt")
    deployed_by = fields.String(data_key="deployedBy", allow_none=True)


class EngineVersionSchema(EngineDefinitionSchema):
    """One version of a process."""


class EngineDefinitionDetailSchema(EngineDefinitionSchema):
    start_form_key = fields.String(data_key="startFormKey", allow_none=True)
    start_form = fields.Dict(data_key="startForm", allow_none=True,
                             metadata={"description": "the start form's form-js schema (null: no start form)"})
    versions = fields.List(fields.Nested(EngineVersionSchema), metadata={"description": "newest first"})


class EngineDeployedSchema(Schema):
    id = fields.Integer(required=True)
    href = fields.String(required=True)
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    created = fields.Boolean(metadata={"description": "false: the same content was deployed before"})


class EngineDeploymentSchema(Schema):
    deployed = fields.List(fields.Nested(EngineDeployedSchema))


class EngineDeliverySchema(Schema):
    """What a signal or message reached (the ids are those of work orders the caller may see)."""

    woken = fields.List(fields.Integer(), metadata={"description": "waiting work orders it woke"})
    started = fields.List(fields.Integer(), metadata={"description": "work orders it started"})
    woken_count = fields.Integer(data_key="wokenCount")
    started_count = fields.Integer(data_key="startedCount")
    failed_count = fields.Integer(data_key="failedCount", required=True,
                                  metadata={"description": "receivers that failed (their incidents are kept)"})
