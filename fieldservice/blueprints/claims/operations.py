"""Claims (policy 3.7): evidence goes up quickly, reviewers appraise and settle.

States: draft -> submitted -> under_review -> approved / rejected / info_requested;
info_requested -> resubmitted -> under_review. Every decision needs a reason; every move is
audited. Evidence cannot be removed once submitted (only added while info is requested).
Plain functions: they flush, the route commits.
"""
from __future__ import annotations

import hashlib
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ...extensions import db
from ...models import Claim, ClaimEvidence, ClaimMessage, Diagnosis, Inspection, Job, Photo, User, utcnow
from ...models.claims import (
    APPRAISALS,
    APPROVED,
    CLAIM_TYPES,
    DRAFT,
    INFO_REQUESTED,
    PART_WHEREABOUTS,
    REJECTED,
    RESUBMITTED,
    SENT_TO_CENTRE,
    STATUSES,
    SUBMITTED,
    UNDER_REVIEW,
    WAITING_FOR_REVIEW,
)
from ...models.inspections import FAILED, SUBMITTED as INSPECTION_SUBMITTED
from ...models.users import DISPATCHER, REVIEWER, SUPERVISOR, TECHNICIAN
from ...services import storage
from ...services.audit import record_event
from ...services.lifecycle import TransitionError


class ClaimRefused(TransitionError):
    """A change the claim rules do not allow; str(error) is shown to the user."""


@dataclass
class ClaimData:
    claim_type: str
    description: str
    product_model: str = ""
    serial: str = ""
    amount_claimed: Decimal | None = None
    currency: str = "CNY"
    part_whereabouts: str = "at_customer"
    tracking_number: str = ""


MAX_AMOUNT = Decimal("9999999999.99")


def parse_amount(raw: str | None) -> Decimal | None:
    """A money amount typed by a person ("1 200.50", "1200,5"); None when blank."""
    text = (raw or "").strip().replace(" ", "").replace(",", ".")
    if not text:
        return None
    try:
        amount = Decimal(text)
        if not amount.is_finite():  # "NaN", "Infinity"
            raise InvalidOperation
        if amount.copy_abs() > MAX_AMOUNT:  # Numeric(12, 2) holds ten digits before the point
            raise ClaimRefused(_l("The amount is too large."))
        amount = amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ClaimRefused(_l("Enter the amount as a number, e.g. 1200.50.")) from None
    if amount < 0:
        raise ClaimRefused(_l("The amount cannot be negative."))
    return amount


def _move(claim: Claim, action: str, actor: User, to_state: str, reason: str | None, now: datetime) -> None:
    from_state = claim.status
    claim.status = to_state
    record_event("claim", claim.id, action, actor, from_state, to_state, reason=reason, when=now)


# --- opening -----------------------------------------------------------------------------


def open_claim(actor: User, data: ClaimData, *, job: Job | None = None, diagnosis: Diagnosis | None = None,
               inspection: Inspection | None = None, now: datetime | None = None) -> Claim:
    """A draft claim from a diagnosis or a failed inspection (technician) or from a request of
    type claim (dispatcher)."""
    now = now or utcnow()
    if data.claim_type not in CLAIM_TYPES:
        raise ClaimRefused(_l("Choose the type of claim."))
    if data.part_whereabouts not in PART_WHEREABOUTS:
        raise ClaimRefused(_l("Say where the defective part is."))
    if data.part_whereabouts == SENT_TO_CENTRE and not data.tracking_number.strip():
        raise ClaimRefused(_l("A part sent to the centre needs its tracking number."))
    if not data.description.strip():
        raise ClaimRefused(_l("Describe the claim."))
    if diagnosis is not None:
        job = diagnosis.job
    if inspection is not None and job is None:
        job = inspection.job
    _check_may_open(actor, job, diagnosis, inspection)
    customer = (job.customer if job else None) or (inspection.customer if inspection else None)
    if customer is None:
        raise ClaimRefused(_l("This claim has no customer: open it from a job or a customer's inspection."))
    product = job.product if job else None
    claim = Claim(
        claim_type=data.claim_type, status=DRAFT, job=job, diagnosis=diagnosis, inspection=inspection,
        customer=customer, region_id=customer.region_id, product=product,
        product_model=(data.product_model or (product.model if product else "")).strip()[:120],
        serial=(data.serial or (product.serial or "" if product else "")).strip()[:120],
        amount_claimed=data.amount_claimed, currency=(data.currency or "CNY").upper()[:3],
        description=data.description.strip(), part_whereabouts=data.part_whereabouts,
        tracking_number=data.tracking_number.strip()[:80], opened_by_id=actor.id, opened_dt=now,
    )
    db.session.add(claim)
    db.session.flush()
    record_event("claim", claim.id, "open", actor, None, DRAFT, when=now)
    return claim


