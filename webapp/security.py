"""Secret key, security headers."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Response

from eoms.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


def secret_key(settings: Settings) -> str:
    """``EOMS_SECRET_KEY``, or a random key kept beside the SQLite file (never in the repository)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.storage_dir).parent / "secret_key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key, encoding="ascii")
    path.chmod(0o600)
    return key


def apply_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
