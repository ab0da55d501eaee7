"""User-task extension properties analysts set in the modeler (formKey, timeLimit, warnBefore, …)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.sla.durations import Duration, parse_duration

ACTIONS = ("transfer", "return", "suspend", "extend")
CALENDARS = ("workday", "24x7")
DEFAULT_CALENDAR = "workday"


@dataclass(frozen=True)
class TaskProperties:
    """The parsed properties of one user task."""

    form_key: str | None = None
    time_limit: Duration | None = None
    warn_before: Duration | None = None
    warn_percent: int | None = None
    calendar: str = DEFAULT_CALENDAR
    allow: frozenset[str] = field(default_factory=lambda: frozenset(ACTIONS))
    time_limit_expr: str | None = None  # timeLimit "=expression": an ISO duration computed from task data
    post_var: str | None = None  # data variable naming the post the task goes to (instead of the lane)
    org_unit_var: str | None = None  # data variable naming the org unit the task goes to
    calendar_expr: str | None = None  # calendar "=expression": workday or 24x7 computed from task data


def parse_task_properties(props: dict[str, str]) -> tuple[TaskProperties, list[tuple[str, str]]]:
    """Parse the property dict; returns the result and a list of ``(property, problem)`` pairs."""
    problems: list[tuple[str, str]] = []

    def duration(name: str) -> Duration | None:
        raw = props.get(name)
        if raw is None or raw == "" or (name == "timeLimit" and raw.startswith("=")):
            return None
        try:
            return parse_duration(raw)
        except ValueError as err:
            problems.append((name, str(err)))
            return None

    limit = duration("timeLimit")
    warn_before = duration("warnBefore")
    warn_percent = None
    if props.get("warnPercent"):
        raw = props["warnPercent"].strip().rstrip("%")
        if raw.isdigit() and 1 <= int(raw) <= 99:
            warn_percent = int(raw)
        else:
            problems.append(("warnPercent", f"'{props['warnPercent']}' is not a whole percentage from 1 to 99"))
    if warn_before is not None and warn_percent is not None:
        problems.append(("warnBefore", "set either warnBefore or warnPercent, not both"))
    if (warn_before is not None or warn_percent is not None) and not props.get("timeLimit"):
        problems.append(("timeLimit", "a warning needs a timeLimit"))
    limit_expr = props["timeLimit"][1:].strip() if props.get("timeLimit", "").startswith("=") else None
    if limit_expr == "":
        problems.append(("timeLimit", "'=' must be followed by an expression giving an ISO-8601 duration"))
    for name in ("postVar", "orgUnitVar"):
        if props.get(name) and not props[name].isidentifier():
            problems.append((name, f"'{props[name]}' is not a variable name"))
    if warn_before is not None and limit is not None and warn_before.total >= limit.total:
        problems.append(("warnBefore", f"warning lead time {props['warnBefore']} is not shorter than the "
                                       f"limit {props['timeLimit']}"))
    calendar = props.get("calendar") or DEFAULT_CALENDAR
    calendar_expr = calendar[1:].strip() if calendar.startswith("=") else None
    if calendar_expr is not None:
        calendar = DEFAULT_CALENDAR
        if not calendar_expr:
            problems.append(("calendar", "'=' must be followed by an expression giving workday or 24x7"))
    if calendar not in CALENDARS:
        problems.append(("calendar", f"'{calendar}' is not one of {', '.join(CALENDARS)}"))
        calendar = DEFAULT_CALENDAR
    allow = frozenset(ACTIONS)
    if "allow" in props:
        listed = {a.strip() for a in props["allow"].split(",") if a.strip()}
        unknown = sorted(listed - set(ACTIONS))
        if unknown:
            problems.append(("allow", f"unknown action(s) {', '.join(unknown)}; allowed: {', '.join(ACTIONS)}"))
        allow = frozenset(listed & set(ACTIONS))
    result = TaskProperties(
        form_key=props.get("formKey") or None,
        time_limit=limit,
        warn_before=warn_before,
        warn_percent=warn_percent,
        calendar=calendar,
        allow=allow,
        time_limit_expr=limit_expr or None,
        post_var=props.get("postVar") or None,
        org_unit_var=props.get("orgUnitVar") or None,
        calendar_expr=calendar_expr or None,
    )
    return result, problems
