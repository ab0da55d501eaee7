"""Reading numbers and dates from a request without ever failing on what a person (or a bot) typed."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import request

from webapp.i18n import SHANGHAI


def arg_int(name: str, default: int | None = None, minimum: int = 1, maximum: int = 10**9) -> int | None:
    """The query parameter ``name`` as a whole number within [``minimum``, ``maximum``] (ids and page numbers fit
    a database integer); ``default`` for anything else."""
    raw = request.args.get(name, "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return default
    value = int(raw)
    return value if minimum <= value <= maximum else default


def parse_local(raw: str | None) -> datetime | None:
    """An ISO date or date-time typed in Beijing time, as an aware datetime; None when empty or invalid."""
    try:
        return datetime.fromisoformat(raw.strip()).replace(tzinfo=SHANGHAI) if raw and raw.strip() else None
    except ValueError:
        return None


def arg_date(name: str) -> datetime | None:
    """The query parameter ``name`` as a Beijing date (midnight), or None."""
    return parse_local(request.args.get(name))


def day_after(moment: datetime | None) -> datetime | None:
    """The exclusive end of a range whose last day, ``moment``, is included."""
    return moment + timedelta(days=1) if moment else None


def arg_page(name: str = "page") -> int:
    """A page number from the query string; 1 for anything that is not one."""
    return arg_int(name) or 1
