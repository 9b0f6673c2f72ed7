"""CSRF: every POST route refuses a request without a valid token and changes nothing; htmx's
header token is accepted; an expired form comes back filled in, with a fresh token.

Two kinds of POST routes:
* most are checked by CSRFProtect before the view runs: a missing token answers 400;
* the form routes marked @form_csrf (login, logging a request, an escalation decision)
  let their FlaskForm check the token, so the user gets the form back with their values
  and a message: 422.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest

from fieldservice.extensions import db
from fieldservice.models import (AuditEvent, Claim, ClaimEvidence, ClaimMessage, Complaint, Customer, Diagnosis,
                                 Escalation, FaultCategory, FollowUp, InspectionCheck, Job, LoginFailure, Photo,
                                 ReplacedPart, User)
from tests.conftest import CSRF_RE, PASSWORD, Client

# "resolve" is not a button (a submitted record resolves a job): the route refuses it either way.
TRANSITIONS = ("start_travel", "check_in", "escalate", "close", "cancel")
STATE_FOR_ACTION = {"start_travel": "assigned", "check_in": "en_route",
                    "escalate": "assigned", "close": "resolved", "cancel": "assigned"}
# Who performs an action in real life (so a request with a valid token would succeed).
ACTOR_FOR_ACTION = {"start_travel": "technician", "check_in": "technician",
                    "escalate": "technician", "close": "dispatcher", "cancel": "dispatcher"}


@dataclass
class Scene:
    dispatcher: User
    technician: User
    other_technician: User
    job: Job
    escalated: Job

    @property
    def escalation_id(self) -> int:
        return self.escalated.escalations[0].id


@dataclass(frozen=True)
class Post:
    name: str
    endpoint: str
    who: str  # "anonymous" or a role whose user is in the scene
    url: Callable[[Scene], str]
    data: Callable[[Scene], dict]
    refused_with: int  # 400 (CSRFProtect) or 422 (the form re-rendered)
    job_state: str = "assigned"


def _new_request(s: Scene) -> dict:
    return {"customer_name": "CSRF Works Ltd", "customer_phone": "010 9999 0000",
            "customer_address": "1 Token Street", "customer_region": str(s.dispatcher.region_id),
            "request_type": "fault_repair", "priority": "high", "description": "Forged request?"}


POSTS = [
    Post("login", "auth.login", "anonymous", lambda s: "/login",
         lambda s: {"username": s.dispatcher.username, "password": PASSWORD}, 422),
    Post("logout", "auth.logout", "dispatcher", lambda s: "/logout", lambda s: {}, 400),
    Post("language", "auth.set_language", "dispatcher", lambda s: "/language",
         lambda s: {"locale": "zh_CN", "next": "/"}, 400),
    Post("new_request", "dispatch.new_request", "dispatcher", lambda s: "/requests/new", _new_request, 422),
    Post("assign", "dispatch.assign", "dispatcher", lambda s: f"/jobs/{s.job.id}/assign",
         lambda s: {"technician_id": str(s.other_technician.id), "version": str(s.job.version)}, 400),
    *[
        Post(f"transition:{a}", "dispatch.transition", ACTOR_FOR_ACTION[a],
             (lambda a: lambda s: _closable_by_hand(s, a) and f"/jobs/{s.job.id}/{a}")(a),
             lambda s: {"reason": "Needs a part.", "request_key": uuid.uuid4().hex}, 400,
             job_state=STATE_FOR_ACTION[a])
        for a in TRANSITIONS
    ],
    Post("decide", "dispatch.decide", "supervisor", lambda s: f"/escalations/{s.escalation_id}/decide",
         lambda s: {"decision": "Approved.", "request_key": uuid.uuid4().hex}, 422),
    # Issue 3: diagnosis (its form routes check their own token), photos, fault taxonomy.
    Post("diagnosis_autosave", "diagnosis.autosave", "technician", lambda s: f"/jobs/{s.job.id}/diagnosis/draft",
         lambda s: {"symptom": "Grinding noise"}, 422, job_state="on_site"),
    Post("diagnosis_update", "diagnosis.update", "technician", lambda s: f"/jobs/{s.job.id}/diagnosis",
         lambda s: {"symptom": "Grinding noise", "action": "add_part"}, 422, job_state="on_site"),
    Post("diagnosis_correct", "diagnosis.correct", "technician", lambda s: _submitted(s, "/correct"),
         lambda s: {}, 400, job_state="resolved"),
    Post("diagnosis_signature", "diagnosis.signature", "technician",
         lambda s: f"/jobs/{s.job.id}/diagnosis/signature", lambda s: {"signature": (_png(), "signature.png")},
         400, job_state="on_site"),
    Post("photo_upload", "photos.upload", "technician", lambda s: f"/jobs/{s.job.id}/photos",
         lambda s: {"photo": (_jpeg(), "site.jpg"), "caption": "Cracked roller"}, 400, job_state="on_site"),
    Post("category_add", "taxonomy.add", "supervisor", lambda s: "/fault-categories",
         lambda s: {"parent_id": "0", "code": f"csrf_{uuid.uuid4().hex[:6]}", "name_en": "Forged",
                    "name_zh": "伪造"}, 422),
    Post("category_update", "taxonomy.update", "supervisor", lambda s: f"/fault-categories/{_category_id()}",
         lambda s: {"action": "deactivate"}, 422),
    # Issue 4: the checklist editor (its forms check their own token).
    Post("checklists_add_item", "checklists.add_item", "supervisor", lambda s: _checklist() and "/checklists/items",
         lambda s: {"code": "forged_item", "label_en": "Forged", "label_zh": "伪造", "kind": "check",
                    "scope": "line"}, 422),
    Post("checklists_update_item", "checklists.update_item", "supervisor",
         lambda s: _checklist() and "/checklists/items/model_matches",
         lambda s: {"action": "rename", "label_en": "Forged wording", "label_zh": "伪造"}, 422),
    # Issue 4: delivery inspections (the start forms check their own token).
    Post("inspection_start_for_job", "inspections.start_for_job", "technician", lambda s: _inspection_url(s, "start"),
         lambda s: {"order_reference": "PO-CSRF", "lines-0-product_model": "PX-200", "lines-0-expected_quantity": "1"},
         422, job_state="on_site"),
    Post("inspection_new_receipt", "inspections.new_receipt", "technician",
         lambda s: _inspection_url(s, "start") and "/inspections/new",
         lambda s: {"order_reference": "SH-CSRF", "lines-0-product_model": "PX-200", "lines-0-expected_quantity": "1"},
         422, job_state="on_site"),
    Post("inspection_answer", "inspections.answer", "technician", lambda s: _inspection_url(s, "answer"),
         lambda s: {"answer": "fail", "note": "Forged?"}, 400, job_state="on_site"),
    Post("inspection_photo", "inspections.upload_photo", "technician", lambda s: _inspection_url(s, "photo"),
         lambda s: {"photo": (_jpeg(), "box.jpg"), "caption": "Torn box"}, 400, job_state="on_site"),
    Post("inspection_submit", "inspections.submit", "technician",
         lambda s: _inspection_url(s, "submit", answered=True), lambda s: {}, 400, job_state="on_site"),
    Post("inspection_correct", "inspections.correct", "technician",
         lambda s: _inspection_url(s, "correct", submitted=True), lambda s: {}, 400, job_state="on_site"),
    # Issue 5: claims (the opening form checks its own token).
    Post("claim_new", "claims.new_claim", "technician", lambda s: _submitted(s, "") and f"/jobs/{s.job.id}/claims/new",
         lambda s: {"claim_type": "refund", "description": "Forged claim?", "currency": "CNY",
                    "part_whereabouts": "at_customer"}, 422, job_state="resolved"),
    Post("claim_add_evidence", "claims.add_evidence", "technician", lambda s: _claim_photo_url(s),
         lambda s: {"photo_id": str(_spare_photo_id(s))}, 400, job_state="resolved"),
    Post("claim_remove_evidence", "claims.remove_evidence", "technician",
         lambda s: _claim_url(s, "draft", f"/evidence/{_claim_of(s).evidence[0].id}/remove"), lambda s: {}, 400,
         job_state="resolved"),
    Post("claim_answer", "claims.answer", "technician", lambda s: _claim_url(s, "info_requested", "/answer"),
         lambda s: {"answer": "Forged answer?"}, 400, job_state="resolved"),
    Post("claim_submit", "claims.submit", "technician", lambda s: _claim_url(s, "draft", "/submit"),
         lambda s: {}, 400, job_state="resolved"),
    Post("claim_review", "claims.review", "reviewer", lambda s: _claim_url(s, "submitted", "/review"),
         lambda s: {}, 400, job_state="resolved"),
    Post("claim_request_info", "claims.request_info", "reviewer", lambda s: _claim_url(s, "under_review", "/request-info"),
         lambda s: {"question": "Forged question?"}, 400, job_state="resolved"),
    Post("claim_reject", "claims.reject", "reviewer", lambda s: _claim_url(s, "under_review", "/reject"),
         lambda s: {"reason": "Forged."}, 400, job_state="resolved"),
    Post("claim_approve", "claims.approve", "reviewer", lambda s: _claim_url(s, "under_review", "/approve"),
         lambda s: {"amount": "10", "reason": "Forged."}, 400, job_state="resolved"),
    Post("claim_appraise", "claims.appraise", "reviewer", lambda s: _claim_url(s, "under_review", "/appraise"),
         lambda s: {"appraisal": "misuse", "notes": "Forged."}, 400, job_state="resolved"),
    Post("claim_from_inspection", "claims.new_claim_from_inspection", "technician",
         lambda s: f"/inspections/{_failed_inspection_of(s).id}/claims/new",
         lambda s: {"claim_type": "transport_damage", "description": "Forged claim?", "currency": "CNY",
                    "part_whereabouts": "at_customer"}, 422, job_state="on_site"),
    Post("claim_upload_evidence", "claims.upload_evidence", "technician", lambda s: _claim_url(s, "draft", "/photos"),
         lambda s: {"photo": (_jpeg(), "part.jpg")}, 400, job_state="resolved"),
    # Issue 6: complaints and follow-up calls (their forms check their own token).
    Post("complaint_new", "complaints.new", "dispatcher", lambda s: f"/complaints/new?job={s.job.id}",
         lambda s: {"job_id": str(s.job.id), "category": "behaviour", "description": "Forged complaint?"}, 422,
         job_state="resolved"),
    Post("complaint_close", "complaints.close", "dispatcher", lambda s: f"/complaints/{_complaint_of(s).id}/close",
         lambda s: {"answer": "Forged answer?"}, 422, job_state="resolved"),
    Post("follow_up_record", "complaints.follow_up", "dispatcher", lambda s: f"/follow-ups/{_follow_up_of(s).id}",
         lambda s: {"outcome": "reached", "satisfaction": "1", "open_complaint": "y",
                    "complaint_category": "behaviour", "complaint_description": "Forged?"}, 422, job_state="resolved"),
    # Issue 6: suggestions (the new-suggestion form checks its own token), penalties and rewards.
    Post("suggestion_new", "performance.new_suggestion", "technician", lambda s: "/suggestions/new",
         lambda s: {"title": "Forged idea?", "body": "Forged body."}, 422),
    Post("suggestion_decide", "performance.decide_suggestion", "supervisor",
         lambda s: f"/suggestions/{_suggestion_of(s).id}/decide", lambda s: {"decision": "adopted", "note": "Forged?"},
         400),
    Post("performance_decide", "performance.decide", "supervisor", lambda s: "/performance/decide",
         lambda s: _performance_decision(s), 400),
    # Issue 6: the quality watch (the acknowledge form checks its own token).
    Post("quality_acknowledge", "statistics.acknowledge", "supervisor",
         lambda s: f"/statistics/quality/{_quality_flag_id()}/acknowledge", lambda s: {"note": "Forged?"}, 422),
]


def _quality_flag_id() -> int:
    from tests.test_route_matrix import _quality_flag_id as open_flag

    return open_flag()


def _suggestion_of(s: Scene):
    from fieldservice.models import Suggestion

    suggestion = db.session.scalar(db.select(Suggestion))
    if suggestion is None:
        suggestion = Suggestion(author_id=s.technician.id, title="Idea", body="Stronger cartons.")
        db.session.add(suggestion)
        db.session.commit()
    return suggestion


def _performance_decision(s: Scene) -> dict:
    """Dismiss the scene technician's running-quarter reward candidate (policy 5.1)."""
    from fieldservice.blueprints.performance.operations import current_quarter

    quarter = current_quarter()
    return {"basis_key": f"5.1:{quarter}:user:{s.technician.id}", "quarter": quarter, "decision": "dismiss",
            "note": "Forged?"}


