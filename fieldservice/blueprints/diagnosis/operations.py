"""Diagnosis operations (policy 3.3, 3.5, 3.6, 3.9, 3.10): drafts, submission, corrections.

Functions flush; the route commits once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import Diagnosis, FaultCategory, Job, Photo, ReplacedPart, User, utcnow
from ...models.diagnosis import DRAFT, NEEDS_PARTS, OUT_OF_SCOPE, OUTCOMES, SUBMITTED, SUPERSEDED
from ...models.jobs import ON_SITE
from ...models.users import TECHNICIAN
from ...services.audit import record_event
from ...services.lifecycle import TransitionError

TEXT_FIELDS = ("symptom", "root_cause", "actions_taken", "guidance", "customer_explanation", "contact_name")


@dataclass
class PartData:
    part_number: str = ""
    description: str = ""
    quantity: int = 1
    faulty_serial: str = ""
    replacement_serial: str = ""
    kept_as_evidence: bool = False

    @property
    def is_blank(self) -> bool:
        return not (self.part_number.strip() or self.description.strip() or self.faulty_serial.strip()
                    or self.replacement_serial.strip())


@dataclass
class DiagnosisData:
    """What the technician has typed so far (a draft may be incomplete)."""

    symptom: str = ""
    fault_category_id: int | None = None
    root_cause: str = ""
    actions_taken: str = ""
    guidance: str = ""
    outcome: str | None = None
    customer_explanation: str = ""
    contact_name: str = ""
    parts: list[PartData] = field(default_factory=list)


class DiagnosisIncomplete(Exception):
    """Submission refused; `problems` maps field names to messages shown beside them."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(", ".join(problems))
        self.problems = problems


def versions(job: Job) -> list[Diagnosis]:
    """Every version of the job's diagnosis, newest first."""
    return list(db.session.scalars(
        select(Diagnosis).where(Diagnosis.job_id == job.id).order_by(Diagnosis.version.desc())
    ))


def current_diagnosis(job: Job) -> Diagnosis | None:
    """The newest version: the draft being written, or the submitted record."""
    return db.session.scalar(
        select(Diagnosis).where(Diagnosis.job_id == job.id).order_by(Diagnosis.version.desc()).limit(1)
    )


def can_write(job: Job, user: User, diagnosis: Diagnosis | None) -> bool:
    """The job's technician (or a supervisor) writes; a first diagnosis needs the job on site."""
    if not (user.role == "supervisor" or (user.role == TECHNICIAN and job.technician_id == user.id)):
        return False
    if diagnosis is None:
        return job.status == ON_SITE
    return diagnosis.status == DRAFT


def start_draft(job: Job, technician: User, now: datetime | None = None) -> Diagnosis:
    """The first draft of a job's diagnosis, once the technician is on site."""
    if job.status != ON_SITE:
        raise TransitionError(_l("Check in on site before writing the diagnosis."))
    diagnosis = Diagnosis(job=job, version=1, status=DRAFT, technician_id=job.technician_id or technician.id,
                          created_dt=now or utcnow())
    db.session.add(diagnosis)
    db.session.flush()
    return diagnosis


def save_draft(diagnosis: Diagnosis, data: DiagnosisData, now: datetime | None = None) -> Diagnosis:
    """Keep what was typed; nothing is checked for completeness yet."""
    if diagnosis.status != DRAFT:
        raise TransitionError(_l("This diagnosis was submitted and can no longer be changed. Start a correction."))
    for name in TEXT_FIELDS:
        setattr(diagnosis, name, (getattr(data, name) or "").strip())
    diagnosis.fault_category_id = data.fault_category_id or None
    diagnosis.outcome = data.outcome if data.outcome in OUTCOMES else None
    diagnosis.parts = [
        ReplacedPart(position=i, part_number=p.part_number.strip(), description=p.description.strip(),
                     quantity=p.quantity or 1, faulty_serial=p.faulty_serial.strip(),
                     replacement_serial=p.replacement_serial.strip(), kept_as_evidence=p.kept_as_evidence)
        for i, p in enumerate(data.parts)
    ]
    diagnosis.draft_saved_dt = now or utcnow()
    db.session.flush()
    return diagnosis


def submission_problems(diagnosis: Diagnosis) -> dict[str, str]:
    """What is missing before a diagnosis may be submitted, by field."""
    required = _l("Required before submitting.")
    problems: dict[str, str] = {}
    for name in ("symptom", "root_cause", "actions_taken", "contact_name"):
        if not getattr(diagnosis, name).strip():
            problems[name] = required
    category = db.session.get(FaultCategory, diagnosis.fault_category_id) if diagnosis.fault_category_id else None
    if category is None:
        problems["fault_category_id"] = required
    elif category.parent_id is None:
        problems["fault_category_id"] = _l("Choose a fault within the group.")
    if diagnosis.outcome not in OUTCOMES:
        problems["outcome"] = required
    if diagnosis.outcome == OUT_OF_SCOPE and not diagnosis.customer_explanation.strip():
        # Policy 3.9: explain patiently; never turn the customer away.
        problems["customer_explanation"] = _l("Write down what you explained to the customer.")
    for i, part in enumerate(diagnosis.parts):
        if not (part.part_number or part.description):
            problems[f"parts-{i}"] = _l("Give the part number or a description, or remove the row.")
    if not diagnosis.signature_key:
        problems["signature"] = _l("The on-site contact signs before you submit.")
    return problems


