"""The whole role x route matrix.

ROUTES below declares, for every endpoint of the app, who may use it. A new route fails
`test_every_endpoint_is_declared` until it is added here (and to CALLS, which says how to
call it). Then every endpoint is called by every role and by an anonymous visitor, as a
normal request and as an htmx request, with real ids:

* anonymous               -> redirect to /login (htmx: 401 with HX-Redirect to /login)
* a role not allowed      -> 403
* a technician on a job that is assigned to another technician -> 404 (page, fragment, POST)
* allowed                 -> anything but 400/401/403/404 and no server error

The supervisor may do everything; "public" routes are open to everybody.
"""
from __future__ import annotations

import functools
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

import pytest
from werkzeug.security import generate_password_hash

from fieldservice.extensions import db
from fieldservice.models import Region, User
from fieldservice.models.users import ROLES
from tests.conftest import PASSWORD

PUBLIC = "public"
TECHNICIAN, DISPATCHER, REVIEWER, SUPERVISOR = "technician", "dispatcher", "reviewer", "supervisor"
ANONYMOUS = "anonymous"
STAFF = frozenset(ROLES)

# endpoint -> the roles its decorator names (the supervisor is allowed on top), or PUBLIC.
ROUTES: dict[str, frozenset[str] | str] = {
    "main.index": STAFF,
    "main.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": STAFF,
    "auth.set_language": PUBLIC,
    "dispatch.new_request": frozenset({DISPATCHER}),
    "dispatch.customer_search": frozenset({DISPATCHER}),
    "dispatch.queue": frozenset({DISPATCHER}),
    "dispatch.board": frozenset({DISPATCHER}),
    "dispatch.jobs": frozenset({DISPATCHER, REVIEWER}),
    "dispatch.job_detail": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    "dispatch.assign": frozenset({DISPATCHER}),
    "dispatch.assign_form": frozenset({DISPATCHER}),
    "dispatch.transition": frozenset({TECHNICIAN, DISPATCHER}),
    "dispatch.my_jobs": frozenset({TECHNICIAN}),
    "dispatch.escalations": frozenset({SUPERVISOR}),
    "dispatch.decide": frozenset({SUPERVISOR}),
    # Service ledger, service report, fault taxonomy (issue 3).
    "ledger.index": frozenset({DISPATCHER, REVIEWER}),
    "ledger.export_csv": frozenset({DISPATCHER, REVIEWER}),
    "reports.service_report": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    "taxonomy.index": frozenset({SUPERVISOR}),
    "taxonomy.add": frozenset({SUPERVISOR}),
    "taxonomy.update": frozenset({SUPERVISOR}),
    # Delivery inspection checklist editor and failure statistics (issue 4).
    "checklists.index": frozenset({SUPERVISOR}),
    "checklists.version": frozenset({SUPERVISOR}),
    "checklists.add_item": frozenset({SUPERVISOR}),
    "checklists.update_item": frozenset({SUPERVISOR}),
    "checklists.failures": frozenset({SUPERVISOR}),
    "diagnosis.show": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    "diagnosis.autosave": frozenset({TECHNICIAN}),
    "diagnosis.update": frozenset({TECHNICIAN}),
    "diagnosis.correct": frozenset({TECHNICIAN}),
    "diagnosis.signature": frozenset({TECHNICIAN}),
    "diagnosis.signature_image": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    "photos.upload": frozenset({TECHNICIAN, DISPATCHER}),
    "photos.photo_variant": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    # Delivery inspections (issue 4): technicians run them; dispatchers and reviewers read them.
    "inspections.new_for_job": frozenset({TECHNICIAN}),
    "inspections.start_for_job": frozenset({TECHNICIAN}),
    "inspections.new_receipt": frozenset({TECHNICIAN}),
    "inspections.index": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    "inspections.show": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    "inspections.answer": frozenset({TECHNICIAN}),
    "inspections.upload_photo": frozenset({TECHNICIAN}),
    "inspections.submit": frozenset({TECHNICIAN}),
    "inspections.correct": frozenset({TECHNICIAN}),
    # Claims (issue 5): claimants open, add evidence, answer, submit; reviewers decide.
    "claims.new_claim": frozenset({TECHNICIAN, DISPATCHER}),
    "claims.show": frozenset({TECHNICIAN, DISPATCHER, REVIEWER}),
    "claims.integrity": frozenset({REVIEWER}),
    "claims.add_evidence": frozenset({TECHNICIAN, DISPATCHER}),
    "claims.remove_evidence": frozenset({TECHNICIAN, DISPATCHER}),
    "claims.answer": frozenset({TECHNICIAN, DISPATCHER}),
    "claims.submit": frozenset({TECHNICIAN, DISPATCHER}),
    "claims.review": frozenset({REVIEWER}),
    "claims.request_info": frozenset({REVIEWER}),
    "claims.reject": frozenset({REVIEWER}),
    "claims.approve": frozenset({REVIEWER}),
    "claims.appraise": frozenset({REVIEWER}),
    "claims.index": STAFF,
    "claims.badge": STAFF,
    "claims.new_claim_from_inspection": frozenset({TECHNICIAN}),
    "claims.upload_evidence": frozenset({TECHNICIAN, DISPATCHER}),
    # Complaints and follow-up calls (issue 6): the desk and supervisors; the repeat queue is the supervisor's.
    "complaints.index": frozenset({DISPATCHER}),
    "complaints.escalated": frozenset({SUPERVISOR}),
    "complaints.new": frozenset({DISPATCHER}),
    "complaints.show": frozenset({DISPATCHER}),
    "complaints.close": frozenset({DISPATCHER}),
    "complaints.follow_ups": frozenset({DISPATCHER}),
    "complaints.follow_up": frozenset({DISPATCHER}),
    # Suggestions, penalties and rewards, scorecards, supervisor dashboard (issue 6).
    "performance.suggestions": STAFF,
    "performance.new_suggestion": STAFF,
    "performance.suggestion": STAFF,
    "performance.decide_suggestion": frozenset({SUPERVISOR}),
    "performance.index": frozenset({SUPERVISOR}),
    "performance.decide": frozenset({SUPERVISOR}),
    "performance.my_scorecard": frozenset({TECHNICIAN}),
    "performance.technician_scorecard": frozenset({TECHNICIAN}),
    "performance.dashboard": frozenset({SUPERVISOR}),
    # Fault statistics, quality watch, weekly summary (issue 6; policy 2.3, 2.4, 3.10).
    "statistics.faults": frozenset({DISPATCHER, REVIEWER}),
    "statistics.quality": frozenset({SUPERVISOR}),
    "statistics.acknowledge": frozenset({SUPERVISOR}),
    "statistics.weekly": frozenset({DISPATCHER}),
    "statistics.weekly_csv": frozenset({DISPATCHER}),
}

