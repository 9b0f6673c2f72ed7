"""Who may do what: sessions, role checks on every route, login throttling, security headers."""
from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit
from datetime import timedelta
from typing import Callable, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy import event, func, select
from wtforms import ValidationError

from .extensions import csrf, db, login_manager
from .models import LoginFailure, User, utcnow
from .models.users import ROLES

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable)

PUBLIC = "public"


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let signed-in users with one of `roles` (or a supervisor) in; others get 403.

    Anonymous users are sent to the login page. The roles are kept on the view as
    `allowed_roles` so the route x role test can list every route's rule.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = tuple(roles)  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def any_staff(view: F) -> F:
    """Any signed-in member of staff."""
    return roles_required(*ROLES)(view)


def public(view: F) -> F:
    """No sign-in needed (login page, language switch, health check)."""
    view.allowed_roles = PUBLIC  # type: ignore[attr-defined]
    return view


def form_csrf(view: F) -> F:
    """The view's FlaskForm checks the CSRF token itself.

    So a form posted with an expired token comes back with the user's values, a fresh
    token and a message, instead of an error page. Every other state change is checked
    by CSRFProtect before the view runs.

    htmx requests carry the token in the X-CSRFToken header (base.html's hx-headers); a
    FlaskForm only reads its body field, so a valid header token is accepted here, the way
    CSRFProtect accepts it everywhere else. An invalid or expired one is left to the form.
    """

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        cfg = current_app.config
        if request.method in cfg["WTF_CSRF_METHODS"] and not request.form.get(cfg["WTF_CSRF_FIELD_NAME"]):
            token = next((request.headers[h] for h in cfg["WTF_CSRF_HEADERS"] if request.headers.get(h)), None)
            if token:
                try:
                    validate_csrf(token)
                    g.csrf_valid = True  # FlaskForm skips its own check, as after CSRFProtect
                except ValidationError:
                    pass
        return view(*args, **kwargs)

    return csrf.exempt(wrapped)  # type: ignore[return-value]


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the user of a session; a session from before logout or deactivation is refused."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def end_all_sessions(user: User) -> None:
    """Make every session cookie of `user` useless (logout, deactivation, password change)."""
    user.session_version += 1


@event.listens_for(User.active, "set", active_history=True)
def _deactivation_ends_sessions(user: User, value, oldvalue, initiator) -> None:
    """Deactivating an account ends its sessions for good.

    The loader already refuses an inactive user, but without a new session version an old
    (perhaps stolen) cookie would work again the moment the account is reactivated.
    Only a change of a loaded account counts (not the constructor of a new one).
    """
    if oldvalue is True and not value and user.session_version is not None:
        end_all_sessions(user)


def local_url(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`: never an open redirect.

    Browsers read a backslash as a slash ("/\\evil.example" is "//evil.example") and drop
    tabs and newlines, so a target with any of them (or any control character) is refused.
    """
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and not any(ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return default


# --- login throttling --------------------------------------------------------------------


def login_throttled(username: str, address: str) -> bool:
    """True when too many recent failures for this account or from this address."""
    cfg = current_app.config
    since = utcnow() - timedelta(minutes=cfg["LOGIN_WINDOW_MINUTES"])
    by_account = db.session.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.username == username.lower(), LoginFailure.created_dt >= since
        )
    )
    if by_account >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
        return True
    by_address = db.session.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.address == address, LoginFailure.created_dt >= since
        )
    )
    return by_address >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]


def record_login_failure(username: str, address: str) -> None:
    db.session.add(LoginFailure(username=username.lower()[:64], address=address[:64]))
    log.warning("login failed for %r from %s", username[:64], address)


def clear_login_failures(username: str) -> None:
    db.session.execute(
        LoginFailure.__table__.delete().where(LoginFailure.username == username.lower())
    )


# --- headers -----------------------------------------------------------------------------


def _content_security_policy() -> str:
    # No inline scripts, no eval: htmx runs with allowEval off (see base.html's htmx-config).
    img = "'self' data: blob:"
    endpoint = current_app.config.get("S3_ENDPOINT_URL")
    if endpoint:
        img += " " + endpoint.rstrip("/")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; form-action 'self'; base-uri 'self'; "
        "object-src 'none'; frame-ancestors 'none'"
    )


def init_security(app: Flask) -> None:
    """Login manager settings and the headers every response carries."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.unauthorized_handler
    def _unauthorized():
        # htmx requests cannot follow a redirect into a full page: tell htmx to go there.
        target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        if request.headers.get("HX-Request") == "true":
            response = current_app.response_class(status=401)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", _content_security_policy())
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.vary.add("HX-Request")
        # A signed-in session's pages are never stored. Read from the session cookie, not from
        # current_user: after a view's commit the user is expired, and reloading it here when the
        # database has just gone away turned a saved change into an error page (fault drill,
        # tests/drills/test_database_restart.py), inviting the user to save it twice.
        if request.endpoint != "static" and session.get("_user_id"):
            if "no-store" not in (response.headers.get("Cache-Control") or ""):
                response.headers["Cache-Control"] = "no-store"
        return response
