"""Forms of the checklist editor (policy 4.3, 4.4)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, Optional
from wtforms.widgets import HiddenInput

from ...forms import code_field, wording_field
from ...labels import CHECKLIST_ITEM_KIND_LABELS, CHECKLIST_SCOPE_LABELS
from ...models.inspections import CHECK, PER_LINE
from .operations import CODE_MAX, LABEL_MAX

ACTIONS = ("rename", "remove", "up", "down")


class AddItemForm(FlaskForm):
    """A new checklist item."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])
    code = code_field(CODE_MAX)
    label_en = wording_field(_l("English wording"), _l("Enter the English wording."), "en", LABEL_MAX)
    label_zh = wording_field(_l("Chinese wording"), _l("Enter the Chinese wording."), "zh-CN", LABEL_MAX)
    kind = SelectField(_l("Answered with"), default=CHECK,
                       choices=[SelectChoice(k, v) for k, v in CHECKLIST_ITEM_KIND_LABELS.items()],
                       validators=[AnyOf(tuple(CHECKLIST_ITEM_KIND_LABELS),
                                         message=_l("Choose how the item is answered."))])
    scope = SelectField(_l("Applies to"), default=PER_LINE,
                        choices=[SelectChoice(k, v) for k, v in CHECKLIST_SCOPE_LABELS.items()],
                        validators=[AnyOf(tuple(CHECKLIST_SCOPE_LABELS), message=_l("Choose where the item applies."))])


class EditItemForm(FlaskForm):
    """Change an item's wording, remove it, or move it up or down (`action`)."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])
    action = HiddenField(validators=[AnyOf(ACTIONS)])
    label_en = StringField(_l("English wording"), validators=[Length(max=LABEL_MAX)],
                           render_kw={"lang": "en", "maxlength": LABEL_MAX})
    label_zh = StringField(_l("Chinese wording"), validators=[Length(max=LABEL_MAX)],
                           render_kw={"lang": "zh-CN", "maxlength": LABEL_MAX})
