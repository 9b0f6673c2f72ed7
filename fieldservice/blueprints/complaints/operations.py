"""Complaints (policy 2.6, 3.5) and follow-up calls (policy 2.1): the rules.

A complaint is logged against a customer (optionally a job, technician, product), answered and
closed with what was done. A complaint by the same customer on the same issue inside the repeat
window is escalated to the supervisor with the earlier complaints linked (policy 2.6).
Resolving a job creates its follow-up call; the job closes once the call reached the customer.
Plain functions: they flush, the route commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ...extensions import db
from ...models import Customer, Diagnosis, FaultCategory, Job, Product, User, utcnow
from ...models.complaints import (
    CLOSED,
    COMPLAINT_CATEGORIES,
    DONE,
    FOLLOW_UP_OUTCOMES,
    NO_ANSWER,
    OPEN,
    PENDING,
    REACHED,
    Complaint,
    ComplaintLink,
    FollowUp,
)
from ...models.jobs import RESOLVED
from ...models.users import DISPATCHER, SUPERVISOR, TECHNICIAN
from ...services.audit import record_event
from ...services.lifecycle import TransitionError

# A follow-up answer at or below this satisfaction may open a complaint in the same step.
DISSATISFIED_MAX = 2
DESCRIPTION_MAX = 5000
ANSWER_MAX = 5000
COMMENTS_MAX = 2000


class ComplaintError(TransitionError):
    """A change the complaint or follow-up rules do not allow; str(error) is shown to the user."""


# --- counts for the supervisor dashboard -------------------------------------------------


def open_escalated_complaints_count() -> int:
    """Repeated complaints still open: the supervisor dashboard's escalation count (policy 2.6)."""
    return db.session.scalar(
        select(func.count()).select_from(Complaint).where(Complaint.escalated.is_(True), Complaint.status == OPEN)
    ) or 0


def overdue_follow_ups_count(now: datetime | None = None) -> int:
    """Follow-up calls still pending past their due time (policy 2.1), for the dashboard.

    count(*), not count(id): the index ix_follow_ups_status_due holds all it needs, so PostgreSQL
    reads the index alone (1M jobs: ~40 index pages instead of ~7,000 table pages).
    """
    now = now or utcnow()
    return db.session.scalar(
        select(func.count()).select_from(FollowUp).where(FollowUp.status == PENDING, FollowUp.due_dt < now)
    ) or 0


# --- logging a complaint -----------------------------------------------------------------


def _may_handle(actor: User) -> None:
    if actor.role not in (DISPATCHER, SUPERVISOR):
        raise ComplaintError(_l("Complaints are handled by the desk and supervisors."))


def submitted_diagnosis(job: Job) -> Diagnosis | None:
    """The job's current submitted diagnosis (the ledger row), if any."""
    return db.session.scalar(
        select(Diagnosis).where(Diagnosis.job_id == job.id, Diagnosis.status == "submitted")
        .order_by(Diagnosis.version.desc()).limit(1)
    )


def earlier_same_issue(customer_id: int, now: datetime, *, job_id: int | None = None,
                       product_id: int | None = None, fault_category_id: int | None = None,
                       exclude_id: int | None = None) -> list[Complaint]:
    """The customer's complaints about the same issue logged within the repeat window before
    `now` (policy 2.6), oldest first; closed ones count too.

    The same issue: the same job, or the same product with the same fault category (both known).
    The window's edge is inclusive: a complaint exactly COMPLAINT_REPEAT_WINDOW_DAYS old counts.
    """
    same_issue = []
    if job_id is not None:
        same_issue.append(Complaint.job_id == job_id)
    if product_id is not None and fault_category_id is not None:
        same_issue.append(and_(Complaint.product_id == product_id,
                               Complaint.fault_category_id == fault_category_id))
    if not same_issue:
        return []
    since = now - timedelta(days=current_app.config["COMPLAINT_REPEAT_WINDOW_DAYS"])
    stmt = (
        select(Complaint)
        .where(Complaint.customer_id == customer_id, Complaint.logged_dt >= since,
               Complaint.logged_dt <= now, or_(*same_issue))
        .order_by(Complaint.logged_dt, Complaint.id)
    )
    if exclude_id is not None:
        stmt = stmt.where(Complaint.id != exclude_id)
    return list(db.session.scalars(stmt))


