"""Diagnosis routes: the technician's form on the phone (autosaving drafts), sign-off, the record."""
from __future__ import annotations

import io
import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from PIL import Image, UnidentifiedImageError

from ...extensions import db
from ...models import Diagnosis
from ...models.users import DISPATCHER, REVIEWER, TECHNICIAN
from ...security import form_csrf, roles_required
from ...services import storage
from ...services.audit import history
from ...services.lifecycle import TransitionError
from ..dispatch.operations import visible_job
from . import bp, operations as ops
from .forms import DiagnosisForm

log = logging.getLogger(__name__)

SIGNATURE_MAX_BYTES = 512 * 1024
SIGNATURE_MAX_SIDE = 3000


def _job_or_404(job_id: int):
    job = visible_job(current_user, job_id)
    if job is None:
        abort(404)
    return job


def _form_for(diagnosis: Diagnosis | None, formdata=None) -> DiagnosisForm:
    """The form filled from the request (formdata) or from the saved draft."""
    if formdata is not None:
        form = DiagnosisForm(formdata=formdata)
    else:
        form = DiagnosisForm(formdata=None, obj=diagnosis)
        if diagnosis is not None:
            form.fault_category_id.data = diagnosis.fault_category_id or 0
    form.set_fault_choices(ops.fault_choices(get_locale().language), get_locale().language)
    return form


def _context(job, diagnosis, form, problems=None, **extra):
    return {"job": job, "diagnosis": diagnosis, "form": form, "problems": problems or {},
            "versions": ops.versions(job), "job_photos": ops.job_photos(job), **extra}


def _draft_done_headers() -> dict:
    # Tells the page's script that the server has the record: the copy kept on the phone can go.
    return {"FS-Draft": "done"}


@bp.get("/jobs/<int:job_id>/diagnosis")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def show(job_id: int):
    """The job's technician: the diagnosis form (draft); everyone else on the job: the record."""
    job = _job_or_404(job_id)
    all_versions = ops.versions(job)
    wanted = request.args.get("version", type=int)
    diagnosis = next((d for d in all_versions if d.version == wanted), None) if wanted else (
        all_versions[0] if all_versions else None)
    if wanted and diagnosis is None:
        abort(404)
    if not wanted and ops.can_write(job, current_user, diagnosis):
        form = _form_for(diagnosis)
        return render_template("diagnosis/page.html", **_context(job, diagnosis, form, editing=True))
    return render_template("diagnosis/page.html", **_context(
        job, diagnosis, None, editing=False,
        events=history("diagnosis", diagnosis.id) if diagnosis else [],
    ))


@bp.post("/jobs/<int:job_id>/diagnosis/draft")
@roles_required(TECHNICIAN)
@form_csrf
def autosave(job_id: int):
    """The job's technician: save the draft as they type (debounced htmx); answers when it was saved."""
    return _write(job_id, "save")


@bp.post("/jobs/<int:job_id>/diagnosis")
@roles_required(TECHNICIAN)
@form_csrf
def update(job_id: int):
    """The job's technician: add or remove a part row, save, or submit the diagnosis."""
    return _write(job_id, request.form.get("action", "save"))


def _write(job_id: int, action: str):
    job = _job_or_404(job_id)
    diagnosis = ops.current_diagnosis(job)
    if not ops.can_write(job, current_user, diagnosis):
        return _refused(job, gettext("This diagnosis cannot be changed now (submitted, or the job is not on site)."))
    form = _form_for(diagnosis, formdata=request.form)
    htmx = request.headers.get("HX-Request") == "true"
    if not form.validate():
        if form.csrf_token.errors:
            form.form_errors.append(gettext("The page had expired. Your entries are kept: submit again."))
        if action == "save" and htmx:
            # An expired page gets a fresh token (swapped into the form out of band), so the
            # next autosave goes through; what was typed stays in the form and on the phone.
            return render_template("diagnosis/_draft_status.html", diagnosis=diagnosis, failed=True,
                                   expired=bool(form.csrf_token.errors)), 422
        return _render_form(job, diagnosis, form, status=422)
    try:
        if diagnosis is None:
            diagnosis = ops.start_draft(job, current_user)
        data = form.to_data()
        if action == "add_part":
            data.parts.append(ops.PartData())
        elif action.startswith("remove_part-") and action.rsplit("-", 1)[1].isdigit():
            index = int(action.rsplit("-", 1)[1])
            if 0 <= index < len(data.parts):
                del data.parts[index]
        ops.save_draft(diagnosis, data)
        if action == "submit":
            ops.submit_diagnosis(diagnosis, current_user)
            db.session.commit()
            flash(gettext("Diagnosis submitted for %(ref)s.", ref=job.reference), "success")
            target = url_for("dispatch.job_detail", job_id=job.id)
            if htmx:
                return "", 204, {"HX-Redirect": target, **_draft_done_headers()}
            return redirect(target, code=303)
        db.session.commit()
    except ops.DiagnosisIncomplete as incomplete:
        db.session.commit()  # the draft itself is kept
        return _render_form(job, diagnosis, _form_for(diagnosis, formdata=request.form),
                            problems=incomplete.problems, status=422)
    except TransitionError as refused:
        db.session.rollback()
        return _refused(job, str(refused))
    if action == "save" and htmx:
        return render_template("diagnosis/_draft_status.html", diagnosis=diagnosis)
    fresh = _form_for(diagnosis)
    if htmx and request.headers.get("HX-Target") == "parts":
        return render_template("diagnosis/_parts.html", form=fresh, job=job, diagnosis=diagnosis, problems={})
    return _render_form(job, diagnosis, fresh)


