"""Inspection routes (being written)."""
from . import bp  # noqa: F401
