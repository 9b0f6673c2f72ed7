"""Complaints and repeated-complaint escalation (policy 2.6, 3.5) and follow-up visits
(policy 2.1). Rules in operations.py, pages in routes.py (issue 6)."""
from flask import Blueprint

bp = Blueprint("complaints", __name__, cli_group=None)  # its commands sit at the top: flask <command>

from . import routes  # noqa: E402,F401  (registers the views on bp)
