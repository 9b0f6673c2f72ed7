"""Dispatch routes: thin views over operations.py; each one states who may use it."""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from ...extensions import db
from ...labels import PRIORITY_LABELS, REQUEST_TYPE_LABELS, STATUS_LABELS
from ...models import Customer, Escalation, Job, Region, User, utcnow
from ...models.users import DISPATCHER, REVIEWER, SUPERVISOR, TECHNICIAN
from ...security import form_csrf, local_url, roles_required
from ...services.audit import history
from ...services.lifecycle import TransitionError, allowed_actions
from ...templating import render_page_or_fragment
from . import bp, operations as ops
from .forms import AssignForm, DecisionForm, RequestForm, TransitionForm

log = logging.getLogger(__name__)


def _regions() -> list[Region]:
    return list(db.session.scalars(select(Region).order_by(Region.name)))


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC start and end of a calendar day in the service centre's time zone."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def _today() -> date:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _technician_choices(technicians: list[User]) -> list[SelectChoice]:
    return [SelectChoice(0, gettext("Choose a technician"))] + [SelectChoice(t.id, t.display_name) for t in technicians]


def _assign_form(job: Job) -> AssignForm:
    """The assign form of one job, offering the active technicians of the job's region."""
    form = AssignForm(meta={"csrf": False}, formdata=None)
    form.technician_id.choices = _technician_choices(ops.technicians_for_region(job.region_id))
    form.technician_id.data = job.technician_id or 0
    form.version.data = job.version
    return form


def _card_context(job: Job, *, with_assign_form: bool = False, **extra) -> dict:
    """What a job card or the job panel shows.

    The assign form (with the region's technicians) is built only when `with_assign_form` and
    the user may assign the job now: the job page, and a card answering a failed assignment so
    the dispatcher can retry in place. Cards on the board and queue load it on demand
    (dispatch.assign_form; issue 7: ~200 cards x 50 technicians made the board 538 KB).
    """
    actions = allowed_actions(job.status, current_user.role)
    assign_form = None
    if with_assign_form and current_user.has_role(DISPATCHER) and "assign" in actions:
        assign_form = _assign_form(job)
    return {"job": job, "assign_form": assign_form, "actions": actions, **extra}


def _page_of_htmx_request() -> str:
    """The path and query of the page an htmx request came from (HX-Current-URL), if it is on
    this site, else "": the `next` of a form loaded into that page."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.netloc and current.netloc != request.host:
        return ""
    return local_url(current.path + (f"?{current.query}" if current.query else ""), "")


def _redirect_next(default: str):
    return redirect(local_url(request.form.get("next"), default), code=303)


# --- logging requests --------------------------------------------------------------------


@bp.route("/requests/new", methods=["GET", "POST"])
@roles_required(DISPATCHER)
@form_csrf
def new_request():
    """Dispatcher: log a service request from a customer's call; it becomes a job."""
    form = RequestForm()
    form.customer_region.choices = [SelectChoice(0, gettext("Choose a region"))] + [
        SelectChoice(r.id, r.name) for r in _regions()
    ]
    hours = current_app.config["ARRIVAL_HOURS"]
    form.priority.choices = [
        SelectChoice(key, gettext("%(priority)s — on site within %(hours)s h", priority=label, hours=hours[key]))
        for key, label in PRIORITY_LABELS.items()
    ]
    customer = None
    chosen = request.args.get("customer_id") or form.customer_id.data
    if chosen and str(chosen).isdigit():
        customer = db.session.get(Customer, int(chosen))
        if customer is not None:
            form.customer_id.data = str(customer.id)
    if request.args.get("change"):
        customer = None
        form.customer_id.data = ""
    query = request.args.get("q", "").strip()
    matches = ops.search_customers(query) if query else []
    if request.method == "GET" and request.headers.get("HX-Target") == "customer-section":
        return render_template("dispatch/_customer_section.html", form=form, customer=customer,
                               matches=matches, query=query)

    if request.method == "POST":
        valid = form.validate_on_submit()
        if form.customer_id.data and customer is None:
            form.customer_id.errors = [gettext("That customer no longer exists. Search again.")]
            form.customer_id.data = ""
            valid = False
        if valid:
            if customer is None:
                customer = ops.create_customer(
                    form.customer_name.data, form.customer_phone.data,
                    form.customer_address.data, form.customer_region.data,
                )
            job = ops.log_request(
                actor=current_user, customer=customer,
                request_type=form.request_type.data, priority=form.priority.data,
                description=form.description.data,
                product_model=form.product_model.data, product_serial=form.product_serial.data,
                made_by_us=form.made_by_us.data, coverage_end_date=form.coverage_end_date.data,
            )
            # Read before the commit expires the job: the answer to a saved request needs no
            # further query, so a database gone just after the commit cannot turn it into an
            # error page that invites logging the call twice (fault drill, tests/drills/).
            reference, target = job.reference, url_for("dispatch.job_detail", job_id=job.id)
            db.session.commit()
            flash(gettext("Request logged as %(ref)s. Assign a technician now.", ref=reference), "success")
            if request.headers.get("HX-Request") == "true":
                return "", 204, {"HX-Redirect": target, "FS-Draft": "done"}
            return redirect(target, code=303)
        if form.csrf_token.errors:
            form.form_errors.append(
                gettext("The form had expired. Your entries are kept: check them and log the request again.")
            )
        context = {"form": form, "customer": customer, "matches": matches, "query": query}
        return render_page_or_fragment("dispatch/new_request.html", "dispatch/_request_form.html",
                                       "request-form", **context), 422
    return render_page_or_fragment(
        "dispatch/new_request.html", "dispatch/_request_form.html", "request-form",
        form=form, customer=customer, matches=matches, query=query,
    )


