"""Inspection routes: start one (from a delivery job, or on receipt at the centre), run the
checklist on the phone (one htmx post per answer), submit, correct, read, list (policy 4.3, 4.4).

Routes stay thin: the rules are in operations.py. A technician only reaches the inspections
they did or that belong to their jobs (others answer 404); a submitted inspection is final,
so any later change is refused with 409 and nothing is changed.
"""
from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user

from ...extensions import db
from ...pagination import paginate
from ...models.inspections import CENTRE_RECEIPT, DRAFT, FAIL, SITE_DELIVERY
from ...models.users import DISPATCHER, REVIEWER, SUPERVISOR, TECHNICIAN
from ...security import form_csrf, roles_required
from ...services.lifecycle import TransitionError
from ...templating import render_page_or_fragment
from ..dispatch.operations import visible_job
from ..photos.routes import ingest_form_uploads, upload_answer
from . import bp, operations as ops
from .forms import MAX_LINES, StartInspectionForm

log = logging.getLogger(__name__)

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


# --- helpers -----------------------------------------------------------------------------


@bp.app_template_global()
def inspection_for_job(job):
    """For the job page: the inspection started from this job, if any."""
    return ops.inspection_for_job(job)


@bp.app_template_global()
def inspection_opening(job):
    """For the job page: the failed inspection that opened this follow-up job, if any."""
    return ops.inspection_opening(job)


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _inspection_or_404(inspection_id: int):
    inspection = ops.visible_inspection(current_user, inspection_id)
    if inspection is None:
        abort(404)
    return inspection


def _check_or_404(inspection, check_id: int):
    check = next((c for c in inspection.checks if c.id == check_id), None)
    if check is None:
        abort(404)
    return check


def _runnable_or_403(inspection) -> None:
    if not ops.may_run(current_user, inspection):
        abort(403)


def _running(inspection) -> bool:
    """The page shows the checklist to answer (not the record): a draft, to whoever runs it.

    A supervisor reads other people's drafts as records (they may still post, as the owner can).
    """
    if inspection.status != DRAFT or not ops.may_run(current_user, inspection):
        return False
    return current_user.role != SUPERVISOR or current_user.id == inspection.inspector_id


def _groups(inspection) -> list[tuple]:
    """The checklist as shown: each shipment line with its items, then the whole consignment."""
    by_line: dict[int, list] = {}
    shipment = []
    for check in inspection.checks:
        if check.line_id is not None:
            by_line.setdefault(check.line_id, []).append(check)
        else:
            shipment.append(check)
    groups = [(line, by_line.get(line.id, [])) for line in inspection.lines]
    if shipment:
        groups.append((None, shipment))
    return groups


def _page_context(inspection, problems=None, error=None) -> dict:
    return {
        "inspection": inspection, "running": _running(inspection), "groups": _groups(inspection),
        "photos": ops.check_photos(inspection), "problems": problems or {}, "error": error,
        "progress": ops.progress(inspection), "corrections": ops.corrections(inspection),
        "opened_follow_up": inspection.follow_up_job,
        "language": get_locale().language,
        "may_correct": inspection.status == "submitted" and (
            current_user.role == SUPERVISOR or current_user.id == inspection.inspector_id),
    }


def _refused(inspection, message: str):
    """A change the rules do not allow (the inspection is final): 409, nothing changed."""
    if _htmx():
        # Shown in the page's message area, whatever the request meant to swap.
        html = render_template("inspections/_refused.html", message=message)
        return html, 409, {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
    db.session.expire_all()
    return render_template("inspections/page.html", **_page_context(inspection, error=message)), 409


# --- starting ----------------------------------------------------------------------------


def _start_form(lines=None, reference: str = "") -> StartInspectionForm:
    lines = lines or [{"product_model": "", "expected_quantity": 1}]
    return StartInspectionForm(formdata=None, data={"order_reference": reference, "lines": lines})


def _lines_action(form: StartInspectionForm, action: str) -> StartInspectionForm | None:
    """Add or remove a line row; None when `action` is not one of those."""
    rows = [{"product_model": line.product_model, "expected_quantity": line.expected_quantity}
            for line in form.line_data()]
    if action == "add_line" and len(rows) < MAX_LINES:
        rows.append({"product_model": "", "expected_quantity": 1})
    elif action.startswith("remove_line-") and action.rsplit("-", 1)[1].isdigit():
        index = int(action.rsplit("-", 1)[1])
        if 0 <= index < len(rows) and len(rows) > 1:
            del rows[index]
    elif action != "add_line":
        return None
    return _start_form(rows, form.order_reference.data or "")


def _render_start(form, *, job=None, error=None, status=200):
    context = {"form": form, "job": job, "error": error,
               # A job the inspection cannot start from now (not on site, not a delivery): no form.
               "blocked": job is not None and ops.site_start_problem(job, current_user) is not None,
               "action": url_for("inspections.start_for_job", job_id=job.id) if job
               else url_for("inspections.new_receipt")}
    target = request.headers.get("HX-Target") if _htmx() else None
    if target == "inspection-lines":
        return render_template("inspections/_lines.html", **context), status
    if target == "inspection-start":
        return render_template("inspections/_start_form.html", **context), status
    return render_template("inspections/new.html", **context), status


def _start(form: StartInspectionForm, *, kind: str, job=None):
    """Validate the start form and start the inspection; the response for either outcome."""
    if not form.validate():
        if form.csrf_token.errors:
            form.form_errors.append(gettext("The page had expired. Your entries are kept: send them again."))
        return _render_start(form, job=job, status=422)
    action = request.form.get("action", "start")
    changed = _lines_action(form, action)
    if changed is not None:
        return _render_start(changed, job=job)
    try:
        inspection = ops.start_inspection(kind=kind, inspector=current_user, job=job,
                                          order_reference=form.order_reference.data or "",
                                          lines=form.line_data())
        db.session.commit()
    except TransitionError as refused:
        db.session.rollback()
        status = 409 if job is not None and ops.site_start_problem(job, current_user) else 422
        return _render_start(form, job=job, error=str(refused), status=status)
    return _to_inspection(inspection)


def _to_inspection(inspection):
    """After starting: the inspection's page (the start form's htmx post is told to go there)."""
    target = url_for("inspections.show", inspection_id=inspection.id)
    if _htmx() and request.headers.get("HX-Target") == "inspection-start":
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)


