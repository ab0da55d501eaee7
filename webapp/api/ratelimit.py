"""The per-client rate limit: at most ``rate_per_minute`` calls in any minute, counted from the call log that
every web process writes (so the limit holds across processes and machines).

Counting a busy client's last minute of the log on every call reads up to ``rate_per_minute`` rows. A process
therefore keeps, per client, the calls of the last minute it has read, and on each call reads only the log rows
written since (by any process) — a few. Ids are drawn before their transaction commits, so a row may appear
after a newer one: the last ``OVERLAP`` ids are read again, and rows already counted are skipped. The count is
the same as counting the whole minute; calls still being answered elsewhere are not in the log yet, as before.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.api.models import ApiCall

WINDOW = timedelta(minutes=1)
OVERLAP = 64  # log ids read again: rows committed after newer ones


@dataclass
class _Seen:
    last_id: int = 0  # the newest log row read
    times: list[tuple[datetime, int]] = field(default_factory=list)  # (at, id) within the window, oldest first
    ids: set[int] = field(default_factory=set)  # the ids in ``times``


class RateWindows:
    """How long a client must wait before its next call (0: it may call now)."""

    def __init__(self) -> None:
        self._seen: dict[int, _Seen] = {}
        self._lock = threading.Lock()

    def seconds_until_allowed(self, session: Session, client_id: int, limit: int, now: datetime) -> int:
        """0, or the seconds until the oldest call that keeps the client at its limit leaves the minute."""
        with self._lock:
            seen = self._seen.setdefault(client_id, _Seen())
            last_id = seen.last_id
        since = now - WINDOW
        query = select(ApiCall.id, ApiCall.at).where(ApiCall.client_id == client_id, ApiCall.at > since)
        if last_id:
            query = query.where(ApiCall.id > last_id - OVERLAP)
        new = session.execute(query).all()
        with self._lock:
            for call_id, at in new:
                if call_id not in seen.ids:
                    seen.ids.add(call_id)
                    bisect.insort(seen.times, (at, call_id))
                    seen.last_id = max(seen.last_id, call_id)
            gone = bisect.bisect_right(seen.times, (since, 2**63))
            for _, call_id in seen.times[:gone]:
                seen.ids.discard(call_id)
            del seen.times[:gone]
            count = len(seen.times)
            if count < limit:
                return 0
            oldest = seen.times[count - limit][0]
        return max(1, int((oldest + WINDOW - now).total_seconds() + 0.999))
