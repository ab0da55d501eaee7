"""What a step's form can be offered beyond the work order's data: facts other systems reported meanwhile.
Only fields the form has and the data leaves empty are filled; the post holder can still change them.

* ``recovery_time`` (恢复回单): when the network manager cleared the alarm that opened or joined the order's
  trouble ticket (TMF642).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.tasks.models import HumanTask
from handlers.tmf.alarm import recovery_time


def field_keys(schema: dict[str, Any] | None) -> set[str]:
    keys: set[str] = set()

    def walk(components: list[dict[str, Any]]) -> None:
        for c in components:
            if c.get("key"):
                keys.add(str(c["key"]))
            walk(c.get("components") or [])

    walk((schema or {}).get("components") or [])
    return keys


def suggested(session: Session, row: HumanTask, schema: dict[str, Any] | None,
              values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the offered facts filled in where the form has the field and the value is empty."""
    keys = field_keys(schema)
    if "recovery_time" in keys and not values.get("recovery_time"):
        cleared = recovery_time(session, row.instance_id)
        if cleared:
            return {**values, "recovery_time": cleared}
    return values