def _closable_by_hand(s: Scene, action: str) -> bool:
    """For "close": the resolved job without a pending follow-up call (as jobs resolved before
    issue 6 are); a job with one closes through its call (policy 2.1), not by hand."""
    if action == "close":
        db.session.execute(db.delete(FollowUp).where(FollowUp.job_id == s.job.id))
        db.session.commit()
    return True


def _complaint_of(s: Scene):
    from tests.test_route_matrix import _complaint

    return _complaint(s.job)


def _follow_up_of(s: Scene):
    from tests.test_route_matrix import _follow_up

    return _follow_up(s.job)


def _failed_inspection_of(s: Scene):
    from tests.test_route_matrix import _failed_inspection

    return _failed_inspection(s.job)


def _claim_of(s: Scene, state: str = "draft"):
    from tests.test_route_matrix import _claim

    return _claim(s.job, state)


def _claim_url(s: Scene, state: str, suffix: str) -> str:
    """The scene job's claim (opened by its technician) in `state`, and its URL + suffix."""
    return f"/claims/{_claim_of(s, state).id}{suffix}"


def _claim_photo_url(s: Scene) -> str:
    """The draft claim's evidence URL, with a photo of the job not yet given as evidence."""
    from tests.test_route_matrix import _new_photo

    url = _claim_url(s, "draft", "/evidence")
    _new_photo(s.job)
    return url


