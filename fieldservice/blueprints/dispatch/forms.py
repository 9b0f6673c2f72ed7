"""Forms of the dispatch area."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from ...labels import PRIORITY_LABELS, REQUEST_TYPE_LABELS

PHONE = Regexp(r"^[0-9+()\-\s]{5,40}$", message=_l("Enter a phone number (digits, +, -, spaces)."))


class RequestForm(FlaskForm):
    """A service request logged from a customer's call."""

    customer_id = HiddenField()
    customer_name = StringField(_l("Customer name"), validators=[Optional(), Length(max=200)])
    customer_phone = StringField(_l("Customer phone"), validators=[Optional(), PHONE],
                                 render_kw={"inputmode": "tel", "autocomplete": "off"})
    customer_address = TextAreaField(_l("Site address"), validators=[Optional(), Length(max=500)],
                                     render_kw={"rows": 2})
    customer_region = SelectField(_l("Region"), coerce=int, validators=[Optional()])
    product_model = StringField(_l("Product model"), validators=[Optional(), Length(max=120)])
    product_serial = StringField(_l("Serial number"), validators=[Optional(), Length(max=120)])
    made_by_us = BooleanField(_l("Made by our company"), default=True)
    coverage_end_date = DateField(_l("Warranty / service contract ends"), validators=[Optional()])
    request_type = SelectField(_l("Request type"),
                               choices=[SelectChoice(k, v) for k, v in REQUEST_TYPE_LABELS.items()],
                               validators=[InputRequired()])
    priority = SelectField(_l("Priority"), choices=[SelectChoice(k, v) for k, v in PRIORITY_LABELS.items()],
                           default="normal", validators=[InputRequired()])
    description = TextAreaField(_l("What the customer reports"),
                                validators=[DataRequired(message=_l("Describe the request.")),
                                            Length(max=4000)],
                                render_kw={"rows": 4})

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not self.customer_id.data:
            required = _l("Needed for a new customer.")
            for field in (self.customer_name, self.customer_phone, self.customer_address):
                if not (field.data or "").strip():
                    field.errors = [*field.errors, required]
                    ok = False
            if not self.customer_region.data:
                self.customer_region.errors = [*self.customer_region.errors, required]
                ok = False
        elif not str(self.customer_id.data).isdigit():
            self.customer_id.errors = [_l("Choose the customer again.")]
            ok = False
        return ok


class AssignForm(FlaskForm):
    """Assign or reassign a job; `version` is the job version the dispatcher saw."""

    technician_id = SelectField(_l("Technician"), coerce=int,
                                validators=[InputRequired(message=_l("Choose a technician."))])
    version = IntegerField(validators=[InputRequired()])
    next = HiddenField()


class TransitionForm(FlaskForm):
    """One lifecycle step; the request key makes a double tap apply once."""

    request_key = HiddenField(validators=[Length(max=64)])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 2})
    next = HiddenField()


class DecisionForm(FlaskForm):
    """The supervisor's decision on an escalation (policy 3.1)."""

    request_key = HiddenField(validators=[Length(max=64)])
    decision = TextAreaField(_l("Decision"), validators=[DataRequired(message=_l("Write down what was decided.")),
                                                         Length(max=2000)],
                             render_kw={"rows": 3})