def _job_for_start(job_id: int):
    job = visible_job(current_user, job_id)
    if job is None:
        abort(404)
    return job


def _open_draft_for(job):
    existing = ops.inspection_for_job(job)
    return existing if existing is not None and existing.status == DRAFT else None


@bp.get("/jobs/<int:job_id>/inspection/new")
@roles_required(TECHNICIAN)
def new_for_job(job_id: int):
    """The job's technician, on site: the form that starts the delivery inspection (or the draft)."""
    job = _job_for_start(job_id)
    if (draft := _open_draft_for(job)) is not None:
        return redirect(url_for("inspections.show", inspection_id=draft.id), code=303)
    model = job.product.model if job.product else ""
    return _render_start(_start_form([{"product_model": model, "expected_quantity": 1}]), job=job,
                         error=ops.site_start_problem(job, current_user))


@bp.post("/jobs/<int:job_id>/inspection")
@roles_required(TECHNICIAN)
@form_csrf
def start_for_job(job_id: int):
    """The job's technician, on site: start the delivery inspection (policy 4.3), or add/remove a line."""
    job = _job_for_start(job_id)
    if (draft := _open_draft_for(job)) is not None:
        # Started already (a second tap, another tab): continue that one.
        return _to_inspection(draft)
    return _start(StartInspectionForm(), kind=SITE_DELIVERY, job=job)


@bp.route("/inspections/new", methods=["GET", "POST"])
@roles_required(TECHNICIAN)
@form_csrf
def new_receipt():
    """Receiving staff at the centre: start a receipt inspection from an order or shipment reference (4.4)."""
    if request.method == "GET":
        return _render_start(_start_form())
    return _start(StartInspectionForm(), kind=CENTRE_RECEIPT)


# --- reading -----------------------------------------------------------------------------


@bp.get("/inspections")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def index():
    """Technicians: their own inspections; dispatchers, supervisors, reviewers: all, filtered."""
    filters = ops.InspectionFilters.from_args(request.args)
    number = request.args.get("page", "")
    page = paginate(ops.inspections_query(current_user, filters),
                    page=int(number) if number.isdigit() and len(number) < 7 else 1,
                    per_page=current_app.config["PAGE_SIZE"])
    return render_page_or_fragment("inspections/list.html", "inspections/_results.html", "inspections-results",
                                   page=page, filters=filters)


@bp.get("/inspections/<int:inspection_id>")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def show(inspection_id: int):
    """The inspector: the checklist to answer (a draft); everyone who may see it: the record."""
    inspection = _inspection_or_404(inspection_id)
    return render_template("inspections/page.html", **_page_context(inspection))


# --- answering ---------------------------------------------------------------------------


def _counted(raw: str | None) -> tuple[int | None, str | None]:
    raw = (raw or "").strip()
    if not raw:
        return None, None
    if raw.lstrip("-").isdigit() and len(raw) < 7:
        return int(raw), None
    return None, gettext("Enter the count as a whole number.")


