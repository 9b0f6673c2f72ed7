"""Forms of the statistics area."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class AcknowledgeForm(FlaskForm):
    """A supervisor's acknowledgement of a quality flag (policy 2.4): what was done about it."""

    note = TextAreaField(_l("What was done"), validators=[
        DataRequired(message=_l("Write down what was done about it.")), Length(max=2000)],
        render_kw={"rows": 2})
