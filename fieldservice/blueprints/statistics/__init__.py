"""Fault statistics (policy 2.3), quality watch (policy 2.4) and the weekly summary
(policy 3.10). Rules in operations.py, pages in routes.py (issue 6)."""
from flask import Blueprint

bp = Blueprint("statistics", __name__, cli_group=None)  # its commands sit at the top: flask <command>

from . import commands, routes  # noqa: E402,F401  (registers the commands and views on bp)
