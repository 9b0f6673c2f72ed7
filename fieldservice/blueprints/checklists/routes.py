"""Checklist routes: supervisors keep the delivery inspection checklist and read its failure
statistics (policy 4.3, 4.4). Every edit saves a new version; inspections keep the one they used."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import ChecklistTemplate
from ...models.users import SUPERVISOR
from ...security import form_csrf, roles_required
from ...templating import render_page_or_fragment
from . import bp, operations as ops
from .forms import AddItemForm, EditItemForm

EDITOR_TARGET = "checklist-editor"
RESULTS_TARGET = "failure-results"
INSPECTIONS_LIST = "/inspections"


def _is_htmx_for(target: str) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target


def _stamp(form, template: ChecklistTemplate | None):
    """The version the page shows goes back with each change (a stale page is refused)."""
    version = template.version if template is not None else None
    form.version.data = version
    form.version.raw_data = [str(version)] if version is not None else []
    return form


def _edit_form(code: str, template, formdata=None) -> EditItemForm:
    form = EditItemForm(formdata=formdata)
    if formdata is None:
        item = next((i for i in (template.items if template else []) if i.code == code), None)
        if item is not None:
            form.label_en.data, form.label_zh.data = item.label_en, item.label_zh
    # One form per item on the page: ids of their own keep every label tied to its input.
    for field in (form.label_en, form.label_zh):
        field.id = field.label.field_id = f"item-{code}-{field.name}"
    return _stamp(form, template) if formdata is None else form


def _context(add_form=None, edit_forms=None, message=None, problem=None) -> dict:
    template = ops.active_checklist()
    groups = ops.grouped_items(template)
    versions = ops.versions_with_use()
    edit_forms = dict(edit_forms or {})
    for items in groups.values():
        for item in items:
            edit_forms.setdefault(item.code, _edit_form(item.code, template))
    for form in edit_forms.values():
        _stamp(form, template)
    return dict(
        template=template, groups=groups, edit_forms=edit_forms,
        add_form=_stamp(add_form or AddItemForm(formdata=None), template),
        versions=versions, authors=ops.author_names([t for t, _ in versions]),
        used=next((n for t, n in versions if template is not None and t.id == template.id), 0),
        message=message, problem=problem, policy_codes=ops.POLICY_CODES,
        language=get_locale().language,
    )


def _render(status: int = 200, **kwargs):
    """The editor fragment for htmx, the whole page otherwise."""
    context = _context(**kwargs)
    if _is_htmx_for(EDITOR_TARGET):
        return render_template("checklists/_editor.html", **context), status
    return render_template("checklists/page.html", **context), status


def _done(message: str, code: str | None):
    db.session.commit()
    if _is_htmx_for(EDITOR_TARGET):
        return _render(message=message)
    flash(message, "success")
    return redirect(url_for("checklists.index") + (f"#item-{code}" if code else ""), code=303)


def _hidden_field_problems(form) -> None:
    if form.version.errors or (getattr(form, "action", None) is not None and form.action.errors):
        form.form_errors.append(gettext("This change could not be read. Reload the page and try again."))
    if form.csrf_token.errors:
        form.form_errors.append(gettext("The form had expired. Your entries are kept: save again."))


@bp.get("/checklists")
@roles_required(SUPERVISOR)
def index():
    """Supervisor: the checklist version in use with its items, the editor, and the earlier versions."""
    return _render()


@bp.get("/checklists/<int:template_id>")
@roles_required(SUPERVISOR)
def version(template_id: int):
    """Supervisor: one version of the checklist as it was, read-only, and how many inspections used it."""
    template = db.session.get(ChecklistTemplate, template_id)
    if template is None:
        abort(404)
    return render_template(
        "checklists/version.html", template=template, groups=ops.grouped_items(template),
        used=ops.inspections_using(template), authors=ops.author_names([template]), policy_codes=ops.POLICY_CODES,
        language=get_locale().language,
    )


@bp.post("/checklists/items")
@roles_required(SUPERVISOR)
@form_csrf
def add_item():
    """Supervisor: add an item to the checklist (saved as a new version)."""
    form = AddItemForm(formdata=request.form)
    if form.validate_on_submit():
        try:
            template = ops.add_item(form.code.data, form.label_en.data, form.label_zh.data, form.kind.data,
                                    form.scope.data, current_user, expected_version=form.version.data)
        except ops.ChecklistError as error:
            db.session.rollback()
            _attach(form, error)
        except IntegrityError:  # another supervisor saved a version at the same moment
            db.session.rollback()
            form.form_errors.append(gettext("Someone saved the checklist at the same moment. Add again."))
        else:
            return _done(gettext("“%(label)s” added: checklist version %(v)s is now in use.",
                                 label=form.label_zh.data.strip() if get_locale().language == "zh"
                                 else form.label_en.data.strip(), v=template.version), form.code.data.strip())
    _hidden_field_problems(form)
    return _render(status=422, add_form=form)


@bp.post("/checklists/items/<code>")
@roles_required(SUPERVISOR)
@form_csrf
def update_item(code: str):
    """Supervisor: change an item's wording, remove it, or move it up or down (each a new version)."""
    template = ops.active_checklist()
    if template is None or not any(i.code == code for i in template.items):
        # A page from before someone else's change: show the checklist as it is now.
        return _render(status=409, problem=gettext(
            "The checklist in use has no item “%(code)s” (it may have been removed meanwhile). "
            "Here is the checklist as it is now.", code=code))
    form = _edit_form(code, template, formdata=request.form)
    if form.validate_on_submit():
        action = form.action.data
        try:
            if action == "rename":
                saved = ops.rename_item(code, form.label_en.data, form.label_zh.data, current_user,
                                        expected_version=form.version.data)
                message = (gettext("Wording saved: checklist version %(v)s is now in use.", v=saved.version)
                           if saved else gettext("The wording is unchanged; nothing was saved."))
            elif action == "remove":
                saved = ops.remove_item(code, current_user, expected_version=form.version.data)
                message = gettext("Item removed: checklist version %(v)s is now in use.", v=saved.version)
            else:
                saved = ops.move_item(code, action, current_user, expected_version=form.version.data)
                message = gettext("Order saved: checklist version %(v)s is now in use.", v=saved.version)
        except ops.ChecklistError as error:
            db.session.rollback()
            _attach(form, error)
        except IntegrityError:
            db.session.rollback()
            form.form_errors.append(gettext("Someone saved the checklist at the same moment. Try again."))
        else:
            return _done(message, None if action == "remove" else code)
    _hidden_field_problems(form)
    if form.action.data != "rename":  # a refused move or removal posts no wording: show the stored one
        stored = _edit_form(code, ops.active_checklist())
        form.label_en.data, form.label_zh.data = stored.label_en.data, stored.label_zh.data
    return _render(status=422, edit_forms={code: form})


def _attach(form, error: "ops.ChecklistError") -> None:
    if error.field and hasattr(form, error.field):
        field = getattr(form, error.field)
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


# --- failure statistics ------------------------------------------------------------------


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


@bp.get("/inspections/failures")
@roles_required(SUPERVISOR)
def failures():
    """Supervisor: failed checklist items per item and per product model, for a period of submission."""
    date_from, date_to = _day("from"), _day("to")
    stats = ops.failure_statistics(get_locale().language, date_from, date_to)
    period = {k: v.isoformat() for k, v in (("from", date_from), ("to", date_to)) if v}

    def failed_link(param: str, key: str) -> str:
        # The inspections list (issue 4) filtered to failed ones; the item / model and the period
        # go along for a list that can narrow by them.
        return INSPECTIONS_LIST + "?" + urlencode({"result": "failed", param: key, **period})

    return render_page_or_fragment(
        "checklists/failures.html", "checklists/_failures.html", RESULTS_TARGET,
        stats=stats, date_from=date_from, date_to=date_to, failed_link=failed_link,
    )