@bp.get("/customers/search")
@roles_required(DISPATCHER)
def customer_search():
    """Dispatcher: customers matching a name or phone (the active search's results)."""
    query = request.args.get("q", "").strip()
    return render_page_or_fragment(
        "dispatch/customer_search.html", "dispatch/_customer_matches.html", "customer-matches",
        matches=ops.search_customers(query), query=query,
    )


# --- queues and board --------------------------------------------------------------------


@bp.get("/dispatch/queue")
@roles_required(DISPATCHER)
def queue():
    """Dispatcher: unassigned jobs, earliest arrival deadline first; filter by region and type."""
    region_id = _int_arg("region")
    request_type = request.args.get("type") or None
    if request_type not in REQUEST_TYPE_LABELS:
        request_type = None
    page = ops.unassigned_jobs(region_id, request_type, page=_int_arg("page") or 1,
                               per_page=current_app.config["PAGE_SIZE"])
    # Each card's assign form is loaded when opened (dispatch.assign_form), not built here.
    return render_page_or_fragment(
        "dispatch/queue.html", "dispatch/_queue_results.html", "queue-results",
        page=page, regions=_regions(), region_id=region_id, request_type=request_type,
    )


@bp.get("/dispatch/board")
@roles_required(DISPATCHER)
def board():
    """Dispatcher: one column per technician of a region with their jobs for a chosen day."""
    regions = _regions()
    region_id = _int_arg("region") or (current_user.region_id or (regions[0].id if regions else None))
    try:
        day = date.fromisoformat(request.args.get("day", "")) if request.args.get("day") else _today()
    except ValueError:
        day = _today()
    technicians = ops.technicians_for_region(region_id) if region_id else []
    start, end = _local_day_bounds(day)
    grouped = ops.board_jobs(region_id, start, end, include_overdue=day == _today()) if region_id else {}
    # The technicians are the columns; each card's assign form is loaded when opened
    # (dispatch.assign_form), not built here.
    return render_page_or_fragment(
        "dispatch/board.html", "dispatch/_board_columns.html", "board-columns",
        regions=regions, region_id=region_id, day=day, technicians=technicians, grouped=grouped,
        previous_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
    )


@bp.get("/jobs")
@roles_required(DISPATCHER, REVIEWER)
def jobs():
    """Dispatcher, reviewer, supervisor: every job, newest first, filtered by status."""
    status = request.args.get("status") or None
    if status not in STATUS_LABELS:
        status = None
    page = ops.recent_jobs(current_user, status, page=_int_arg("page") or 1,
                           per_page=current_app.config["PAGE_SIZE"])
    return render_page_or_fragment("dispatch/jobs.html", "dispatch/_jobs_table.html", "jobs-table",
                                   page=page, status=status)


# --- one job -----------------------------------------------------------------------------


def _job_or_404(job_id: int) -> Job:
    job = ops.visible_job(current_user, job_id)
    if job is None:
        abort(404)
    return job


