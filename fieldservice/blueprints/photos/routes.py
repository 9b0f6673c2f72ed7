"""Photo routes: upload to a job, and show a photo after checking who asks (policy 3.7)."""
from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ...extensions import db
from ...models import Photo
from ...models.users import DISPATCHER, REVIEWER, TECHNICIAN
from ...security import local_url, roles_required
from ...services import storage
from ...services.photos import PhotoPending, PhotoRejected, ingest_uploads, photo_url, process_pending_after_upload
from ..dispatch.operations import visible_job
from . import bp

log = logging.getLogger(__name__)

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _optional_int(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise PhotoRejected(gettext("The form was not filled in correctly. Reload the page and try again."))
    return int(raw)


def _local_next(default: str) -> str:
    """The form's `next` if it is a path on this site, else `default` (no open redirect)."""
    return local_url(request.form.get("next"), default)


@bp.post("/jobs/<int:job_id>/photos")
@roles_required(TECHNICIAN, DISPATCHER)
def upload(job_id: int):
    """Technician on their own job, dispatcher, supervisor: add photos (evidence) to a job.

    From photos.js (HX-Request): 201 with the new tiles, 202 when the store is down and the
    photo is kept on the server (pending, sent later), 422 with the reason a file was refused,
    503 when it could not even be kept (retry). From a plain form: 303 back.
    """
    job = visible_job(current_user, job_id)
    if job is None:
        abort(404)
    back = _local_next(url_for("dispatch.job_detail", job_id=job.id))
    try:
        diagnosis_id, part_id = _optional_int("diagnosis_id"), _optional_int("part_id")
    except PhotoRejected as exc:
        return upload_answer([], [(exc.status, str(exc.message))], lambda photos: "", back)
    added, refused = ingest_form_uploads(job=job, diagnosis_id=diagnosis_id, part_id=part_id)
    return upload_answer(added, refused,
                         lambda photos: "".join(render_template("photos/_tile.html", photo=p, job=job) for p in photos),
                         back)


def ingest_form_uploads(**links) -> tuple[list[Photo], list[tuple[int, str]]]:
    """The request's photo files (with its caption, client key and capture hint) through ingest_uploads."""
    # An empty file input still sends a part, with no file name.
    files = [f for f in request.files.getlist("photo") if f.filename]
    if not files:
        return [], [(422, gettext("Choose a photo first."))]
    return ingest_uploads(
        files, uploader=current_user, caption=request.form.get("caption", ""),
        client_key=request.form.get("client_key") or None,
        # The capture time the browser read from the original before scaling it (its copy has no EXIF).
        captured_hint=request.form.get("captured_at") or None, **links)


def upload_answer(added: list[Photo], refused: list[tuple[int, str]], tiles, back_url: str):
    """Commit what was added and answer the upload.

    From photos.js (HX-Request): 201 with the new tiles (``tiles(added)``); 202 with them when
    the store was down and they are kept on the server as pending (done for the phone: the
    queue sends them later, issue 7); else 422 with the reason a file was refused, 413 too
    large, 503 when a photo could not even be kept (retry). From a plain form: flash what
    happened and 303 to ``back_url``. After an upload that reached the store, a few photos
    still pending from an outage are sent too (never failing this request).
    """
    if added:
        db.session.commit()
    else:
        db.session.rollback()
    pending = [photo for photo in added if photo.pending]
    if request.headers.get("HX-Request") == "true":
        if refused:
            statuses = [code for code, _ in refused]
            response = ("\n".join(message for _, message in refused), 503 if 503 in statuses else statuses[0], TEXT)
        else:
            response = (tiles(added), 202 if pending else 201)
    else:
        stored_count = len(added) - len(pending)
        if stored_count:
            flash(ngettext("%(num)s photo added.", "%(num)s photos added.", stored_count), "success")
        if pending:
            flash(ngettext("%(num)s photo saved. The photo store is unavailable: it will be sent there when the store is back.",
                           "%(num)s photos saved. The photo store is unavailable: they will be sent there when the store is back.",
                           len(pending)), "info")
        for _, message in refused:
            flash(message, "error")
        response = redirect(back_url, code=303)
    if added and not pending:
        process_pending_after_upload()  # the store answered just now: it is back
    return response


def _inspection_visible(inspection_id: int) -> bool:
    from ..inspections.operations import visible_inspection

    return visible_inspection(current_user, inspection_id) is not None


@bp.get("/photos/<int:photo_id>/<any(thumb, display, original):variant>")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def photo_variant(photo_id: int, variant: str):
    """Whoever may see the photo's job: a redirect to a short-lived presigned URL of it.

    A technician sees photos of their own jobs only (others answer 404). A photo still waiting
    for the object store answers 409 with a message.
    """
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        abort(404)
    if photo.job_id is not None:
        if visible_job(current_user, photo.job_id) is None:
            abort(404)
    elif current_user.role == TECHNICIAN and photo.uploaded_by_id != current_user.id and not (
        # A centre receipt inspection has no job: its photos go with the inspection.
        photo.inspection_id is not None and _inspection_visible(photo.inspection_id)
    ):
        abort(404)
    try:
        url = photo_url(photo, variant)
    except PhotoPending as waiting:
        # Kept on the server while the store was down; no object to point to yet (issue 7).
        return str(waiting.message), 409, {**TEXT, "Cache-Control": "no-store"}
    except storage.StorageError:
        abort(503)
    response = redirect(url, code=302)
    # The URL is a bearer credential for a few minutes: no shared or stored copies.
    response.headers["Cache-Control"] = "private, no-store"
    return response

