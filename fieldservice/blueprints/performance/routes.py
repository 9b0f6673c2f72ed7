"""Pages of this area; see operations.py for the rules.

Suggestions (policy 3.11): every member of staff reads and submits them; a supervisor decides.
Performance (policy 4, 5): the supervisor confirms or dismisses the quarter's candidates; a
technician reads only their own scorecard. The dashboard is the supervisor's start page.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError
from wtforms.fields.choices import SelectChoice

from ...extensions import db
from ...pagination import paginate
from ...models import FaultCategory, Suggestion, User, utcnow
from ...models.performance import SEVERITIES
from ...models.quality import NOT_ADOPTED, SUGGESTION_STATUSES
from ...models.users import SUPERVISOR, TECHNICIAN
from ...security import any_staff, form_csrf, roles_required
from ...services.periods import shift_quarter
from ...templating import render_page_or_fragment
from . import bp, operations as ops
from .forms import SuggestionForm


def _htmx_target() -> str | None:
    if request.headers.get("HX-Request") == "true":
        return request.headers.get("HX-Target")
    return None


def _page_number() -> int:
    number = request.args.get("page", "")
    return int(number) if number.isdigit() and len(number) < 7 else 1


# --- suggestions (policy 3.11, 5.2) ------------------------------------------------------


@bp.get("/suggestions")
@any_staff
def suggestions():
    """All staff: the quality improvement suggestions, newest first, filtered by status."""
    status = request.args.get("status", "")
    status = status if status in SUGGESTION_STATUSES else ""
    page = paginate(ops.suggestions_query(status or None), page=_page_number(),
                    per_page=current_app.config["PAGE_SIZE"])
    return render_page_or_fragment("performance/suggestions.html", "performance/_suggestion_results.html",
                                   "suggestion-results", page=page, status=status, statuses=SUGGESTION_STATUSES)


def _fault_choices() -> list[SelectChoice]:
    language = get_locale().language if get_locale() else "en"
    faults = db.session.scalars(
        select(FaultCategory).where(FaultCategory.parent_id.is_not(None), FaultCategory.active.is_(True))
        .order_by(FaultCategory.parent_id, FaultCategory.position, FaultCategory.id))
    return [SelectChoice("", gettext("Not linked to a fault"))] + [
        SelectChoice(str(f.id), f"{f.parent.name(language)} · {f.name(language)}") for f in faults]


def _render_new(form: SuggestionForm, status: int = 200):
    return render_page_or_fragment("performance/new_suggestion.html", "performance/_suggestion_form.html",
                                   "suggestion-form", form=form), status


@bp.route("/suggestions/new", methods=["GET", "POST"])
@any_staff
@form_csrf
def new_suggestion():
    """All staff: propose a product-quality improvement, optionally linked to a fault or a claim."""
    form = SuggestionForm() if request.method == "POST" else SuggestionForm(
        formdata=None, data={"product_model": request.args.get("model", "")[:120],
                             "fault_category_id": request.args.get("fault", "")[:10],
                             "claim_reference": request.args.get("claim", "")[:20]})
    form.fault_category_id.choices = _fault_choices()
    if request.method == "GET":
        return _render_new(form)
    if not form.validate():
        if form.csrf_token.errors:
            form.form_errors.append(gettext("The page had expired. Your entries are kept: send them again."))
        return _render_new(form, 422)
    try:
        suggestion = ops.submit_suggestion(current_user, form.to_data())
        db.session.commit()
    except ops.PerformanceError as refused:
        db.session.rollback()
        target = getattr(form, refused.field or "", None)
        if target is not None:
            target.errors = list(target.errors) + [str(refused)]
        else:
            form.form_errors.append(str(refused))
        return _render_new(form, 422)
    flash(gettext("Suggestion %(ref)s submitted. A supervisor will decide on it.", ref=suggestion.reference),
          "success")
    return _redirect(url_for("performance.suggestion", suggestion_id=suggestion.id))


def _redirect(url: str):
    """303 to `url`; htmx is told to load it as a whole page (not to swap it into a fragment)."""
    if request.headers.get("HX-Request") == "true":
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def _suggestion_or_404(suggestion_id: int) -> Suggestion:
    suggestion = db.session.get(Suggestion, suggestion_id)
    if suggestion is None:
        abort(404)
    return suggestion


def _suggestion_context(suggestion: Suggestion, error=None, errors=None, values=None) -> dict:
    from ..claims.operations import visible_claim

    claim_visible = suggestion.claim_id is not None and visible_claim(current_user, suggestion.claim_id) is not None
    return {"suggestion": suggestion, "error": error, "errors": errors or {}, "values": values or {},
            "claim_visible": claim_visible, "may_decide": current_user.role == SUPERVISOR}


@bp.get("/suggestions/<int:suggestion_id>")
@any_staff
def suggestion(suggestion_id: int):
    """All staff: one suggestion and its decision; a supervisor's form to decide it."""
    item = _suggestion_or_404(suggestion_id)
    return render_page_or_fragment("performance/suggestion.html", "performance/_suggestion_decision.html",
                                   "suggestion-decision", **_suggestion_context(item))


