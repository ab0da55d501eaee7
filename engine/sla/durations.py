"""ISO-8601 durations as used for time limits (时限) and warnings: ``PT4H``, ``P2D``, ``P1DT4H30M``, ``P1W``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True)
class Duration:
    """A time limit split into calendar days and clock time; days count working days on a workday calendar."""

    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @property
    def clock(self) -> timedelta:
        """The hour/minute/second part."""
        return timedelta(hours=self.hours, minutes=self.minutes, seconds=self.seconds)

    @property
    def total(self) -> timedelta:
        """The whole duration on a 24x7 calendar."""
        return timedelta(days=self.days) + self.clock

    def is_zero(self) -> bool:
        return self.total == timedelta(0)


def parse_duration(text: str) -> Duration:
    """Parse an ISO-8601 duration of weeks, days, hours, minutes and seconds.

    Years and months are refused (their length is ambiguous for a deadline), as are fractions, negative or
    zero durations. Raises ValueError with a message that quotes the value.
    """
    value = (text or "").strip()
    match = _DURATION.match(value)
    if not match:
        raise ValueError(
            f"'{text}' is not an ISO-8601 duration of weeks, days, hours, minutes or seconds (e.g. PT4H, P2D)"
        )
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    duration = Duration(
        days=parts["weeks"] * 7 + parts["days"], hours=parts["hours"], minutes=parts["minutes"],
        seconds=parts["seconds"],
    )
    if duration.is_zero():
        raise ValueError(f"'{text}' is a zero duration")
    return duration