def log_complaint(customer: Customer | None, category: str, description: str, actor: User, *,
                  job: Job | None = None, technician: User | None = None, product: Product | None = None,
                  fault_category: FaultCategory | None = None, follow_up: FollowUp | None = None,
                  now: datetime | None = None) -> Complaint:
    """The desk logs a customer's complaint (policy 2.6, 3.5); a repeat on the same issue within
    the window is escalated to the supervisor with the earlier complaints linked.

    Given a job, the technician, product and fault category (of its submitted diagnosis) come
    from it unless given.
    """
    now = now or utcnow()
    _may_handle(actor)
    if category not in COMPLAINT_CATEGORIES:
        raise ComplaintError(_l("Choose what the complaint is about."))
    description = (description or "").strip()
    if not description:
        raise ComplaintError(_l("Describe the complaint in the customer's words."))
    if len(description) > DESCRIPTION_MAX:
        raise ComplaintError(_l("The description is too long."))
    if job is not None:
        if customer is None:
            customer = job.customer
        elif job.customer_id != customer.id:
            raise ComplaintError(_l("This job belongs to another customer."))
        technician = technician or job.technician
        product = product or job.product
        if fault_category is None:
            diagnosis = submitted_diagnosis(job)
            fault_category = diagnosis.fault_category if diagnosis else None
    if customer is None:
        raise ComplaintError(_l("Choose the customer who complains."))
    if technician is not None and technician.role != TECHNICIAN:
        raise ComplaintError(_l("Choose a field technician."))
    if product is not None and product.customer_id != customer.id:
        raise ComplaintError(_l("This product belongs to another customer."))
    complaint = Complaint(
        customer=customer, region_id=customer.region_id, job=job, technician=technician, product=product,
        fault_category=fault_category, category=category, description=description, status=OPEN,
        logged_by_id=actor.id, logged_dt=now, follow_up=follow_up,
    )
    db.session.add(complaint)
    db.session.flush()
    record_event("complaint", complaint.id, "log", actor, None, OPEN, when=now)
    earlier = earlier_same_issue(customer.id, now, job_id=job.id if job else None,
                                 product_id=product.id if product else None,
                                 fault_category_id=fault_category.id if fault_category else None,
                                 exclude_id=complaint.id)
    if earlier:
        complaint.escalated = True
        complaint.escalated_dt = now
        db.session.add_all(ComplaintLink(complaint_id=complaint.id, earlier_id=e.id) for e in earlier)
        record_event("complaint", complaint.id, "escalate", actor, OPEN, OPEN,
                     reason=", ".join(e.reference for e in earlier), when=now)
        db.session.flush()
        db.session.expire(complaint, ["earlier"])
    return complaint


# --- answering and closing ---------------------------------------------------------------


def close_complaint(complaint: Complaint, answer: str, actor: User, now: datetime | None = None) -> Complaint:
    """Answer and close a complaint with what was done (policy 2.6, 3.5); a repeated (escalated)
    complaint is closed by a supervisor. Closed is final."""
    now = now or utcnow()
    _may_handle(actor)
    if complaint.status == CLOSED:
        raise ComplaintError(_l("This complaint is already closed."))
    if complaint.escalated and actor.role != SUPERVISOR:
        raise ComplaintError(_l("A repeated complaint was escalated: a supervisor answers and closes it."))
    answer = (answer or "").strip()
    if not answer:
        raise ComplaintError(_l("Write what was done and what the customer was told."))
    if len(answer) > ANSWER_MAX:
        raise ComplaintError(_l("The answer is too long."))
    complaint.answer = answer
    complaint.status = CLOSED
    complaint.closed_by_id = actor.id
    complaint.closed_dt = now
    record_event("complaint", complaint.id, "close", actor, OPEN, CLOSED, reason=answer, when=now)
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ComplaintError(_l("Someone else changed this complaint meanwhile. Reload the page.")) from None
    return complaint


# --- reading -----------------------------------------------------------------------------


