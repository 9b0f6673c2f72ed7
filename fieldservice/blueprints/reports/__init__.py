"""Service reports: the print-ready record of a visit that the customer keeps (policy 3.5, 3.6, 3.9)."""
from flask import Blueprint

bp = Blueprint("reports", __name__)

from . import routes  # noqa: E402,F401
