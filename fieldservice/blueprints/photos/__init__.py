"""Photos: upload evidence photos to a job and show them through presigned URLs (policy 3.7)."""
from flask import Blueprint

# cli_group=None: the sweep is `flask storage-sweep`, not `flask photos storage-sweep`.
bp = Blueprint("photos", __name__, cli_group=None)

from . import cli, routes  # noqa: E402,F401
