"""Complaint and follow-up pages (policy 2.1, 2.6, 3.5): the desk logs, answers and closes
complaints and records calls; the supervisor works the repeat queue; technicians and reviewers
are kept out; lists cost a constant number of queries."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from fieldservice.blueprints.complaints import operations as ops
from fieldservice.extensions import db
from fieldservice.models import Complaint, ComplaintLink, FollowUp, Job, utcnow
from tests.complaints.conftest import diagnose, fault
from tests.conftest import count_queries

PAGES = ["/complaints", "/complaints/new", "/follow-ups"]


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def complaint_id_from(response) -> int:
    return int(re.search(r"/complaints/(\d+)$", response.headers["Location"]).group(1))


def logged(customer, actor, ago=timedelta(hours=1), **kw) -> Complaint:
    complaint = ops.log_complaint(customer, kw.pop("category", "behaviour"), kw.pop("text", "Rude on the phone."),
                                  actor, now=utcnow() - ago, **kw)
    db.session.commit()
    return complaint


# --- roles -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["technician", "reviewer"])
def test_technicians_and_reviewers_get_403_everywhere(login, make, role, desk):
    job = make.job("resolved")
    complaint = logged(job.customer, desk, job=job)
    follow_up = ops.follow_up_of(job)
    c = login(role)
    for url in [*PAGES, "/complaints/escalated", f"/complaints/{complaint.id}", f"/follow-ups/{follow_up.id}"]:
        assert c.get(url).status_code == 403, url
    assert c.post_form(f"/complaints/{complaint.id}/close", {"answer": "Done."}).status_code == 403
    assert c.post_form(f"/follow-ups/{follow_up.id}", {"outcome": "reached", "satisfaction": "5"}).status_code == 403
    assert fresh(Complaint, complaint.id).status == "open" and fresh(FollowUp, follow_up.id).status == "pending"


def test_the_repeat_queue_is_for_supervisors_only(login):
    assert login("dispatcher").get("/complaints/escalated").status_code == 403
    assert login("supervisor").get("/complaints/escalated").status_code == 200


# --- logging -----------------------------------------------------------------------------


def test_log_a_complaint_from_the_job_page_prefilled(login, make, desk):
    technician = make.user("technician", display_name="Li Ming")
    job = make.job("resolved", technician=technician)
    diagnose(job, fault("leak"))
    c = login(desk)
    page = c.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/complaints/new?job={job.id}" in page and "Record the follow-up call" in page
    form = c.get(f"/complaints/new?job={job.id}").get_data(as_text=True)
    assert job.customer.name in form and "Li Ming" in form and "PX-200" in form and "Fault leak" in form
    response = c.post_form(f"/complaints/new?job={job.id}",
                           {"job_id": str(job.id), "category": "late_arrival", "description": "Came two hours late."})
    assert response.status_code == 303
    complaint = fresh(Complaint, complaint_id_from(response))
    assert (complaint.job_id, complaint.customer_id, complaint.technician_id, complaint.category,
            complaint.logged_by_id, complaint.escalated) == (job.id, job.customer_id, technician.id, "late_arrival",
                                                             desk.id, False)
    shown = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "Complaint %s logged." % complaint.reference in shown and "Came two hours late." in shown
    assert complaint.reference in c.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_a_repeat_is_flashed_as_escalated_and_lands_in_the_supervisor_queue(login, make, desk, boss):
    job = make.job("resolved")
    first = logged(job.customer, desk, ago=timedelta(days=30), job=job)
    c = login(desk)
    response = c.post_form("/complaints/new", {"job_id": str(job.id), "category": "fault_not_fixed",
                                               "description": "Same fault again."})
    assert response.status_code == 303
    repeat = fresh(Complaint, complaint_id_from(response))
    assert repeat.escalated
    assert "escalated" in c.get(response.headers["Location"]).get_data(as_text=True)
    queue = login(boss).get("/complaints/escalated").get_data(as_text=True)
    assert repeat.reference in queue and first.reference in queue
    assert queue.index(repeat.reference) < queue.index(first.reference)  # the earlier one listed under it


def test_log_a_complaint_for_a_customer_found_by_search(login, make, desk):
    customer = make.customer(name="Huaxin Printing", phone="010 6555 0101")
    make.customer(name="Other Mill")
    c = login(desk)
    matches = c.htmx_get("/complaints/new?q=Huaxin", "complaint-customer-matches").get_data(as_text=True)
    assert f"customer_id={customer.id}" in matches and "Other Mill" not in matches
    by_phone = c.get("/complaints/new?q=6555").get_data(as_text=True)  # without JavaScript: the whole page
    assert f"customer_id={customer.id}" in by_phone
    chosen = c.htmx_get(f"/complaints/new?customer_id={customer.id}", "complaint-customer").get_data(as_text=True)
    assert f'name="customer_id" value="{customer.id}"' in chosen and 'id="complaint-customer"' in chosen
    response = c.post_form("/complaints/new", {"customer_id": str(customer.id), "category": "poor_communication",
                                               "description": "Nobody called back."}, htmx_target="complaint-form")
    assert response.status_code == 204
    complaint = db.session.scalar(db.select(Complaint))
    assert response.headers["HX-Redirect"] == f"/complaints/{complaint.id}"
    assert (complaint.customer_id, complaint.job_id, complaint.region_id) == (customer.id, None, customer.region_id)


@pytest.mark.parametrize("data, message", [
    ({"category": "", "description": "Rude."}, "Choose what the complaint is about"),
    ({"category": "rudeness", "description": "Rude."}, "Not a valid choice"),
    ({"category": "behaviour", "description": "  "}, "Describe the complaint"),
    ({"category": "behaviour", "description": "Rude.", "customer_id": ""}, "Choose the customer"),
    ({"category": "behaviour", "description": "Rude.", "technician_id": "DISPATCHER"}, "Choose a field technician"),
])
def test_bad_complaint_forms_come_back_in_place_and_log_nothing(login, make, desk, data, message):
    customer = make.customer()
    data = {"customer_id": str(customer.id), **data}
    if data.get("technician_id") == "DISPATCHER":
        data["technician_id"] = str(desk.id)  # a crafted POST naming a non-technician
    c = login(desk)
    response = c.post_form("/complaints/new", data, htmx_target="complaint-form")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and body.lstrip().startswith("<form") and 'id="complaint-form"' in body
    if data["description"].strip():
        assert data["description"] in body  # the user's words are kept
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


def test_product_of_another_customer_is_refused(login, make, desk):
    job = make.job("resolved")
    stranger = make.customer()
    c = login(desk)
    response = c.post_form("/complaints/new", {"customer_id": str(stranger.id), "category": "behaviour",
                                               "description": "Rude.", "product_id": str(job.product_id)})
    assert response.status_code == 422 and "another customer" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


# --- the complaint page and closing ------------------------------------------------------


def test_answer_and_close_a_complaint_then_it_is_final(login, make, desk):
    complaint = logged(make.customer(), desk)
    c = login(desk)
    refused = c.post_form(f"/complaints/{complaint.id}/close", {"answer": " "}, htmx_target="complaint-close")
    assert refused.status_code == 422 and "Write what was done" in refused.get_data(as_text=True)
    assert fresh(Complaint, complaint.id).status == "open"
    response = c.post_form(f"/complaints/{complaint.id}/close", {"answer": "Apologised; retrained the technician."})
    assert response.status_code == 303 and response.headers["Location"] == f"/complaints/{complaint.id}"
    page = c.get(f"/complaints/{complaint.id}").get_data(as_text=True)
    assert "Apologised; retrained the technician." in page and "Answered and closed" in page
    again = c.post_form(f"/complaints/{complaint.id}/close", {"answer": "Changed my mind."}, htmx_target="complaint-close")
    assert again.status_code == 409 and "already closed" in again.get_data(as_text=True)
    assert fresh(Complaint, complaint.id).answer == "Apologised; retrained the technician."


def test_dispatcher_cannot_close_an_escalated_repeat_the_supervisor_can(login, make, desk, boss):
    job = make.job("resolved")
    first = logged(job.customer, desk, ago=timedelta(days=2), job=job)
    repeat = logged(job.customer, desk, job=job)
    c = login(desk)
    page = c.get(f"/complaints/{repeat.id}").get_data(as_text=True)
    assert "A supervisor answers and closes" in page and first.reference in page
    assert repeat.reference in c.get(f"/complaints/{first.id}").get_data(as_text=True)  # "repeated later by"
    refused = c.post_form(f"/complaints/{repeat.id}/close", {"answer": "Done."})
    assert refused.status_code == 422 and fresh(Complaint, repeat.id).status == "open"
    assert login(boss).post_form(f"/complaints/{repeat.id}/close", {"answer": "Replaced the unit."}).status_code == 303
    assert fresh(Complaint, repeat.id).closed_by_id == boss.id


def test_unknown_ids_answer_404(login):
    c = login("dispatcher")
    assert c.get("/complaints/999999").status_code == 404
    assert c.get("/follow-ups/999999").status_code == 404
    assert c.post_form("/complaints/999999/close", {"answer": "x"}).status_code == 404


# --- the list ----------------------------------------------------------------------------


def test_list_filters_and_oldest_open_first(login, make, desk):
    north, south = make.customer(region="north"), make.customer(region="south")
    old = logged(north, desk, ago=timedelta(days=5), category="late_arrival")
    new = logged(south, desk, ago=timedelta(days=1), category="behaviour")
    done = logged(north, desk, ago=timedelta(days=9), category="behaviour")
    ops.close_complaint(done, "Handled.", desk)
    job = make.job("resolved", customer=north)
    logged(north, desk, ago=timedelta(days=4), job=job, category="other")
    repeat = logged(north, desk, ago=timedelta(days=3), job=job, category="other")
    db.session.commit()
    c = login(desk)
    default = c.get("/complaints").get_data(as_text=True)
    assert done.reference not in default
    assert default.index(old.reference) < default.index(repeat.reference) < default.index(new.reference)
    closed = c.htmx_get("/complaints?status=closed", "complaint-results").get_data(as_text=True)
    assert closed.lstrip().startswith('<div id="complaint-results">') and done.reference in closed and old.reference not in closed
    everything = c.get("/complaints?status=all").get_data(as_text=True)
    assert everything.index(old.reference) < everything.index(done.reference)  # open before closed
    assert c.get("/complaints?category=behaviour").get_data(as_text=True).count("T0") == 1
    assert repeat.reference in c.get("/complaints?escalated=1").get_data(as_text=True)
    assert old.reference not in c.get("/complaints?escalated=1").get_data(as_text=True)
    south_only = c.get(f"/complaints?region={south.region_id}").get_data(as_text=True)
    assert new.reference in south_only and old.reference not in south_only


def test_lists_are_paginated(app, login, make, desk):
    app.config["PAGE_SIZE"] = 2
    customer = make.customer()
    complaints = [logged(customer, desk, ago=timedelta(days=10 - i), category="other") for i in range(3)]
    for _ in range(3):
        make.job("resolved")
    c = login(desk)
    first, second = c.get("/complaints").get_data(as_text=True), c.get("/complaints?page=2").get_data(as_text=True)
    assert [x.reference in first for x in complaints] == [True, True, False]
    assert [x.reference in second for x in complaints] == [False, False, True]
    assert "Page 1 of 2" in first and "page=2" in first
    calls = c.get("/follow-ups").get_data(as_text=True)
    assert calls.count('class="card follow-up-card') == 2 and "Page 1 of 2" in calls
    assert c.get("/follow-ups?page=2").get_data(as_text=True).count('class="card follow-up-card') == 1


def test_lists_cost_the_same_queries_at_10_and_200_rows(app, login, make, desk, boss):
    app.config["PAGE_SIZE"] = 500  # every row on one page, so rows really grow
    technician = make.user("technician")
    customers = [make.customer(region=r) for r in ("north", "south", "north")]
    job = make.job("resolved", technician=technician, customer=customers[0])
    first = logged(customers[0], desk, ago=timedelta(days=60), job=job)

    def add(n: int) -> None:
        now = utcnow()
        for i in range(n):
            customer = customers[i % len(customers)]
            complaint = Complaint(customer=customer, region_id=customer.region_id, job=job if i % 3 == 0 else None,
                                  technician=technician, category="behaviour", description="Rude.", status="open",
                                  logged_by_id=desk.id, logged_dt=now - timedelta(minutes=i), escalated=i % 2 == 0)
            db.session.add(complaint)
            db.session.flush()
            if complaint.escalated:
                db.session.add(ComplaintLink(complaint_id=complaint.id, earlier_id=first.id))
            db.session.add(FollowUp(job=job_for_follow_up(customer), region_id=customer.region_id,
                                    due_dt=now + timedelta(hours=i - n // 2)))
        db.session.commit()

    def job_for_follow_up(customer):
        new_job = Job(customer=customer, region_id=customer.region_id, request_type="fault_repair",
                      priority="normal", description="x", status="resolved", created_by_id=desk.id,
                      arrival_deadline_dt=utcnow(), technician_id=technician.id)
        db.session.add(new_job)
        return new_job

    urls = ["/complaints", "/complaints?status=all&escalated=1", "/follow-ups"]
    add(10)
    c, s = login(desk), login(boss)
    few = [count_queries(c, u) for u in urls] + [count_queries(s, "/complaints/escalated")]
    add(190)
    many = [count_queries(c, u) for u in urls] + [count_queries(s, "/complaints/escalated")]
    assert many == few
    assert c.get("/complaints").get_data(as_text=True).count('class="card complaint-card') == 201
    assert c.get("/follow-ups").get_data(as_text=True).count('class="card follow-up-card') == 201