TRANSITION_ACTIONS = ("start_travel", "check_in", "resolve", "escalate", "close", "cancel")
# The state a job is put in before an action, so the allowed role's request can really succeed.
STATE_FOR_ACTION = {"start_travel": "assigned", "check_in": "en_route", "resolve": "on_site",
                    "escalate": "assigned", "close": "resolved", "cancel": "assigned"}


@dataclass
class World:
    """The records a call needs: the signed-in user's own job, another technician's job, ..."""

    tech_a: object  # the technician who signs in when the role is technician
    tech_b: object  # "another technician"
    own_job: object
    other_job: object
    escalation_id: int
    region_id: int

    def job(self, scope: str):
        return self.own_job if scope == "own" else self.other_job


@dataclass(frozen=True)
class Call:
    endpoint: str
    method: str
    url: Callable[[World, str], str]  # (world, scope) -> url
    target: Callable[[World, str], str]  # the fragment id htmx would send as HX-Target
    data: Callable[[World, str], dict] = lambda w, s: {}
    job_scoped: bool = False  # a technician may only touch their own jobs here
    variant: str = ""
    job_state: str = "assigned"
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.endpoint}:{self.method}" + (f":{self.variant}" if self.variant else "")


def _const(value):
    return lambda w, s: value


def _new_request_data(w: World, s: str) -> dict:
    return {"customer_name": "Matrix Customer", "customer_phone": "010 1234 5678",
            "customer_address": "9 Matrix Road", "customer_region": str(w.region_id),
            "request_type": "fault_repair", "priority": "normal",
            "description": "Machine beeps three times."}


def _report_url(job) -> str:
    """The job's service report; the job gets a submitted diagnosis first (a report needs one)."""
    from fieldservice.models import Diagnosis

    if db.session.scalar(db.select(Diagnosis.id).where(Diagnosis.job_id == job.id)) is None:
        db.session.add(Diagnosis(job=job, version=1, status="submitted", technician_id=job.technician_id,
                                 symptom="Stops", root_cause="Fuse", actions_taken="Replaced the fuse",
                                 outcome="fixed", contact_name="Wang", submitted_dt=job.created_dt))
        db.session.commit()
    return f"/jobs/{job.id}/report"


def _submitted_diagnosis(job) -> None:
    """A submitted, signed diagnosis on the job (with a signature object in the store)."""
    import io

    from fieldservice.models import Diagnosis
    from fieldservice.services import storage

    if db.session.scalar(db.select(Diagnosis.id).where(Diagnosis.job_id == job.id)) is None:
        key = storage.put(storage.new_key("signatures"), io.BytesIO(b"\x89PNG matrix"), "image/png").key
        db.session.add(Diagnosis(job=job, version=1, status="submitted", technician_id=job.technician_id,
                                 symptom="Stops", root_cause="Fuse", actions_taken="Replaced the fuse",
                                 outcome="fixed", contact_name="Wang", submitted_dt=job.created_dt,
                                 signature_key=key))
        db.session.commit()


def _diagnosis_url(job, suffix: str = "") -> str:
    _submitted_diagnosis(job)
    return f"/jobs/{job.id}/diagnosis{suffix}"


def _fault_category_id() -> int:
    """A fault category to rename or deactivate (the tests start from empty tables)."""
    from fieldservice.models import FaultCategory

    category = db.session.scalar(db.select(FaultCategory).where(FaultCategory.code == "matrix_group"))
    if category is None:
        category = FaultCategory(code="matrix_group", name_en="Matrix", name_zh="矩阵")
        db.session.add(category)
        db.session.commit()
    return category.id



