"""Delivery inspections (policy 4.3 at the customer's site, 4.4 at the service centre).

Plain functions: they flush, the route commits. Rules: a failed item needs a note and at
least one photo; a quantity item fails by itself when the count differs; the inspection
passes only if every applicable item passed; a failed one opens a follow-up request for the
dispatcher; submitted inspections are final (a correction is a new inspection).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ...extensions import db
from ...models import (
    ChecklistItem,
    ChecklistTemplate,
    Customer,
    Inspection,
    InspectionCheck,
    InspectionLine,
    Job,
    Photo,
    User,
    utcnow,
)
from ...models.inspections import (
    CENTRE_RECEIPT,
    DRAFT,
    FAIL,
    FAILED,
    KINDS,
    NOT_APPLICABLE,
    PASS,
    PASSED,
    PER_LINE,
    PER_SHIPMENT,
    QUANTITY,
    SITE_DELIVERY,
    SUBMITTED,
)
from ...models.jobs import DELIVERY_INSPECTION, INSPECTION_FOLLOW_UP, ON_SITE
from ...models.users import SUPERVISOR, TECHNICIAN
from ...services.audit import record_event
from ...services.lifecycle import TransitionError

TEMPLATE_NAME = "delivery"


class InspectionRefused(TransitionError):
    """A change the inspection rules do not allow; str(error) is shown to the user."""


class InspectionIncomplete(Exception):
    """Submission refused; `problems` maps check ids (or "lines") to messages."""

    def __init__(self, problems: dict):
        super().__init__(", ".join(str(k) for k in problems))
        self.problems = problems


@dataclass
class LineData:
    product_model: str
    expected_quantity: int


# --- templates ---------------------------------------------------------------------------


def active_template(name: str = TEMPLATE_NAME) -> ChecklistTemplate | None:
    """The checklist version new inspections use."""
    return db.session.scalar(
        select(ChecklistTemplate).where(ChecklistTemplate.name == name, ChecklistTemplate.active.is_(True))
        .order_by(ChecklistTemplate.version.desc()).limit(1)
    )


def new_template_version(items: list[dict], actor: User, name: str = TEMPLATE_NAME,
                         now: datetime | None = None, reason: str | None = None) -> ChecklistTemplate:
    """Save an edited checklist as a new version; inspections done keep the version they used.

    `items`: dicts with code, label_en, label_zh, kind (check|quantity), scope (line|shipment).
    `reason`: what changed, for the audit trail.
    """
    now = now or utcnow()
    current = active_template(name)
    version = (db.session.scalar(select(func.max(ChecklistTemplate.version))
                                 .where(ChecklistTemplate.name == name)) or 0) + 1
    if current is not None:
        current.active = False
    template = ChecklistTemplate(name=name, version=version, active=True, created_dt=now, created_by_id=actor.id)
    template.items = [
        ChecklistItem(position=i, code=item["code"], label_en=item["label_en"], label_zh=item["label_zh"],
                      kind=item.get("kind", "check"), scope=item.get("scope", PER_LINE))
        for i, item in enumerate(items)
    ]
    db.session.add(template)
    db.session.flush()
    record_event("checklist", template.id, "new_version", actor,
                 f"v{current.version}" if current else None, f"v{version}", reason=reason, when=now)
    return template


# --- starting ----------------------------------------------------------------------------


def start_inspection(*, kind: str, inspector: User, order_reference: str, lines: list[LineData],
                     job: Job | None = None, customer: Customer | None = None,
                     corrects: Inspection | None = None, now: datetime | None = None) -> Inspection:
    """A new draft inspection with its checklist laid out: the line items for each line,
    then the items for the whole consignment."""
    now = now or utcnow()
    if kind not in KINDS:
        raise InspectionRefused(_l("Unknown kind of inspection."))
    if kind == SITE_DELIVERY:
        if problem := site_start_problem(job, inspector, corrects):
            raise InspectionRefused(problem)
        customer = job.customer
    order_reference = (order_reference or "").strip()
    if not order_reference:
        raise InspectionRefused(_l("Enter the order or shipment reference."))
    lines = [line for line in lines if line.product_model.strip()]
    if not lines:
        raise InspectionRefused(_l("Add at least one line: the product model and the quantity expected."))
    if any(line.expected_quantity < 1 for line in lines):
        raise InspectionRefused(_l("The expected quantity must be at least 1."))
    template = active_template()
    if template is None:
        raise InspectionRefused(_l("No checklist is set up. Ask a supervisor."))
    inspection = Inspection(
        kind=kind, job=job, customer=customer, order_reference=order_reference[:80], template=template,
        inspector_id=inspector.id, status=DRAFT, started_dt=now, draft_saved_dt=now, corrects=corrects,
    )
    inspection.lines = [InspectionLine(position=i, product_model=line.product_model.strip()[:120],
                                       expected_quantity=line.expected_quantity)
                        for i, line in enumerate(lines)]
    db.session.add(inspection)
    db.session.flush()
    position = 0
    checks = []
    for line in inspection.lines:
        for item in (i for i in template.items if i.scope == PER_LINE):
            checks.append(_check_from(item, position, line))
            position += 1
    for item in (i for i in template.items if i.scope == PER_SHIPMENT):
        checks.append(_check_from(item, position, None))
        position += 1
    inspection.checks = checks
    db.session.flush()
    record_event("inspection", inspection.id, "start", inspector, None, DRAFT,
                 reason=f"corrects {corrects.reference}" if corrects else None, when=now)
    return inspection


def site_start_problem(job: Job | None, inspector: User, corrects: Inspection | None = None) -> str | None:
    """Why `inspector` cannot start a delivery inspection at the site from `job` now, or None."""
    if job is None or job.request_type != DELIVERY_INSPECTION:
        return _l("A delivery inspection at the site starts from a delivery-inspection job.")
    if job.status != ON_SITE and corrects is None:
        return _l("Check in on site before starting the inspection.")
    if inspector.role == TECHNICIAN and job.technician_id != inspector.id:
        return _l("This job is not assigned to you.")
    return None


def _check_from(item: ChecklistItem, position: int, line: InspectionLine | None) -> InspectionCheck:
    return InspectionCheck(
        line=line, position=position, item_code=item.code, label_en=item.label_en, label_zh=item.label_zh,
        kind=item.kind, expected_quantity=line.expected_quantity if (line and item.kind == QUANTITY) else None,
    )


# --- answering ---------------------------------------------------------------------------


def _editable(inspection: Inspection) -> None:
    if inspection.status != DRAFT:
        raise InspectionRefused(_l("This inspection was submitted and is final. Start a correction instead."))


def ensure_editable(inspection: Inspection) -> None:
    """Raise InspectionRefused unless the inspection is still a draft (e.g. before a photo is stored)."""
    _editable(inspection)


def may_run(user: User, inspection: Inspection) -> bool:
    """Who answers a draft: its inspector, the technician of its job, or a supervisor."""
    return user.role == SUPERVISOR or user.id == inspection.inspector_id or (
        inspection.job is not None and inspection.job.technician_id == user.id)


def answer_check(check: InspectionCheck, answer: str | None, note: str = "",
                 counted_quantity: int | None = None, now: datetime | None = None) -> InspectionCheck:
    """Record one item's answer. A quantity item answers itself from the count."""
    _editable(check.inspection)
    check.note = (note or "").strip()[:2000]
    if check.kind == QUANTITY and answer != NOT_APPLICABLE:
        check.counted_quantity = counted_quantity
        if counted_quantity is None:
            check.answer = None
        else:
            if counted_quantity < 0:
                raise InspectionRefused(_l("The count cannot be negative."))
            check.answer = PASS if counted_quantity == check.expected_quantity else FAIL
    else:
        if answer not in (PASS, FAIL, NOT_APPLICABLE, None, ""):
            raise InspectionRefused(_l("Choose pass, fail or not applicable."))
        check.answer = answer or None
    check.inspection.draft_saved_dt = now or utcnow()
    db.session.flush()
    return check