def _check_may_open(actor: User, job: Job | None, diagnosis: Diagnosis | None, inspection: Inspection | None) -> None:
    if actor.role == SUPERVISOR:
        return
    if actor.role == TECHNICIAN:
        if diagnosis is None and inspection is None:
            raise ClaimRefused(_l("Open a claim from a diagnosis or a failed inspection."))
        if inspection is not None and not (inspection.status == INSPECTION_SUBMITTED and inspection.result == FAILED):
            raise ClaimRefused(_l("A claim is opened from a failed inspection, once it is submitted."))
        own_job = job is not None and job.technician_id == actor.id
        own_inspection = inspection is not None and inspection.inspector_id == actor.id
        if not (own_job or own_inspection):
            raise ClaimRefused(_l("This job is not assigned to you."))
        return
    if actor.role == DISPATCHER:
        if job is None or job.request_type != "claim":
            raise ClaimRefused(_l("A dispatcher opens a claim from a request of type claim."))
        return
    raise ClaimRefused(_l("Your role cannot open claims."))


# --- evidence ----------------------------------------------------------------------------


def _belongs(claim: Claim, photo: Photo) -> bool:
    return ((claim.job_id is not None and photo.job_id == claim.job_id)
            or (claim.inspection_id is not None and photo.inspection_id == claim.inspection_id))


def add_evidence(claim: Claim, photo: Photo, actor: User, now: datetime | None = None) -> ClaimEvidence:
    """Give a photo of the job or inspection as evidence: while drafting, or when asked for more."""
    now = now or utcnow()
    if claim.status not in (DRAFT, INFO_REQUESTED):
        raise ClaimRefused(_l("Evidence can be added only to a draft, or when the reviewer asks for more."))
    if not _belongs(claim, photo):
        raise ClaimRefused(_l("This photo is not from the claim's job or inspection."))
    existing = next((e for e in claim.evidence if e.photo_id == photo.id), None)
    if existing is not None:
        return existing
    evidence = ClaimEvidence(claim=claim, photo=photo, added_by_id=actor.id, added_dt=now,
                             added_in_status=claim.status)
    db.session.add(evidence)
    db.session.flush()
    record_event("claim", claim.id, "add_evidence", actor, claim.status, claim.status,
                 reason=f"photo {photo.id} sha256 {photo.sha256}", when=now)
    return evidence


def remove_evidence(claim: Claim, evidence: ClaimEvidence, actor: User, now: datetime | None = None) -> None:
    """Take a photo back out of a draft; submitted evidence stays for good."""
    if claim.status != DRAFT or evidence.claim_id != claim.id:
        raise ClaimRefused(_l("Evidence cannot be removed once the claim is submitted."))
    claim.evidence.remove(evidence)
    db.session.flush()
    record_event("claim", claim.id, "remove_evidence", actor, DRAFT, DRAFT,
                 reason=f"photo {evidence.photo_id}", when=now or utcnow())


# --- the claimant ------------------------------------------------------------------------