@dataclass
class ComplaintFilters:
    """The complaints list's filters, read from the query string."""

    status: str = OPEN  # open, closed or all
    category: str = ""
    escalated_only: bool = False
    region_id: int | None = None

    @classmethod
    def from_args(cls, args) -> "ComplaintFilters":
        raw_region = (args.get("region") or "").strip()
        status = args.get("status", OPEN)
        category = args.get("category", "")
        return cls(status=status if status in (OPEN, CLOSED, "all") else OPEN,
                   category=category if category in COMPLAINT_CATEGORIES else "",
                   escalated_only=args.get("escalated") in ("1", "on", "true"),
                   region_id=int(raw_region) if raw_region.isdigit() and len(raw_region) < 10 else None)

    def as_args(self) -> dict:
        return {k: v for k, v in {"status": self.status if self.status != OPEN else "",
                                  "category": self.category, "escalated": "1" if self.escalated_only else "",
                                  "region": self.region_id}.items() if v}


def complaints_query(filters: ComplaintFilters):
    """Complaints for the desk's list: open ones first, oldest first (a select for paginate)."""
    stmt = select(Complaint).options(joinedload(Complaint.customer), joinedload(Complaint.region),
                                     joinedload(Complaint.technician), joinedload(Complaint.job))
    if filters.status != "all":
        stmt = stmt.where(Complaint.status == filters.status)
    if filters.category:
        stmt = stmt.where(Complaint.category == filters.category)
    if filters.escalated_only:
        stmt = stmt.where(Complaint.escalated.is_(True))
    if filters.region_id:
        stmt = stmt.where(Complaint.region_id == filters.region_id)
    return stmt.order_by(Complaint.status == CLOSED, Complaint.logged_dt, Complaint.id)


def escalated_queue_query():
    """The supervisor's queue: open repeated complaints, oldest first, with the earlier ones."""
    return (
        select(Complaint)
        .where(Complaint.escalated.is_(True), Complaint.status == OPEN)
        # Every relation the card shows (complaints/_card.html: the job too), or one query per row.
        .options(joinedload(Complaint.customer), joinedload(Complaint.region), joinedload(Complaint.technician),
                 joinedload(Complaint.product), joinedload(Complaint.job), selectinload(Complaint.earlier))
        .order_by(Complaint.escalated_dt, Complaint.id)
    )


def job_complaints(job: Job) -> list[Complaint]:
    """The complaints logged about a job, oldest first."""
    return list(db.session.scalars(select(Complaint).where(Complaint.job_id == job.id)
                                   .order_by(Complaint.logged_dt, Complaint.id)))


# --- follow-up calls (policy 2.1) ---------------------------------------------------------


def follow_up_of(job: Job) -> FollowUp | None:
    """The job's follow-up call, if it has one."""
    return db.session.scalar(select(FollowUp).where(FollowUp.job_id == job.id))


def pending_follow_up(job: Job) -> FollowUp | None:
    """The job's follow-up call while it still has to be made."""
    return db.session.scalar(select(FollowUp).where(FollowUp.job_id == job.id, FollowUp.status == PENDING))


def create_follow_up(job: Job, now: datetime | None = None) -> FollowUp:
    """The call-back task for a resolved job, due FOLLOW_UP_DUE_DAYS later (policy 2.1).

    Called wherever a job becomes resolved; a job has one follow-up, so calling again returns it.
    """
    now = now or utcnow()
    existing = follow_up_of(job)
    if existing is not None:
        return existing
    follow_up = FollowUp(job=job, region_id=job.region_id, status=PENDING, created_dt=now,
                         due_dt=now + timedelta(days=current_app.config["FOLLOW_UP_DUE_DAYS"]))
    db.session.add(follow_up)
    db.session.flush()
    record_event("follow_up", follow_up.id, "create", None, None, PENDING, reason=job.reference, when=now)
    return follow_up


def check_job_may_close(job: Job) -> None:
    """Jobs close after their follow-up (policy 2.1): a resolved job whose call is still pending
    is closed by recording the call, not by hand."""
    if pending_follow_up(job) is not None:
        raise ComplaintError(_l("Record the follow-up call first: the job closes once the customer has been reached."))


