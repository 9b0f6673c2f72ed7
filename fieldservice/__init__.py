"""fieldservice: the after-sales service centre's web app (Flask, server-rendered, htmx)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Config, check_production
from .extensions import babel, csrf, db, htmx, login_manager, migrate


def select_locale() -> str:
    """The user's own setting, else the choice made in the header, else Accept-Language."""
    from flask import current_app
    from flask_login import current_user

    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    # Browsers send zh-CN / zh; map the primary tag onto our catalogues.
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best == "en" else "zh_CN"


def select_timezone() -> str:
    from flask import current_app

    return current_app.config["TIMEZONE"]


def create_app(config: type[Config] | dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, CLI commands and security headers."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    check_production(app.config)

    if app.config["PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=app.config["PROXY_HOPS"], x_proto=app.config["PROXY_HOPS"]
        )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from .config import INSTANCE_DIR

        INSTANCE_DIR.mkdir(exist_ok=True)

    if not app.logger.handlers or app.config["ENV_NAME"] == "production":
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    login_manager.init_app(app)

    from . import models  # noqa: F401  (register every table with the metadata)
    from .security import init_security

    init_security(app)

    from .blueprints import (auth, checklists, claims, complaints, diagnosis, dispatch, errors, inspections,
                             ledger, main, performance, photos, reports, statistics, taxonomy)

    for area in (errors, main, auth, dispatch, diagnosis, photos, inspections, checklists, claims, ledger,
                 reports, taxonomy, complaints, statistics, performance):
        app.register_blueprint(area.bp)

    from . import cli, templating

    cli.init_app(app)
    templating.init_app(app)

    return app