def photo_count(check: InspectionCheck) -> int:
    return db.session.scalar(select(func.count(Photo.id)).where(Photo.inspection_check_id == check.id)) or 0


def check_problem(check: InspectionCheck) -> str | None:
    """Why this item cannot be submitted as it stands, or None."""
    if check.answer is None:
        return _l("Not answered yet.")
    if check.answer == FAIL:
        no_note, no_photo = not check.note.strip(), photo_count(check) == 0
        if no_note and no_photo:
            return _l("A failed item needs a note saying what is wrong and at least one photo.")
        if no_note:
            return _l("A failed item needs a note saying what is wrong.")
        if no_photo:
            return _l("A failed item needs at least one photo.")
    return None


def progress(inspection: Inspection) -> tuple[int, int]:
    """(items answered, items in all)."""
    answered = sum(1 for c in inspection.checks if c.answer is not None)
    return answered, len(inspection.checks)


# --- submitting --------------------------------------------------------------------------


def submit_inspection(inspection: Inspection, actor: User, now: datetime | None = None) -> Inspection:
    """Make the inspection final and give it its result (passed only if every applicable
    item passed). A failed inspection opens a follow-up request (replacement, return or
    claim) for the dispatcher; an inspection from a job resolves the job."""
    from ..dispatch import operations as dispatch_ops

    now = now or utcnow()
    _editable(inspection)
    problems = {check.id: problem for check in inspection.checks if (problem := check_problem(check))}
    if problems:
        raise InspectionIncomplete(problems)
    failed = [c for c in inspection.checks if c.answer == FAIL]
    inspection.result = FAILED if failed else PASSED
    inspection.status = SUBMITTED
    inspection.submitted_dt = now
    if failed:
        inspection.follow_up_job = _open_follow_up(inspection, failed, actor, now)
    job = inspection.job
    if job is not None and job.status == ON_SITE and inspection.corrects_id is None:
        summary = f"{inspection.reference}: {inspection.result}"
        dispatch_ops.transition_job(job, "resolve", actor, None, reason=summary, now=now, by_hand=False)
    record_event("inspection", inspection.id, "submit", actor, DRAFT, inspection.result, when=now)
    db.session.flush()
    return inspection


