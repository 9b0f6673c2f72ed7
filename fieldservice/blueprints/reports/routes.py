"""Report routes: the service report page, printed or saved as PDF for the customer."""
from __future__ import annotations

import logging

from flask import abort, render_template
from flask_babel import force_locale, gettext
from flask_login import current_user
from markupsafe import Markup

from ...models.users import DISPATCHER, REVIEWER, TECHNICIAN
from ...security import roles_required
from ...services import storage
from ..dispatch.operations import visible_job
from ..errors.handlers import render_error
from ..ledger.labels import time_on_site
from . import bp
from .operations import report_locale, reported_diagnosis

log = logging.getLogger(__name__)


@bp.get("/jobs/<int:job_id>/report")
@roles_required(TECHNICIAN, DISPATCHER, REVIEWER)
def service_report(job_id: int):
    """The job's technician, dispatchers, reviewers, supervisors: the customer's service report.

    The report is in the customer's language; the page around it (navigation, the Print
    button) stays in the viewer's. Another technician's job answers 404.
    """
    job = visible_job(current_user, job_id)
    if job is None:
        abort(404)
    diagnosis = reported_diagnosis(job)
    if diagnosis is None:
        return render_error(404, gettext(
            "There is no service report for %(ref)s yet: it is made when the diagnosis is submitted.",
            ref=job.reference,
        ))

    # Presigned only now, after the access check above (the bucket is private).
    signature_url = None
    if diagnosis.signature_key:
        try:
            signature_url = storage.presigned_get_url(diagnosis.signature_key)
        except storage.StorageError:
            log.warning("service report of job %s shown without its signature image", job.id)

    locale = report_locale(job)
    with force_locale(locale):
        report = render_template(
            "reports/_report.html", job=job, diagnosis=diagnosis, signature_url=signature_url,
            time_on_site=time_on_site, language=locale.split("_")[0],
        )
    return render_template("reports/service_report.html", job=job, report=Markup(report),
                           report_lang="zh-CN" if locale.startswith("zh") else "en")