@bp.post("/suggestions/<int:suggestion_id>/decide")
@roles_required(SUPERVISOR)
def decide_suggestion(suggestion_id: int):
    """Supervisor: adopt the suggestion or not, with a note (final, audited)."""
    item = _suggestion_or_404(suggestion_id)
    decision = request.form.get("decision", "")
    note = request.form.get("note", "")
    try:
        ops.decide_suggestion(item, decision, note, current_user)
        db.session.commit()
    except ops.PerformanceError as refused:
        db.session.rollback()
        item = _suggestion_or_404(suggestion_id)
        errors = {refused.field: str(refused)} if refused.field else {}
        context = _suggestion_context(item, error=None if refused.field else str(refused), errors=errors,
                                      values={"decision": decision, "note": note})
        status = 422 if refused.field else 409
        return render_page_or_fragment("performance/suggestion.html", "performance/_suggestion_decision.html",
                                       "suggestion-decision", **context), status
    message = (gettext("Suggestion %(ref)s adopted.", ref=item.reference) if item.status != NOT_ADOPTED
               else gettext("Suggestion %(ref)s not adopted.", ref=item.reference))
    if _htmx_target() == "suggestion-decision":
        return render_template("performance/_suggestion_decision.html", **_suggestion_context(item), done=message)
    flash(message, "success")
    return redirect(url_for("performance.suggestion", suggestion_id=item.id), code=303)


# --- performance candidates and records (policy 4, 5) ------------------------------------


def _quarter_page(quarter_name: str, *, status: int = 200, failed: dict | None = None):
    """The supervisor's page for a quarter; `failed` re-renders one candidate's form with errors."""
    now = utcnow()
    try:
        ops.parse_quarter(quarter_name)
    except ops.PerformanceError as bad:
        current = ops.current_quarter(now)
        return render_template("performance/index.html", quarter=None, bad_quarter=str(bad), current=current,
                               groups=[], records=[], failed={}, severities=SEVERITIES), 400
    candidates = ops.performance_candidates(quarter_name, now)
    context = {"quarter": quarter_name, "previous": shift_quarter(quarter_name, -1),
               "next": shift_quarter(quarter_name, 1), "current": ops.current_quarter(now),
               "groups": ops.candidates_by_technician(candidates), "count": len(candidates),
               "records": ops.quarter_records(quarter_name), "failed": failed or {}, "severities": SEVERITIES,
               "bad_quarter": None}
    return render_page_or_fragment("performance/index.html", "performance/_decided.html", "performance-decided",
                                   **context), status


@bp.get("/performance")
@roles_required(SUPERVISOR)
def index():
    """Supervisor: the quarter's penalty and reward candidates by technician, and its decisions."""
    return _quarter_page(request.args.get("quarter") or ops.current_quarter())