def _spare_photo_id(s: Scene) -> int:
    return db.session.scalar(db.select(db.func.max(Photo.id)).where(Photo.job_id == s.job.id))


def _inspection_url(s: Scene, suffix: str = "", answered: bool = False, submitted: bool = False) -> str:
    """The scene's job made a delivery inspection, with an inspection its technician started."""
    from tests.test_route_matrix import _delivery_job, _first_check, _inspection

    _delivery_job(s.job)
    if suffix == "start":
        return f"/jobs/{s.job.id}/inspection"
    inspection = _inspection(s.job, answered=answered, submitted=submitted)
    if suffix in ("answer", "photo"):
        return f"/inspections/{inspection.id}/checks/{_first_check(s.job).id}" + ("/photos" if suffix == "photo" else "")
    return f"/inspections/{inspection.id}/{suffix}"


def _png():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (60, 24), (0, 0, 0, 255)).save(out, "PNG")
    out.seek(0)
    return out


def _jpeg():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    out.seek(0)
    return out


def _submitted(s: Scene, suffix: str) -> str:
    from fieldservice.models import Diagnosis

    if db.session.scalar(db.select(Diagnosis.id).where(Diagnosis.job_id == s.job.id)) is None:
        db.session.add(Diagnosis(job=s.job, version=1, status="submitted", technician_id=s.job.technician_id,
                                 symptom="Stops", root_cause="Fuse", actions_taken="Replaced the fuse",
                                 outcome="fixed", contact_name="Wang", submitted_dt=s.job.created_dt))
        db.session.commit()
    return f"/jobs/{s.job.id}/diagnosis{suffix}"