def submit_claim(claim: Claim, actor: User, now: datetime | None = None) -> Claim:
    """Send the claim up (draft -> submitted) or back (info_requested -> resubmitted)."""
    now = now or utcnow()
    if not claim.evidence:
        raise ClaimRefused(_l("A claim needs at least one photo before it is submitted."))
    if any(e.photo.pending for e in claim.evidence):
        # Photos taken while the photo store was down are kept and may be given as evidence,
        # but the reviewer appraises (and checks the SHA-256 of) what is in the store (issue 7).
        raise ClaimRefused(_l("Some evidence photos are saved but still waiting for the photo store. "
                              "Submit the claim once they have been sent (shortly after the store is back)."))
    if claim.status == DRAFT:
        claim.submitted_dt = now
        _move(claim, "submit", actor, SUBMITTED, None, now)
    elif claim.status == INFO_REQUESTED:
        last_question = max((m.id for m in claim.messages if m.kind == "question"), default=0)
        if not any(m.kind == "answer" and m.id > last_question for m in claim.messages):
            raise ClaimRefused(_l("Answer the reviewer's question before resubmitting."))
        _move(claim, "resubmit", actor, RESUBMITTED, None, now)
    else:
        raise ClaimRefused(_l("This claim is not waiting for you."))
    db.session.flush()
    return claim


def answer_question(claim: Claim, actor: User, body: str, now: datetime | None = None) -> ClaimMessage:
    if claim.status != INFO_REQUESTED:
        raise ClaimRefused(_l("The reviewer has not asked anything."))
    if not (body or "").strip():
        raise ClaimRefused(_l("Write your answer."))
    message = ClaimMessage(claim=claim, author_id=actor.id, kind="answer", body=body.strip(),
                           created_dt=now or utcnow())
    db.session.add(message)
    db.session.flush()
    return message


# --- the reviewer ------------------------------------------------------------------------


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ClaimRefused(_l("Every decision needs a reason."))
    return reason


def start_review(claim: Claim, reviewer: User, now: datetime | None = None) -> Claim:
    if claim.status not in (SUBMITTED, RESUBMITTED):
        raise ClaimRefused(_l("This claim is not waiting for review."))
    _move(claim, "review", reviewer, UNDER_REVIEW, None, now or utcnow())
    db.session.flush()
    return claim


def request_info(claim: Claim, reviewer: User, question: str, now: datetime | None = None) -> Claim:
    now = now or utcnow()
    question = _reason(question)
    _under_review(claim)
    db.session.add(ClaimMessage(claim=claim, author_id=reviewer.id, kind="question", body=question, created_dt=now))
    claim.first_approver_id = None  # a pending first approval does not survive new evidence
    claim.first_approved_amount = None
    _move(claim, "request_info", reviewer, INFO_REQUESTED, question, now)
    db.session.flush()
    return claim


def reject(claim: Claim, reviewer: User, reason: str, now: datetime | None = None) -> Claim:
    now = now or utcnow()
    reason = _reason(reason)
    _under_review(claim)
    claim.decision_reason, claim.decided_dt = reason, now
    _move(claim, "reject", reviewer, REJECTED, reason, now)
    db.session.flush()
    return claim


def approve(claim: Claim, reviewer: User, amount: Decimal | None, reason: str,
            now: datetime | None = None) -> Claim:
    """Approve with the amount granted (may differ from the one claimed).

    Above CLAIM_SECOND_APPROVAL_ABOVE the first approval waits for a second reviewer, who
    confirms it; one person cannot give both.
    """
    now = now or utcnow()
    reason = _reason(reason)
    _under_review(claim)
    threshold = Decimal(str(current_app.config["CLAIM_SECOND_APPROVAL_ABOVE"]))
    if claim.first_approver_id is not None:
        if claim.first_approver_id == reviewer.id:
            raise ClaimRefused(_l("A second reviewer must confirm this approval; you gave the first one."))
        if amount is not None and amount != claim.first_approved_amount:
            raise ClaimRefused(_l("The second approval confirms the first one's amount; to change it, ask for information or reject."))
        claim.second_approver_id = reviewer.id
        claim.approved_amount = claim.first_approved_amount
    else:
        if amount is None:
            raise ClaimRefused(_l("Enter the approved amount."))
        if amount > threshold:
            claim.first_approver_id = reviewer.id
            claim.first_approved_amount = amount
            claim.first_approval_reason = reason
            record_event("claim", claim.id, "first_approval", reviewer, UNDER_REVIEW, UNDER_REVIEW,
                         reason=f"{amount} {claim.currency}: {reason}", when=now)
            db.session.flush()
            return claim
        claim.first_approver_id = reviewer.id
        claim.approved_amount = amount
    claim.decision_reason, claim.decided_dt = reason, now
    _move(claim, "approve", reviewer, APPROVED, f"{claim.approved_amount} {claim.currency}: {reason}", now)
    db.session.flush()
    return claim


