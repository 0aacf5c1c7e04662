"""Packaged notification templates (data only; read through importlib.resources)."""
