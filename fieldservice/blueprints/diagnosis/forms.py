"""Forms of the diagnosis area. Drafts accept anything within the length limits;
completeness is checked on submit by operations.submission_problems."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from ...labels import OUTCOME_LABELS
from .operations import DiagnosisData, PartData


class PartForm(Form):
    """One replaced part (a row that htmx adds and removes)."""

    part_number = StringField(_l("Part number"), validators=[Length(max=80)])
    description = StringField(_l("Description"), validators=[Length(max=200)])
    quantity = IntegerField(_l("Quantity"), default=1, validators=[Optional(), NumberRange(min=1, max=999)],
                            render_kw={"inputmode": "numeric"})
    faulty_serial = StringField(_l("Serial of the faulty part"), validators=[Length(max=120)])
    replacement_serial = StringField(_l("Serial of the replacement"), validators=[Length(max=120)])
    kept_as_evidence = BooleanField(_l("Faulty part kept as evidence"))


class DiagnosisForm(FlaskForm):
    symptom = TextAreaField(_l("Symptom, as the customer describes it"), validators=[Length(max=4000)],
                            render_kw={"rows": 3})
    fault_category_id = SelectField(_l("Fault category"), coerce=int, validators=[Optional()], validate_choice=False)
    root_cause = TextAreaField(_l("Root cause"), validators=[Length(max=4000)], render_kw={"rows": 3})
    actions_taken = TextAreaField(_l("What was done to remove the fault"), validators=[Length(max=4000)],
                                  render_kw={"rows": 3})
    parts = FieldList(FormField(PartForm), min_entries=0, max_entries=50)
    guidance = TextAreaField(_l("Guidance given to the customer on use and assembly"),
                             validators=[Length(max=4000)], render_kw={"rows": 3})
    outcome = RadioField(_l("Outcome"), choices=[SelectChoice(k, v) for k, v in OUTCOME_LABELS.items()],
                         validators=[Optional()], validate_choice=False)
    customer_explanation = TextAreaField(_l("Explanation given to the customer"),
                                         validators=[Length(max=4000)], render_kw={"rows": 3})
    contact_name = StringField(_l("On-site person in charge (name)"), validators=[Length(max=120)])

    def set_fault_choices(self, groups, language: str) -> None:
        choices = [SelectChoice(0, _l("Choose the fault"))]
        for group, faults in groups:
            choices += [SelectChoice(f.id, f.name(language), optgroup=group.name(language)) for f in faults]
        self.fault_category_id.choices = choices

    def to_data(self) -> DiagnosisData:
        return DiagnosisData(
            symptom=self.symptom.data or "",
            fault_category_id=self.fault_category_id.data or None,
            root_cause=self.root_cause.data or "",
            actions_taken=self.actions_taken.data or "",
            guidance=self.guidance.data or "",
            outcome=self.outcome.data or None,
            customer_explanation=self.customer_explanation.data or "",
            contact_name=self.contact_name.data or "",
            # entry.form: a FormField's own attributes (label, description) hide the subfields.
            parts=[PartData(part_number=p.part_number.data or "", description=p.description.data or "",
                            quantity=p.quantity.data or 1, faulty_serial=p.faulty_serial.data or "",
                            replacement_serial=p.replacement_serial.data or "",
                            kept_as_evidence=bool(p.kept_as_evidence.data))
                   for p in (entry.form for entry in self.parts)],
        )