def _checklist_id() -> int:
    """The checklist in use, to read or edit (the tests start from empty tables)."""
    from fieldservice.models import ChecklistItem, ChecklistTemplate

    template = db.session.scalar(db.select(ChecklistTemplate).where(ChecklistTemplate.active.is_(True)))
    if template is None:
        template = ChecklistTemplate(name="delivery", version=1, active=True, items=[
            ChecklistItem(position=0, code="model_matches", label_en="Model matches", label_zh="型号一致")])
        db.session.add(template)
        db.session.commit()
    return template.id


CALLS: list[Call] = [
    Call("main.index", "GET", _const("/"), _const("main")),
    Call("main.healthz", "GET", _const("/healthz"), _const("main")),
    Call("auth.login", "GET", _const("/login"), _const("main")),
    Call("auth.login", "POST", _const("/login"), _const("main"),
         data=lambda w, s: {"username": w.tech_b.username, "password": PASSWORD}),
    Call("auth.logout", "POST", _const("/logout"), _const("main")),
    Call("auth.set_language", "POST", _const("/language"), _const("main"),
         data=_const({"locale": "en", "next": "/"})),
    Call("dispatch.new_request", "GET", _const("/requests/new"), _const("request-form")),
    Call("dispatch.new_request", "GET", _const("/requests/new?q=Cust"), _const("customer-section"),
         variant="customer-section"),
    Call("dispatch.new_request", "POST", _const("/requests/new"), _const("request-form"),
         data=_new_request_data),
    Call("dispatch.customer_search", "GET", _const("/customers/search?q=Cust"), _const("customer-matches")),
    Call("dispatch.queue", "GET", _const("/dispatch/queue"), _const("queue-results")),
    Call("dispatch.board", "GET", _const("/dispatch/board"), _const("board-columns")),
    Call("dispatch.jobs", "GET", _const("/jobs"), _const("jobs-table")),
    Call("dispatch.job_detail", "GET", lambda w, s: f"/jobs/{w.job(s).id}", _const("job-panel"),
         job_scoped=True),
    # The assign form a board or queue card loads on demand (issue 7); page requests go to the job page.
    Call("dispatch.assign_form", "GET", lambda w, s: f"/jobs/{w.job(s).id}/assign-form",
         lambda w, s: f"assign-open-{w.job(s).id}", job_scoped=True),
    Call("dispatch.assign", "POST", lambda w, s: f"/jobs/{w.job(s).id}/assign",
         lambda w, s: f"job-card-{w.job(s).id}",
         data=lambda w, s: {"technician_id": str(w.tech_a.id if s == "other" else w.tech_b.id),
                            "version": str(w.job(s).version)},
         job_scoped=True),
    *[
        Call("dispatch.transition", "POST", (lambda a: lambda w, s: f"/jobs/{w.job(s).id}/{a}")(action),
             lambda w, s: f"job-card-{w.job(s).id}",
             data=lambda w, s: {"reason": "Because the matrix says so.", "request_key": uuid.uuid4().hex},
             job_scoped=True, variant=action, job_state=STATE_FOR_ACTION[action])
        for action in TRANSITION_ACTIONS
    ],
    Call("dispatch.my_jobs", "GET", _const("/my-jobs"), _const("my-jobs-list")),
    Call("dispatch.escalations", "GET", _const("/escalations"), _const("main")),
    Call("dispatch.decide", "POST", lambda w, s: f"/escalations/{w.escalation_id}/decide", _const("main"),
         data=lambda w, s: {"decision": "Replace the unit under goodwill.", "request_key": uuid.uuid4().hex}),
    # Service ledger, service report, fault taxonomy (issue 3).
    Call("ledger.index", "GET", _const("/ledger"), _const("ledger-results")),
    Call("ledger.export_csv", "GET", _const("/ledger.csv"), _const("main")),
    Call("reports.service_report", "GET", lambda w, s: _report_url(w.job(s)), _const("main"),
         job_scoped=True, job_state="resolved"),
    Call("taxonomy.index", "GET", _const("/fault-categories"), _const("main")),
    Call("taxonomy.add", "POST", _const("/fault-categories"), _const("category-add"),
         data=lambda w, s: {"parent_id": "0", "code": f"matrix_{uuid.uuid4().hex[:8]}",
                            "name_en": "Matrix faults", "name_zh": "矩阵故障"}),
    Call("taxonomy.update", "POST", lambda w, s: f"/fault-categories/{_fault_category_id()}",
         lambda w, s: f"category-{_fault_category_id()}", data=_const({"action": "deactivate"})),
    # Delivery inspection checklist (issue 4): every change saves a new version.
    Call("checklists.index", "GET", _const("/checklists"), _const("checklist-editor")),
    Call("checklists.version", "GET", lambda w, s: f"/checklists/{_checklist_id()}", _const("main")),
    Call("checklists.add_item", "POST", lambda w, s: _checklist_id() and "/checklists/items",
         _const("checklist-editor"),
         data=lambda w, s: {"code": f"matrix_{uuid.uuid4().hex[:8]}", "label_en": "Matrix check",
                            "label_zh": "矩阵检查", "kind": "check", "scope": "line"}),
    Call("checklists.update_item", "POST", lambda w, s: _checklist_id() and "/checklists/items/model_matches",
         _const("checklist-editor"),
         data=lambda w, s: {"action": "rename", "label_en": f"Model {uuid.uuid4().hex[:6]}", "label_zh": "型号"}),
    Call("checklists.failures", "GET", _const("/inspections/failures?from=2025-01-01"), _const("failure-results")),
    # On-site diagnosis (issue 3): writing needs the job on site; reading and correcting a
    # submitted record work once the job is resolved.
    Call("diagnosis.show", "GET", lambda w, s: f"/jobs/{w.job(s).id}/diagnosis", _const("main"),
         job_scoped=True, job_state="on_site"),
    Call("diagnosis.autosave", "POST", lambda w, s: f"/jobs/{w.job(s).id}/diagnosis/draft", _const("draft-status"),
         data=_const({"symptom": "Grinding noise"}), job_scoped=True, job_state="on_site",
         extra={"marker": 'id="draft-status"'}),
    Call("diagnosis.update", "POST", lambda w, s: f"/jobs/{w.job(s).id}/diagnosis", _const("parts"),
         data=_const({"symptom": "Grinding noise", "action": "add_part"}), job_scoped=True, job_state="on_site",
         extra={"marker": 'id="parts"'}),
    Call("diagnosis.correct", "POST", lambda w, s: _diagnosis_url(w.job(s), "/correct"), _const("main"),
         job_scoped=True, job_state="resolved"),
    Call("diagnosis.signature", "POST", lambda w, s: f"/jobs/{w.job(s).id}/diagnosis/signature",
         _const("signature-block"), job_scoped=True, job_state="on_site",
         data=lambda w, s: {"signature": (_signature_png(), "signature.png")},
         extra={"marker": 'id="signature-block"'}),
    Call("diagnosis.signature_image", "GET", lambda w, s: _diagnosis_url(w.job(s), "/signature"), _const("main"),
         job_scoped=True, job_state="resolved"),
    # Photos (issue 3): upload to a job, and the access-checked redirect to a presigned URL.
    Call("photos.upload", "POST", lambda w, s: f"/jobs/{w.job(s).id}/photos", lambda w, s: f"photos-{w.job(s).id}",
         data=lambda w, s: {"photo": (_jpeg(), "site.jpg"), "caption": "Cracked roller"},
         job_scoped=True, job_state="on_site", extra={"marker": 'class="photo-tile"'}),
    Call("photos.photo_variant", "GET", lambda w, s: _photo_url(w.job(s)), _const("main"),
         job_scoped=True, job_state="on_site"),
    # Delivery inspections (issue 4): the job becomes a delivery inspection on site; the
    # inspection is started (or submitted) by the job's technician before the call.
    Call("inspections.new_for_job", "GET", lambda w, s: f"/jobs/{_delivery_job(w.job(s)).id}/inspection/new",
         _const("inspection-start"), job_scoped=True, job_state="on_site", extra={"marker": 'id="inspection-start"'}),
    Call("inspections.start_for_job", "POST", lambda w, s: f"/jobs/{_delivery_job(w.job(s)).id}/inspection",
         _const("inspection-lines"), data=lambda w, s: {**_start_data(), "action": "add_line"},
         job_scoped=True, job_state="on_site", extra={"marker": 'id="inspection-lines"'}),
    Call("inspections.start_for_job", "POST", lambda w, s: f"/jobs/{_delivery_job(w.job(s)).id}/inspection",
         _const("main"), data=lambda w, s: _start_data(), job_scoped=True, job_state="on_site", variant="start"),
    Call("inspections.new_receipt", "GET", _const("/inspections/new"), _const("inspection-start")),
    Call("inspections.new_receipt", "POST", lambda w, s: _inspection_checklist() and "/inspections/new",
         _const("inspection-start"), data=lambda w, s: _start_data()),
    Call("inspections.index", "GET", _const("/inspections"), _const("inspections-results")),
    Call("inspections.show", "GET", lambda w, s: f"/inspections/{_inspection(w.job(s)).id}", _const("main"),
         job_scoped=True, job_state="on_site"),
    Call("inspections.answer", "POST", lambda w, s: _answer_url(w.job(s)),
         lambda w, s: f"check-{_first_check(w.job(s)).id}", data=_const({"answer": "pass"}),
         job_scoped=True, job_state="on_site", extra={"marker": 'id="inspection-progress"'}),
    Call("inspections.upload_photo", "POST", lambda w, s: _answer_url(w.job(s)) + "/photos",
         lambda w, s: f"photos-check-{_first_check(w.job(s)).id}",
         data=lambda w, s: {"photo": (_jpeg(), "box.jpg"), "caption": "Torn box"},
         job_scoped=True, job_state="on_site", extra={"marker": 'class="photo-tile"'}),
    Call("inspections.submit", "POST", lambda w, s: f"/inspections/{_inspection(w.job(s), answered=True).id}/submit",
         _const("main"), job_scoped=True, job_state="on_site"),
    Call("inspections.correct", "POST", lambda w, s: f"/inspections/{_inspection(w.job(s), submitted=True).id}/correct",
         _const("main"), job_scoped=True, job_state="on_site"),
    # Claims (issue 5): the claim on the job is opened by its technician and put in the state
    # the call needs before the call.
    Call("claims.new_claim", "GET", lambda w, s: _diagnosis_url(w.job(s)) and f"/jobs/{w.job(s).id}/claims/new",
         _const("main"), job_scoped=True, job_state="resolved"),
    Call("claims.new_claim", "POST", lambda w, s: _diagnosis_url(w.job(s)) and f"/jobs/{w.job(s).id}/claims/new",
         _const("main"), data=lambda w, s: _claim_form(), job_scoped=True, job_state="resolved"),
    Call("claims.show", "GET", lambda w, s: f"/claims/{_claim(w.job(s)).id}", _const("main"),
         job_scoped=True, job_state="resolved"),
    Call("claims.integrity", "GET", lambda w, s: f"/claims/{_claim(w.job(s), 'submitted').id}/integrity",
         _const("claim-evidence"), job_scoped=True, job_state="resolved"),
    Call("claims.add_evidence", "POST", lambda w, s: f"/claims/{_claim(w.job(s)).id}/evidence", _const("main"),
         data=lambda w, s: {"photo_id": str(_new_photo(w.job(s)).id)}, job_scoped=True, job_state="resolved"),
    Call("claims.remove_evidence", "POST",
         lambda w, s: _remove_evidence_url(w.job(s)),
         _const("main"), job_scoped=True, job_state="resolved"),
    Call("claims.answer", "POST", lambda w, s: f"/claims/{_claim(w.job(s), 'info_requested').id}/answer",
         _const("main"), data=_const({"answer": "Kept at the customer's site."}), job_scoped=True,
         job_state="resolved"),
    Call("claims.submit", "POST", lambda w, s: f"/claims/{_claim(w.job(s)).id}/submit", _const("main"),
         job_scoped=True, job_state="resolved"),
    Call("claims.review", "POST", lambda w, s: f"/claims/{_claim(w.job(s), 'submitted').id}/review",
         _const("main"), job_scoped=True, job_state="resolved"),
    Call("claims.request_info", "POST", lambda w, s: f"/claims/{_claim(w.job(s), 'under_review').id}/request-info",
         _const("main"), data=_const({"question": "Photograph the serial plate."}), job_scoped=True,
         job_state="resolved"),
    Call("claims.reject", "POST", lambda w, s: f"/claims/{_claim(w.job(s), 'under_review').id}/reject",
         _const("main"), data=_const({"reason": "Damage caused by misuse."}), job_scoped=True, job_state="resolved"),
    Call("claims.approve", "POST", lambda w, s: f"/claims/{_claim(w.job(s), 'under_review').id}/approve",
         _const("main"), data=_const({"amount": "100", "reason": "Defect confirmed."}), job_scoped=True,
         job_state="resolved"),
    Call("claims.appraise", "POST", lambda w, s: f"/claims/{_claim(w.job(s), 'under_review').id}/appraise",
         _const("main"), data=_const({"appraisal": "manufacturing_defect", "notes": "Casting flaw."}),
         job_scoped=True, job_state="resolved"),
    Call("claims.new_claim_from_inspection", "GET",
         lambda w, s: f"/inspections/{_failed_inspection(w.job(s)).id}/claims/new", _const("main"),
         job_scoped=True, job_state="on_site"),
    Call("claims.new_claim_from_inspection", "POST",
         lambda w, s: f"/inspections/{_failed_inspection(w.job(s)).id}/claims/new", _const("main"),
         data=lambda w, s: _claim_form(), job_scoped=True, job_state="on_site"),
    Call("claims.upload_evidence", "POST", lambda w, s: f"/claims/{_claim(w.job(s)).id}/photos", _const("main"),
         data=lambda w, s: {"photo": (_jpeg(), "part.jpg")}, job_scoped=True, job_state="resolved",
         extra={"marker": 'class="photo-tile"'}),
    Call("claims.index", "GET", _const("/claims"), _const("claims-results")),
    Call("claims.badge", "GET", _const("/claims/badge"), _const("main")),
    # Complaints and follow-up calls (issue 6): the resolved job has its follow-up call; a
    # complaint about it is logged by the desk before the call.
    Call("complaints.index", "GET", _const("/complaints"), _const("complaint-results")),
    Call("complaints.escalated", "GET", _const("/complaints/escalated"), _const("escalated-results")),
    Call("complaints.new", "GET", lambda w, s: f"/complaints/new?job={w.job(s).id}", _const("complaint-form"),
         job_state="resolved"),
    Call("complaints.new", "GET", _const("/complaints/new?q=Cust"), _const("complaint-customer-matches"),
         variant="customer-search"),
    Call("complaints.new", "POST", lambda w, s: f"/complaints/new?job={w.job(s).id}", _const("complaint-form"),
         data=lambda w, s: {"job_id": str(w.job(s).id), "category": "behaviour", "description": "Rude on the phone."},
         job_state="resolved"),
    Call("complaints.show", "GET", lambda w, s: f"/complaints/{_complaint(w.job(s)).id}", _const("complaint-close"),
         job_state="resolved"),
    Call("complaints.close", "POST", lambda w, s: f"/complaints/{_complaint(w.job(s)).id}/close",
         _const("complaint-close"), data=_const({"answer": "Apologised; the technician was briefed."}),
         job_state="resolved"),
    Call("complaints.follow_ups", "GET", _const("/follow-ups"), _const("follow-up-results"), job_state="resolved"),
    Call("complaints.follow_up", "GET", lambda w, s: f"/follow-ups/{_follow_up(w.job(s)).id}",
         _const("follow-up-form"), job_state="resolved"),
    Call("complaints.follow_up", "POST", lambda w, s: f"/follow-ups/{_follow_up(w.job(s)).id}",
         _const("follow-up-form"), data=_const({"outcome": "reached", "satisfaction": "4", "comments": "Fine now."}),
         job_state="resolved"),
    # Suggestions, penalties and rewards, scorecards, supervisor dashboard (issue 6): the
    # scorecard is "job scoped" by its technician (own: a redirect to /performance/me; another
    # technician's: 404); the decision dismisses tech_a's running-quarter reward candidate (5.1).
    Call("performance.suggestions", "GET", _const("/suggestions"), _const("suggestion-results")),
    Call("performance.new_suggestion", "GET", _const("/suggestions/new"), _const("suggestion-form")),
    Call("performance.new_suggestion", "POST", _const("/suggestions/new"), _const("suggestion-form"),
         data=_const({"title": "Stronger cartons", "body": "Corners crushed in transport."})),
    Call("performance.suggestion", "GET", lambda w, s: f"/suggestions/{_suggestion(w).id}",
         _const("suggestion-decision")),
    Call("performance.decide_suggestion", "POST", lambda w, s: f"/suggestions/{_suggestion(w).id}/decide",
         _const("suggestion-decision"), data=_const({"decision": "adopted", "note": "The factory agrees."})),
    Call("performance.index", "GET", _const("/performance"), _const("performance-decided")),
    Call("performance.decide", "POST", _const("/performance/decide"), lambda w, s: f"candidate-{_reward(w)[1]}",
         data=lambda w, s: {"basis_key": _reward(w)[0], "quarter": _reward(w)[2], "decision": "dismiss",
                            "note": "Matrix decision."}),
    Call("performance.my_scorecard", "GET", _const("/performance/me"), _const("main")),
    Call("performance.technician_scorecard", "GET", lambda w, s: f"/performance/technicians/{w.job(s).technician_id}",
         _const("main"), job_scoped=True),
    Call("performance.dashboard", "GET", _const("/dashboard"), _const("main")),
    # Fault statistics, quality watch, weekly summary (issue 6): an open quality flag to acknowledge.
    Call("statistics.faults", "GET", _const("/statistics/faults?from=2026-W01&to=2026-W08"), _const("fault-results")),
    Call("statistics.quality", "GET", _const("/statistics/quality"), _const("quality-flags")),
    Call("statistics.acknowledge", "POST", lambda w, s: f"/statistics/quality/{_quality_flag_id()}/acknowledge",
         _const("quality-flags"), data=_const({"note": "Told the factory."})),
    Call("statistics.weekly", "GET", _const("/statistics/weekly?week=2026-W10"), _const("weekly-summary")),
    Call("statistics.weekly_csv", "GET", _const("/statistics/weekly.csv?week=2026-W10"), _const("main")),
]


