"""Home and health routes."""
from flask import redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from ...extensions import db
from ...security import any_staff, public
from . import bp


@bp.get("/")
@any_staff
def index():
    """Send each role to the page it starts its day on."""
    start = {
        "technician": "dispatch.my_jobs",
        "dispatcher": "dispatch.queue",
        "supervisor": "performance.dashboard",
        "reviewer": "dispatch.jobs",
    }
    return redirect(url_for(start.get(current_user.role, "dispatch.jobs")))


@bp.get("/healthz")
@public
def healthz():
    """For the load balancer: the app answers and the database answers."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
