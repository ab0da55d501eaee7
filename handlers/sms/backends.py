"""How a rendered SMS leaves EOMS: ``outbox`` (stored only), ``log``, or a generic HTTP gateway."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("eoms.sms")


@dataclass(frozen=True)
class OutgoingSms:
    phone: str
    text: str
    idempotency_key: str


class SmsDeliveryError(Exception):
    """The gateway did not take the message; the job is retried later."""


class SmsBackend(Protocol):
    name: str

    def send(self, message: OutgoingSms) -> str:
        """Hand the message over; return the status to record (``stored``, ``logged``, ``sent``)."""


class OutboxBackend:
    """Stores the message in the ledger and sends nothing (the default: demos, tests, air-gapped sites)."""

    name = "outbox"

    def send(self, message: OutgoingSms) -> str:
        return "stored"


class LogBackend:
    """Writes the message to the log."""

    name = "log"

    def send(self, message: OutgoingSms) -> str:
        log.info("SMS to %s: %s", message.phone, message.text)
        return "logged"


class HttpBackend:
    """POSTs ``{"to", "text", "idempotency_key"}`` as JSON with an ``Idempotency-Key`` header; any non-2xx
    answer or network error is a failed delivery, retried by the job with the same key."""

    name = "http"

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"EOMS_SMS_HTTP_URL must be an http(s) URL, not {url!r}")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, message: OutgoingSms) -> str:
        body = json.dumps({"to": message.phone, "text": message.text, "idempotency_key": message.idempotency_key},
                          ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                if not 200 <= response.status < 300:
                    raise SmsDeliveryError(f"SMS gateway answered {response.status}")
        except urllib.error.HTTPError as err:
            raise SmsDeliveryError(f"SMS gateway answered {err.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise SmsDeliveryError(f"SMS gateway unreachable: {err}") from None
        return "sent"


def make_backend(name: str, http_url: str | None = None, http_token: str | None = None) -> SmsBackend:
    """The backend ``EOMS_SMS_BACKEND`` names."""
    if name == "outbox":
        return OutboxBackend()
    if name == "log":
        return LogBackend()
    if name == "http":
        if not http_url:
            raise ValueError("EOMS_SMS_BACKEND=http needs EOMS_SMS_HTTP_URL")
        return HttpBackend(http_url, http_token)
    raise ValueError(f"EOMS_SMS_BACKEND={name!r} is not one of outbox, log, http")
