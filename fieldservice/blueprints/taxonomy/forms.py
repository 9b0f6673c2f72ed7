"""Forms of the fault taxonomy editor (policy 2.3)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import AnyOf, Length

from ...forms import code_field, wording_field
from .operations import CODE_MAX, NAME_MAX

NEW_GROUP = 0


class AddCategoryForm(FlaskForm):
    """A new group, or a new fault under a group."""

    parent_id = SelectField(_l("Add under"), coerce=int, default=NEW_GROUP)
    code = code_field(CODE_MAX)
    name_en = wording_field(_l("English name"), _l("Enter the English name."), "en", NAME_MAX)
    name_zh = wording_field(_l("Chinese name"), _l("Enter the Chinese name."), "zh-CN", NAME_MAX)


class EditCategoryForm(FlaskForm):
    """Rename a category, or activate / deactivate it (`action`)."""

    action = HiddenField(validators=[AnyOf(("rename", "activate", "deactivate"))])
    name_en = StringField(_l("English name"), validators=[Length(max=NAME_MAX)],
                          render_kw={"lang": "en", "maxlength": NAME_MAX})
    name_zh = StringField(_l("Chinese name"), validators=[Length(max=NAME_MAX)],
                          render_kw={"lang": "zh-CN", "maxlength": NAME_MAX})
