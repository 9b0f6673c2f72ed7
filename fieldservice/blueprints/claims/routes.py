"""Claim routes (policy 3.7): the claimant opens a claim, gives photos as evidence, answers the
reviewer's questions and submits; the reviewer works the queue, asks, appraises, checks the
evidence's integrity and decides.

Routes stay thin: every rule is in operations.py. A claim the user may not see answers 404; a
change the rules refuse answers 409 with the reason and changes nothing.
"""
from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from ...extensions import db
from ...pagination import paginate
from ...models import Claim, Diagnosis, Inspection, InspectionCheck, Job, Photo, Region, ReplacedPart
from ...models.claims import DRAFT, INFO_REQUESTED, STATUSES
from ...models.users import DISPATCHER, REVIEWER, SUPERVISOR, TECHNICIAN
from ...security import any_staff, form_csrf, roles_required
from ...services.photos import process_pending_photos
from ...templating import render_page_or_fragment
from ..dispatch.operations import visible_job
from ..photos.routes import ingest_form_uploads, upload_answer
from . import bp, operations as ops
from .forms import ClaimForm

log = logging.getLogger(__name__)

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _claim_or_404(claim_id: int, for_page: bool = False) -> Claim:
    claim = ops.visible_claim(current_user, claim_id, for_page=for_page)
    if claim is None:
        abort(404)
    return claim


def _is_reviewer() -> bool:
    return current_user.has_role(REVIEWER)


def _is_claimant(claim: Claim) -> bool:
    """Who acts for the claim's side: the technician or dispatcher who sees it, or a supervisor."""
    return current_user.role in (TECHNICIAN, DISPATCHER, SUPERVISOR)


# --- opening -----------------------------------------------------------------------------


def _submitted_diagnosis(job: Job) -> Diagnosis | None:
    return db.session.scalar(select(Diagnosis).where(Diagnosis.job_id == job.id, Diagnosis.status == "submitted")
                             .order_by(Diagnosis.version.desc()).limit(1))


def _open_claim_form(*, job: Job | None, diagnosis: Diagnosis | None, inspection: Inspection | None, action: str):
    """GET: the form that opens a draft claim; POST: open it (the rules decide who may)."""
    product = job.product if job else None
    if request.method == "GET":
        model = product.model if product else (inspection.lines[0].product_model if inspection and inspection.lines else "")
        form = ClaimForm(formdata=None, data={"product_model": model, "serial": (product.serial or "") if product else ""})
        return _render_new(form, job=job, diagnosis=diagnosis, inspection=inspection, action=action)
    form = ClaimForm()
    if not form.validate():
        if form.csrf_token.errors:
            form.form_errors.append(gettext("The page had expired. Your entries are kept: send them again."))
        return _render_new(form, job=job, diagnosis=diagnosis, inspection=inspection, action=action, status=422)
    try:
        claim = ops.open_claim(current_user, form.to_data(), job=job, diagnosis=diagnosis, inspection=inspection)
        db.session.commit()
    except ops.ClaimRefused as refused:
        db.session.rollback()
        return _render_new(form, job=job, diagnosis=diagnosis, inspection=inspection, action=action,
                           error=str(refused), status=422)
    flash(gettext("Claim %(ref)s opened as a draft. Add photos as evidence, then submit it.", ref=claim.reference),
          "success")
    return redirect(url_for("claims.show", claim_id=claim.id), code=303)


def _render_new(form, *, status=200, **context):
    return render_template("claims/new.html", form=form, error=context.pop("error", None), **context), status


@bp.route("/jobs/<int:job_id>/claims/new", methods=["GET", "POST"])
@roles_required(TECHNICIAN, DISPATCHER)
@form_csrf
def new_claim(job_id: int):
    """The job's technician (from the submitted diagnosis) or a dispatcher (from a request of
    type claim): the form that opens a draft claim."""
    job = visible_job(current_user, job_id)
    if job is None:
        abort(404)
    diagnosis = _submitted_diagnosis(job) if current_user.role != DISPATCHER else None
    return _open_claim_form(job=job, diagnosis=diagnosis, inspection=None,
                            action=url_for("claims.new_claim", job_id=job.id))