def _render_check(inspection, check, *, error=None, status=200, note_only=False, photos_changed=False):
    """The answered item's fields (or just its note's saved line), the progress out of band,
    and the item's photos out of band when it turned failed or stopped failing."""
    context = {"inspection": inspection, "check": check, "error": error, "problems": {},
               "photos": ops.check_photos(inspection), "language": get_locale().language,
               "progress": ops.progress(inspection), "oob": True}
    html = render_template("inspections/_note_status.html" if note_only else "inspections/_check_fields.html",
                           **context)
    html += render_template("inspections/_progress.html", **context)
    if photos_changed:
        html += render_template("inspections/_check_photos.html", **context)
    # The server has the answer: the copy the phone kept of this item can go.
    headers = {"FS-Draft": "done"} if status == 200 else {}
    return html, status, headers


@bp.post("/inspections/<int:inspection_id>/checks/<int:check_id>")
@roles_required(TECHNICIAN)
def answer(inspection_id: int, check_id: int):
    """The inspector: record one item's answer (pass / fail / not applicable, the count, the note)."""
    inspection = _inspection_or_404(inspection_id)
    check = _check_or_404(inspection, check_id)
    _runnable_or_403(inspection)
    try:
        ops.ensure_editable(inspection)
    except TransitionError as refused:
        return _refused(inspection, str(refused))
    counted, error = _counted(request.form.get("counted_quantity"))
    note_only = _htmx() and request.headers.get("HX-Target") == f"check-{check.id}-note-status"
    was_failed = check.answer == FAIL
    if error is None:
        try:
            ops.answer_check(check, request.form.get("answer"), note=request.form.get("note", ""),
                             counted_quantity=counted)
            db.session.commit()
        except TransitionError as refused:  # a negative count, an unknown answer
            db.session.rollback()
            error = str(refused)
    if not _htmx():
        if error:
            flash(error, "error")
        return redirect(url_for("inspections.show", inspection_id=inspection.id) + f"#check-{check.id}", code=303)
    if error:
        db.session.expire_all()
        return _render_check(inspection, check, error=error, status=422)
    return _render_check(inspection, check, note_only=note_only, photos_changed=(check.answer == FAIL) != was_failed)


@bp.post("/inspections/<int:inspection_id>/checks/<int:check_id>/photos")
@roles_required(TECHNICIAN)
def upload_photo(inspection_id: int, check_id: int):
    """The inspector: add photos (evidence) to a checklist item, one request per photo from photos.js.

    201 with the new tiles, 422 with the reason a file was refused, 503 when the store is down,
    409 when the inspection is final. From a plain form: 303 back to the item.
    """
    inspection = _inspection_or_404(inspection_id)
    check = _check_or_404(inspection, check_id)
    _runnable_or_403(inspection)
    try:
        ops.ensure_editable(inspection)
    except TransitionError as refused:
        if _htmx():
            return str(refused), 409, TEXT
        return _refused(inspection, str(refused))
    added, refused = ingest_form_uploads(job=inspection.job, inspection_id=inspection.id, inspection_check_id=check.id)
    return upload_answer(added, refused,
                         lambda photos: "".join(render_template("photos/_tile.html", photo=p) for p in photos),
                         url_for("inspections.show", inspection_id=inspection.id) + f"#check-{check.id}")


# --- submitting and correcting -----------------------------------------------------------


@bp.post("/inspections/<int:inspection_id>/submit")
@roles_required(TECHNICIAN)
def submit(inspection_id: int):
    """The inspector: make the inspection final; a failed one opens a follow-up request."""
    inspection = _inspection_or_404(inspection_id)
    _runnable_or_403(inspection)
    try:
        ops.submit_inspection(inspection, current_user)
        db.session.commit()
    except ops.InspectionIncomplete as incomplete:
        db.session.rollback()
        context = _page_context(inspection, problems=incomplete.problems)
        return render_template("inspections/page.html", **context), 422
    except TransitionError as refused:
        db.session.rollback()
        return _refused(inspection, str(refused))
    if inspection.result == "failed":
        flash(gettext("Inspection %(ref)s submitted: failed. Follow-up request %(job)s is with the dispatcher.",
                      ref=inspection.reference, job=inspection.follow_up_job.reference), "success")
    else:
        flash(gettext("Inspection %(ref)s submitted: passed.", ref=inspection.reference), "success")
    return redirect(url_for("inspections.show", inspection_id=inspection.id), code=303)


@bp.post("/inspections/<int:inspection_id>/correct")
@roles_required(TECHNICIAN)
def correct(inspection_id: int):
    """The inspector or a supervisor: start a correction (a new inspection); the first stays as it was."""
    inspection = _inspection_or_404(inspection_id)
    if not (current_user.role == SUPERVISOR or current_user.id == inspection.inspector_id):
        abort(403)
    draft = next((c for c in ops.corrections(inspection) if c.status == DRAFT), None)
    if draft is None:
        try:
            draft = ops.start_correction(inspection, current_user)
            db.session.commit()
        except TransitionError as refused:
            db.session.rollback()
            return _refused(inspection, str(refused))
    return redirect(url_for("inspections.show", inspection_id=draft.id), code=303)

