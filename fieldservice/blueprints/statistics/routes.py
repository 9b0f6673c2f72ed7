"""Statistics pages: fault statistics (policy 2.3), the quality watch (policy 2.4) and the
weekly summary with its CSV (policy 3.10). Thin views; the rules are in operations.py."""
from __future__ import annotations

import csv
import io

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy import select

from ...extensions import db
from ...models import Region
from ...models.quality import QualityFlag
from ...models.users import DISPATCHER, REVIEWER, SUPERVISOR
from ...security import form_csrf, roles_required
from ...services.periods import PeriodError, iso_week, shift_week
from ...templating import render_page_or_fragment
from ...labels import APPRAISAL_LABELS
from . import bp, operations as ops
from .forms import AcknowledgeForm

FAULTS_TARGET = "fault-results"
QUALITY_TARGET = "quality-flags"
WEEKLY_TARGET = "weekly-summary"
DEFAULT_WEEKS = 8
MAX_WEEKS = 104

# A cell starting with one of these is a formula to a spreadsheet (as in the ledger's CSV).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _htmx_for(target: str) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target


def _week_arg(name: str) -> tuple[str | None, bool]:
    """A week from the query string: (the week, or None when absent; whether it was malformed)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None, False
    try:
        return iso_week(raw).name, False
    except PeriodError:
        return None, True


# --- fault statistics ---------------------------------------------------------------------


@bp.get("/statistics/faults")
@roles_required(DISPATCHER, REVIEWER)
def faults():
    """Supervisor, dispatcher, reviewer: faults by category, model, region and week as bar
    charts, each bar linking to its ledger rows; claim appraisals by model (policy 2.3, 3.7)."""
    last, bad_last = _week_arg("to")
    first, bad_first = _week_arg("from")
    problem = None
    if bad_last or bad_first:
        problem = gettext("Write weeks like 2026-W48. Showing the last %(n)s weeks.", n=DEFAULT_WEEKS)
        first = last = None
    last = last or ops.current_week()
    first = first or shift_week(last, -(DEFAULT_WEEKS - 1))
    if first > last:
        first, last = last, first
    if (iso_week(last, "UTC").first_day - iso_week(first, "UTC").first_day).days // 7 + 1 > MAX_WEEKS:
        first = shift_week(last, -(MAX_WEEKS - 1))
        problem = gettext("At most %(n)s weeks at a time: showing the last %(n)s.", n=MAX_WEEKS)
    region_raw = request.args.get("region", "").strip()
    region_id = int(region_raw) if region_raw.isdigit() and len(region_raw) < 10 else None
    language = get_locale().language
    stats = ops.fault_statistics(first, last, region_id, language)
    regions = list(db.session.scalars(select(Region).order_by(Region.name)))
    return render_page_or_fragment(
        "statistics/faults.html", "statistics/_faults.html", FAULTS_TARGET,
        stats=stats, first=first, last=last, region_id=region_id, regions=regions, problem=problem,
        appraisal_labels=APPRAISAL_LABELS,
    )


# --- quality watch ------------------------------------------------------------------------


def _quality(status: int = 200, form: AcknowledgeForm | None = None, failed_id: int | None = None,
             message: str | None = None, problem: str | None = None):
    """The quality watch: the flags fragment for htmx, the whole page otherwise."""
    context = dict(open_flags=ops.open_quality_flags(), acknowledged=ops.acknowledged_quality_flags(),
                   form=form or AcknowledgeForm(formdata=None), failed_id=failed_id, message=message,
                   problem=problem, language=get_locale().language, category_label=ops.category_label,
                   flag_filters=ops.flag_ledger_filters)
    template = "statistics/_quality.html" if _htmx_for(QUALITY_TARGET) else "statistics/quality.html"
    return render_template(template, **context), status


@bp.get("/statistics/quality")
@roles_required(SUPERVISOR)
def quality():
    """Supervisor: fault categories rising on a product model (policy 2.4), open until acknowledged."""
    return _quality()


@bp.post("/statistics/quality/<int:flag_id>/acknowledge")
@roles_required(SUPERVISOR)
@form_csrf
def acknowledge(flag_id: int):
    """Supervisor: acknowledge a quality flag with a note of what was done."""
    flag = db.get_or_404(QualityFlag, flag_id)
    form = AcknowledgeForm()
    if form.validate_on_submit():
        try:
            ops.acknowledge_flag(flag, current_user, form.note.data)
        except ops.QualityRefused as refused:
            db.session.rollback()
            return _quality(status=409, problem=str(refused))
        db.session.commit()
        message = gettext("Quality flag acknowledged.")
        if _htmx_for(QUALITY_TARGET):
            return _quality(message=message)
        flash(message, "success")
        return redirect(url_for("statistics.quality"), code=303)
    if form.csrf_token.errors:
        form.form_errors.append(gettext("The form had expired. Your text is kept: submit it again."))
    return _quality(status=422, form=form, failed_id=flag_id)


# --- weekly summary -----------------------------------------------------------------------


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def weekly_csv_text(rows: list[tuple]) -> str:
    """The summary's rows as CSV text, with the byte order mark Excel needs to read UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return "\ufeff" + buffer.getvalue()


@bp.get("/statistics/weekly")
@roles_required(DISPATCHER)
def weekly():
    """Supervisor, dispatcher: the weekly summary of an ISO week (policy 3.10), this week by default."""
    week, bad = _week_arg("week")
    if bad:
        return render_template("statistics/weekly.html", summary=None, sections=[], week=None,
                               current=ops.current_week(),
                               problem=gettext("“%(week)s” is not an ISO week. Write it like 2026-W48.",
                                               week=request.args.get("week", "")[:40])), 400
    week = week or ops.current_week()
    summary = ops.weekly_summary(week)
    sections: dict[str, list] = {}
    for item in ops.summary_items(summary, gettext, get_locale().language):
        sections.setdefault(item.section, []).append(item)
    return render_page_or_fragment(
        "statistics/weekly.html", "statistics/_weekly.html", WEEKLY_TARGET,
        summary=summary, sections=list(sections.items()), week=week, current=ops.current_week(), problem=None,
        previous_week=shift_week(week, -1), next_week=shift_week(week, 1),
    )


@bp.get("/statistics/weekly.csv")
@roles_required(DISPATCHER)
def weekly_csv():
    """Supervisor, dispatcher: the weekly summary as CSV (the same rows as `flask weekly-summary`)."""
    week, bad = _week_arg("week")
    if bad:
        return (gettext("“%(week)s” is not an ISO week. Write it like 2026-W48.", week=request.args.get("week", "")[:40]),
                400, {"Content-Type": "text/plain; charset=utf-8"})
    week = week or ops.current_week()
    rows = ops.summary_rows(ops.weekly_summary(week), gettext, get_locale().language)
    return Response(
        weekly_csv_text(rows).encode("utf-8"),
        headers={"Content-Type": "text/csv; charset=utf-8",
                 "Content-Disposition": f"attachment; filename=weekly-summary-{week}.csv"},
    )
