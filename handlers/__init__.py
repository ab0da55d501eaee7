"""Python code behind BPMN service tasks. ``build_registry()`` returns the registry the application uses."""

from __future__ import annotations

from engine.registry import HandlerRegistry


def build_registry() -> HandlerRegistry:
    """A registry with every built-in handler registered by name."""
    registry = HandlerRegistry()
    for register in _MODULES:
        register(registry)
    return registry


_MODULES: list = []
