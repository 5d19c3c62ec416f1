"""Crisiswatch: everything that is not an agent (settings, app, model code, tools, CLI)."""
