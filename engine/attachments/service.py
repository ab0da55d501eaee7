"""Storing and reading attachments, with size and type limits. Callers check who may upload or read."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from engine.attachments.models import Attachment
from engine.errors import Code, InvalidInput, NotFound

ALLOWED_EXTENSIONS = frozenset({
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".txt", ".csv", ".jpg", ".jpeg", ".png",
    ".zip", ".vsd", ".vsdx",
})
# a few formats whose first bytes are easy to check, so a renamed executable is not taken for a report
MAGIC = {
    ".pdf": (b"%PDF",), ".png": (b"\x89PNG",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".zip": (b"PK",), ".docx": (b"PK",), ".xlsx": (b"PK",), ".pptx": (b"PK",),
    ".doc": (b"\xd0\xcf\x11\xe0",), ".xls": (b"\xd0\xcf\x11\xe0",), ".ppt": (b"\xd0\xcf\x11\xe0",),
}
UNSAFE_NAME = re.compile(r'[\x00-\x1f/\\:*?"<>|]')


@dataclass(frozen=True)
class AttachmentPolicy:
    storage_dir: Path
    max_bytes: int = 20 * 1024 * 1024
    extensions: frozenset[str] = ALLOWED_EXTENSIONS


def clean_filename(name: str) -> str:
    """The last path part of ``name`` without control or path characters, at most 200 characters."""
    base = UNSAFE_NAME.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return base[-200:] if base else ""


class AttachmentService:
    """Files referenced by rows; the folder comes from ``EOMS_STORAGE_DIR`` via the policy."""

    def __init__(self, policy: AttachmentPolicy):
        self.policy = policy

    def store(self, session: Session, *, instance_id: int, human_task_id: int | None, user_id: int,
              filename: str, data: bytes, now: datetime, accept: object = None) -> Attachment:
        """Check and keep an uploaded file (of a type the server stores and, with ``accept``, the field takes);
        raises :class:`InvalidInput` naming what is wrong."""
        name = clean_filename(filename)
        if not name:
            raise InvalidInput("the file has no name", {"file": "no name"}, code=Code.ATTACHMENT_REJECTED)
        extension = Path(name).suffix.lower()
        allowed = self.accepted(accept)
        if extension not in allowed:
            raise InvalidInput(f"'{name}': files of type {extension or '(none)'} are not accepted; allowed: "
                               f"{', '.join(allowed)}", {"file": "type not allowed"},
                               code=Code.ATTACHMENT_REJECTED, details={"extension": extension, "allowed": allowed})
        if not data:
            raise InvalidInput(f"'{name}' is empty", {"file": "empty"}, code=Code.ATTACHMENT_REJECTED)
        if len(data) > self.policy.max_bytes:
            raise InvalidInput(f"'{name}' is {len(data)} bytes; the limit is {self.policy.max_bytes}",
                               {"file": "too large"}, code=Code.ATTACHMENT_REJECTED,
                               details={"max_bytes": self.policy.max_bytes})
        magic = MAGIC.get(extension)
        if magic and not data.startswith(magic):
            raise InvalidInput(f"'{name}' is not a {extension} file", {"file": "content does not match type"},
                               code=Code.ATTACHMENT_REJECTED, details={"extension": extension})
        key = f"{now:%Y/%m}/{uuid.uuid4().hex}{extension}"
        path = self.policy.storage_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        attachment = Attachment(
            instance_id=instance_id, human_task_id=human_task_id, filename=name,
            content_type=mimetypes.guess_type(name)[0] or "application/octet-stream", size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), storage_key=key, uploaded_by_id=user_id, created_at=now,
        )
        session.add(attachment)
        session.flush()
        return attachment

    def accepted(self, accept: object = None) -> list[str]:
        """The extensions a file field takes: what its ``accept`` names (extensions, MIME types such as
        ``application/pdf`` or ``image/*``) as far as the server stores them; every type the server stores when
        the field names none."""
        named = [a.strip().lower() for a in str(accept or "").split(",") if a.strip()]
        if not named:
            return sorted(self.policy.extensions)
        found: list[str] = []  # in the field's order
        for entry in named:
            found += [e for e in sorted(self.policy.extensions) if _matches(e, entry) and e not in found]
        return found

    def get(self, session: Session, attachment_id: int) -> Attachment:
        row = session.get(Attachment, attachment_id)
        if row is None:
            raise NotFound(f"attachment {attachment_id} does not exist")
        return row

    def read(self, row: Attachment) -> bytes:
        path = self.policy.storage_dir / row.storage_key
        if not path.is_file():
            raise NotFound(f"the file of attachment {row.id} is missing from storage")
        return path.read_bytes()


def _matches(extension: str, accept: str) -> bool:
    """Whether files with ``extension`` fit one entry of an HTML ``accept`` list."""
    if accept.startswith("."):
        return extension == accept
    kind = mimetypes.guess_type(f"x{extension}")[0] or ""
    return kind == accept or (accept.endswith("/*") and kind.startswith(accept[:-1]))
