"""Claims with photo evidence, reviewed and settled (policy 3.7). Rules in operations.py,
pages in routes.py (issue 5)."""
from flask import Blueprint

bp = Blueprint("claims", __name__)

from . import routes  # noqa: E402,F401  (registers the views on bp)
