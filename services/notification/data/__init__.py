"""Packaged notification data (read through importlib.resources)."""