def _open_follow_up(inspection: Inspection, failed: list[InspectionCheck], actor: User, now: datetime) -> Job:
    from ..dispatch import operations as dispatch_ops

    customer = inspection.customer or _receiving_customer(actor)
    lines = "; ".join(
        f"{c.line.product_model + ': ' if c.line else ''}{c.label_en}"
        f"{f' ({c.counted_quantity}/{c.expected_quantity})' if c.kind == QUANTITY else ''} — {c.note}"
        for c in failed
    )
    model = next((c.line.product_model for c in failed if c.line), None)
    return dispatch_ops.log_request(
        actor=actor, customer=customer, request_type=INSPECTION_FOLLOW_UP, priority="high",
        description=f"{inspection.reference} ({inspection.order_reference}) failed: {lines}"[:4000],
        product_model=model, now=now,
    )


def _receiving_customer(actor: User) -> Customer:
    """Goods received at the centre may have no customer yet: their follow-up is booked to the
    centre's own receiving record in the inspector's region, for the dispatcher to re-assign."""
    name = "售后服务中心收货 Service centre receiving"
    customer = db.session.scalar(select(Customer).where(Customer.name == name,
                                                        Customer.region_id == actor.region_id))
    if customer is None:
        from ...models import Region

        region_id = actor.region_id or db.session.scalar(select(Region.id).order_by(Region.id).limit(1))
        customer = Customer(name=name, phone="-", address="After-sales service centre", region_id=region_id)
        db.session.add(customer)
        db.session.flush()
    return customer


def start_correction(inspection: Inspection, actor: User, now: datetime | None = None) -> Inspection:
    """A new inspection of the same goods that references the first; the first stays as it was."""
    if inspection.status != SUBMITTED:
        raise InspectionRefused(_l("Only a submitted inspection can be corrected."))
    return start_inspection(
        kind=inspection.kind, inspector=actor, order_reference=inspection.order_reference,
        lines=[LineData(l.product_model, l.expected_quantity) for l in inspection.lines],
        job=inspection.job, customer=inspection.customer, corrects=inspection, now=now,
    )


# --- reading -----------------------------------------------------------------------------


def visible_inspection(user: User, inspection_id: int) -> Inspection | None:
    """The inspection if `user` may see it: a technician sees the ones they did, or of their jobs."""
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None:
        return None
    if user.role == TECHNICIAN and inspection.inspector_id != user.id and not (
        inspection.job is not None and inspection.job.technician_id == user.id
    ):
        return None
    return inspection


def inspection_for_job(job: Job) -> Inspection | None:
    """The newest inspection started from a job."""
    return db.session.scalar(select(Inspection).where(Inspection.job_id == job.id)
                             .order_by(Inspection.id.desc()).limit(1))


def inspection_opening(job: Job) -> Inspection | None:
    """The failed inspection that opened this follow-up job, if any (the link back)."""
    return db.session.scalar(select(Inspection).where(Inspection.follow_up_job_id == job.id))


def corrections(inspection: Inspection) -> list[Inspection]:
    """The inspections that correct this one (the link forward), oldest first."""
    return list(db.session.scalars(select(Inspection).where(Inspection.corrects_id == inspection.id)
                                   .order_by(Inspection.id)))


