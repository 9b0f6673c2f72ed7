"""Template helpers: local times, deadline badges and the labels of stored codes."""
from __future__ import annotations

import hashlib
import os
import threading
import uuid
from datetime import datetime

from flask import Flask, current_app, render_template, request, url_for
from flask_babel import format_datetime, get_locale, gettext, ngettext
from werkzeug.security import safe_join

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
    app.jinja_env.filters["time_left"] = time_left
    app.jinja_env.globals.update(
        job_deadline=job_deadline,
        get_locale=get_locale,
        new_request_key=lambda: uuid.uuid4().hex,
        labels=labels,
    )
