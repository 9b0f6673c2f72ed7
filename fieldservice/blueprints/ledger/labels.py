"""How the ledger and the service report write durations (outcome names are in fieldservice.labels)."""
from __future__ import annotations

from flask_babel import gettext, ngettext

from ...services.deadlines import split_duration


def time_on_site(seconds: int | None) -> str:
    """'1 h 25 min' or '40 min', in the current language (the words of the deadline badges)."""
    if seconds is None:
        return ""
    days, hours, minutes = split_duration(seconds)
    hours += days * 24
    if hours:
        return gettext("%(h)s h %(m)s min", h=hours, m=minutes)
    return ngettext("%(num)s min", "%(num)s min", minutes)