def appraise(claim: Claim, reviewer: User, appraisal: str, notes: str, now: datetime | None = None) -> Claim:
    """The product appraisal (policy 3.7): what caused the defect, for the quality statistics."""
    if appraisal not in APPRAISALS:
        raise ClaimRefused(_l("Choose the appraisal."))
    if claim.status in (DRAFT, APPROVED, REJECTED):
        raise ClaimRefused(_l("Appraise the claim while it is being reviewed."))
    claim.appraisal, claim.appraisal_notes, claim.appraised_by_id = appraisal, (notes or "").strip(), reviewer.id
    record_event("claim", claim.id, "appraise", reviewer, claim.status, claim.status,
                 reason=f"{appraisal}: {claim.appraisal_notes}", when=now or utcnow())
    db.session.flush()
    return claim


def _under_review(claim: Claim) -> None:
    if claim.status != UNDER_REVIEW:
        raise ClaimRefused(_l("Open the claim for review first."))


# --- integrity ---------------------------------------------------------------------------


@dataclass
class IntegrityResult:
    evidence: ClaimEvidence
    ok: bool | None  # None: could not be read (store unavailable, object missing, or pending)
    actual_sha256: str | None
    pending: bool = False  # kept on the server, not yet in the store: nothing to read back


def pending_evidence_ids(claim: Claim) -> list[int]:
    """The claim's evidence photos still waiting for the photo store (kept during an outage)."""
    return [e.photo_id for e in claim.evidence if e.photo.pending]


def verify_evidence(claim: Claim) -> list[IntegrityResult]:
    """Read each stored original back and compare its SHA-256 with the one recorded at upload."""
    results = []
    for evidence in claim.evidence:
        if evidence.photo.pending:
            results.append(IntegrityResult(evidence, None, None, pending=True))
            continue
        digest = hashlib.sha256()
        try:
            with closing(storage.open_stream(evidence.photo.original_key)) as body:
                for chunk in iter(lambda: body.read(1024 * 1024), b""):
                    digest.update(chunk)
        except storage.StorageError:
            results.append(IntegrityResult(evidence, None, None))
            continue
        actual = digest.hexdigest()
        results.append(IntegrityResult(evidence, actual == evidence.photo.sha256, actual))
    return results


# --- reading -----------------------------------------------------------------------------


# What the claim page shows of each evidence photo and message: loaded with the claim (two
# queries) instead of one query per photo, uploader and author (issue 7).
CLAIM_PAGE_LOADS = (
    selectinload(Claim.evidence).joinedload(ClaimEvidence.photo).joinedload(Photo.uploaded_by),
    selectinload(Claim.messages).joinedload(ClaimMessage.author),
)


def visible_claim(user: User, claim_id: int, *, for_page: bool = False) -> Claim | None:
    """Reviewers and supervisors see all claims; a technician the claims of their own jobs (or
    inspections); a dispatcher the ones they opened or that came from requests they logged.

    `for_page`: with the evidence photos and messages the claim page shows (CLAIM_PAGE_LOADS).
    """
    claim = db.session.get(Claim, claim_id, options=CLAIM_PAGE_LOADS if for_page else None)
    if claim is None or user.role in (REVIEWER, SUPERVISOR):
        return claim
    if user.role == TECHNICIAN:
        own = (claim.job is not None and claim.job.technician_id == user.id) or (
            claim.inspection is not None and claim.inspection.inspector_id == user.id)
        return claim if own else None
    if user.role == DISPATCHER:
        mine = claim.opened_by_id == user.id or (claim.job is not None and claim.job.created_by_id == user.id)
        return claim if mine else None
    return None


