"""Template helpers: local times, deadline badges and the labels of stored codes."""
from __future__ import annotations

import hashlib
import os
import threading
import uuid
from datetime import datetime, timezone

from babel import Locale
from babel.dates import get_date_format, get_datetime_format, get_time_format, parse_pattern
from flask import Flask, current_app, render_template, request, url_for
from flask_babel import format_datetime, get_locale, get_timezone, get_translations
from markupsafe import Markup
from werkzeug.security import safe_join

from . import labels
from .models.types import utcnow
from .services.deadlines import deadline_state, split_duration


def local_dt(value: datetime | None, fmt: str = "short") -> str:
    """A stored UTC time in the service centre's zone and the user's language."""
    if value is None:
        return ""
    locale = get_locale()
    if locale is None:  # outside a request: Babel's defaults
        return format_datetime(value, fmt)
    return _format_local(value, fmt, locale, get_timezone())


# Babel's format_datetime looks the locale's patterns up again on every call, a third of a job
# card's deadline (issue 7). The patterns of a locale never change: kept per (locale, format).
_PREDEFINED = ("full", "long", "medium", "short")
_patterns: dict[tuple[Locale, str], tuple] = {}


def _datetime_patterns(locale: Locale, fmt: str) -> tuple:
    """(how date and time combine or None, time-or-whole pattern, date pattern) as Babel uses them."""
    key = (locale, fmt)
    found = _patterns.get(key)
    if found is None:
        if fmt in _PREDEFINED:
            found = (get_datetime_format(fmt, locale).replace("'", ""),
                     parse_pattern(get_time_format(fmt, locale)), parse_pattern(get_date_format(fmt, locale)))
        else:
            found = (None, parse_pattern(fmt), None)
        _patterns[key] = found
    return found


def _format_local(value: datetime, fmt: str, locale: Locale, zone) -> str:
    """babel.dates.format_datetime(value, fmt, tzinfo=zone, locale=locale), with cached patterns."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(zone)
    if hasattr(zone, "normalize"):  # pytz, as Flask-Babel's zones are
        value = zone.normalize(value)
    combined, pattern, date_pattern = _datetime_patterns(locale, fmt)
    if combined is None:
        return pattern.apply(value, locale)
    day = value.date()
    return (combined.replace("{0}", pattern.apply(value.timetz(), locale, reference_date=day))
            .replace("{1}", date_pattern.apply(day, locale)))


def _time_left(seconds: int, translations) -> str:
    days, hours, minutes = split_duration(seconds)
    if days:
        amount = translations.ugettext("%(d)s d %(h)s h") % {"d": days, "h": hours}
    elif hours:
        amount = translations.ugettext("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
    else:
        amount = translations.ungettext("%(num)s min", "%(num)s min", minutes) % {"num": minutes}
    if seconds < 0:
        return translations.ugettext("%(amount)s overdue") % {"amount": amount}
    return translations.ugettext("%(amount)s left") % {"amount": amount}


def time_left(seconds: int) -> str:
    """'2 h 5 min left' or '1 d 3 h overdue', short enough for a phone."""
    return _time_left(seconds, get_translations())


class TranslatedLabels(dict):
    """A labels.* mapping in the request's language for a page of cards: each label is translated
    once, when first used, instead of at every use (rendered markup-safe, as its lazy string is)."""

    def __init__(self, mapping) -> None:
        super().__init__()
        self._mapping = mapping

    def __missing__(self, key: str) -> str:
        text = self[key] = Markup(str(self._mapping[key]))
        return text


class JobDeadline:
    """A job against its arrival deadline, as its card shows it: the state (ok, warning, overdue,
    met, missed), the seconds left, the deadline in local time and the words after it."""

    __slots__ = ("_of", "_job", "state", "seconds_left")

    def __init__(self, of: "JobDeadlines", job, state) -> None:
        self._of, self._job = of, job
        self.state, self.seconds_left = state.state, state.seconds_left

    @property
    def local_time(self) -> str:
        return self._of.local_time(self._job.arrival_deadline_dt)

    @property
    def label(self) -> str:
        """On time / Due soon / Overdue / Met / Missed."""
        return self._of.labels[self.state]

    @property
    def time_left(self) -> str:
        return _time_left(self.seconds_left, self._of.translations)


class JobDeadlines:
    """The deadlines of the jobs of one page (issue 7: the board shows ~340 cards). The clock,
    the warning fraction, the user's language and zone are read once, not once per job, so
    every card of a page is judged at the same moment."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or utcnow()
        self.warning_fraction = current_app.config["DEADLINE_WARNING_FRACTION"]
        self.locale = get_locale()
        self.zone = get_timezone()
        self.translations = get_translations()
        self.labels = TranslatedLabels(labels.DEADLINE_LABELS)

    def __call__(self, job) -> JobDeadline:
        state = deadline_state(job.created_dt, job.arrival_deadline_dt, self.now, self.warning_fraction,
                               checked_in_dt=job.checked_in_dt)
        return JobDeadline(self, job, state)

    def local_time(self, value: datetime) -> str:
        if self.locale is None:
            return local_dt(value)
        return _format_local(value, "short", self.locale, self.zone)


