"""The EOMS web application: ``create_app()`` builds it; one blueprint per area, templates beside them."""

from __future__ import annotations

from webapp.factory import create_app

__all__ = ["create_app"]
