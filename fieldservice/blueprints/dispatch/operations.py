"""Dispatch operations: log requests, assign jobs, move jobs through their lifecycle.

Each function changes the session and flushes; the route commits once (or rolls back).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ...extensions import db
from ...models import Customer, Escalation, Job, Product, User, utcnow
from ...models.jobs import ASSIGNED, ESCALATED, OPEN_STATUSES
from ...models.users import TECHNICIAN
from ...pagination import paginate
from ...services.audit import key_already_used, record_event
from ...services.deadlines import arrival_deadline
from ...services.lifecycle import TransitionError, check_move


class JobConflict(Exception):
    """Someone else changed the job first; `job` is its current state, freshly read."""

    def __init__(self, job: Job):
        super().__init__(f"job {job.id} changed concurrently")
        self.job = job


@dataclass
class TransitionResult:
    job: Job
    applied: bool  # False when the same request key was already applied (a double tap)


# --- customers ---------------------------------------------------------------------------


def search_customers(query: str, limit: int = 8) -> list[Customer]:
    """Customers whose name or phone contains `query` (the dispatcher's active search)."""
    query = query.strip()
    if len(query) < 2:
        return []
    pattern = f"%{query.replace('%', '').replace('_', '')}%"
    digits = "".join(ch for ch in query if ch.isdigit())
    conditions = [Customer.name.ilike(pattern)]
    if len(digits) >= 3:
        conditions.append(Customer.phone.like(f"%{digits}%"))
    return list(
        db.session.scalars(
            select(Customer).where(or_(*conditions)).order_by(Customer.name).limit(limit)
        )
    )


def create_customer(name: str, phone: str, address: str, region_id: int, locale: str = "zh_CN") -> Customer:
    """A new customer, created while logging their call."""
    customer = Customer(name=name.strip(), phone=phone.strip(), address=address.strip(),
                        region_id=region_id, locale=locale)
    db.session.add(customer)
    db.session.flush()
    return customer


# --- logging a request -------------------------------------------------------------------


def log_request(
    *,
    actor: User,
    customer: Customer,
    request_type: str,
    priority: str,
    description: str,
    product_model: str | None = None,
    product_serial: str | None = None,
    made_by_us: bool = True,
    coverage_end_date: date | None = None,
    now: datetime | None = None,
) -> Job:
    """Log a call as a job with its arrival deadline (policy 3.2).

    The product is matched on the customer's serial when known, else recorded as new.
    An expired warranty or service contract is recorded but never blocks service (policy 3.4).
    """
    now = now or utcnow()
    product = None
    if product_model:
        if product_serial:
            product = db.session.scalar(
                select(Product).where(Product.customer_id == customer.id,
                                      Product.serial == product_serial.strip())
            )
        if product is None:
            product = Product(customer_id=customer.id, model=product_model.strip(),
                              serial=(product_serial or "").strip() or None)
            db.session.add(product)
        product.made_by_us = made_by_us
        if coverage_end_date is not None:
            product.coverage_end_date = coverage_end_date
    deadline = arrival_deadline(now, priority, current_app.config["ARRIVAL_HOURS"])
    job = Job(
        customer=customer,
        product=product,
        region_id=customer.region_id,
        request_type=request_type,
        priority=priority,
        description=description.strip(),
        status="new",
        created_by_id=actor.id,
        created_dt=now,
        arrival_deadline_dt=deadline,
    )
    db.session.add(job)
    db.session.flush()
    record_event("job", job.id, "created", actor, None, "new", when=now)
    return job


# --- assignment --------------------------------------------------------------------------


def technicians_for_region(region_id: int | None) -> list[User]:
    """Active technicians of a region (all regions when None), by name."""
    stmt = select(User).where(User.role == TECHNICIAN, User.active.is_(True))
    if region_id:
        stmt = stmt.where(User.region_id == region_id)
    return list(db.session.scalars(stmt.order_by(User.display_name)))


def assign_job(job: Job, technician: User, actor: User, seen_version: int,
               now: datetime | None = None) -> Job:
    """Assign (or reassign) a job to a technician (policy 3.2).

    `seen_version` is the version the dispatcher's page showed. If the job changed since,
    JobConflict tells them who did what; two dispatchers racing on the same job cannot
    both win (the versioned UPDATE lets exactly one through).
    """
    now = now or utcnow()
    if technician.role != TECHNICIAN or not technician.active:
        raise TransitionError(_l("Jobs can only be assigned to an active technician."))
    if job.version != seen_version:
        raise JobConflict(job)
    move = check_move("assign", job.status, actor.role)
    if job.technician_id == technician.id and job.status == ASSIGNED:
        raise TransitionError(_l("The job is already assigned to this technician."))
    from_state = job.status
    previous = job.technician
    job.technician_id = technician.id
    job.assigned_by_id = actor.id
    job.assigned_dt = now
    job.status = move.to_state
    job.en_route_dt = None  # a reassigned technician starts their own travel
    reason = None
    if previous is not None and previous.id != technician.id:
        reason = f"{previous.display_name} → {technician.display_name}"
    record_event("job", job.id, "assign", actor, from_state, job.status,
                 reason=reason or technician.display_name, when=now)
    _flush_or_conflict(job)
    return job


def _flush_or_conflict(job: Job) -> None:
    """Flush; if another request changed the job meanwhile, raise JobConflict with its state."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        fresh = db.session.get(Job, job.id, populate_existing=True)
        raise JobConflict(fresh) from None


# --- lifecycle moves ---------------------------------------------------------------------


def transition_job(job: Job, action: str, actor: User, request_key: str | None,
                   reason: str | None = None, now: datetime | None = None,
                   by_hand: bool = True) -> TransitionResult:
    """Move a job one step (start travel, check in, resolve, escalate, close, cancel).

    A request key seen before means the same tap arrived twice: nothing happens again.
    Checking in after the arrival deadline marks the job late (policy 4.1). A step is taken by
    hand unless the caller says otherwise, and by hand a job is not resolved: only submitting its
    diagnosis or inspection record does that (by_hand=False; the demo and test fixtures too).
    """
    now = now or utcnow()
    if key_already_used(request_key):
        return TransitionResult(job, applied=False)
    move = check_move(action, job.status, actor.role, by_hand=by_hand)
    if actor.role == TECHNICIAN and job.technician_id != actor.id:
        raise TransitionError(_l("This job is not assigned to you."))
    reason = (reason or "").strip() or None
    if move.needs_reason and not reason:
        raise TransitionError(_l("Give a reason."))
    if action == "close":  # jobs close after their follow-up call (policy 2.1)
        from ..complaints.operations import check_job_may_close

        check_job_may_close(job)
    from_state = job.status
    if action == "escalate":
        job.status_before_escalation = from_state
        db.session.add(Escalation(job=job, raised_by_id=actor.id, raised_dt=now, reason=reason))
    elif action == "start_travel":
        job.en_route_dt = now
    elif action == "check_in":
        job.checked_in_dt = now
        job.late = now > job.arrival_deadline_dt
    elif action == "resolve":
        job.resolved_dt = now
        job.resolution_note = reason
    elif action in ("close", "cancel"):
        job.closed_dt = now
    job.status = move.to_state
    record_event("job", job.id, action, actor, from_state, job.status, reason=reason,
                 request_key=request_key, when=now)
    _flush_or_conflict(job)
    if action == "resolve":  # every resolved job gets its follow-up call (policy 2.1)
        from ..complaints.operations import create_follow_up

        create_follow_up(job, now=now)
    return TransitionResult(job, applied=True)


def open_escalations(page: int = 1, per_page: int = 25):
    """One page of the escalations waiting for a supervisor's decision, oldest first (policy 3.1)."""
    stmt = (
        select(Escalation)
        .where(Escalation.decided_dt.is_(None))
        .options(joinedload(Escalation.job).joinedload(Job.customer),
                 joinedload(Escalation.raised_by))
        .order_by(Escalation.raised_dt, Escalation.id)
    )
    return paginate(stmt, page, per_page)


def decide_escalation(escalation: Escalation, actor: User, decision: str,
                      request_key: str | None = None, now: datetime | None = None) -> Job:
    """The supervisor records what was decided; the job goes on from where it stood."""
    now = now or utcnow()
    job = escalation.job
    if key_already_used(request_key):
        return job
    if escalation.decided_dt is not None:
        raise TransitionError(_l("This escalation has already been decided."))
    check_move("decide", job.status, actor.role)
    decision = (decision or "").strip()
    if not decision:
        raise TransitionError(_l("Write down what was decided."))
    escalation.decided_by_id = actor.id
    escalation.decided_dt = now
    escalation.decision = decision
    resume = job.status_before_escalation or "new"
    if resume not in OPEN_STATUSES or resume == ESCALATED:
        resume = "new"
    if resume != "new" and job.technician_id is None:
        resume = "new"
    job.status = resume
    job.status_before_escalation = None
    record_event("job", job.id, "decide", actor, ESCALATED, resume, reason=decision,
                 request_key=request_key, when=now)
    _flush_or_conflict(job)
    return job


# --- reading -----------------------------------------------------------------------------


def visible_job(user: User, job_id: int) -> Job | None:
    """The job if `user` may see it: a technician sees only their own jobs."""
    job = db.session.get(Job, job_id)
    if job is None:
        return None
    if user.role == TECHNICIAN and job.technician_id != user.id:
        return None
    return job


def unassigned_jobs(region_id: int | None = None, request_type: str | None = None,
                    page: int = 1, per_page: int = 25):
    """New jobs with no technician yet, earliest arrival deadline first."""
    stmt = (
        select(Job)
        .where(Job.status == "new", Job.technician_id.is_(None))
        .options(joinedload(Job.customer), joinedload(Job.product), joinedload(Job.region))
        .order_by(Job.arrival_deadline_dt, Job.id)
    )
    if region_id:
        stmt = stmt.where(Job.region_id == region_id)
    if request_type:
        stmt = stmt.where(Job.request_type == request_type)
    return paginate(stmt, page, per_page)


def technician_jobs(technician: User) -> list[Job]:
    """A technician's open jobs, most urgent first (their "My jobs" on the phone)."""
    statuses = (ASSIGNED, "en_route", "on_site", ESCALATED)
    stmt = (
        select(Job)
        .where(Job.technician_id == technician.id, Job.status.in_(statuses))
        .options(joinedload(Job.customer), joinedload(Job.product))
        .order_by(Job.arrival_deadline_dt, Job.id)
    )
    return list(db.session.scalars(stmt))


def group_my_jobs(jobs: list[Job], now: datetime, zone) -> list[tuple[str, list[Job]]]:
    """Split a technician's jobs into: in progress, overdue, due today, tomorrow, later."""
    today = now.astimezone(zone).date()
    groups: dict[str, list[Job]] = {key: [] for key in ("in_progress", "overdue", "today", "tomorrow", "later")}
    for job in jobs:
        due = job.arrival_deadline_dt.astimezone(zone).date()
        if job.status in ("en_route", "on_site"):
            key = "in_progress"
        elif job.arrival_deadline_dt < now:
            key = "overdue"
        elif due == today:
            key = "today"
        elif (due - today).days == 1:
            key = "tomorrow"
        else:
            key = "later"
        groups[key].append(job)
    return [(key, items) for key, items in groups.items() if items]


def board_jobs(region_id: int, day_start: datetime, day_end: datetime, include_overdue: bool):
    """Jobs of a region's technicians due in [day_start, day_end), grouped by technician id.

    On today's board, open jobs already past their deadline are shown too: they still
    need a technician today.
    """
    due_today = (Job.arrival_deadline_dt >= day_start) & (Job.arrival_deadline_dt < day_end)
    condition = due_today
    if include_overdue:
        condition = or_(due_today, (Job.arrival_deadline_dt < day_start) & Job.status.in_(OPEN_STATUSES))
    stmt = (
        select(Job)
        .where(Job.region_id == region_id, Job.technician_id.is_not(None), condition,
               Job.status != "cancelled")
        # The card shows the product too: without it, one query per card (issue 7).
        .options(joinedload(Job.customer), joinedload(Job.product))
        .order_by(Job.arrival_deadline_dt, Job.id)
    )
    grouped: dict[int, list[Job]] = {}
    for job in db.session.scalars(stmt):
        grouped.setdefault(job.technician_id, []).append(job)
    return grouped


def recent_jobs(user: User, status: str | None = None, page: int = 1, per_page: int = 25):
    """All jobs, newest first, for dispatchers, supervisors and reviewers to look through."""
    stmt = (
        select(Job)
        .options(joinedload(Job.customer), joinedload(Job.technician))
        .order_by(Job.created_dt.desc(), Job.id.desc())
    )
    if status:
        stmt = stmt.where(Job.status == status)
    return paginate(stmt, page, per_page)

