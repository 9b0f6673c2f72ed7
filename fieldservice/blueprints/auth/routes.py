"""Sign in, sign out, choose the language."""
from __future__ import annotations

import functools
import secrets

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from ...extensions import db
from ...models import User
from ...security import (
    local_url,
    any_staff,
    clear_login_failures,
    end_all_sessions,
    form_csrf,
    login_throttled,
    public,
    record_login_failure,
)
from . import bp
from .forms import LoginForm


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, checked when the username is unknown."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a user to another site after sign-in."""
    return local_url(target, url_for("main.index"))


@bp.route("/login", methods=["GET", "POST"])
@public
@form_csrf
def login():
    """Anyone: the sign-in form; failures give one message and are throttled."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    status = 200
    if form.validate_on_submit():
        username = form.username.data.strip()
        address = request.remote_addr or "unknown"
        if login_throttled(username, address):
            error = gettext("Too many failed attempts. Wait a few minutes and try again.")
            status = 429
        else:
            user = db.session.scalar(db.select(User).where(User.username == username.lower()))
            # Always check a hash, so an unknown or inactive account answers as slowly as a
            # wrong password (the message is the same; the timing must not differ either).
            password_ok = check_password_hash(user.password_hash if user is not None else _dummy_hash(),
                                              form.password.data)
            if user is not None and user.active and password_ok:
                clear_login_failures(username)
                db.session.commit()
                session.clear()
                login_user(user)
                session.permanent = True
                current_app.logger.info("user %s signed in", user.username)
                return redirect(_safe_next(form.next.data), code=303)
            record_login_failure(username, address)
            db.session.commit()
            error = gettext("Wrong username or password.")
            status = 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@any_staff
def logout():
    """Any signed-in user: sign out everywhere; old copies of the cookie stop working."""
    user = db.session.get(User, current_user.id)
    end_all_sessions(user)
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.post("/language")
@public
def set_language():
    """Anyone: switch between Chinese and English; kept on the account when signed in."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            user = db.session.get(User, current_user.id)
            user.locale = locale
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")), code=303)