def _quality_flag_id() -> int:
    """A quality flag, open when first made (the tests start from empty tables)."""
    from fieldservice.models import QualityFlag

    flag = db.session.scalar(db.select(QualityFlag))
    if flag is None:
        flag = QualityFlag(product_model="PX-200", fault_category_id=_fault_category_id(), iso_week="2026-W10",
                           fault_count=5, model_total=6)
        db.session.add(flag)
        db.session.commit()
    return flag.id


def _suggestion(w: World):
    """A suggestion of tech_a's, awaiting a decision (the same one when asked again)."""
    from fieldservice.models import Suggestion

    suggestion = db.session.scalar(db.select(Suggestion))
    if suggestion is None:
        suggestion = Suggestion(author_id=w.tech_a.id, title="Matrix idea", body="Use stronger cartons.")
        db.session.add(suggestion)
        db.session.commit()
    return suggestion


def _reward(w: World) -> tuple[str, str, str]:
    """tech_a's 5.1 reward candidate of the current quarter: (basis_key, its card's id, quarter)."""
    from fieldservice.blueprints.performance.operations import current_quarter, slug

    quarter = current_quarter()
    key = f"5.1:{quarter}:user:{w.tech_a.id}"
    return key, slug(key), quarter


def _complaint(job):
    """An open complaint about the job, logged by the desk (the same one when asked again)."""
    from fieldservice.blueprints.complaints import operations as ops
    from fieldservice.models import Complaint

    complaint = db.session.scalar(db.select(Complaint).where(Complaint.job_id == job.id))
    if complaint is None:
        complaint = ops.log_complaint(job.customer, "late_arrival", "Came late.", job.created_by, job=job)
        db.session.commit()
    return complaint


