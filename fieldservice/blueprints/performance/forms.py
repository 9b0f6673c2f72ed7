"""Forms of the suggestions and performance area. The rules live in operations.py; the forms
keep values within their lengths and offer the choices."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length

from . import operations as ops


class SuggestionForm(FlaskForm):
    """A quality improvement suggestion, optionally linked to a product, a fault or a claim."""

    title = StringField(_l("Title"), validators=[Length(max=ops.TITLE_MAX)])
    body = TextAreaField(_l("Suggestion: what to change, and what you saw at customers"),
                         validators=[Length(max=ops.BODY_MAX)], render_kw={"rows": 6})
    product_model = StringField(_l("Product model (optional)"), validators=[Length(max=ops.MODEL_MAX)],
                                render_kw={"autocomplete": "off"})
    fault_category_id = SelectField(_l("Fault category (optional)"), choices=[], validate_choice=False)
    claim_reference = StringField(_l("Claim number (optional)"), validators=[Length(max=20)],
                                  render_kw={"autocomplete": "off", "placeholder": "C000012"})

    def to_data(self) -> ops.SuggestionData:
        raw = (self.fault_category_id.data or "").strip()
        return ops.SuggestionData(
            title=self.title.data or "", body=self.body.data or "", product_model=self.product_model.data or "",
            fault_category_id=int(raw) if raw.isdigit() and len(raw) < 10 else None,
            claim_reference=self.claim_reference.data or "",
        )
