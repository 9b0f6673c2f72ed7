"""Dispatch: log requests from calls, assign jobs, and move them to resolution (policy 3.2)."""
from flask import Blueprint

bp = Blueprint("dispatch", __name__)

from . import routes  # noqa: E402,F401