def _checklist() -> int:
    """The checklist in use (a new version per accepted change shows in the audit count)."""
    from fieldservice.models import ChecklistItem, ChecklistTemplate

    template = db.session.scalar(db.select(ChecklistTemplate).where(ChecklistTemplate.active.is_(True)))
    if template is None:
        template = ChecklistTemplate(name="delivery", version=1, active=True, items=[
            ChecklistItem(position=0, code="model_matches", label_en="Model matches", label_zh="型号一致")])
        db.session.add(template)
        db.session.commit()
    return template.id


def _category_id() -> int:
    from fieldservice.models import FaultCategory

    category = db.session.scalar(db.select(FaultCategory).where(FaultCategory.code == "csrf_group"))
    if category is None:
        category = FaultCategory(code="csrf_group", name_en="CSRF", name_zh="跨站")
        db.session.add(category)
        db.session.commit()
    return category.id


@pytest.fixture(autouse=True)
def _object_storage(s3_app):
    """Signatures and photos go to a real SeaweedFS."""


def test_every_post_route_is_covered(app):
    posting = {r.endpoint for r in app.url_map.iter_rules() if "POST" in r.methods}
    assert posting == {p.endpoint for p in POSTS}


@pytest.fixture
def scene(make) -> Callable[[str], Scene]:
    def build(job_state: str) -> Scene:
        dispatcher = make.user("dispatcher")
        technician = make.user("technician")
        other = make.user("technician")
        job = make.job(job_state, technician=technician, dispatcher=dispatcher)
        escalated = make.job("escalated", technician=technician, dispatcher=dispatcher)
        return Scene(dispatcher, technician, other, job, escalated)

    return build


