"""Follow-up call pages (policy 2.1): the desk's call list and recording a call; a dissatisfied
answer opens a complaint in one step; the job page leads to the call instead of a manual close."""
from __future__ import annotations

from datetime import timedelta

import pytest

from fieldservice.blueprints.complaints import operations as ops
from fieldservice.extensions import db
from fieldservice.models import Complaint, FollowUp, Job, utcnow

ONE_DAY = timedelta(days=1)


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def due_in(follow_up: FollowUp, delta: timedelta) -> FollowUp:
    follow_up.due_dt = utcnow() + delta
    db.session.commit()
    return follow_up


def test_call_list_overdue_and_today_first_then_upcoming_with_tel_links(login, make, desk):
    later = ops.follow_up_of(make.job("resolved", customer=make.customer(name="Later Ltd", phone="010 1111 2222")))
    overdue = ops.follow_up_of(make.job("resolved", customer=make.customer(name="Overdue Ltd")))
    today = ops.follow_up_of(make.job("resolved", customer=make.customer(name="Today Ltd")))
    done = ops.follow_up_of(make.job("resolved", customer=make.customer(name="Done Ltd")))
    due_in(later, 5 * ONE_DAY)
    due_in(overdue, -2 * ONE_DAY)
    due_in(today, timedelta(seconds=1))  # TestConfig's zone is UTC: still today unless run at midnight
    ops.record_follow_up(done, "reached", 5, "", desk)
    db.session.commit()
    page = login(desk).get("/follow-ups").get_data(as_text=True)
    assert "Done Ltd" not in page
    assert page.index("Overdue Ltd") < page.index("Today Ltd") < page.index("Later Ltd")
    assert 'href="tel:01011112222"' in page
    assert page.count("Overdue</span>") == 1 and "Upcoming" in page


def test_call_list_region_filter_and_fragment(login, make, desk):
    north = make.job("resolved", customer=make.customer(name="North Co", region="north"))
    south = make.job("resolved", customer=make.customer(name="South Co", region="south"))
    c = login(desk)
    fragment = c.htmx_get(f"/follow-ups?region={south.region_id}", "follow-up-results").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="follow-up-results">')
    assert "South Co" in fragment and "North Co" not in fragment
    assert north.customer.name in c.get("/follow-ups").get_data(as_text=True)


def test_recording_a_reached_call_closes_the_job(login, make, desk):
    job = make.job("resolved")
    follow_up = ops.follow_up_of(job)
    c = login(desk)
    page = c.get(f"/follow-ups/{follow_up.id}").get_data(as_text=True)
    assert 'type="radio"' in page and 'name="satisfaction"' in page and "tel:" in page
    response = c.post_form(f"/follow-ups/{follow_up.id}", {"outcome": "reached", "satisfaction": "4",
                                                           "comments": "Works fine."})
    assert response.status_code == 303 and response.headers["Location"] == "/follow-ups"
    follow_up = fresh(FollowUp, follow_up.id)
    assert (follow_up.status, follow_up.satisfaction, follow_up.comments, follow_up.called_by_id) == (
        "done", 4, "Works fine.", desk.id)
    assert fresh(Job, job.id).status == "closed"
    again = c.post_form(f"/follow-ups/{follow_up.id}", {"outcome": "reached", "satisfaction": "1"},
                        htmx_target="follow-up-form")
    assert again.status_code == 409 and fresh(FollowUp, follow_up.id).satisfaction == 4


def test_no_answer_keeps_the_call_pending(login, make, desk):
    job = make.job("resolved")
    follow_up = ops.follow_up_of(job)
    response = login(desk).post_form(f"/follow-ups/{follow_up.id}", {"outcome": "no_answer"},
                                     htmx_target="follow-up-form")
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/follow-ups"
    follow_up = fresh(FollowUp, follow_up.id)
    assert (follow_up.status, follow_up.attempts) == ("pending", 1) and fresh(Job, job.id).status == "resolved"


