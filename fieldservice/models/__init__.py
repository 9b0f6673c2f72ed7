"""All models, imported here so Alembic and the app see every table."""
from .audit import AuditEvent
from .customers import Customer, Product
from .diagnosis import Diagnosis, FaultCategory, ReplacedPart
from .jobs import Escalation, Job
from .photos import Photo
from .types import UTCDateTime, utcnow
from .users import LoginFailure, Region, User

__all__ = [
    "AuditEvent",
    "Customer",
    "Diagnosis",
    "FaultCategory",
    "Escalation",
    "Job",
    "LoginFailure",
    "Photo",
    "Product",
    "Region",
    "ReplacedPart",
    "UTCDateTime",
    "User",
    "utcnow",
]
