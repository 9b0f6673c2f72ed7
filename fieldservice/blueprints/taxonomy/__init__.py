"""The fault taxonomy (policy 2.3): groups and their faults, kept by supervisors."""
from flask import Blueprint

bp = Blueprint("taxonomy", __name__)

from . import routes  # noqa: E402,F401
