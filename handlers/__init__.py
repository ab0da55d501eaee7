"""Python code behind BPMN service tasks, durable jobs and lifecycle listeners. ``build_registry()`` returns
the registry the application uses; sites add their own handlers through plugins (``EOMS_PLUGINS``)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from engine.errors import ConfigurationError
from engine.registry import HandlerRegistry
from handlers import costs, crm, dispatch, kpi, network, projects, resources, sms, tmf
from handlers.network import NetworkManager, SimulatedNetworkManager
from handlers.sms.backends import make_backend


def build_registry(*, sms_backend: str = "outbox", sms_http_url: str | None = None,
                   sms_http_token: str | None = None, crm_webhook_url: str | None = None,
                   crm_webhook_token: str | None = None, crm_webhook_secret: str | None = None,
                   network_manager: NetworkManager | None = None, network_max_attempts: int = 3,
                   plugins: Iterable[str] = ()) -> HandlerRegistry:
    """A registry with every built-in handler, plus those registered by each plugin module's
    ``register(registry)`` function."""
    registry = HandlerRegistry()
    sms.register(registry, make_backend(sms_backend, sms_http_url, sms_http_token))
    dispatch.register(registry)
    resources.register(registry)
    network.register(registry, network_manager or SimulatedNetworkManager(), network_max_attempts)
    crm.register(registry, crm_webhook_url, crm_webhook_token, crm_webhook_secret)
    kpi.register(registry)
    projects.register(registry)
    costs.register(registry)
    tmf.register(registry)
    for name in plugins:
        try:
            module = importlib.import_module(name)
        except ImportError as err:
            raise ConfigurationError(f"plugin '{name}' cannot be imported: {err}") from None
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigurationError(f"plugin '{name}' has no register(registry) function")
        register(registry)
    return registry