def client_for(post: Post, s: Scene, app, login, make) -> Client:
    if post.who == "anonymous":
        app.test_client_class = Client
        c = app.test_client()
        c.fetch_csrf("/login")
        return c
    user = {"dispatcher": s.dispatcher, "technician": s.technician}.get(post.who) or make.user(post.who)
    return login(user)


def snapshot() -> dict:
    """Everything a POST could change, read fresh from the database."""
    db.session.expire_all()
    return {
        "jobs": db.session.execute(
            db.select(Job.id, Job.status, Job.version, Job.technician_id).order_by(Job.id)).all(),
        "audit": db.session.scalar(db.select(db.func.count(AuditEvent.id))),
        "customers": db.session.scalar(db.select(db.func.count(Customer.id))),
        "escalations": db.session.execute(
            db.select(Escalation.id, Escalation.decided_dt, Escalation.decision).order_by(Escalation.id)).all(),
        "users": db.session.execute(
            db.select(User.id, User.session_version, User.locale, User.active).order_by(User.id)).all(),
        "login_failures": db.session.scalar(db.select(db.func.count(LoginFailure.id))),
        "diagnoses": db.session.execute(
            db.select(Diagnosis.id, Diagnosis.status, Diagnosis.symptom, Diagnosis.signature_key)
            .order_by(Diagnosis.id)).all(),
        "parts": db.session.scalar(db.select(db.func.count(ReplacedPart.id))),
        "photos": db.session.scalar(db.select(db.func.count(Photo.id))),
        "inspection_checks": db.session.execute(
            db.select(InspectionCheck.id, InspectionCheck.answer, InspectionCheck.note).order_by(InspectionCheck.id)).all(),
        "categories": db.session.execute(
            db.select(FaultCategory.id, FaultCategory.code, FaultCategory.active).order_by(FaultCategory.id)).all(),
        "claims": db.session.execute(
            db.select(Claim.id, Claim.status, Claim.version, Claim.appraisal).order_by(Claim.id)).all(),
        "claim_evidence": db.session.scalar(db.select(db.func.count(ClaimEvidence.id))),
        "claim_messages": db.session.scalar(db.select(db.func.count(ClaimMessage.id))),
        "complaints": db.session.execute(
            db.select(Complaint.id, Complaint.status, Complaint.answer).order_by(Complaint.id)).all(),
        "follow_ups": db.session.execute(
            db.select(FollowUp.id, FollowUp.status, FollowUp.attempts, FollowUp.satisfaction).order_by(FollowUp.id)).all(),
    }


