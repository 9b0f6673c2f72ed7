"""Checklist templates (edited by supervisors) and inspection failure statistics (policy 4.3, 4.4)."""
from flask import Blueprint

bp = Blueprint("checklists", __name__)

from . import routes  # noqa: E402,F401
