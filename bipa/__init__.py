"""Composition root: settings, CLI, ASGI app wiring and process entry points."""
