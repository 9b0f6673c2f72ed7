"""The service ledger (policy 3.10): every submitted diagnosis as one row, filtered and exported."""
from flask import Blueprint

bp = Blueprint("ledger", __name__)

from . import routes  # noqa: E402,F401