@bp.post("/performance/decide")
@roles_required(SUPERVISOR)
def decide():
    """Supervisor: confirm (with a severity) or dismiss one candidate, with a note. Final."""
    basis_key = request.form.get("basis_key", "")[:80]
    quarter_name = request.form.get("quarter", "")[:10]
    decision = request.form.get("decision", "")
    severity = request.form.get("severity", "")
    note = request.form.get("note", "")
    target = _htmx_target() or ""
    try:
        record = ops.decide_candidate(basis_key, quarter_name, decision, severity, note, current_user)
        db.session.commit()
    except ops.PerformanceError as refused:
        db.session.rollback()
        failed = {"basis_key": basis_key, "field": refused.field, "message": str(refused),
                  "values": {"decision": decision, "severity": severity, "note": note}}
        status = 422 if refused.field else 409
        if target.startswith("candidate-"):
            candidate = next((c for c in _safe_candidates(quarter_name) if c.basis_key == basis_key), None)
            return render_template("performance/_candidate.html", candidate=candidate, quarter=quarter_name,
                                   failed=failed, severities=SEVERITIES, record=None,
                                   slug=ops.slug(basis_key)), status
        if refused.field == "quarter":
            return _quarter_page(quarter_name)
        return _quarter_page(quarter_name, status=status, failed=failed)
    if target.startswith("candidate-"):
        response = current_app.make_response(render_template(
            "performance/_candidate.html", candidate=None, record=record, quarter=quarter_name, failed={},
            severities=SEVERITIES, slug=ops.slug(basis_key)))
        response.headers["HX-Trigger"] = "performance-decided"  # the decided list reloads itself
        return response
    flash(gettext("Decision recorded."), "success")
    return redirect(url_for("performance.index", quarter=quarter_name), code=303)


def _safe_candidates(quarter_name: str) -> list[ops.Candidate]:
    try:
        return ops.performance_candidates(quarter_name)
    except ops.PerformanceError:
        return []


# --- scorecards --------------------------------------------------------------------------


@bp.get("/performance/me")
@roles_required(TECHNICIAN)
def my_scorecard():
    """Technician: their own scorecard: confirmed penalties and rewards, complaints, late arrivals."""
    if current_user.role != TECHNICIAN:
        return redirect(url_for("performance.index"))
    return render_template("performance/scorecard.html", card=ops.scorecard(current_user), own=True)


@bp.get("/performance/technicians/<int:user_id>")
@roles_required(TECHNICIAN)
def technician_scorecard(user_id: int):
    """Supervisor: any technician's scorecard. A technician sees only their own (else 404)."""
    if current_user.role == TECHNICIAN:
        if user_id == current_user.id:
            return redirect(url_for("performance.my_scorecard"))
        abort(404)
    technician = db.session.get(User, user_id)
    if technician is None or technician.role != TECHNICIAN:
        abort(404)
    return render_template("performance/scorecard.html", card=ops.scorecard(technician), own=False)


# --- the supervisor dashboard ------------------------------------------------------------


@bp.get("/dashboard")
@roles_required(SUPERVISOR)
def dashboard():
    """Supervisor: what waits for them, each a count that opens its list; the start page."""
    counts = ops.dashboard_counts()
    links = {
        "escalations": _link("dispatch.escalations", "/escalations"),
        "repeated_complaints": _link("complaints.escalated", "/complaints/escalated"),
        "overdue_follow_ups": _link("complaints.follow_ups", "/follow-ups"),
        "quality_flags": _link("statistics.quality", "/statistics/quality"),
        "performance_candidates": url_for("performance.index"),
        "suggestions": url_for("performance.suggestions", status="proposed"),
    }
    from ..statistics.operations import dashboard_charts

    return render_template("performance/dashboard.html", counts=counts, links=links, quarter=ops.current_quarter(),
                           dashboard_charts=dashboard_charts(get_locale().language))


def _link(endpoint: str, path: str) -> str:
    """The list behind a count; its path while the area that owns it is not registered yet."""
    try:
        return url_for(endpoint)
    except BuildError:
        return path
