"""Complaint and follow-up routes (policy 2.1, 2.6, 3.5): the desk logs complaints, answers and
closes them, and makes the follow-up calls of resolved jobs; the supervisor works the queue of
repeated complaints. Technicians and reviewers have no business here (403).

Routes stay thin: the rules are in operations.py. A change the rules refuse answers 422 (or 409
when the record changed meanwhile) with the reason, and changes nothing.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from ...extensions import db
from ...pagination import paginate
from ...models import Complaint, ComplaintLink, Customer, FaultCategory, FollowUp, Job, Product, Region, User, utcnow
from ...models.complaints import CLOSED, OPEN, PENDING, REACHED
from ...models.users import DISPATCHER, SUPERVISOR, TECHNICIAN
from ...security import form_csrf, roles_required
from ...services.audit import history
from ...templating import render_page_or_fragment
from ..dispatch import operations as dispatch_ops
from . import bp, operations as ops
from .forms import CloseComplaintForm, ComplaintForm, FollowUpForm


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _page_number() -> int:
    return _int(request.args.get("page")) or 1


def _regions() -> list[Region]:
    return list(db.session.scalars(select(Region).order_by(Region.name)))


def _done(target: str):
    """After a successful change: 303 to `target` (htmx: 204 with HX-Redirect)."""
    if _htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)


# --- the job page's fragment (dispatch/_job_panel.html includes complaints/_job_section.html)


@bp.app_template_global()
def job_follow_up_section(job: Job) -> dict:
    """The job's follow-up call and complaints, for its page (desk and supervisors only)."""
    if not current_user.is_authenticated or not current_user.has_role(DISPATCHER):
        return {"visible": False}
    return {"visible": True, "follow_up": ops.follow_up_of(job), "complaints": ops.job_complaints(job)}


@bp.app_template_global()
def job_pending_follow_up(job: Job) -> FollowUp | None:
    """The resolved job's pending call: its "Close job" button becomes "Record the follow-up call"."""
    return ops.pending_follow_up(job)


# --- the complaints list -----------------------------------------------------------------


@bp.get("/complaints")
@roles_required(DISPATCHER)
def index():
    """Desk and supervisors: complaints, open ones first and oldest first, with filters."""
    filters = ops.ComplaintFilters.from_args(request.args)
    page = paginate(ops.complaints_query(filters), page=_page_number(),
                    per_page=current_app.config["PAGE_SIZE"])
    return render_page_or_fragment("complaints/list.html", "complaints/_results.html", "complaint-results",
                                   page=page, filters=filters, regions=_regions())


@bp.get("/complaints/escalated")
@roles_required(SUPERVISOR)
def escalated():
    """Supervisor: repeated complaints waiting for an answer, with the earlier ones (policy 2.6)."""
    page = paginate(ops.escalated_queue_query(), page=_page_number(),
                    per_page=current_app.config["PAGE_SIZE"])
    return render_page_or_fragment("complaints/escalated.html", "complaints/_escalated_results.html",
                                   "escalated-results", page=page)


# --- logging a complaint -----------------------------------------------------------------


def _fault_choices() -> list[SelectChoice]:
    language = get_locale().language if get_locale() else "en"
    faults = db.session.scalars(select(FaultCategory).where(FaultCategory.parent_id.is_not(None),
                                                            FaultCategory.active.is_(True))
                                .order_by(FaultCategory.parent_id, FaultCategory.position, FaultCategory.id))
    return [SelectChoice("", gettext("Not known"))] + [
        SelectChoice(str(f.id), f"{f.parent.name(language)} · {f.name(language)}") for f in faults]


def _fill_choices(form: ComplaintForm, customer: Customer | None) -> None:
    technicians = db.session.scalars(select(User).where(User.role == TECHNICIAN, User.active.is_(True))
                                     .order_by(User.display_name))
    form.technician_id.choices = [SelectChoice("", gettext("None named"))] + [
        SelectChoice(str(t.id), t.display_name) for t in technicians]
    products = [] if customer is None else db.session.scalars(
        select(Product).where(Product.customer_id == customer.id).order_by(Product.model, Product.id))
    form.product_id.choices = [SelectChoice("", gettext("None named"))] + [
        SelectChoice(str(p.id), p.model + (f" · {p.serial}" if p.serial else "")) for p in products]
    form.fault_category_id.choices = _fault_choices()


def _chosen(model, raw):
    ident = _int(raw)
    return db.session.get(model, ident) if ident else None


