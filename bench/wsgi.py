"""The WSGI entry point of the page benchmark: the real app, and next to it under /_bare a tiny
Flask app with one endpoint, the ceiling of this stack (gunicorn + Flask + Werkzeug) on this
machine. werkzeug's DispatcherMiddleware routes /_bare/* to the tiny app, everything else to
the real one, so no benchmark route lives in the app itself.

    gunicorn 'bench.wsgi:application'     (settings from the environment, as app.py)
"""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from fieldservice import create_app

BARE_PREFIX = "/_bare"
BARE_BODY = "ok\n"


def bare_app() -> Flask:
    """Flask with one route answering a few bytes: routing, request and response objects only."""
    bare = Flask("bare")

    @bare.get("/")
    def ok():
        return BARE_BODY, 200, {"Content-Type": "text/plain; charset=utf-8"}

    return bare


app = create_app()
application = DispatcherMiddleware(app.wsgi_app, {BARE_PREFIX: bare_app()})
