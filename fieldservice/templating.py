"""Template helpers: local times, deadline badges and the labels of stored codes."""
from __future__ import annotations

import uuid
from datetime import datetime

from flask import Flask, current_app, render_template, request
from flask_babel import format_datetime, get_locale, gettext, ngettext

from . import labels
from .models.types import utcnow
from .services.deadlines import deadline_state, split_duration


def local_dt(value: datetime | None, fmt: str = "short") -> str:
    """A stored UTC time in the service centre's zone and the user's language."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def time_left(seconds: int) -> str:
    """'2 h 5 min left' or '1 d 3 h overdue', short enough for a phone."""
    days, hours, minutes = split_duration(seconds)
    if days:
        amount = gettext("%(d)s d %(h)s h", d=days, h=hours)
    elif hours:
        amount = gettext("%(h)s h %(m)s min", h=hours, m=minutes)
    else:
        amount = ngettext("%(num)s min", "%(num)s min", minutes)
    if seconds < 0:
        return gettext("%(amount)s overdue", amount=amount)
    return gettext("%(amount)s left", amount=amount)


def job_deadline(job):
    """The deadline state of a job right now."""
    return deadline_state(
        job.created_dt,
        job.arrival_deadline_dt,
        utcnow(),
        current_app.config["DEADLINE_WARNING_FRACTION"],
        checked_in_dt=job.checked_in_dt,
    )


def render_page_or_fragment(page: str, fragment: str, target: str, /, **context) -> str:
    """One URL, two renderings: the fragment for the htmx request that targets it, else the page.

    Branch on the target, not on HX-Request alone: a boosted link wants the whole page.
    """
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target:
        return render_template(fragment, **context)
    return render_template(page, **context)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local_dt"] = local_dt
    app.jinja_env.filters["time_left"] = time_left
    app.jinja_env.globals.update(
        job_deadline=job_deadline,
        get_locale=get_locale,
        new_request_key=lambda: uuid.uuid4().hex,
        labels=labels,
    )
