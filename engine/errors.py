"""The errors engine services raise.

Every error carries a stable machine-readable ``code`` (one of :class:`Code`) and structured ``details``
(field errors, the element id, the status met …). Pages and the API turn codes into messages; nobody
matches on the English text, which is for logs and operators.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """The stable error codes. Adding one is fine; renaming one breaks API clients."""

    ERROR = "error"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    INPUT_INVALID = "input.invalid"
    CONFLICT = "instance.conflict"
    INVALID_STATE = "state.invalid"
    # tasks
    TASK_NOT_OFFERED = "task.not_offered"
    TASK_CLAIMED_BY_OTHER = "task.claimed_by_other"
    TASK_ACTION_NOT_ALLOWED = "task.action_not_allowed"
    TASK_NOT_READY = "task.not_ready"
    TASK_SUSPENDED = "task.suspended"
    TASK_NOT_SUSPENDED = "task.not_suspended"
    TASK_NO_DEADLINE = "task.no_deadline"
    TASK_NO_EARLIER_STEP = "task.no_earlier_step"
    TRANSFER_TARGET = "task.transfer_target"
    # instances, messages, incidents, jobs
    INSTANCE_NOT_RUNNING = "instance.not_running"
    MESSAGE_NOT_WAITING = "instance.not_waiting"
    INCIDENT_CLOSED = "incident.closed"
    JOB_NOT_RETRYABLE = "job.not_retryable"
    # models, forms, files
    BPMN_INVALID = "bpmn.invalid"
    FORM_INVALID = "form.invalid"
    FORM_NOT_DEPLOYED = "form.not_deployed"
    ATTACHMENT_REJECTED = "attachment.rejected"
    # execution and configuration
    HANDLER_FAILED = "handler.failed"
    SCRIPT_FAILED = "script.failed"
    CALENDAR_NOT_COVERED = "calendar.not_covered"
    CONFIGURATION = "configuration.invalid"
    STATE_CORRUPT = "instance.state_corrupt"
    ENGINE_FAILED = "engine.failed"


class EomsError(Exception):
    """Base class: an expected failure. ``str(err)`` is an English sentence for logs; ``code`` and ``details``
    are what callers branch on and show."""

    code: str = Code.ERROR

    def __init__(self, message: str = "", *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        if code is not None:
            self.code = Code(code)
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The error as the API serialises it."""
        return {"code": str(self.code), "message": str(self), "details": self.details}


class NotFound(EomsError):
    """The thing asked for does not exist, or the caller may not see it (the two look the same)."""

    code = Code.NOT_FOUND


class NotAllowed(EomsError):
    """The caller may see the thing but may not do this to it."""

    code = Code.NOT_ALLOWED


class InvalidInput(EomsError):
    """Input that fails a rule; nothing was changed. ``field_errors`` maps each bad field to what is wrong."""

    code = Code.INPUT_INVALID

    def __init__(self, message: str, field_errors: dict[str, str] | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None):
        self.field_errors = dict(field_errors or {})
        super().__init__(message, code=code, details={**(details or {}), "fields": self.field_errors})


class ConcurrencyConflict(EomsError):
    """Somebody else changed the instance or task first; the caller's change was not applied."""

    code = Code.CONFLICT


class InvalidState(EomsError):
    """The task or instance is not in a state that allows this action (completed, cancelled, …)."""

    code = Code.INVALID_STATE


@dataclass(frozen=True)
class ValidationIssue:
    """One problem in a BPMN file: where it is and which rule it breaks."""

    file: str
    element_id: str
    rule: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        element = f" [{self.element_id}]" if self.element_id else ""
        return f"{where}{element} {self.rule}: {self.message}"


class BpmnValidationError(EomsError):
    """A BPMN file (or form) failed validation; ``issues`` lists every problem found, each with its element."""

    code = Code.BPMN_INVALID

    def __init__(self, issues: list[ValidationIssue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues), details={"issues": [asdict(i) for i in issues]})


class HandlerError(EomsError):
    """A service-task handler raised; carries the handler name and the original error text."""

    code = Code.HANDLER_FAILED

    def __init__(self, handler: str, message: str):
        self.handler = handler
        super().__init__(f"handler '{handler}' failed: {message}", details={"handler": handler})


class BusinessError(Exception):
    """Raised by a service-task handler to throw a BPMN error (BPMN 2.0.2 §10.5.2, "Error"), not a failure.

    An error boundary event on the service task with this ``error_code`` (or one without a code) takes over:
    the task is interrupted and the boundary's path runs, with ``error_code``, ``error_message`` and the
    payload in its data. Uncaught, the step stops with an ``error`` incident naming the code. The handler's
    own database writes are undone either way.
    """

    def __init__(self, error_code: str, message: str = "", payload: dict[str, Any] | None = None):
        self.error_code, self.message, self.payload = error_code, message, dict(payload or {})
        super().__init__(f"{error_code}: {message}" if message else error_code)


class ScriptError(EomsError):
    """A script or expression in a diagram failed or broke the sandbox rules."""

    code = Code.SCRIPT_FAILED


class ConfigurationError(EomsError):
    """The engine was wired or configured wrongly (unknown handler, duplicate registration, bad plugin)."""

    code = Code.CONFIGURATION