def check_photos(inspection: Inspection) -> dict[int, list[Photo]]:
    """The photos of each checklist item of the inspection, in the order they were taken."""
    photos: dict[int, list[Photo]] = {}
    for photo in db.session.scalars(select(Photo).where(Photo.inspection_id == inspection.id,
                                                        Photo.inspection_check_id.is_not(None))
                                    .order_by(Photo.id)):
        photos.setdefault(photo.inspection_check_id, []).append(photo)
    return photos


LIST_RESULTS = (PASSED, FAILED, DRAFT)


@dataclass(frozen=True)
class InspectionFilters:
    """What the reader narrowed the list to; every field is optional."""

    reference: str = ""  # order or shipment reference contains
    date_from: date | None = None  # submitted, local calendar days, inclusive
    date_to: date | None = None
    result: str | None = None  # passed, failed, or draft (not submitted yet)
    kind: str | None = None

    @classmethod
    def from_args(cls, args) -> "InspectionFilters":
        """Filters from a query string; anything malformed is ignored rather than refused."""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat((args.get(name) or "").strip())
            except ValueError:
                return None

        result, kind = args.get("result") or None, args.get("kind") or None
        return cls(reference=(args.get("reference") or "").strip()[:80], date_from=day("from"),
                   date_to=day("to"), result=result if result in LIST_RESULTS else None,
                   kind=kind if kind in KINDS else None)

    def as_args(self) -> dict[str, str]:
        """The query-string form (for the pager's links)."""
        args = {"reference": self.reference, "result": self.result or "", "kind": self.kind or "",
                "from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in args.items() if v}


def inspections_query(user: User, filters: InspectionFilters):
    """The inspections `user` may see that match `filters`, newest first (drafts by their start).

    A technician sees the ones they did and those of their jobs (as visible_inspection).
    """
    from zoneinfo import ZoneInfo

    from flask import current_app
    from sqlalchemy import or_
    from sqlalchemy.orm import joinedload

    stmt = (select(Inspection)
            .options(joinedload(Inspection.inspector), joinedload(Inspection.customer),
                     joinedload(Inspection.job))
            .order_by(func.coalesce(Inspection.submitted_dt, Inspection.started_dt).desc(), Inspection.id.desc()))
    if user.role == TECHNICIAN:
        own_jobs = select(Job.id).where(Job.technician_id == user.id)
        stmt = stmt.where(or_(Inspection.inspector_id == user.id, Inspection.job_id.in_(own_jobs)))
    if filters.reference:
        escaped = filters.reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Inspection.order_reference.ilike(f"%{escaped}%", escape="\\"))
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    if filters.date_from:
        stmt = stmt.where(Inspection.submitted_dt >= datetime.combine(filters.date_from, time.min, tzinfo=zone))
    if filters.date_to:
        stmt = stmt.where(Inspection.submitted_dt < datetime.combine(filters.date_to + timedelta(days=1),
                                                                     time.min, tzinfo=zone))
    if filters.result == DRAFT:
        stmt = stmt.where(Inspection.status == DRAFT)
    elif filters.result:
        stmt = stmt.where(Inspection.status == SUBMITTED, Inspection.result == filters.result)
    if filters.kind:
        stmt = stmt.where(Inspection.kind == filters.kind)
    return stmt


def failure_counts(since: datetime | None = None, until: datetime | None = None) -> dict[str, list[tuple[str, int]]]:
    """Failed items of submitted inspections, counted per checklist item and per product model.

    `since` (inclusive) / `until` (exclusive) narrow it to inspections submitted in that time.
    """
    failed = (Inspection.status == SUBMITTED) & (InspectionCheck.answer == FAIL)
    if since is not None:
        failed &= Inspection.submitted_dt >= since
    if until is not None:
        failed &= Inspection.submitted_dt < until
    count = func.count(InspectionCheck.id)
    per_item = db.session.execute(
        select(InspectionCheck.item_code, count).join(Inspection).where(failed)
        .group_by(InspectionCheck.item_code).order_by(count.desc(), InspectionCheck.item_code)
    ).all()
    per_model = db.session.execute(
        select(InspectionLine.product_model, count)
        .join(InspectionCheck, InspectionCheck.line_id == InspectionLine.id)
        .join(Inspection, Inspection.id == InspectionCheck.inspection_id).where(failed)
        .group_by(InspectionLine.product_model).order_by(count.desc(), InspectionLine.product_model)
    ).all()
    return {"per_item": [tuple(r) for r in per_item], "per_model": [tuple(r) for r in per_model]}
