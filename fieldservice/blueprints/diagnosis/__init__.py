"""On-site diagnosis: the technician's record of the visit, with photos and sign-off."""
from flask import Blueprint

bp = Blueprint("diagnosis", __name__)

from . import routes  # noqa: E402,F401