@bp.route("/inspections/<int:inspection_id>/claims/new", methods=["GET", "POST"])
@roles_required(TECHNICIAN)
@form_csrf
def new_claim_from_inspection(inspection_id: int):
    """The inspector of a failed delivery inspection (with or without a job): open a draft claim."""
    from ..inspections.operations import visible_inspection

    inspection = visible_inspection(current_user, inspection_id)
    if inspection is None:
        abort(404)
    return _open_claim_form(job=inspection.job, diagnosis=None, inspection=inspection,
                            action=url_for("claims.new_claim_from_inspection", inspection_id=inspection.id))


# --- the claim page ----------------------------------------------------------------------


def _candidate_photos(claim: Claim) -> list[Photo]:
    """Photos of the claim's job or inspection that are not evidence yet."""
    if claim.job_id is None and claim.inspection_id is None:
        return []
    given = {e.photo_id for e in claim.evidence}
    stmt = select(Photo).order_by(Photo.uploaded_dt, Photo.id)
    stmt = stmt.where(Photo.job_id == claim.job_id) if claim.job_id is not None else stmt.where(
        Photo.inspection_id == claim.inspection_id)
    return [p for p in db.session.scalars(stmt) if p.id not in given]


def _photo_context(photos: list[Photo]) -> dict:
    """What each photo belongs to: its job, replaced part, checklist item."""
    part_ids = {p.part_id for p in photos if p.part_id}
    check_ids = {p.inspection_check_id for p in photos if p.inspection_check_id}
    parts = {p.id: p for p in db.session.scalars(select(ReplacedPart).where(ReplacedPart.id.in_(part_ids)))} \
        if part_ids else {}
    checks = {c.id: c for c in db.session.scalars(select(InspectionCheck).where(InspectionCheck.id.in_(check_ids)))} \
        if check_ids else {}
    return {"parts": parts, "checks": checks}


def _history(claim: Claim) -> dict:
    """The customer's jobs and claims, newest first (for the reviewer)."""
    jobs = list(db.session.scalars(select(Job).where(Job.customer_id == claim.customer_id)
                                   .order_by(Job.created_dt.desc(), Job.id.desc()).limit(20)))
    claims = list(db.session.scalars(select(Claim).where(Claim.customer_id == claim.customer_id, Claim.id != claim.id)
                                     .order_by(Claim.opened_dt.desc(), Claim.id.desc()).limit(20)))
    return {"customer_jobs": jobs, "customer_claims": claims}


def _page_context(claim: Claim, error=None, integrity=None) -> dict:
    reviewer = _is_reviewer()
    claimant = _is_claimant(claim)
    photos = [e.photo for e in claim.evidence]
    candidates = _candidate_photos(claim) if claimant and claim.status in (DRAFT, INFO_REQUESTED) else []
    context = {
        "claim": claim, "error": error, "integrity": integrity, "is_reviewer": reviewer, "is_claimant": claimant,
        "candidates": candidates, "may_add": claimant and claim.status in (DRAFT, INFO_REQUESTED),
        "may_remove": claimant and claim.status == DRAFT,
        "may_submit": claimant and claim.status in (DRAFT, INFO_REQUESTED),
        "may_answer": claimant and claim.status == INFO_REQUESTED,
        "may_upload": claimant and claim.status in (DRAFT, INFO_REQUESTED),
        "record": claim.diagnosis or claim.inspection,
        **_photo_context(photos + candidates),
    }
    if reviewer:
        context.update(_history(claim))
    return context


def _refused(claim: Claim, message: str):
    """A change the rules do not allow: 409 with the reason, nothing changed."""
    db.session.rollback()
    if _htmx():
        return message, 409, TEXT
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id, options=ops.CLAIM_PAGE_LOADS, populate_existing=True)
    return render_template("claims/page.html", **_page_context(claim, error=message)), 409


def _done(claim: Claim, message: str):
    flash(message, "success")
    return redirect(url_for("claims.show", claim_id=claim.id), code=303)


@bp.get("/claims/<int:claim_id>")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def show(claim_id: int):
    """Whoever may see the claim: its status, evidence, questions; the actions their role has."""
    claim = _claim_or_404(claim_id, for_page=True)
    return render_page_or_fragment("claims/page.html", "claims/_evidence.html", "claim-evidence",
                                   **_page_context(claim))


