"""All models, imported here so Alembic and the app see every table."""
from .audit import AuditEvent
from .claims import Claim, ClaimEvidence, ClaimMessage
from .complaints import Complaint, ComplaintLink, FollowUp
from .customers import Customer, Product
from .diagnosis import Diagnosis, FaultCategory, ReplacedPart
from .inspections import ChecklistItem, ChecklistTemplate, Inspection, InspectionCheck, InspectionLine
from .jobs import Escalation, Job
from .performance import PerformanceRecord
from .photos import Photo
from .quality import QualityFlag, Suggestion
from .types import UTCDateTime, utcnow
from .users import LoginFailure, Region, User

__all__ = [
    "Suggestion",
    "QualityFlag",
    "PerformanceRecord",
    "FollowUp",
    "ComplaintLink",
    "Complaint",
    "AuditEvent",
    "ChecklistItem",
    "Claim",
    "ClaimEvidence",
    "ClaimMessage",
    "ChecklistTemplate",
    "Customer",
    "Diagnosis",
    "FaultCategory",
    "Inspection",
    "InspectionCheck",
    "InspectionLine",
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
