"""Quality improvement suggestions (policy 3.11, 5.2), penalty and reward records
(policy 4, 5), technicians' scorecards and the supervisor dashboard (issue 6)."""
from flask import Blueprint

bp = Blueprint("performance", __name__, cli_group=None)  # its commands sit at the top: flask <command>

from . import routes  # noqa: E402,F401  (registers the views on bp)
