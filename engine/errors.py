"""The errors engine services raise. Each names what is wrong in words a user or operator can act on."""

from __future__ import annotations

from dataclasses import dataclass


class EomsError(Exception):
    """Base class: an expected failure with a message fit to show as is."""

    code = "error"


class NotFound(EomsError):
    """The thing asked for does not exist, or the caller may not see it (the two look the same)."""

    code = "not_found"


class NotAllowed(EomsError):
    """The caller may see the thing but may not do this to it."""

    code = "not_allowed"


class InvalidInput(EomsError):
    """Input that fails a rule; nothing was changed."""

    code = "invalid_input"

    def __init__(self, message: str, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field_errors = field_errors or {}


class ConcurrencyConflict(EomsError):
    """Somebody else changed the instance or task first; the caller's change was not applied."""

    code = "conflict"


class InvalidState(EomsError):
    """The task or instance is not in a state that allows this action (completed, cancelled, …)."""

    code = "invalid_state"


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
    """A BPMN file failed validation; ``issues`` lists every problem found."""

    code = "bpmn_invalid"

    def __init__(self, issues: list[ValidationIssue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


class HandlerError(EomsError):
    """A service-task handler raised; carries the handler name and the original error text."""

    code = "handler_failed"

    def __init__(self, handler: str, message: str):
        self.handler = handler
        super().__init__(f"handler '{handler}' failed: {message}")


class ScriptError(EomsError):
    """A script or expression in a diagram failed or broke the sandbox rules."""

    code = "script_failed"