@bp.get("/jobs/<int:job_id>")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def job_detail(job_id: int):
    """Anyone on the job's side: the job, its deadline, the next steps and its history.

    A technician sees only jobs assigned to them (others answer 404).
    """
    job = _job_or_404(job_id)
    context = _card_context(job, with_assign_form=True, events=history("job", job.id),
                            transition_form=TransitionForm(meta={"csrf": False}))
    return render_page_or_fragment("dispatch/job.html", "dispatch/_job_panel.html", "job-panel", **context)


@bp.get("/jobs/<int:job_id>/assign-form")
@roles_required(DISPATCHER)
def assign_form(job_id: int):
    """Dispatcher: the assign form of one card on the board or queue, loaded when they open it.

    Only the htmx request of the card's Assign control (target assign-open-<id>) gets the
    fragment; any other request goes to the job page, which has the same form. A job that can
    no longer be assigned answers 409 with its card as it is now, swapped in place of the card.
    """
    job = _job_or_404(job_id)
    vary = {"Vary": "HX-Request, HX-Target"}
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-Target") != f"assign-open-{job.id}":
        return redirect(url_for("dispatch.job_detail", job_id=job.id), code=303), vary
    context = _card_context(job, with_assign_form=True)
    if context["assign_form"] is None:
        context["error"] = gettext("This job is now %(status)s: it can no longer be assigned.",
                                   status=STATUS_LABELS.get(job.status, job.status))
        return render_template("dispatch/_job_card.html", **context), 409, {
            **vary, "HX-Retarget": f"#job-card-{job.id}", "HX-Reswap": "outerHTML"}
    return render_template("dispatch/_assign_form.html", **context, next_url=_page_of_htmx_request(),
                           autofocus=True), vary


@bp.post("/jobs/<int:job_id>/assign")
@roles_required(DISPATCHER)
def assign(job_id: int):
    """Dispatcher: assign or reassign a job to a technician (from the board, queue or job page)."""
    job = _job_or_404(job_id)
    technicians = ops.technicians_for_region(None)
    form = AssignForm(meta={"csrf": False})
    form.technician_id.choices = [SelectChoice(0, "")] + [SelectChoice(t.id, t.display_name) for t in technicians]
    error = None
    status = 200
    if not form.validate() or not form.technician_id.data:
        error = gettext("Choose a technician.")
        status = 422
    else:
        technician = db.session.get(User, form.technician_id.data)
        try:
            ops.assign_job(job, technician, current_user, form.version.data)
            db.session.commit()
        except ops.JobConflict as conflict:
            db.session.rollback()
            job = conflict.job
            error = _conflict_message(job)
            status = 409
        except TransitionError as refused:
            db.session.rollback()
            error = str(refused)
            status = 422
    return _after_change(job, error, status, success=gettext("Assigned to %(name)s.",
                                                             name=job.technician.display_name if job.technician else ""))


def _conflict_message(job: Job) -> str:
    if job.technician is not None and job.assigned_by is not None:
        return gettext(
            "Someone else was faster: %(by)s assigned this job to %(tech)s at %(when)s. It is now %(status)s.",
            by=job.assigned_by.display_name, tech=job.technician.display_name,
            when=_local_time(job.assigned_dt), status=STATUS_LABELS.get(job.status, job.status),
        )
    return gettext("The job changed meanwhile. It is now %(status)s.",
                   status=STATUS_LABELS.get(job.status, job.status))


def _local_time(value) -> str:
    from ...templating import local_dt

    return local_dt(value)


def _after_change(job: Job, error: str | None, status: int, success: str):
    """Answer a change: the card or panel the htmx request targets, else a redirect."""
    target = request.headers.get("HX-Target") or ""
    if request.headers.get("HX-Request") == "true" and target:
        # The job panel always has the assign form; a card only after a failed assignment (to
        # retry in place with the job's current version), else its Assign control loads it.
        context = _card_context(job, with_assign_form=target == "job-panel" or bool(error), error=error,
                                message=None if error else success,
                                transition_form=TransitionForm(meta={"csrf": False}))
        if target == "job-panel":
            context["events"] = history("job", job.id)
            template = "dispatch/_job_panel.html"
        else:
            template = "dispatch/_job_card.html"
        response = current_app.make_response((render_template(template, **context), status))
        if not error:
            response.headers["HX-Trigger"] = "job-updated"
        return response
    flash(error or success, "error" if error else "success")
    return _redirect_next(url_for("dispatch.job_detail", job_id=job.id))