def submit_diagnosis(diagnosis: Diagnosis, actor: User, now: datetime | None = None) -> Diagnosis:
    """Lock the diagnosis; the first submission also moves the job on.

    fixed / out of scope -> job resolved; needs parts -> resolved and a follow-up visit job
    is logged; escalated -> the job is escalated to a supervisor (policy 3.1). A correction
    supersedes the earlier version, which is kept.
    """
    from ..dispatch import operations as dispatch_ops

    now = now or utcnow()
    if diagnosis.status != DRAFT:
        raise TransitionError(_l("This diagnosis was already submitted."))
    problems = submission_problems(diagnosis)
    if problems:
        raise DiagnosisIncomplete(problems)
    job = diagnosis.job
    earlier = diagnosis.supersedes
    if earlier is None:
        if job.status != ON_SITE:
            raise TransitionError(_l("The job is no longer on site; reload the page."))
        if job.checked_in_dt:
            diagnosis.time_on_site_seconds = max(0, int((now - job.checked_in_dt).total_seconds()))
        summary = diagnosis.actions_taken or diagnosis.root_cause
        if diagnosis.outcome == "escalated":
            dispatch_ops.transition_job(job, "escalate", actor, None, reason=diagnosis.root_cause, now=now)
        else:
            dispatch_ops.transition_job(job, "resolve", actor, None, reason=summary, now=now, by_hand=False)
        if diagnosis.outcome == NEEDS_PARTS:
            diagnosis.follow_up_job = _log_follow_up(job, diagnosis, actor, now)
    else:
        diagnosis.time_on_site_seconds = earlier.time_on_site_seconds
        diagnosis.follow_up_job_id = earlier.follow_up_job_id
        earlier.status = SUPERSEDED
        record_event("diagnosis", earlier.id, "supersede", actor, SUBMITTED, SUPERSEDED,
                     reason=f"v{diagnosis.version}", when=now)
    diagnosis.status = SUBMITTED
    diagnosis.submitted_dt = now
    record_event("diagnosis", diagnosis.id, "submit", actor, DRAFT, SUBMITTED,
                 reason=f"v{diagnosis.version}", when=now)
    db.session.flush()
    from ..statistics.operations import refresh_after_submission

    refresh_after_submission(diagnosis, now=now)  # the quality watch of its week (policy 2.4)
    return diagnosis


def _log_follow_up(job: Job, diagnosis: Diagnosis, actor: User, now: datetime) -> Job:
    """A follow-up visit for the parts the technician could not fit today."""
    from ..dispatch import operations as dispatch_ops

    parts = ", ".join(p.part_number or p.description for p in diagnosis.parts) or "—"
    follow_up = dispatch_ops.log_request(
        actor=actor, customer=job.customer, request_type="fault_repair", priority="high",
        description=f"{job.reference}: {diagnosis.actions_taken}\n{parts}",
        product_model=job.product.model if job.product else None,
        product_serial=job.product.serial if job.product else None,
        made_by_us=job.product.made_by_us if job.product else True, now=now,
    )
    return follow_up


def start_correction(diagnosis: Diagnosis, actor: User, now: datetime | None = None) -> Diagnosis:
    """A new draft version copied from the submitted one; the old one stays as it was."""
    now = now or utcnow()
    if diagnosis.status != SUBMITTED:
        raise TransitionError(_l("Only a submitted diagnosis can be corrected."))
    copy = Diagnosis(
        job_id=diagnosis.job_id, version=diagnosis.version + 1, status=DRAFT,
        technician_id=diagnosis.technician_id, supersedes=diagnosis, created_dt=now,
        fault_category_id=diagnosis.fault_category_id, outcome=diagnosis.outcome,
        signature_key=diagnosis.signature_key, draft_saved_dt=now,
        **{name: getattr(diagnosis, name) for name in TEXT_FIELDS},
    )
    copy.parts = [
        ReplacedPart(position=p.position, part_number=p.part_number, description=p.description,
                     quantity=p.quantity, faulty_serial=p.faulty_serial,
                     replacement_serial=p.replacement_serial, kept_as_evidence=p.kept_as_evidence)
        for p in diagnosis.parts
    ]
    db.session.add(copy)
    db.session.flush()
    record_event("diagnosis", copy.id, "correct", actor, None, DRAFT, reason=f"v{diagnosis.version} → v{copy.version}",
                 when=now)
    return copy


def set_signature(diagnosis: Diagnosis, key: str) -> None:
    if diagnosis.status != DRAFT:
        raise TransitionError(_l("This diagnosis was submitted and can no longer be changed. Start a correction."))
    diagnosis.signature_key = key
    diagnosis.draft_saved_dt = utcnow()
    db.session.flush()


def fault_choices(language: str) -> list[tuple[FaultCategory, list[FaultCategory]]]:
    """Active fault groups with their active faults, for the form's grouped select."""
    groups = db.session.scalars(
        select(FaultCategory).where(FaultCategory.parent_id.is_(None), FaultCategory.active.is_(True))
        .order_by(FaultCategory.position, FaultCategory.id)
    )
    return [(g, [c for c in g.children if c.active]) for g in groups]


def job_photos(job: Job) -> list[Photo]:
    """The job's photos, oldest first (the evidence gallery)."""
    return list(db.session.scalars(select(Photo).where(Photo.job_id == job.id).order_by(Photo.uploaded_dt, Photo.id)))
