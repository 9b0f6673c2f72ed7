"""Pages of this area; see operations.py for the rules."""
from . import bp  # noqa: F401
