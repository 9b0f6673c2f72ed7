"""Claims with photo evidence, reviewed and settled (policy 3.7). Rules in operations.py;
the pages arrive in a later session (issue 5)."""
from flask import Blueprint

bp = Blueprint("claims", __name__)
