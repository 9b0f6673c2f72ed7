"""Forms of the claims area (their labels are in fieldservice/labels.py). The rules live in
operations.py; the form only keeps values within their lengths and turns the typed amount into a
Decimal."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from ...labels import CLAIM_TYPE_LABELS, PART_WHEREABOUTS_LABELS
from . import operations as ops

CURRENCIES = ("CNY", "USD", "EUR")


class ClaimForm(FlaskForm):
    """Opening a claim: type, product, amount, description and where the defective part is."""

    claim_type = SelectField(_l("Type of claim"), choices=[SelectChoice("", _l("Choose…"))] + [SelectChoice(k, v) for k, v in CLAIM_TYPE_LABELS.items()])
    product_model = StringField(_l("Product model"), validators=[Length(max=120)])
    serial = StringField(_l("Serial number"), validators=[Length(max=120)])
    amount = StringField(_l("Amount claimed (optional)"), validators=[Length(max=20)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    currency = SelectField(_l("Currency"), choices=[SelectChoice(c, c) for c in CURRENCIES], default="CNY")
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)], render_kw={"rows": 4})
    part_whereabouts = SelectField(_l("Where is the defective part?"), choices=[SelectChoice(k, v) for k, v in PART_WHEREABOUTS_LABELS.items()],
                                   default="at_customer")
    tracking_number = StringField(_l("Tracking number"), validators=[Length(max=80)],
                                  render_kw={"autocomplete": "off"})

    def to_data(self) -> ops.ClaimData:
        """The claim data; raises ops.ClaimRefused for an amount that is not a number."""
        return ops.ClaimData(
            claim_type=self.claim_type.data or "", description=self.description.data or "",
            product_model=self.product_model.data or "", serial=self.serial.data or "",
            amount_claimed=ops.parse_amount(self.amount.data), currency=self.currency.data or "CNY",
            part_whereabouts=self.part_whereabouts.data or "", tracking_number=self.tracking_number.data or "",
        )
