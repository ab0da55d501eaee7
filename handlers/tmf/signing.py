"""Signatures on the bodies EOMS POSTs to other systems (TMF listeners, the CRM webhook), GitHub style: the
header ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes>`` under a shared secret."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The header value for ``body``: ``sha256=<hex digest>``."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret`` (compared in constant time)."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())
