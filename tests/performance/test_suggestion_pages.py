"""Suggestion pages (policy 3.11): every member of staff reads and submits; a supervisor decides."""
from __future__ import annotations

from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Suggestion
from tests.performance.conftest import suggestion


def test_a_technician_submits_a_suggestion_and_lands_on_it(login):
    me = login("technician")
    response = me.post_form("/suggestions/new", {"title": "Stronger corner protectors",
                                                 "body": "Three cartons crushed this week.", "product_model": "PX-200"})
    assert response.status_code == 303
    s = db.session.scalar(db.select(Suggestion))
    assert response.headers["Location"].endswith(f"/suggestions/{s.id}")
    assert (s.title, s.author_id, s.product_model, s.status) == ("Stronger corner protectors", me.user.id, "PX-200",
                                                                 "proposed")
    page = me.get(f"/suggestions/{s.id}").get_data(as_text=True)
    assert "Three cartons crushed this week." in page and "Awaiting a supervisor" in page
    assert 'name="decision"' not in page  # no decide form for a technician


def test_a_suggestion_with_errors_comes_back_in_place_with_the_entries(login):
    me = login("dispatcher")
    data = {"title": "", "body": "Kept text", "claim_reference": "C000999"}
    fragment = me.post_form("/suggestions/new", data, htmx_target="suggestion-form")
    assert fragment.status_code == 422
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and 'id="suggestion-form"' in html
    assert "Give the suggestion a short title." in html and "Kept text" in html
    page = me.post_form("/suggestions/new", {**data, "title": "Title"})
    assert page.status_code == 422 and "No claim C000999 that you can see" in page.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Suggestion.id))) == 0


def test_htmx_submission_loads_the_new_suggestion_as_a_page(login):
    me = login("reviewer")
    response = me.post_form("/suggestions/new", {"title": "T", "body": "B"}, htmx_target="suggestion-form")
    s = db.session.scalar(db.select(Suggestion))
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/suggestions/{s.id}"


def test_the_list_filters_by_status_and_pages(app, make, login):
    t = make.user("technician")
    boss = make.user("supervisor")
    for _ in range(app.config["PAGE_SIZE"] + 1):
        suggestion(t, "proposed")
    adopted = suggestion(t, "adopted", decided=None, decided_by=boss)
    adopted.title = "Adopted idea"
    db.session.commit()
    client = login("dispatcher")

    everything = client.get("/suggestions").get_data(as_text=True)
    assert f"{app.config['PAGE_SIZE'] + 2} suggestions" in everything and "Page 1 of 2" in everything
    only_adopted = client.htmx_get("/suggestions?status=adopted", "suggestion-results").get_data(as_text=True)
    assert "1 suggestion" in only_adopted and "Adopted idea" in only_adopted and "<html" not in only_adopted
    second = client.get("/suggestions?status=proposed&page=2").get_data(as_text=True)
    assert f"{app.config['PAGE_SIZE'] + 1} suggestions" in second and "Page 2 of 2" in second


def test_supervisor_decides_in_place_and_the_decision_is_final(make, login):
    s = suggestion(make.user("technician"))
    boss = login("supervisor")
    events = db.session.scalar(db.select(db.func.count(AuditEvent.id)))

    missing = boss.post_form(f"/suggestions/{s.id}/decide", {"decision": "adopted", "note": ""},
                             htmx_target="suggestion-decision")
    assert missing.status_code == 422 and "Write a note" in missing.get_data(as_text=True)

    done = boss.post_form(f"/suggestions/{s.id}/decide", {"decision": "adopted", "note": "Factory agrees."},
                          htmx_target="suggestion-decision")
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "<html" not in html and f"Suggestion {s.reference} adopted." in html and "Factory agrees." in html
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == events + 1

    again = boss.post_form(f"/suggestions/{s.id}/decide", {"decision": "not_adopted", "note": "No."})
    assert again.status_code == 409 and "final" in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Suggestion, s.id).status == "adopted"


def test_only_a_supervisor_decides(make, login):
    s = suggestion(make.user("technician"))
    for role in ("technician", "dispatcher", "reviewer"):
        response = login(role).post_form(f"/suggestions/{s.id}/decide", {"decision": "adopted", "note": "Yes."})
        assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Suggestion, s.id).status == "proposed"
