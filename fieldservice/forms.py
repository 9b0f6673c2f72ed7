"""Form fields shared by several areas."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp


def code_field(max_length: int) -> StringField:
    """A short machine code a supervisor chooses (lowercase letters, digits, _): never changes later."""
    return StringField(
        _l("Code"),
        validators=[DataRequired(message=_l("Enter a code.")), Length(max=max_length),
                    Regexp(r"^[a-z0-9_]+$", message=_l("Use lowercase letters, digits and _ only."))],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
                   "pattern": "[a-z0-9_]+", "maxlength": max_length},
    )


def wording_field(label, required_message, lang: str, max_length: int) -> StringField:
    """Wording in one language (English or Chinese), as data the app shows."""
    return StringField(label, validators=[DataRequired(message=required_message), Length(max=max_length)],
                       render_kw={"lang": lang, "maxlength": max_length})
