"""Error handlers: nothing a user or a flaky network causes ends on a bare 500 page."""
from __future__ import annotations

import logging

from flask import current_app, g, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ...extensions import db, login_manager
from . import bp

log = logging.getLogger(__name__)


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (gettext("Bad request"), gettext("The request could not be understood. Go back and try again.")),
        403: (gettext("Not allowed"), gettext("Your role does not allow this page or action.")),
        404: (gettext("Not found"), gettext("This page does not exist, or it is not yours to see.")),
        405: (gettext("Not allowed"), gettext("This action cannot be done that way.")),
        413: (gettext("Too large"), gettext("The upload is larger than allowed.")),
        429: (gettext("Too many requests"), gettext("Too many attempts. Wait a few minutes and try again.")),
        500: (gettext("Something went wrong"), gettext("The error was logged. Nothing you typed was saved twice; try again in a moment.")),
        503: (gettext("Service busy"), gettext("The service is briefly unavailable. Try again in a moment; nothing was half-saved.")),
    }


def render_error(status: int, message: str | None = None):
    """The error as a page, or as a short text htmx shows in the message area."""
    title, text = _messages().get(status, _messages()[500])
    text = message or text
    if request.headers.get("HX-Request") == "true":
        return text, status, {"Content-Type": "text/plain; charset=utf-8"}
    try:
        return render_template("errors/error.html", title=title, message=text, status=status), status
    except SQLAlchemyError:
        # The navigation needed the database (the signed-in user, expired by the rollback; the
        # claims badge) and it is gone: draw the page as for a visitor, without the database.
        db.session.rollback()
        g._login_user = login_manager.anonymous_user()
        return render_template("errors/error.html", title=title, message=text, status=status), status


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    log.warning("CSRF refused on %s %s: %s", request.method, request.path, error.description)
    return render_error(400, gettext("This page was open too long or came from elsewhere. Reload it and try again."))


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    if error.code and error.code >= 500:
        log.error("HTTP %s on %s %s", error.code, request.method, request.path)
    return render_error(error.code or 500)


@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(DBAPIError)
def database_unavailable(error: Exception):
    db.session.rollback()
    log.error("database error on %s %s: %s", request.method, request.path, error)
    # The page must not need the database it reports missing: the locale selector and
    # base.html's nav would load the signed-in user again (or refresh the one the rollback
    # expired) and fail inside this handler, ending on a bare 500. Render it as for a visitor;
    # the session is untouched, so the next request is signed in as before.
    g._login_user = login_manager.anonymous_user()
    response = current_app.make_response(render_error(503))
    response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.record_once
def _register_session_end(state) -> None:
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in reverse).
    state.app.teardown_appcontext(end_session_quietly)


def end_session_quietly(error: BaseException | None) -> None:
    """Close the request's database session; a database gone since the answer was made is logged.

    The rollback that closes a session fails when the server went away after the request's
    last query (a restart): raised from the teardown it would turn an answer already made into
    a bare 500 (fault drill, tests/drills/test_database_restart.py). The pool has invalidated
    that connection, so the next request gets a fresh one.
    """
    try:
        db.session.remove()
    except SQLAlchemyError as exc:
        log.warning("database connection lost while closing the session: %s", exc)
        db.session.registry.clear()


@bp.app_errorhandler(Exception)
def unexpected_error(error: Exception):
    if current_app.testing:  # let the test see the real error
        raise error
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(500)