def signed_in(c: Client) -> bool:
    response = c.get("/")
    return not (response.status_code in (302, 303) and "/login" in response.headers["Location"])


def _cases():
    for post in POSTS:
        for mode in ("page", "htmx"):
            yield pytest.param(post, mode, id=f"{post.name}-{mode}")


@pytest.mark.parametrize("post, mode", list(_cases()))
@pytest.mark.parametrize("token", ["missing", "forged", "other-session"])
def test_post_without_a_valid_token_is_refused_and_changes_nothing(app, login, make, scene, post, mode, token):
    s = scene(post.job_state)
    c = client_for(post, s, app, login, make)
    was_signed_in = post.who != "anonymous"
    url = post.url(s)  # may set up records the post needs, before the snapshot
    before = snapshot()
    data = post.data(s)
    headers = {"HX-Request": "true", "HX-Target": f"job-card-{s.job.id}"} if mode == "htmx" else {}
    if token == "other-session":  # a real token, but of somebody else's session
        app.test_client_class = Client
        bad = app.test_client().fetch_csrf("/login")
    else:
        bad = {"missing": None, "forged": "IjEyMyI.forged.token"}[token]
    if bad is not None:
        if mode == "htmx":
            headers["X-CSRFToken"] = bad
        else:
            data["csrf_token"] = bad

    response = c.post(url, data=data, headers=headers)

    assert response.status_code == post.refused_with, response.get_data(as_text=True)[:400]
    assert snapshot() == before
    assert signed_in(c) == was_signed_in
    if post.refused_with == 400 and mode == "htmx":
        assert response.mimetype == "text/plain"  # a short message htmx shows, not a page
    if post.refused_with == 422:
        html = response.get_data(as_text=True)
        assert CSRF_RE.search(html), "the refused form comes back with a fresh token"


@pytest.mark.parametrize("post", POSTS, ids=[p.name for p in POSTS])
def test_the_same_post_with_the_body_token_is_accepted(app, login, make, scene, post):
    """The control for the test above: with a valid token the very same request goes through."""
    s = scene(post.job_state)
    c = client_for(post, s, app, login, make)
    url = post.url(s)
    before = snapshot()
    response = c.post_form(url, post.data(s))
    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)[:400]
    assert snapshot() != before or post.name == "login"
    if post.name == "login":
        assert signed_in(c)


@pytest.mark.parametrize("post", POSTS, ids=[p.name for p in POSTS])
def test_htmx_header_token_is_accepted(app, login, make, scene, post):
    """htmx sends the token in X-CSRFToken (base.html's hx-headers), not in the body."""
    s = scene(post.job_state)
    c = client_for(post, s, app, login, make)
    url = post.url(s)
    before = snapshot()
    data = post.data(s)
    assert "csrf_token" not in data
    response = c.post(url, data=data, headers={
        "HX-Request": "true", "HX-Target": f"job-card-{s.job.id}", "X-CSRFToken": c.csrf})
    assert response.status_code in (200, 201, 204, 302, 303), response.get_data(as_text=True)[:400]
    if post.name == "login":
        assert signed_in(c)
    else:
        assert snapshot() != before