@dataclass
class ComplaintRequest:
    """A complaint opened from a dissatisfied follow-up answer."""

    category: str
    description: str


def parse_satisfaction(raw) -> int | None:
    """1-5 from a form value; None when blank or not a number in range."""
    text = str(raw if raw is not None else "").strip()
    if text.isdigit() and len(text) == 1 and 1 <= int(text) <= 5:
        return int(text)
    return None


def record_follow_up(follow_up: FollowUp, outcome: str, satisfaction: int | None, comments: str, actor: User, *,
                     open_complaint: ComplaintRequest | None = None, now: datetime | None = None) -> Complaint | None:
    """The desk records the follow-up call (policy 2.1).

    reached: the satisfaction (1-5) is kept, the follow-up is done and the resolved job closes;
    a dissatisfied answer (1-2) may open a complaint in the same step (returned; repeat
    detection applies). no_answer: one more attempt, the call stays pending with its due date.
    """
    now = now or utcnow()
    _may_handle(actor)
    if follow_up.status != PENDING:
        raise ComplaintError(_l("This follow-up call has already been recorded."))
    if outcome not in FOLLOW_UP_OUTCOMES:
        raise ComplaintError(_l("Say whether the customer was reached."))
    comments = (comments or "").strip()
    if len(comments) > COMMENTS_MAX:
        raise ComplaintError(_l("The comments are too long."))
    if outcome == REACHED:
        if not isinstance(satisfaction, int) or isinstance(satisfaction, bool) or not 1 <= satisfaction <= 5:
            raise ComplaintError(_l("Choose how satisfied the customer is, from 1 to 5."))
    else:
        satisfaction = None
    if open_complaint is not None:
        if outcome != REACHED or satisfaction > DISSATISFIED_MAX:
            raise ComplaintError(_l("A complaint is opened from the call only when the customer is dissatisfied (1 or 2)."))
        if open_complaint.category not in COMPLAINT_CATEGORIES:
            raise ComplaintError(_l("Choose what the complaint is about."))
        if not (open_complaint.description or "").strip():
            raise ComplaintError(_l("Describe the complaint in the customer's words."))
    job = follow_up.job
    follow_up.attempts += 1
    follow_up.outcome = outcome
    follow_up.called_by_id = actor.id
    follow_up.called_dt = now
    if comments:
        follow_up.comments = comments
    complaint = None
    if outcome == NO_ANSWER:
        record_event("follow_up", follow_up.id, NO_ANSWER, actor, PENDING, PENDING,
                     reason=comments or None, when=now)
    else:
        follow_up.satisfaction = satisfaction
        follow_up.status = DONE
        record_event("follow_up", follow_up.id, REACHED, actor, PENDING, DONE,
                     reason=f"{satisfaction}/5" + (f" · {comments}" if comments else ""), when=now)
        try:
            db.session.flush()
        except StaleDataError:
            db.session.rollback()
            raise ComplaintError(_l("Someone else recorded this call meanwhile. Reload the page.")) from None
        if job.status == RESOLVED:
            from ..dispatch.operations import transition_job

            transition_job(job, "close", actor, None, reason=f"{satisfaction}/5", now=now)
        if open_complaint is not None:
            complaint = log_complaint(job.customer, open_complaint.category, open_complaint.description, actor,
                                      job=job, follow_up=follow_up, now=now)
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ComplaintError(_l("Someone else recorded this call meanwhile. Reload the page.")) from None
    return complaint


def follow_ups_query(region_id: int | None = None, status: str = PENDING):
    """The desk's call list: pending calls by due time (overdue and due today come first)."""
    stmt = (
        select(FollowUp)
        .where(FollowUp.status == status)
        .options(joinedload(FollowUp.job).joinedload(Job.customer),
                 joinedload(FollowUp.job).joinedload(Job.technician),
                 joinedload(FollowUp.job).joinedload(Job.product),
                 joinedload(FollowUp.region))
    )
    if region_id:
        stmt = stmt.where(FollowUp.region_id == region_id)
    if status == PENDING:
        return stmt.order_by(FollowUp.due_dt, FollowUp.id)
    return stmt.order_by(FollowUp.called_dt.desc(), FollowUp.id.desc())