def _follow_up(job):
    """The resolved job's follow-up call (created when it was resolved)."""
    from fieldservice.blueprints.complaints import operations as ops

    return ops.follow_up_of(job)


def _claim_form() -> dict:
    return {"claim_type": "replacement", "description": "Roller arrived cracked.", "amount": "1200",
            "currency": "CNY", "part_whereabouts": "at_customer"}


def _new_photo(job):
    """A new photo of the job (through the real photo service)."""
    from fieldservice.services.photos import ingest_photo

    photo = ingest_photo(_jpeg(), uploader=job.technician, job=job, caption="Matrix claim")
    db.session.commit()
    return photo


def _remove_evidence_url(job) -> str:
    """The URL that removes the draft claim's first photo (the same one when asked again)."""
    from fieldservice.models import ClaimEvidence

    claim = _claim(job)
    first = db.session.scalar(db.select(db.func.min(ClaimEvidence.id)).where(ClaimEvidence.claim_id == claim.id))
    return f"/claims/{claim.id}/evidence/{first or 0}/remove"


def _claim(job, state: str = "draft"):
    """The job's claim, opened by its technician from a submitted diagnosis with one photo as
    evidence, and driven to `state` (draft, submitted, under_review, info_requested)."""
    from fieldservice.blueprints.claims import operations as ops
    from fieldservice.models import Claim, Diagnosis

    claim = db.session.scalar(db.select(Claim).where(Claim.job_id == job.id))
    if claim is None:
        _submitted_diagnosis(job)
        diagnosis = db.session.scalar(db.select(Diagnosis).where(Diagnosis.job_id == job.id))
        claim = ops.open_claim(job.technician, ops.ClaimData(claim_type="replacement", description="Cracked."),
                               diagnosis=diagnosis)
        ops.add_evidence(claim, _new_photo(job), job.technician)
        if state != "draft":
            ops.submit_claim(claim, job.technician)
        if state in ("under_review", "info_requested"):
            reviewer = _staff(_Maker(), REVIEWER)
            ops.start_review(claim, reviewer)
            if state == "info_requested":
                ops.request_info(claim, reviewer, "Photograph the serial plate.")
        db.session.commit()
    return claim