def review_queue_count() -> int:
    """Claims waiting for a reviewer (the navigation badge)."""
    return db.session.scalar(select(func.count(Claim.id)).where(Claim.status.in_(WAITING_FOR_REVIEW))) or 0


def waiting_for_claimant_count(user: User) -> int:
    """Claims of this user where the reviewer asked a question (their badge)."""
    return db.session.scalar(select(func.count(Claim.id)).where(
        Claim.status == INFO_REQUESTED,
        or_(Claim.opened_by_id == user.id,
            Claim.job_id.in_(select(Job.id).where(Job.technician_id == user.id))),
    )) or 0



@dataclass
class ClaimFilters:
    """The claims list's filters, read from the query string."""

    claim_type: str = ""
    region_id: int | None = None
    product_model: str = ""
    min_age_days: int | None = None
    status: str = ""  # "" = the default view; "all" = every status

    @classmethod
    def from_args(cls, args) -> "ClaimFilters":
        def number(name: str) -> int | None:
            raw = (args.get(name) or "").strip()
            return int(raw) if raw.isdigit() and len(raw) < 7 else None

        claim_type = args.get("type", "")
        status = args.get("status", "")
        return cls(claim_type=claim_type if claim_type in CLAIM_TYPES else "",
                   region_id=number("region"), product_model=(args.get("model") or "").strip()[:120],
                   min_age_days=number("age"), status=status if status in (*STATUSES, "all") else "")

    def as_args(self) -> dict:
        return {k: v for k, v in {"type": self.claim_type, "region": self.region_id, "model": self.product_model,
                                  "age": self.min_age_days, "status": self.status}.items() if v}


def visible_claims_filter(user: User):
    """visible_claim's rules as a WHERE clause (None: every claim)."""
    if user.role in (REVIEWER, SUPERVISOR):
        return None
    if user.role == TECHNICIAN:
        return or_(Claim.job_id.in_(select(Job.id).where(Job.technician_id == user.id)),
                   Claim.inspection_id.in_(select(Inspection.id).where(Inspection.inspector_id == user.id)))
    if user.role == DISPATCHER:
        return or_(Claim.opened_by_id == user.id,
                   Claim.job_id.in_(select(Job.id).where(Job.created_by_id == user.id)))
    return Claim.id.is_(None)


def related_claims(user: User, *, job: Job | None = None, inspection: Inspection | None = None) -> list[Claim]:
    """The claims of a job or of an inspection that `user` may see, oldest first."""
    stmt = select(Claim).order_by(Claim.opened_dt, Claim.id)
    if job is not None:
        stmt = stmt.where(Claim.job_id == job.id)
    elif inspection is not None:
        stmt = stmt.where(Claim.inspection_id == inspection.id)
    else:
        return []
    visible = visible_claims_filter(user)
    if visible is not None:
        stmt = stmt.where(visible)
    return list(db.session.scalars(stmt))


def claims_query(user: User, filters: ClaimFilters, now: datetime | None = None):
    """The claims `user` may see, oldest first; reviewers see the review queue by default."""
    stmt = select(Claim).options(joinedload(Claim.customer), joinedload(Claim.region))
    visible = visible_claims_filter(user)
    if visible is not None:
        stmt = stmt.where(visible)
    if filters.status and filters.status != "all":
        stmt = stmt.where(Claim.status == filters.status)
    elif not filters.status and user.role in (REVIEWER, SUPERVISOR):
        stmt = stmt.where(Claim.status.in_(WAITING_FOR_REVIEW))
    if filters.claim_type:
        stmt = stmt.where(Claim.claim_type == filters.claim_type)
    if filters.region_id:
        stmt = stmt.where(Claim.region_id == filters.region_id)
    if filters.product_model:
        stmt = stmt.where(Claim.product_model.ilike(f"%{filters.product_model}%"))
    since = func.coalesce(Claim.submitted_dt, Claim.opened_dt)
    if filters.min_age_days:
        from datetime import timedelta

        stmt = stmt.where(since <= (now or utcnow()) - timedelta(days=filters.min_age_days))
    return stmt.order_by(since, Claim.id)
