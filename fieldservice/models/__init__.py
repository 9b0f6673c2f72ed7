"""All models, imported here so Alembic and the app see every table."""
from .audit import AuditEvent
from .customers import Customer, Product
from .jobs import Escalation, Job
from .types import UTCDateTime, utcnow
from .users import LoginFailure, Region, User

__all__ = [
    "AuditEvent",
    "Customer",
    "Escalation",
    "Job",
    "LoginFailure",
    "Product",
    "Region",
    "UTCDateTime",
    "User",
    "utcnow",
]
