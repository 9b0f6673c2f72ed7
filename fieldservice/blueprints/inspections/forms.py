"""Forms of the inspections area: starting an inspection (reference and shipment lines).

The rules (a reference, at least one line, quantities of at least 1) live in
operations.start_inspection; the form only keeps values within their lengths.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from .operations import LineData

MAX_LINES = 30


class LineForm(Form):
    """One shipment line: a product model and how many were ordered."""

    product_model = StringField(_l("Product model"), validators=[Length(max=120)])
    expected_quantity = IntegerField(_l("Expected quantity"), default=1,
                                     validators=[Optional(), NumberRange(min=1, max=99999)],
                                     render_kw={"inputmode": "numeric", "min": 1})


class StartInspectionForm(FlaskForm):
    order_reference = StringField(_l("Order or shipment reference"), validators=[Length(max=80)],
                                  render_kw={"autocomplete": "off"})
    lines = FieldList(FormField(LineForm), min_entries=1, max_entries=MAX_LINES)

    def line_data(self) -> list[LineData]:
        # entry.form: a FormField's own attributes (label, description) hide the subfields.
        return [LineData(product_model=(line.product_model.data or "").strip(),
                         expected_quantity=line.expected_quantity.data or 1)
                for line in (entry.form for entry in self.lines)]