def _render_new(form, job, customer, matches, query, error=None, status=200):
    context = {"form": form, "job": job, "customer": customer, "matches": matches, "query": query,
               "error": error, "diagnosis": ops.submitted_diagnosis(job) if job else None}
    if request.method == "GET" and _htmx():
        target = request.headers.get("HX-Target")
        if target == "complaint-customer":
            return render_template("complaints/_customer_section.html", **context)
        if target == "complaint-customer-matches":
            return render_template("complaints/_customer_matches.html", **context)
    return render_page_or_fragment("complaints/new.html", "complaints/_form.html", "complaint-form",
                                   **context), status


@bp.route("/complaints/new", methods=["GET", "POST"])
@roles_required(DISPATCHER)
@form_csrf
def new():
    """Desk: log a customer's complaint, from a job (?job=) or a customer found by name or phone."""
    form = ComplaintForm() if request.method == "POST" else ComplaintForm(formdata=None)
    job = _chosen(Job, request.args.get("job") or form.job_id.data)
    customer = job.customer if job else _chosen(Customer, request.args.get("customer_id") or form.customer_id.data)
    if request.args.get("change") and job is None:
        customer = None
    form.job_id.data = str(job.id) if job else ""
    form.customer_id.data = str(customer.id) if customer else ""
    _fill_choices(form, customer)
    query = request.args.get("q", "").strip()[:100]
    matches = dispatch_ops.search_customers(query) if query and customer is None else []
    if request.method == "GET":
        return _render_new(form, job, customer, matches, query)
    if not form.validate():
        if form.csrf_token.errors:
            form.form_errors.append(gettext("The page had expired. Your entries are kept: send them again."))
        return _render_new(form, job, customer, matches, query, status=422)
    try:
        complaint = ops.log_complaint(
            customer, form.category.data, form.description.data, current_user, job=job,
            technician=None if job else _chosen(User, form.technician_id.data),
            product=None if job else _chosen(Product, form.product_id.data),
            fault_category=None if job else _chosen(FaultCategory, form.fault_category_id.data),
        )
        db.session.commit()
    except ops.ComplaintError as refused:
        db.session.rollback()
        return _render_new(form, job, customer, matches, query, error=str(refused), status=422)
    if complaint.escalated:
        flash(gettext("Complaint %(ref)s logged. The customer complained about this before: it is escalated "
                      "to the supervisor (policy 2.6).", ref=complaint.reference), "warning")
    else:
        flash(gettext("Complaint %(ref)s logged.", ref=complaint.reference), "success")
    return _done(url_for("complaints.show", complaint_id=complaint.id))


# --- one complaint -----------------------------------------------------------------------


# What the complaint page shows of the complaint and of each earlier one (complaints/_card.html),
# loaded with it: the page's statements do not depend on what the session already holds (issue 7).
_CARD_LOADS = (joinedload(Complaint.customer), joinedload(Complaint.region), joinedload(Complaint.technician),
               joinedload(Complaint.job))
PAGE_LOADS = (*_CARD_LOADS, joinedload(Complaint.product), joinedload(Complaint.fault_category),
              joinedload(Complaint.logged_by), joinedload(Complaint.follow_up),
              selectinload(Complaint.earlier).options(*_CARD_LOADS))


def _complaint_or_404(complaint_id: int, for_page: bool = False) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id, options=PAGE_LOADS if for_page else None)
    if complaint is None:
        abort(404)
    return complaint


def _show_context(complaint: Complaint, form=None, error=None) -> dict:
    later = list(db.session.scalars(
        select(Complaint).join(ComplaintLink, ComplaintLink.complaint_id == Complaint.id)
        .where(ComplaintLink.earlier_id == complaint.id).order_by(Complaint.logged_dt, Complaint.id)))
    may_close = complaint.status == OPEN and (not complaint.escalated or current_user.role == SUPERVISOR)
    return {"complaint": complaint, "later": later, "events": history("complaint", complaint.id),
            "form": form or CloseComplaintForm(formdata=None), "error": error, "may_close": may_close}


@bp.get("/complaints/<int:complaint_id>")
@roles_required(DISPATCHER)
def show(complaint_id: int):
    """Desk and supervisors: the complaint, the earlier ones it repeats, its answer and history."""
    complaint = _complaint_or_404(complaint_id, for_page=True)
    return render_page_or_fragment("complaints/page.html", "complaints/_close.html", "complaint-close",
                                   **_show_context(complaint))