def _inspection_checklist() -> bool:
    """The policy's default checklist, unless a checklist is in use already."""
    from fieldservice.blueprints.inspections import operations as ops
    from tests.inspections.conftest import DEFAULT_ITEMS

    if ops.active_template() is None:
        ops.new_template_version(DEFAULT_ITEMS, _staff(_Maker(), SUPERVISOR))
        db.session.commit()
    return True


class _Maker:
    """What _staff needs of the Factory (a region), outside a fixture."""

    def region(self):
        return db.session.scalar(db.select(Region))


def _start_data() -> dict:
    return {"order_reference": "PO-MATRIX", "lines-0-product_model": "PX-200", "lines-0-expected_quantity": "2"}


def _delivery_job(job):
    """The job, made a delivery inspection (so an inspection can start from it)."""
    _inspection_checklist()
    if job.request_type != "delivery_inspection":
        job.request_type = "delivery_inspection"
        db.session.commit()
    return job


def _inspection(job, answered: bool = False, submitted: bool = False):
    """The job's inspection, started by its technician; every item answered (passing) or submitted."""
    from fieldservice.blueprints.inspections import operations as ops
    from fieldservice.models import Inspection

    inspection = db.session.scalar(db.select(Inspection).where(Inspection.job_id == job.id))
    if inspection is None:
        _delivery_job(job)
        inspection = ops.start_inspection(kind="site_delivery", inspector=job.technician, order_reference="PO-MATRIX",
                                          lines=[ops.LineData("PX-200", 2)], job=job)
        if answered or submitted:
            for check in inspection.checks:
                ops.answer_check(check, "pass", counted_quantity=check.expected_quantity)
        if submitted:
            ops.submit_inspection(inspection, job.technician)
        db.session.commit()
    return inspection