@bp.get("/claims/<int:claim_id>/integrity")
@roles_required(REVIEWER)
def integrity(claim_id: int):
    """Reviewer: read every stored original back and compare it with its recorded SHA-256."""
    claim = _claim_or_404(claim_id, for_page=True)
    results = {r.evidence.id: r for r in ops.verify_evidence(claim)}
    context = _page_context(claim, integrity=results)
    if _htmx() and request.headers.get("HX-Target") == "claim-evidence":
        return render_template("claims/_evidence.html", **context)
    return render_template("claims/page.html", **context)


# --- the claimant ------------------------------------------------------------------------


@bp.post("/claims/<int:claim_id>/evidence")
@roles_required(TECHNICIAN, DISPATCHER)
def add_evidence(claim_id: int):
    """The claimant: give one of the job's photos as evidence (draft, or when asked for more)."""
    claim = _claim_or_404(claim_id)
    raw = request.form.get("photo_id", "")
    photo = db.session.get(Photo, int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if photo is None:
        return _refused(claim, gettext("Choose one of the job's photos."))
    try:
        ops.add_evidence(claim, photo, current_user)
        db.session.commit()
    except ops.ClaimRefused as refused:
        return _refused(claim, str(refused))
    return _done(claim, gettext("Photo added as evidence."))


@bp.post("/claims/<int:claim_id>/photos")
@roles_required(TECHNICIAN, DISPATCHER)
def upload_evidence(claim_id: int):
    """The claimant: photograph the defective part for the claim. The photo is stored with the
    claim's job or inspection (same photo service) and given as evidence in the same step."""
    claim = _claim_or_404(claim_id)
    if claim.status not in (DRAFT, INFO_REQUESTED):
        return _refused(claim, gettext("Evidence can be added only to a draft, or when the reviewer asks for more."))
    added, refused = ingest_form_uploads(job=claim.job, inspection_id=claim.inspection_id)
    try:
        for photo in added:
            ops.add_evidence(claim, photo, current_user)
    except ops.ClaimRefused as error:  # the claim moved on while the photo was on its way
        return _refused(claim, str(error))
    response = upload_answer(added, refused,
                             lambda photos: "".join(render_template("photos/_tile.html", photo=p) for p in photos),
                             url_for("claims.show", claim_id=claim.id))
    if added and _htmx():
        # The evidence list (claims/_evidence.html) listens for this and reloads itself.
        response = current_app.make_response(response)
        response.headers["HX-Trigger"] = "claim-evidence-changed"
    return response


@bp.post("/claims/<int:claim_id>/evidence/<int:evidence_id>/remove")
@roles_required(TECHNICIAN, DISPATCHER)
def remove_evidence(claim_id: int, evidence_id: int):
    """The claimant: take a photo back out of a draft claim."""
    claim = _claim_or_404(claim_id)
    evidence = next((e for e in claim.evidence if e.id == evidence_id), None)
    if evidence is None:
        abort(404)
    try:
        ops.remove_evidence(claim, evidence, current_user)
        db.session.commit()
    except ops.ClaimRefused as refused:
        return _refused(claim, str(refused))
    return _done(claim, gettext("Photo removed from the evidence."))


@bp.post("/claims/<int:claim_id>/answer")
@roles_required(TECHNICIAN, DISPATCHER)
def answer(claim_id: int):
    """The claimant: answer the reviewer's question."""
    return _decide(claim_id, lambda c: ops.answer_question(c, current_user, request.form.get("answer", "")),
                   gettext("Answer sent. Add photos if asked, then resubmit the claim."))


@bp.post("/claims/<int:claim_id>/submit")
@roles_required(TECHNICIAN, DISPATCHER)
def submit(claim_id: int):
    """The claimant: submit the draft, or resubmit after answering."""
    pending = ops.pending_evidence_ids(_claim_or_404(claim_id))
    if pending:
        # Evidence photos kept while the store was down: send them now if it is back (issue 7).
        process_pending_photos(photo_ids=pending)
    return _decide(claim_id, lambda c: ops.submit_claim(c, current_user),
                   lambda c: gettext("Claim %(ref)s submitted for review.", ref=c.reference))


# --- the reviewer ------------------------------------------------------------------------


def _decide(claim_id: int, decide, message: str):
    """Apply one rule of operations.py to a visible claim: commit, or 409 with the reason."""
    claim = _claim_or_404(claim_id)
    try:
        decide(claim)
        db.session.commit()
    except ops.ClaimRefused as refused:
        return _refused(claim, str(refused))
    return _done(claim, message(claim) if callable(message) else message)


@bp.post("/claims/<int:claim_id>/review")
@roles_required(REVIEWER)
def review(claim_id: int):
    """Reviewer: take a submitted or resubmitted claim into review."""
    return _decide(claim_id, lambda c: ops.start_review(c, current_user), gettext("Claim under review."))


@bp.post("/claims/<int:claim_id>/request-info")
@roles_required(REVIEWER)
def request_info(claim_id: int):
    """Reviewer: ask the claimant a question (the claim goes back to them)."""
    return _decide(claim_id, lambda c: ops.request_info(c, current_user, request.form.get("question", "")),
                   gettext("Question sent to the claimant."))


@bp.post("/claims/<int:claim_id>/reject")
@roles_required(REVIEWER)
def reject(claim_id: int):
    """Reviewer: reject the claim, with the reason."""
    return _decide(claim_id, lambda c: ops.reject(c, current_user, request.form.get("reason", "")),
                   gettext("Claim rejected."))


@bp.post("/claims/<int:claim_id>/approve")
@roles_required(REVIEWER)
def approve(claim_id: int):
    """Reviewer: approve with the amount granted; above the threshold a second reviewer confirms."""
    def decide(claim):
        raw = request.form.get("amount", "")
        ops.approve(claim, current_user, ops.parse_amount(raw), request.form.get("reason", ""))

    claim = _claim_or_404(claim_id)
    try:
        decide(claim)
        db.session.commit()
    except ops.ClaimRefused as refused:
        return _refused(claim, str(refused))
    if claim.status != "approved":
        return _done(claim, gettext("First approval recorded: waiting for a second reviewer."))
    return _done(claim, gettext("Claim approved."))


@bp.post("/claims/<int:claim_id>/appraise")
@roles_required(REVIEWER)
def appraise(claim_id: int):
    """Reviewer: record the product appraisal (policy 3.7) with notes."""
    return _decide(claim_id, lambda c: ops.appraise(c, current_user, request.form.get("appraisal", ""),
                                                    request.form.get("notes", "")),
                   gettext("Appraisal recorded."))


# --- lists -------------------------------------------------------------------------------


@bp.get("/claims")
@any_staff
def index():
    """Reviewers: the review queue, oldest first; claimants: the claims they may see."""
    filters = ops.ClaimFilters.from_args(request.args)
    number = request.args.get("page", "")
    page = paginate(ops.claims_query(current_user, filters),
                    page=int(number) if number.isdigit() and len(number) < 7 else 1,
                    per_page=current_app.config["PAGE_SIZE"])
    regions = list(db.session.scalars(select(Region).order_by(Region.name)))
    return render_page_or_fragment("claims/list.html", "claims/_results.html", "claims-results",
                                   page=page, filters=filters, regions=regions, statuses=STATUSES,
                                   is_reviewer=_is_reviewer())


def _waiting_count() -> int:
    if current_user.role in (REVIEWER, SUPERVISOR):
        return ops.review_queue_count()
    return ops.waiting_for_claimant_count(current_user)


@bp.app_template_global()
def claims_waiting_count() -> int | None:
    """For the navigation on every page: the signed-in user's claims count (None if unknown)."""
    if not current_user.is_authenticated:
        return None
    try:
        return _waiting_count()
    except SQLAlchemyError as exc:  # an error page after a failed transaction still renders
        if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            # The database went away while the page was drawn: swallowing this would leave the
            # session's transaction invalid and fail the page later with a bare 500 (fault drill,
            # tests/drills/test_database_restart.py). The 503 page answers instead.
            raise
        log.warning("claims count not available for the navigation", exc_info=True)
        return None


@bp.get("/claims/badge")
@any_staff
def badge():
    """The navigation's count: claims waiting for review (reviewers) or for the user's answer.

    htmx polls it with the count shown: unchanged answers 204 (nothing swapped).
    """
    count = _waiting_count()
    if _htmx() and request.args.get("shown") == str(count):
        return "", 204
    return render_template("claims/_badge.html", count=count)


@bp.app_template_global()
def claims_of(job=None, inspection=None) -> list[Claim]:
    """For the job and inspection pages: the claims of that record the signed-in user may see."""
    return ops.related_claims(current_user, job=job, inspection=inspection)