def job_deadline(job) -> JobDeadline:
    """The deadline state of a job right now (for many jobs, make one JobDeadlines per page)."""
    return JobDeadlines()(job)


def render_page_or_fragment(page: str, fragment: str, target: str, /, **context) -> str:
    """One URL, two renderings: the fragment for the htmx request that targets it, else the page.

    Branch on the target, not on HX-Request alone: a boosted link wants the whole page.
    """
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target:
        return render_template(fragment, **context)
    return render_template(page, **context)


# --- fingerprinted static files ------------------------------------------------------------
# Pages link static files as /static/css/app.css?v=<content hash>. A request that carries the
# file's current hash may be cached for a year (the URL changes when the file does); anything
# else (no hash, or an old page's old hash) is still served, with a short max-age, so a phone
# holding an old page never gets a 404 for its stylesheet.
STATIC_VERSION_ARG = "v"
STATIC_HASH_LENGTH = 12
STATIC_IMMUTABLE = "public, max-age=31536000, immutable"
STATIC_SHORT_MAX_AGE = 300  # seconds; unversioned or outdated links

_file_facts: dict[tuple[str, str], tuple[tuple[int, int], str | None]] = {}
_file_facts_lock = threading.Lock()


def _static_path(filename: str) -> str | None:
    folder = current_app.static_folder
    return safe_join(folder, filename) if folder else None


def _file_fact(kind: str, path: str, compute) -> str | None:
    """`compute(path)` once per file version per process: cached on the file's mtime and size
    (one stat per call), so an edited file gets a new answer without a restart. None when the
    file does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _file_facts.get((kind, path))
    if cached is not None and cached[0] == key:
        return cached[1]
    value = compute(path)
    with _file_facts_lock:
        _file_facts[(kind, path)] = (key, value)
    return value


def _sha12(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:STATIC_HASH_LENGTH]


def _built_from(path: str) -> str | None:
    """The source hash a minified build names on its first line (devtools/assets.py)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        parts = handle.readline().split()
    return parts[2] if len(parts) == 4 and parts[0] == "/*!" and parts[3] == "*/" else None


def static_hash(filename: str) -> str | None:
    """The first 12 hex digits of the SHA-256 of a file under the app's static folder, or
    None when the file does not exist (the link is then left without a version)."""
    path = _static_path(filename)
    return _file_fact("sha", path, _sha12) if path else None


def asset_name(filename: str) -> str:
    """The file a page should link for `filename`: its minified build (`js/app.min.js`, made by
    `make assets`) when there is one built from the source as it is now, else the source.
    Config STATIC_MINIFIED=False links the sources (reading them in the browser's tools)."""
    root, dot, ext = filename.rpartition(".")
    if not current_app.config.get("STATIC_MINIFIED", True) or ext not in ("js", "css") \
            or root.endswith(".min") or filename.startswith("vendor/"):
        return filename
    built = f"{root}.min.{ext}"
    path = _static_path(built)
    if path is None:
        return filename
    digest = static_hash(filename)
    return built if digest is not None and _file_fact("built-from", path, _built_from) == digest else filename


def static_url(filename: str) -> str:
    """The URL of a static file with its content hash: `static_url('css/app.css')` in templates
    (links its minified build when that is current, see asset_name)."""
    filename = asset_name(filename)
    digest = static_hash(filename)
    if digest is None:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, **{STATIC_VERSION_ARG: digest})


def _static_cache_headers(response):
    """A year and `immutable` for a request with the file's current hash; a short max-age else."""
    if request.endpoint != "static" or response.status_code not in (200, 206, 304):
        return response
    filename = (request.view_args or {}).get("filename", "")
    version = request.args.get(STATIC_VERSION_ARG)
    if version and version == static_hash(filename):
        response.headers["Cache-Control"] = STATIC_IMMUTABLE
    else:
        response.headers["Cache-Control"] = f"public, max-age={STATIC_SHORT_MAX_AGE}"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_static_cache_headers)
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.filters["local_dt"] = local_dt
    app.jinja_env.globals.update(
        job_deadline=job_deadline,
        job_deadlines=JobDeadlines,
        translated_labels=TranslatedLabels,
        get_locale=get_locale,
        new_request_key=lambda: uuid.uuid4().hex,
        labels=labels,
    )