def _failed_inspection(job):
    """The job's inspection, submitted, and recorded as failed (what a claim is opened from)."""
    inspection = _inspection(job, submitted=True)
    if inspection.result != "failed":
        inspection.result = "failed"
        db.session.commit()
    return inspection


def _first_check(job):
    return next(c for c in _inspection(job).checks if c.kind == "check")


def _answer_url(job) -> str:
    return f"/inspections/{_inspection(job).id}/checks/{_first_check(job).id}"


def _jpeg():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    out.seek(0)
    return out


def _photo_url(job) -> str:
    """A stored photo of the job (through the real photo service) and its thumbnail URL."""
    from fieldservice.models import Photo
    from fieldservice.services.photos import ingest_photo

    photo = db.session.scalar(db.select(Photo).where(Photo.job_id == job.id))
    if photo is None:
        photo = ingest_photo(_jpeg(), uploader=job.technician, job=job, caption="Matrix")
        db.session.commit()
    return f"/photos/{photo.id}/thumb"


def _signature_png():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (60, 24), (0, 0, 0, 255)).save(out, "PNG")
    out.seek(0)
    return out

WHO = (TECHNICIAN, DISPATCHER, REVIEWER, SUPERVISOR, ANONYMOUS)
MODES = ("page", "htmx")


def _cases():
    for call in CALLS:
        for who in WHO:
            scopes = ("own", "other") if (call.job_scoped and who == TECHNICIAN) else ("other",)
            for scope in scopes:
                for mode in MODES:
                    label = f"{call.name}-{who}-{mode}" + ("-own-job" if scope == "own" else
                                                            "-others-job" if call.job_scoped else "")
                    yield pytest.param(call, who, scope, mode, id=label)


def _may(endpoint: str, who: str) -> bool:
    rule = ROUTES[endpoint]
    if rule == PUBLIC:
        return True
    return who != ANONYMOUS and (who == SUPERVISOR or who in rule)


# --- the table itself --------------------------------------------------------------------


def _endpoints(app) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            found.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_every_endpoint_is_declared(app):
    """A new route must be added to ROUTES (who may use it) before the suite passes."""
    missing = sorted(set(_endpoints(app)) - set(ROUTES))
    assert not missing, f"endpoints missing from the role table: {missing}"
    stale = sorted(set(ROUTES) - set(_endpoints(app)))
    assert not stale, f"role table names endpoints the app no longer has: {stale}"