def test_htmx_assign_with_header_token_updates_the_card(app, login, make):
    dispatcher = make.user("dispatcher")
    tech = make.user("technician")
    job = make.job("new", dispatcher=dispatcher)
    c = login(dispatcher)
    response = c.post_form(f"/jobs/{job.id}/assign", {"technician_id": str(tech.id), "version": str(job.version)},
                           htmx_target=f"job-card-{job.id}")
    assert response.status_code == 200
    assert f'id="job-card-{job.id}"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Job, job.id).technician_id == tech.id


# --- an expired form ---------------------------------------------------------------------


class TestExpiredForm:
    @pytest.fixture
    def app_config(self) -> dict:
        return {"WTF_CSRF_TIME_LIMIT": 1}

    def _token(self, html: str) -> str:
        match = re.search(r'<input id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)">', html)
        assert match, "the request form has its own token field"
        return match.group(1)

    def test_expired_request_form_comes_back_filled_in_with_a_fresh_token(self, app, login, make):
        dispatcher = make.user("dispatcher")
        c = login(dispatcher)
        c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        page = c.get("/requests/new")
        assert page.status_code == 200
        old_token = self._token(page.get_data(as_text=True))
        time.sleep(2.1)
        data = {
            "csrf_token": old_token, "customer_name": "Expired Form Bakery", "customer_phone": "021 5555 0199",
            "customer_address": "7 Slow Lane", "customer_region": str(dispatcher.region_id),
            "request_type": "fault_repair", "priority": "urgent",
            "description": "Oven door will not close; typed before lunch.",
        }
        jobs_before = snapshot()["jobs"]

        response = c.post("/requests/new", data=data)

        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "Oven door will not close; typed before lunch." in html
        assert 'value="Expired Form Bakery"' in html
        assert "The form had expired" in html
        assert "errors/error" not in html and "Bad request" not in html
        fresh = self._token(html)
        assert fresh != old_token
        assert snapshot()["jobs"] == jobs_before

        # The fresh token works: the same values, sent again at once, log the request.
        response = c.post("/requests/new", data={**data, "csrf_token": fresh})
        assert response.status_code == 303, response.get_data(as_text=True)[:400]
        db.session.expire_all()
        job = db.session.scalar(db.select(Job).order_by(Job.id.desc()))
        assert job.description == "Oven door will not close; typed before lunch."
        assert job.customer.name == "Expired Form Bakery"
        assert response.headers["Location"].endswith(f"/jobs/{job.id}")

    def test_expired_htmx_request_form_is_swapped_back_in(self, app, login, make):
        dispatcher = make.user("dispatcher")
        c = login(dispatcher)
        c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        old_token = self._token(c.get("/requests/new").get_data(as_text=True))
        time.sleep(2.1)
        response = c.post("/requests/new", data={
            "csrf_token": old_token, "customer_name": "Htmx Expired Co", "customer_phone": "021 5555 0198",
            "customer_address": "8 Slow Lane", "customer_region": str(dispatcher.region_id),
            "request_type": "inquiry", "priority": "low", "description": "Typed on a slow phone.",
        }, headers={"HX-Request": "true", "HX-Target": "request-form", "X-CSRFToken": old_token})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert 'id="request-form"' in html and "<html" not in html  # the fragment, not a page
        assert "Typed on a slow phone." in html and "The form had expired" in html
        assert self._token(html) != old_token

    def test_expired_token_on_a_plain_action_is_refused(self, app, login, make):
        """Outside the form routes an expired token is a 400 and nothing changes."""
        dispatcher = make.user("dispatcher")
        tech = make.user("technician")
        job = make.job("new", dispatcher=dispatcher)
        c = login(dispatcher)
        time.sleep(2.1)
        response = c.post_form(f"/jobs/{job.id}/assign", {"technician_id": str(tech.id), "version": str(job.version)})
        assert response.status_code == 400
        db.session.expire_all()
        assert db.session.get(Job, job.id).status == "new"