@bp.post("/complaints/<int:complaint_id>/close")
@roles_required(DISPATCHER)
@form_csrf
def close(complaint_id: int):
    """Desk (or the supervisor, for an escalated repeat): answer and close the complaint."""
    complaint = _complaint_or_404(complaint_id)
    form = CloseComplaintForm()
    if not form.validate():
        if form.csrf_token.errors:
            form.form_errors.append(gettext("The page had expired. Your answer is kept: send it again."))
        return render_page_or_fragment("complaints/page.html", "complaints/_close.html", "complaint-close",
                                       **_show_context(complaint, form)), 422
    try:
        ops.close_complaint(complaint, form.answer.data, current_user)
        db.session.commit()
    except ops.ComplaintError as refused:
        db.session.rollback()
        complaint = _complaint_or_404(complaint_id)
        status = 409 if complaint.status == CLOSED else 422
        return render_page_or_fragment("complaints/page.html", "complaints/_close.html", "complaint-close",
                                       **_show_context(complaint, form, str(refused))), status
    flash(gettext("Complaint %(ref)s answered and closed.", ref=complaint.reference), "success")
    return _done(url_for("complaints.show", complaint_id=complaint.id))


# --- follow-up calls ---------------------------------------------------------------------


def _due_state(follow_up: FollowUp, now: datetime, zone: ZoneInfo) -> str:
    if follow_up.due_dt < now:
        return "overdue"
    if follow_up.due_dt.astimezone(zone).date() == now.astimezone(zone).date():
        return "today"
    return "upcoming"


@bp.get("/follow-ups")
@roles_required(DISPATCHER)
def follow_ups():
    """Desk: the follow-up calls to make, overdue and due today first, then upcoming (policy 2.1)."""
    region_id = _int(request.args.get("region"))
    page = paginate(ops.follow_ups_query(region_id), page=_page_number(),
                    per_page=current_app.config["PAGE_SIZE"])
    now = utcnow()
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    states = {f.id: _due_state(f, now, zone) for f in page.items}
    return render_page_or_fragment("complaints/follow_ups.html", "complaints/_follow_up_results.html",
                                   "follow-up-results", page=page, states=states, regions=_regions(),
                                   region_id=region_id)


def _follow_up_or_404(follow_up_id: int) -> FollowUp:
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None:
        abort(404)
    return follow_up


def _render_follow_up(follow_up: FollowUp, form: FollowUpForm, error=None, status=200):
    context = {"follow_up": follow_up, "job": follow_up.job, "form": form, "error": error,
               "complaints": ops.job_complaints(follow_up.job),
               "events": history("follow_up", follow_up.id)}
    return render_page_or_fragment("complaints/follow_up.html", "complaints/_follow_up_form.html",
                                   "follow-up-form", **context), status


@bp.route("/follow-ups/<int:follow_up_id>", methods=["GET", "POST"])
@roles_required(DISPATCHER)
@form_csrf
def follow_up(follow_up_id: int):
    """Desk: make the follow-up call and record it; a dissatisfied customer's complaint can be
    opened in the same step; reaching the customer closes the job."""
    record = _follow_up_or_404(follow_up_id)
    if request.method == "GET":
        return _render_follow_up(record, FollowUpForm(formdata=None))
    form = FollowUpForm()
    if not form.validate():
        if form.csrf_token.errors:
            form.form_errors.append(gettext("The page had expired. Your entries are kept: send them again."))
        return _render_follow_up(record, form, status=422)
    complaint_request = None
    if form.open_complaint.data:
        complaint_request = ops.ComplaintRequest(form.complaint_category.data or "",
                                                 form.complaint_description.data or "")
    try:
        complaint = ops.record_follow_up(record, form.outcome.data or "", ops.parse_satisfaction(form.satisfaction.data),
                                         form.comments.data or "", current_user, open_complaint=complaint_request)
        db.session.commit()
    except (ops.ComplaintError, dispatch_ops.JobConflict) as refused:
        db.session.rollback()
        record = _follow_up_or_404(follow_up_id)
        conflict = isinstance(refused, dispatch_ops.JobConflict) or record.status != PENDING
        message = gettext("Someone else changed this job meanwhile. Reload the page.") \
            if isinstance(refused, dispatch_ops.JobConflict) else str(refused)
        return _render_follow_up(record, form, error=message, status=409 if conflict else 422)
    if complaint is not None:
        if complaint.escalated:
            flash(gettext("Call recorded and complaint %(ref)s opened. The customer complained about this before: "
                          "it is escalated to the supervisor (policy 2.6).", ref=complaint.reference), "warning")
        else:
            flash(gettext("Call recorded and complaint %(ref)s opened.", ref=complaint.reference), "success")
        return _done(url_for("complaints.show", complaint_id=complaint.id))
    if record.outcome == REACHED:
        flash(gettext("Call recorded; job %(ref)s is closed.", ref=record.job.reference), "success")
    else:
        flash(gettext("No answer recorded (attempt %(n)s). Call again.", n=record.attempts), "info")
    return _done(url_for("complaints.follow_ups"))
