"""Delivery inspection checklists, at the customer's site and at the service centre (policy 4.3, 4.4)."""
from flask import Blueprint

bp = Blueprint("inspections", __name__)

from . import routes  # noqa: E402,F401
