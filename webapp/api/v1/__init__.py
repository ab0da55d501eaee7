"""The engine's own API under ``/api/v1``: process definitions (read, deploy), work orders (start, find, read,
history, cancel), tasks (the queue, claim, complete, transfer, return, 批注, files), signals, messages and
incidents. A client acts as its user: every call is allowed exactly as the web pages allow that user, and
refused with the engine's codes (``webapp/api/base.py`` turns them into JSON errors).

Scopes: ``engine.read`` for reads, ``engine.write`` for changes, ``engine.deploy`` (and an analyst's or an
administrator's account) for deploying."""

from __future__ import annotations

from webapp.api.v1.definitions import bp as definitions
from webapp.api.v1.events import bp as events
from webapp.api.v1.instances import bp as instances
from webapp.api.v1.tasks import bp as tasks

BLUEPRINTS = (definitions, instances, tasks, events)
