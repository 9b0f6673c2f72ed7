"""Forms of the complaints area. The rules live in operations.py; the forms keep values within
their lengths and offer the choices."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from ...labels import COMPLAINT_CATEGORY_LABELS, FOLLOW_UP_OUTCOME_LABELS, SATISFACTION_LABELS
from . import operations as ops


def _category_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("Choose…"))] + [SelectChoice(k, v) for k, v in COMPLAINT_CATEGORY_LABELS.items()]


class ComplaintForm(FlaskForm):
    """Logging a complaint: the customer (chosen above), what it is about, the customer's words.
    Without a job, the technician, product and fault can be named so repeats are recognised."""

    customer_id = HiddenField()
    job_id = HiddenField()
    category = SelectField(_l("What is the complaint about?"), choices=_category_choices(), default="")
    description = TextAreaField(_l("The complaint, in the customer's words"),
                                validators=[Length(max=ops.DESCRIPTION_MAX)], render_kw={"rows": 4})
    technician_id = SelectField(_l("Technician concerned (optional)"), choices=[], validate_choice=False)
    product_id = SelectField(_l("Product (optional)"), choices=[], validate_choice=False)
    fault_category_id = SelectField(_l("Fault (optional)"), choices=[], validate_choice=False)


class CloseComplaintForm(FlaskForm):
    """Answering and closing a complaint."""

    answer = TextAreaField(_l("What was done, and what the customer was told"),
                           validators=[Length(max=ops.ANSWER_MAX)], render_kw={"rows": 4})


class FollowUpForm(FlaskForm):
    """Recording a follow-up call; a dissatisfied customer's complaint can be opened with it."""

    outcome = RadioField(_l("Did you reach the customer?"),
                         choices=[SelectChoice(k, v) for k, v in FOLLOW_UP_OUTCOME_LABELS.items()],
                         validate_choice=False)
    satisfaction = RadioField(_l("How satisfied is the customer? (1-5)"),
                              choices=[SelectChoice(str(k), f"{k} · {v}") for k, v in SATISFACTION_LABELS.items()],
                              validate_choice=False)
    comments = TextAreaField(_l("What the customer said"), validators=[Length(max=ops.COMMENTS_MAX)],
                             render_kw={"rows": 3})
    open_complaint = BooleanField(_l("Open a complaint from this call"))
    complaint_category = SelectField(_l("What is the complaint about?"), choices=_category_choices(), default="")
    complaint_description = TextAreaField(_l("The complaint, in the customer's words"),
                                          validators=[Length(max=ops.DESCRIPTION_MAX)], render_kw={"rows": 3})