def _render_form(job, diagnosis, form, problems=None, status=200):
    context = _context(job, diagnosis, form, problems, editing=True)
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "diagnosis-form":
        return render_template("diagnosis/_form.html", **context), status
    return render_template("diagnosis/page.html", **context), status


def _refused(job, message: str):
    if request.headers.get("HX-Request") == "true":
        return message, 409, {"Content-Type": "text/plain; charset=utf-8"}
    flash(message, "error")
    return redirect(url_for("diagnosis.show", job_id=job.id), code=303)


@bp.post("/jobs/<int:job_id>/diagnosis/correct")
@roles_required(TECHNICIAN)
def correct(job_id: int):
    """The job's technician: start a corrected version; the submitted one is kept unchanged."""
    job = _job_or_404(job_id)
    diagnosis = ops.current_diagnosis(job)
    if diagnosis is None or not (current_user.role == "supervisor" or job.technician_id == current_user.id):
        abort(404)
    try:
        ops.start_correction(diagnosis, current_user)
        db.session.commit()
    except TransitionError as refused:
        db.session.rollback()
        flash(str(refused), "error")
    return redirect(url_for("diagnosis.show", job_id=job.id), code=303)


@bp.post("/jobs/<int:job_id>/diagnosis/signature")
@roles_required(TECHNICIAN)
def signature(job_id: int):
    """The job's technician: store the on-site contact's drawn signature (PNG) with the draft."""
    job = _job_or_404(job_id)
    diagnosis = ops.current_diagnosis(job)
    if not ops.can_write(job, current_user, diagnosis):
        return _refused(job, gettext("This diagnosis cannot be changed now (submitted, or the job is not on site)."))
    upload = request.files.get("signature")
    data = upload.read(SIGNATURE_MAX_BYTES + 1) if upload else b""
    problem = _signature_problem(data)
    if problem:
        return problem, 422, {"Content-Type": "text/plain; charset=utf-8"}
    try:
        if diagnosis is None:
            diagnosis = ops.start_draft(job, current_user)
        stored = storage.put(storage.new_key("signatures"), io.BytesIO(data), "image/png")
        ops.set_signature(diagnosis, stored.key)
        db.session.commit()
    except storage.StorageError:
        db.session.rollback()
        log.exception("signature not stored for job %s by %s", job.id, current_user.username)
        return (gettext("Signature not uploaded — no connection to the photo store. Try again."), 503,
                {"Content-Type": "text/plain; charset=utf-8"})
    except TransitionError as refused:
        db.session.rollback()
        return _refused(job, str(refused))
    if request.headers.get("HX-Request") == "true":
        return render_template("diagnosis/_signature.html", job=job, diagnosis=diagnosis, editing=True)
    return redirect(url_for("diagnosis.show", job_id=job.id), code=303)


def _signature_problem(data: bytes) -> str | None:
    if not data:
        return gettext("Draw the signature first.")
    if len(data) > SIGNATURE_MAX_BYTES:
        return gettext("The signature image is too large.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG" or max(image.size) > SIGNATURE_MAX_SIDE:
                return gettext("The signature must be a PNG drawing.")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError):
        return gettext("The signature must be a PNG drawing.")
    return None


@bp.get("/jobs/<int:job_id>/diagnosis/signature")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def signature_image(job_id: int):
    """Anyone who may see the job: the signature, through a short-lived presigned URL."""
    job = _job_or_404(job_id)
    wanted = request.args.get("version", type=int)
    versions = ops.versions(job)
    diagnosis = next((d for d in versions if d.version == wanted), None) if wanted else (versions[0] if versions else None)
    if diagnosis is None or not diagnosis.signature_key:
        abort(404)
    try:
        url = storage.presigned_get_url(diagnosis.signature_key)
    except storage.StorageError:
        abort(503)
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "private, no-store"
    return response