@pytest.mark.parametrize("data, message", [
    ({"outcome": "reached", "satisfaction": "0"}, "from 1 to 5"),
    ({"outcome": "reached", "satisfaction": "6"}, "from 1 to 5"),
    ({"outcome": "reached"}, "from 1 to 5"),
    ({"outcome": "maybe", "satisfaction": "3"}, "reached"),
    ({"outcome": "reached", "satisfaction": "4", "open_complaint": "y", "complaint_category": "behaviour",
      "complaint_description": "Rude."}, "dissatisfied"),
    ({"outcome": "reached", "satisfaction": "1", "open_complaint": "y", "complaint_category": "rudeness",
      "complaint_description": "Rude."}, "Not a valid choice"),
    ({"outcome": "reached", "satisfaction": "1", "open_complaint": "y", "complaint_category": "behaviour"},
     "Describe the complaint"),
])
def test_bad_call_forms_come_back_in_place_and_change_nothing(login, make, desk, data, message):
    job = make.job("resolved")
    follow_up = ops.follow_up_of(job)
    response = login(desk).post_form(f"/follow-ups/{follow_up.id}", {"comments": "Kept words", **data},
                                     htmx_target="follow-up-form")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    assert body.lstrip().startswith('<div id="follow-up-form">') and "Kept words" in body
    follow_up = fresh(FollowUp, follow_up.id)
    assert (follow_up.status, follow_up.attempts, follow_up.satisfaction) == ("pending", 0, None)
    assert fresh(Job, job.id).status == "resolved"
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


def test_dissatisfied_call_opens_a_complaint_in_one_step(login, make, desk):
    job = make.job("resolved")
    follow_up = ops.follow_up_of(job)
    c = login(desk)
    response = c.post_form(f"/follow-ups/{follow_up.id}", {
        "outcome": "reached", "satisfaction": "2", "comments": "Unhappy.", "open_complaint": "y",
        "complaint_category": "fault_not_fixed", "complaint_description": "Leaks again after a day."})
    assert response.status_code == 303
    complaint = db.session.scalar(db.select(Complaint))
    assert response.headers["Location"] == f"/complaints/{complaint.id}"
    assert (complaint.follow_up_id, complaint.job_id, complaint.category, complaint.escalated) == (
        follow_up.id, job.id, "fault_not_fixed", False)
    assert fresh(Job, job.id).status == "closed"
    page = c.get(f"/complaints/{complaint.id}").get_data(as_text=True)
    assert "Leaks again after a day." in page and "From the follow-up call" in page


def test_dissatisfied_call_repeating_a_complaint_is_escalated(login, make, desk):
    job = make.job("resolved")
    ops.log_complaint(job.customer, "late_arrival", "Late.", desk, job=job)
    db.session.commit()
    c = login(desk)
    response = c.post_form(f"/follow-ups/{ops.follow_up_of(job).id}", {
        "outcome": "reached", "satisfaction": "1", "open_complaint": "y",
        "complaint_category": "fault_not_fixed", "complaint_description": "Still broken."})
    assert response.status_code == 303
    complaint = db.session.scalar(db.select(Complaint).where(Complaint.follow_up_id.is_not(None)))
    assert complaint.escalated
    assert "escalated" in c.get(response.headers["Location"]).get_data(as_text=True)


def test_manual_close_of_a_job_with_a_pending_call_is_refused(login, make, desk):
    job = make.job("resolved")
    c = login(desk)
    page = c.get(f"/jobs/{job.id}").get_data(as_text=True)
    follow_up = ops.follow_up_of(job)
    assert f"/follow-ups/{follow_up.id}" in page and f"/jobs/{job.id}/close" not in page
    crafted = c.post_form(f"/jobs/{job.id}/close", {"request_key": "k1"}, htmx_target="job-panel")
    assert crafted.status_code == 422 and "Record the follow-up call first" in crafted.get_data(as_text=True)
    assert fresh(Job, job.id).status == "resolved"


def test_a_resolved_job_without_a_call_can_still_be_closed_by_hand(login, make, desk):
    """Jobs resolved before follow-up calls existed have none: the desk closes them as before."""
    job = make.job("resolved")
    db.session.delete(ops.follow_up_of(job))
    db.session.commit()
    c = login(desk)
    assert f"/jobs/{job.id}/close" in c.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert c.post_form(f"/jobs/{job.id}/close", {"request_key": "k2"}).status_code in (200, 303)
    assert fresh(Job, job.id).status == "closed"
