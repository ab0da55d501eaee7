"""Form service: deploy form-js schemas (versioned by content), look them up, validate submissions."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import BpmnValidationError, NotFound, ValidationIssue
from engine.forms.models import FormDefinition
from engine.forms.schema import schema_problems
from engine.forms.validation import AttachmentCheck, validate_submission

KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class FormDeployResult:
    key: str
    version: int
    form_id: int
    content_hash: str
    created: bool


def parse_form(content: bytes, filename: str) -> dict[str, Any]:
    """The schema in a form file, or :class:`BpmnValidationError` naming the problems."""
    try:
        schema = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BpmnValidationError([ValidationIssue(filename, "", "form-malformed", f"not valid JSON: {err}")]) from None
    problems = schema_problems(schema)
    if problems:
        raise BpmnValidationError([ValidationIssue(filename, "", "form-invalid", p) for p in problems])
    return schema


class FormService:
    """Deployed forms. Schemas never change once stored, so they are cached by id."""

    def __init__(self, clock: Callable[[], datetime]):
        self.clock = clock
        self._cache: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def deploy(self, session: Session, key: str, content: bytes, filename: str) -> FormDeployResult:
        """Deploy a form under ``key`` (its file name without .json); the same content keeps its version."""
        if not key or not set(key) <= KEY_CHARS:
            raise BpmnValidationError([ValidationIssue(filename, "", "form-invalid",
                                                       f"form key '{key}' may use only letters, digits, _ - .")])
        schema = parse_form(content, filename)
        digest = hashlib.sha256(json.dumps(schema, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        existing = session.scalar(select(FormDefinition).where(FormDefinition.key == key,
                                                               FormDefinition.content_hash == digest))
        if existing is not None:
            return FormDeployResult(key, existing.version, existing.id, digest, False)
        latest = session.scalar(select(func.max(FormDefinition.version)).where(FormDefinition.key == key)) or 0
        row = FormDefinition(key=key, version=latest + 1, content_hash=digest, schema=schema,
                             deployed_at=self.clock())
        session.add(row)
        session.flush()
        return FormDeployResult(key, row.version, row.id, digest, True)

    def keys(self, session: Session) -> set[str]:
        return set(session.scalars(select(FormDefinition.key).distinct()).all())

    def latest(self, session: Session, keys: Iterable[str]) -> dict[str, FormDefinition]:
        """The newest version of each form key; a missing key is :class:`NotFound`."""
        found: dict[str, FormDefinition] = {}
        for key in sorted(set(keys)):
            row = session.scalar(select(FormDefinition).where(FormDefinition.key == key)
                                 .order_by(FormDefinition.version.desc()).limit(1))
            if row is None:
                raise NotFound(f"form '{key}' is not deployed")
            found[key] = row
        return found

    def schema(self, session: Session, form_id: int) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get(form_id)
        if cached is not None:
            return cached
        row = session.get(FormDefinition, form_id)
        if row is None:
            raise NotFound(f"form {form_id} does not exist")
        with self._lock:
            self._cache[form_id] = row.schema
        return row.schema

    def validate(self, session: Session, form_key: str, form_id: int, data: dict[str, Any],
                 check_attachment: AttachmentCheck | None = None) -> dict[str, Any]:
        """The cleaned submission, or :class:`engine.forms.validation.FormInvalid` naming each bad field."""
        return validate_submission(form_key, self.schema(session, form_id), data, check_attachment)