@bp.post("/jobs/<int:job_id>/<any(start_travel, check_in, resolve, escalate, close, cancel):action>")
@roles_required(TECHNICIAN, DISPATCHER)
def transition(job_id: int, action: str):
    """Technician or dispatcher: one lifecycle step; a repeated request key applies once."""
    job = _job_or_404(job_id)
    form = TransitionForm(meta={"csrf": False})
    error = None
    status = 200
    if not form.validate():
        error = gettext("The request was not valid. Reload the page and try again.")
        status = 422
    else:
        try:
            result = ops.transition_job(job, action, current_user, form.request_key.data or None,
                                        reason=form.reason.data)
            db.session.commit()
            job = result.job
        except ops.JobConflict as conflict:
            db.session.rollback()
            job = conflict.job
            error = _conflict_message(job)
            status = 409
        except IntegrityError:
            # The same request key arrived twice at the same moment: the first one won.
            db.session.rollback()
            job = db.session.get(Job, job_id)
        except TransitionError as refused:
            db.session.rollback()
            error = str(refused)
            status = 422
    return _after_change(job, error, status, success=gettext("Done: %(status)s.",
                                                             status=STATUS_LABELS.get(job.status, job.status)))


# --- technician --------------------------------------------------------------------------


@bp.get("/my-jobs")
@roles_required(TECHNICIAN)
def my_jobs():
    """Technician: today's and upcoming jobs on the phone, most urgent first."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    groups = [
        (key, [_card_context(job) for job in jobs_in_group])
        for key, jobs_in_group in ops.group_my_jobs(ops.technician_jobs(current_user), utcnow(), zone)
    ]
    return render_page_or_fragment("dispatch/my_jobs.html", "dispatch/_my_jobs_list.html", "my-jobs-list",
                                   groups=groups)


# --- escalations (policy 3.1) ------------------------------------------------------------


def _escalations_page(number: int):
    return ops.open_escalations(page=number, per_page=current_app.config["PAGE_SIZE"])


@bp.get("/escalations")
@roles_required(SUPERVISOR)
def escalations():
    """Supervisor: escalated jobs waiting for a decision, oldest first, a page at a time."""
    page = _escalations_page(_int_arg("page") or 1)
    if not page.items and page.page > 1:
        # Past the end, e.g. after deciding the last one of the last page: its last page.
        return redirect(url_for("dispatch.escalations", page=page.pages if page.pages > 1 else None), code=303)
    return render_template("dispatch/escalations.html", page=page, escalations=page.items,
                           form=DecisionForm(meta={"csrf": False}))


@bp.post("/escalations/<int:escalation_id>/decide")
@roles_required(SUPERVISOR)
@form_csrf
def decide(escalation_id: int):
    """Supervisor: record what was decided; the job goes back to where it stood."""
    escalation = db.get_or_404(Escalation, escalation_id)
    form = DecisionForm()
    # The page of the list the decision was made on: back there after it, or with its error.
    number = int(request.form["page"]) if request.form.get("page", "").isdigit() else 1
    if form.validate_on_submit():
        try:
            ops.decide_escalation(escalation, current_user, form.decision.data, form.request_key.data or None)
            db.session.commit()
            flash(gettext("Decision recorded for %(ref)s.", ref=escalation.job.reference), "success")
            return redirect(url_for("dispatch.escalations", page=number if number > 1 else None), code=303)
        except (TransitionError, ops.JobConflict) as refused:
            db.session.rollback()
            form.decision.errors = [*form.decision.errors, str(refused) if isinstance(refused, TransitionError)
                                    else gettext("The job changed meanwhile. Reload and try again.")]
    if form.csrf_token.errors:
        form.form_errors.append(gettext("The form had expired. Your text is kept: submit it again."))
    page = _escalations_page(number)
    shown = list(page.items)
    if escalation not in shown:
        # The list moved meanwhile (or it was decided by someone else): keep the user's text
        # and the message next to the escalation they answered, on top.
        shown.insert(0, escalation)
    return render_template("dispatch/escalations.html", page=page, escalations=shown,
                           form=form, failed_id=escalation_id), 422
