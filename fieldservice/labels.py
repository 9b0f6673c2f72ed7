"""Human names of the codes stored in the database, in the user's language (POLICY glossary)."""
from flask_babel import lazy_gettext as _l

from .models.inspections import CHECK, PER_LINE, PER_SHIPMENT, QUANTITY

ROLE_LABELS = {
    "technician": _l("Field technician"),
    "dispatcher": _l("Dispatcher"),
    "reviewer": _l("Claim reviewer"),
    "supervisor": _l("Supervisor"),
}

STATUS_LABELS = {
    "new": _l("New"),
    "assigned": _l("Assigned"),
    "en_route": _l("On the way"),
    "on_site": _l("On site"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "escalated": _l("Escalated"),
    "cancelled": _l("Cancelled"),
}

REQUEST_TYPE_LABELS = {
    "fault_repair": _l("Fault repair"),
    "complaint": _l("Complaint"),
    "claim": _l("Claim"),
    "delivery_inspection": _l("Delivery inspection at the customer's site"),
    "centre_inspection": _l("Inspection at the service centre"),
    "inquiry": _l("Inquiry"),
    "inspection_follow_up": _l("Follow-up of a failed delivery inspection"),
}

PRIORITY_LABELS = {
    "urgent": _l("Urgent"),
    "high": _l("High"),
    "normal": _l("Normal"),
    "low": _l("Low"),
}

# What each audit action reads as in a record's history.
ACTION_LABELS = {
    "created": _l("Request logged"),
    "assign": _l("Assigned"),
    "start_travel": _l("Started travel"),
    "check_in": _l("Checked in on site"),
    "resolve": _l("Resolved"),
    "escalate": _l("Escalated"),
    "decide": _l("Escalation decided"),
    "close": _l("Closed"),
    "cancel": _l("Cancelled"),
}

ACTION_BUTTONS = {
    "start_travel": _l("Start travel"),
    "check_in": _l("Arrived — check in"),
    "escalate": _l("Escalate"),
    "close": _l("Close job"),
    "cancel": _l("Cancel job"),
}

DEADLINE_LABELS = {
    "ok": _l("On time"),
    "warning": _l("Due soon"),
    "overdue": _l("Overdue"),
    "met": _l("Arrived in time"),
    "missed": _l("Arrived late"),
}

MY_JOBS_GROUPS = {
    "in_progress": _l("In progress"),
    "overdue": _l("Overdue"),
    "today": _l("Due today"),
    "tomorrow": _l("Due tomorrow"),
    "later": _l("Later"),
}

OUTCOME_LABELS = {
    "fixed": _l("Fixed"),
    "needs_parts": _l("Needs parts (follow-up visit)"),
    "escalated": _l("Escalated"),
    "out_of_scope": _l("Outside service scope / not our product"),
}

DIAGNOSIS_STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "superseded": _l("Superseded by a correction"),
}

INSPECTION_KIND_LABELS = {
    "site_delivery": _l("Delivery inspection at the customer's site"),
    "centre_receipt": _l("Receipt inspection at the service centre"),
}

INSPECTION_ANSWER_LABELS = {
    "pass": _l("Pass"),
    "fail": _l("Fail"),
    "na": _l("Not applicable"),
}

INSPECTION_RESULT_LABELS = {
    "passed": _l("Passed"),
    "failed": _l("Failed"),
}

# Complaints and follow-up calls (policy 2.1, 2.6).
COMPLAINT_CATEGORY_LABELS = {
    "late_arrival": _l("Late arrival"),
    "poor_communication": _l("Poor communication"),
    "fault_not_fixed": _l("Fault not fixed"),
    "behaviour": _l("Behaviour of staff"),
    "product_quality": _l("Product quality"),
    "inspection_negligence": _l("Delivery inspection negligence"),
    "other": _l("Other"),
}

COMPLAINT_STATUS_LABELS = {
    "open": _l("Open"),
    "closed": _l("Closed"),
}

COMPLAINT_ACTION_LABELS = {
    "log": _l("Complaint logged"),
    "escalate": _l("Repeated complaint: escalated to the supervisor"),
    "close": _l("Answered and closed"),
}

FOLLOW_UP_STATUS_LABELS = {
    "pending": _l("Call pending"),
    "done": _l("Call done"),
}

FOLLOW_UP_OUTCOME_LABELS = {
    "reached": _l("Customer reached"),
    "no_answer": _l("No answer"),
}

SATISFACTION_LABELS = {
    1: _l("Very dissatisfied"),
    2: _l("Dissatisfied"),
    3: _l("Neutral"),
    4: _l("Satisfied"),
    5: _l("Very satisfied"),
}

# Claims (policy 3.7).
CLAIM_TYPE_LABELS = {
    "warranty_repair": _l("Warranty repair"),
    "replacement": _l("Replacement"),
    "refund": _l("Refund"),
    "transport_damage": _l("Transport damage"),
    "other": _l("Other"),
}

CLAIM_STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "under_review": _l("Under review"),
    "info_requested": _l("Information requested"),
    "resubmitted": _l("Resubmitted"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
}

# Where the defective part is.
PART_WHEREABOUTS_LABELS = {
    "at_customer": _l("Kept at the customer's"),
    "sent_to_centre": _l("Sent to the centre (tracking number)"),
    "received_at_centre": _l("Received at the centre"),
}

# The reviewer's product appraisal; it feeds the quality statistics.
APPRAISAL_LABELS = {
    "manufacturing_defect": _l("Manufacturing defect"),
    "misuse": _l("Misuse"),
    "transport_damage": _l("Transport damage"),
    "normal_wear": _l("Normal wear"),
    "undetermined": _l("Undetermined"),
}

# Quality improvement suggestions, penalties and rewards (policy 3.11, 4, 5).
SUGGESTION_STATUS_LABELS = {
    "proposed": _l("Awaiting a decision"),
    "adopted": _l("Adopted"),
    "not_adopted": _l("Not adopted"),
}

PERFORMANCE_KIND_LABELS = {
    "penalty": _l("Penalty"),
    "reward": _l("Reward"),
}

PERFORMANCE_CLAUSE_LABELS = {
    "4.1": _l("Late arrival that led to a complaint (policy 4.1)"),
    "4.2": _l("Poor communication that led to a complaint (policy 4.2)"),
    "4.3": _l("Delivery inspection negligence that led to a complaint (policy 4.3)"),
    "4.4": _l("Receipt inspection negligence that led to a loss (policy 4.4)"),
    "5.1": _l("A quarter with no customer complaint (policy 5.1)"),
    "5.2": _l("An adopted improvement suggestion (policy 5.2)"),
}

SEVERITY_LABELS = {
    "minor": _l("Minor"),
    "moderate": _l("Moderate"),
    "serious": _l("Serious"),
}

PERFORMANCE_STATUS_LABELS = {
    "candidate": _l("Candidate"),
    "confirmed": _l("Confirmed"),
    "dismissed": _l("Dismissed"),
}

# Checklist editor (policy 4.3, 4.4): how an item is answered, and where it applies.
CHECKLIST_ITEM_KIND_LABELS = {
    CHECK: _l("Pass / fail / not applicable"),
    QUANTITY: _l("Quantity: expected and counted"),
}
CHECKLIST_SCOPE_LABELS = {
    PER_LINE: _l("Per shipment line"),
    PER_SHIPMENT: _l("Whole consignment"),
}
