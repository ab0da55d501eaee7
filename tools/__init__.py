"""Authoring tools (not part of the running application)."""
