"""Human names of the codes stored in the database, in the user's language (POLICY glossary)."""
from flask_babel import lazy_gettext as _l

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
    "resolve": _l("Resolved"),
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
