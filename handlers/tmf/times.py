"""Times as the TMF resources carry them: ISO 8601 in UTC with a ``Z``, whole seconds, four-digit years."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime | None) -> str | None:
    """``2026-03-02T01:00:00Z`` (a naive time is taken as UTC); None stays None."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