def test_every_endpoint_and_method_is_called_by_the_matrix(app):
    called: dict[str, set[str]] = {}
    for call in CALLS:
        called.setdefault(call.endpoint, set()).add(call.method)
    assert called == _endpoints(app)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "dispatch.transition")
    assert set(rule._converters["action"].items) == set(TRANSITION_ACTIONS)


def test_table_matches_the_decorators(app):
    """ROUTES says exactly what each view's roles_required/any_staff/public declared."""
    for endpoint in ROUTES:
        view = app.view_functions[endpoint]
        declared = getattr(view, "allowed_roles", None)
        assert declared is not None, f"{endpoint} has no role decorator from security.py"
        if ROUTES[endpoint] == PUBLIC:
            assert declared == PUBLIC, endpoint
        else:
            assert declared != PUBLIC, endpoint
            assert frozenset(declared) == ROUTES[endpoint], endpoint
            assert set(declared) <= STAFF, endpoint


# --- the matrix --------------------------------------------------------------------------


_seq = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def _staff(make, role: str) -> User:
    """A real account that signs in with PASSWORD; the (slow) hash is computed once per run."""
    n = next(_seq)
    user = User(username=f"m{role}{n}", display_name=f"{role.title()} {n}", role=role,
                region=make.region(), password_hash=_password_hash())
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture(autouse=True)
def _object_storage(s3_app):
    """Every call runs against an app with real object storage (signatures, photos)."""


@pytest.fixture
def world(make, app) -> Callable[[str], World]:
    def build(job_state: str) -> World:
        dispatcher = _staff(make, DISPATCHER)
        tech_a = _staff(make, TECHNICIAN)
        tech_b = _staff(make, TECHNICIAN)
        own = make.job(job_state, technician=tech_a, dispatcher=dispatcher)
        other = make.job(job_state, technician=tech_b, dispatcher=dispatcher)
        escalated = make.job("escalated", technician=tech_b, dispatcher=dispatcher)
        region = db.session.scalar(db.select(Region))
        return World(tech_a, tech_b, own, other, escalated.escalations[0].id, region.id)

    return build


def _client_for(who: str, world: World, app, make, login):
    if who == ANONYMOUS:
        from tests.conftest import Client

        app.test_client_class = Client
        return app.test_client()
    if who == TECHNICIAN:
        return login(world.tech_a)
    if who == DISPATCHER:
        dispatcher = world.own_job.created_by
        return login(dispatcher)
    return login(_staff(make, who))


def _send(client, call: Call, world: World, scope: str, mode: str):
    url = call.url(world, scope)
    target = call.target(world, scope)
    if call.method == "GET":
        if mode == "htmx":
            return client.htmx_get(url, target)
        return client.get(url)
    data = dict(call.data(world, scope))
    if client.csrf is None:
        client.fetch_csrf("/login")
    if mode == "htmx":
        # What htmx sends: the form's fields (its hidden csrf_token too) and the header token.
        data.setdefault("csrf_token", client.csrf)
        return client.post_form(url, data, htmx_target=target)
    return client.post_form(url, data)


@pytest.mark.parametrize("call, who, scope, mode", list(_cases()))
def test_route_matrix(app, make, login, world, call: Call, who: str, scope: str, mode: str):
    w = world(call.job_state)
    client = _client_for(who, w, app, make, login)
    response = _send(client, call, w, scope, mode)
    status = response.status_code
    where = f"{call.method} {call.url(w, scope)} as {who} ({mode}, {scope} job)"
    page = response.get_data(as_text=True)
    body = page[:300]

    if not _may(call.endpoint, who):
        if who == ANONYMOUS:
            if mode == "htmx":
                assert status == 401, f"{where}: {status} {body}"
                assert urlsplit(response.headers.get("HX-Redirect", "")).path == "/login", where
            else:
                assert status in (302, 303), f"{where}: {status} {body}"
                assert urlsplit(response.headers["Location"]).path == "/login", where
        else:
            assert status == 403, f"{where}: {status} {body}"
        return

    if call.job_scoped and who == TECHNICIAN and scope == "other":
        assert status == 404, f"{where}: {status} {body}"
        return

    assert status not in (400, 401, 403, 404), f"{where}: {status} {body}"
    assert status < 500, f"{where}: {status} {body}"
    if call.job_scoped and who == TECHNICIAN:
        marker = call.extra.get("marker", w.own_job.reference)
        assert marker in page or status in (302, 303), where


def test_technician_cannot_change_another_technicians_job(app, make, login, world):
    """Not only a 404: the other technician's job and its history stay exactly as they were."""
    from fieldservice.models import AuditEvent, Job

    w = world("assigned")
    client = login(w.tech_a)
    before = (w.other_job.status, w.other_job.version)
    events = db.session.scalar(db.select(db.func.count(AuditEvent.id)))
    for action in TRANSITION_ACTIONS:
        assert client.post_form(f"/jobs/{w.other_job.id}/{action}",
                                {"reason": "x", "request_key": uuid.uuid4().hex}).status_code == 404
    db.session.expire_all()
    job = db.session.get(Job, w.other_job.id)
    assert (job.status, job.version) == before
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == events
