"""Taxonomy routes: supervisors keep the fault categories that diagnoses and statistics use (policy 2.3)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from ...extensions import db
from ...models import FaultCategory
from ...models.users import SUPERVISOR
from ...security import form_csrf, roles_required
from . import bp, operations as ops
from .forms import NEW_GROUP, AddCategoryForm, EditCategoryForm

ADD_TARGET = "category-add"


def _is_htmx_for(target: str) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target


def _add_form(groups: list[FaultCategory], formdata=None) -> AddCategoryForm:
    form = AddCategoryForm() if formdata is None else AddCategoryForm(formdata=formdata)
    language = get_locale().language
    form.parent_id.choices = [SelectChoice(NEW_GROUP, gettext("— a new group —"))] + [
        SelectChoice(g.id, gettext("a fault in %(group)s", group=g.name(language))) for g in groups
    ]
    return form


def _edit_form(category: FaultCategory, formdata=None) -> EditCategoryForm:
    if formdata is None:
        form = EditCategoryForm(formdata=None, obj=category)
    else:
        form = EditCategoryForm(formdata=formdata)
    # The page holds a form per category: ids of their own keep every label tied to its input.
    for field in (form.name_en, form.name_zh):
        field.id = field.label.field_id = f"c{category.id}-{field.name}"
    return form


def _page(add_form=None, edit_forms=None, status: int = 200):
    groups = ops.groups_with_faults()
    edit_forms = dict(edit_forms or {})
    for group in groups:
        for category in (group, *group.children):
            edit_forms.setdefault(category.id, _edit_form(category))
    return render_template(
        "taxonomy/page.html", groups=groups, add_form=add_form or _add_form(groups),
        edit_forms=edit_forms, language=get_locale().language,
    ), status


@bp.get("/fault-categories")
@roles_required(SUPERVISOR)
def index():
    """Supervisor: the fault groups with their faults, both names, and whether each is offered."""
    return _page()


@bp.post("/fault-categories")
@roles_required(SUPERVISOR)
@form_csrf
def add():
    """Supervisor: add a fault group, or a fault under a group."""
    groups = ops.groups_with_faults()
    form = _add_form(groups, formdata=request.form)
    if form.validate_on_submit():
        parent = db.session.get(FaultCategory, form.parent_id.data) if form.parent_id.data else None
        try:
            category = ops.create_category(form.code.data, form.name_en.data, form.name_zh.data,
                                           parent, current_user)
            db.session.commit()
        except ops.CategoryError as error:
            db.session.rollback()
            getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
        except IntegrityError:  # the same code added at the same moment by someone else
            db.session.rollback()
            form.code.errors = [*form.code.errors, gettext("This code is already used.")]
        else:
            flash(gettext("“%(name)s” added. It is offered in new diagnoses.",
                          name=category.name(get_locale().language)), "success")
            target = url_for("taxonomy.index") + f"#category-{category.id}"
            if request.headers.get("HX-Request") == "true":
                return "", 204, {"HX-Redirect": target}
            return redirect(target, code=303)
    if form.csrf_token.errors:
        form.form_errors.append(gettext("The form had expired. Your entries are kept: add again."))
    if _is_htmx_for(ADD_TARGET):
        return render_template("taxonomy/_add_form.html", add_form=form), 422
    return _page(add_form=form, status=422)


@bp.post("/fault-categories/<int:category_id>")
@roles_required(SUPERVISOR)
@form_csrf
def update(category_id: int):
    """Supervisor: rename a category, or stop / start offering it in new diagnoses."""
    category = db.session.get(FaultCategory, category_id)
    if category is None:
        abort(404)
    form = _edit_form(category, formdata=request.form)
    target = f"category-{category.id}"
    message = None
    if form.validate_on_submit():
        action = form.action.data
        try:
            if action == "rename":
                ops.rename_category(category, form.name_en.data, form.name_zh.data, current_user)
                message = gettext("Names saved.")
            else:
                ops.set_category_active(category, action == "activate", current_user)
                message = (gettext("Offered in new diagnoses again.") if category.active
                           else gettext("No longer offered in new diagnoses; existing records keep it."))
            db.session.commit()
        except ops.CategoryError as error:
            db.session.rollback()
            category = db.session.get(FaultCategory, category_id)
            getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
            message = None
    elif form.csrf_token.errors:
        form.form_errors.append(gettext("The form had expired. Your entries are kept: save again."))

    if message is not None:
        if _is_htmx_for(target):
            return render_template("taxonomy/_category.html", category=category, form=_edit_form(category),
                                   language=get_locale().language, message=message)
        flash(message, "success")
        return redirect(url_for("taxonomy.index") + f"#{target}", code=303)
    if _is_htmx_for(target):
        return render_template("taxonomy/_category.html", category=category, form=form,
                               language=get_locale().language), 422
    return _page(edit_forms={category.id: form}, status=422)
