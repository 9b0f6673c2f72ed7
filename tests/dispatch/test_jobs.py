"""Dispatch: logging requests, deadlines, assignment, the technician's steps and escalation."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from fieldservice.blueprints.dispatch import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Escalation, Job, utcnow
from fieldservice.services.lifecycle import TransitionError


def audit_actions(job_id: int) -> list[str]:
    return list(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "job", AuditEvent.entity_id == job_id)
        .order_by(AuditEvent.id)))


def request_form(**overrides) -> dict:
    data = {
        "customer_name": "Harbin Boilers", "customer_phone": "0451 555 0199",
        "customer_address": "8 Songhua Road, Harbin", "customer_region": "",
        "product_model": "PX-200", "product_serial": "PX200-77", "made_by_us": "y",
        "coverage_end_date": "", "request_type": "fault_repair", "priority": "urgent",
        "description": "Press stops after ten minutes.",
    }
    data.update(overrides)
    return data


def test_dispatcher_logs_a_request_for_a_new_customer_and_it_gets_an_arrival_deadline(login, make):
    dispatcher = login("dispatcher")
    region = make.region("north")
    before = utcnow()
    response = dispatcher.post_form("/requests/new", request_form(customer_region=str(region.id)))
    assert response.status_code == 303
    job = db.session.scalar(select(Job))
    assert response.headers["Location"].endswith(f"/jobs/{job.id}")
    assert job.status == "new" and job.customer.name == "Harbin Boilers"
    assert job.region_id == region.id
    # urgent: 4 hours by default (policy 3.2)
    assert timedelta(hours=4) <= job.arrival_deadline_dt - before < timedelta(hours=4, minutes=1)
    assert audit_actions(job.id) == ["created"]
    page = dispatcher.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert job.reference in page and "Request logged" in page


def test_expired_service_contract_never_blocks_service(login, make):
    """Policy 3.4: the end date is recorded and shown, the request is logged anyway."""
    dispatcher = login("dispatcher")
    customer = make.customer()
    ended = (date.today() - timedelta(days=400)).isoformat()
    response = dispatcher.post_form("/requests/new", request_form(
        customer_id=str(customer.id), coverage_end_date=ended, made_by_us=""))
    assert response.status_code == 303
    job = db.session.scalar(select(Job))
    assert job.product.coverage_end_date.isoformat() == ended
    assert job.product.made_by_us is False
    page = dispatcher.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "serve anyway" in page and "Not our product" in page


def test_bad_request_form_rerenders_in_place_with_values_and_changes_nothing(login, make):
    dispatcher = login("dispatcher")
    make.region("north")
    response = dispatcher.post_form("/requests/new", request_form(description="", customer_address=""),
                                    htmx_target="request-form")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<form id="request-form"')  # only the fragment
    assert "Harbin Boilers" in html and "Describe the request." in html
    assert "Needed for a new customer." in html
    assert db.session.scalar(select(func.count(Job.id))) == 0


def test_customer_search_finds_by_name_and_by_phone(login, make):
    dispatcher = login("dispatcher")
    make.customer("Tianjin Port Logistics", phone="022 2555 0102")
    make.customer("Beijing Printing", phone="010 6555 0101")
    by_name = dispatcher.htmx_get("/customers/search?q=tianjin", "customer-matches").get_data(as_text=True)
    by_phone = dispatcher.htmx_get("/customers/search?q=6555", "customer-matches").get_data(as_text=True)
    assert "Tianjin Port Logistics" in by_name and "Beijing" not in by_name
    assert "Beijing Printing" in by_phone and "Tianjin" not in by_phone


def test_unassigned_queue_lists_earliest_deadline_first_and_filters_by_region(login, make):
    dispatcher = login("dispatcher")
    low = make.job(priority="low")
    urgent = make.job(priority="urgent")
    south = make.job(priority="high", customer=make.customer(region="south"))
    html = dispatcher.get("/dispatch/queue").get_data(as_text=True)
    order = [html.index(j.reference) for j in (urgent, south, low)]
    assert order == sorted(order)
    north_id = make.region("north").id
    only_north = dispatcher.htmx_get(f"/dispatch/queue?region={north_id}", "queue-results").get_data(as_text=True)
    assert urgent.reference in only_north and south.reference not in only_north


def test_assign_from_the_queue_swaps_the_card(login, make):
    dispatcher = login("dispatcher")
    tech = make.user("technician", display_name="Li Ming")
    job = make.job()
    response = dispatcher.post_form(f"/jobs/{job.id}/assign", {"technician_id": tech.id, "version": job.version},
                                    htmx_target=f"job-card-{job.id}")
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "job-updated"
    assert f'id="job-card-{job.id}"' in response.get_data(as_text=True)
    db.session.refresh(job)
    assert (job.status, job.technician_id) == ("assigned", tech.id)


def test_stale_assignment_tells_who_assigned_it_to_whom(login, make):
    first = login("dispatcher", display_name="Wang Fang")
    second = login("dispatcher", display_name="Zhou Lan")
    tech_a = make.user("technician", display_name="Li Ming")
    tech_b = make.user("technician", display_name="Zhao Lei")
    job = make.job()
    seen = job.version
    assert first.post_form(f"/jobs/{job.id}/assign", {"technician_id": tech_a.id, "version": seen},
                           htmx_target=f"job-card-{job.id}").status_code == 200
    late = second.post_form(f"/jobs/{job.id}/assign", {"technician_id": tech_b.id, "version": seen},
                            htmx_target=f"job-card-{job.id}")
    assert late.status_code == 409
    text = late.get_data(as_text=True)
    assert "Wang Fang" in text and "Li Ming" in text
    db.session.refresh(job)
    assert job.technician_id == tech_a.id
    assert audit_actions(job.id).count("assign") == 1


def test_technician_moves_the_job_on_site_and_history_records_each_step(login, make):
    tech = login("technician", display_name="Li Ming")
    job = make.job("assigned", technician=tech.user)
    card = f"job-card-{job.id}"
    for action in ("start_travel", "check_in"):
        response = tech.post_form(f"/jobs/{job.id}/{action}", {"request_key": f"key-{action}"}, htmx_target=card)
        assert response.status_code == 200, response.get_data(as_text=True)
    db.session.refresh(job)
    assert job.status == "on_site"
    assert job.checked_in_dt is not None and job.late is False
    assert audit_actions(job.id) == ["created", "assign", "start_travel", "check_in"]
    history = tech.get(f"/jobs/{job.id}").get_data(as_text=True)
    for label in ("Started travel", "Checked in on site"):
        assert label in history
    assert history.count("Li Ming") >= 2


def test_only_a_submitted_record_resolves_a_job_not_a_bare_button(login, make):
    """Policy 3.10: every service is recorded in the ledger, so a technician on site resolves the job
    by submitting its diagnosis (or inspection); a crafted or stale "resolve" POST is refused."""
    tech = login("technician")
    job = make.job("on_site", technician=tech.user)
    card = tech.get("/my-jobs").get_data(as_text=True)
    assert f'/jobs/{job.id}/resolve' not in card and f'href="/jobs/{job.id}/diagnosis"' in card
    response = tech.post_form(f"/jobs/{job.id}/resolve", {"request_key": "k-bare", "reason": "Fixed it."},
                              htmx_target=f"job-card-{job.id}")
    assert response.status_code == 422
    assert "Submit the job&#39;s diagnosis or inspection record" in response.get_data(as_text=True)
    db.session.refresh(job)
    assert job.status == "on_site" and job.resolution_note is None
    assert audit_actions(job.id) == ["created", "assign", "start_travel", "check_in"]
    # A lifecycle step is taken by hand unless the caller says it comes from a submitted record.
    with pytest.raises(TransitionError):
        ops.transition_job(job, "resolve", tech.user, None, reason="Fixed it.")
    db.session.rollback()
    assert db.session.get(Job, job.id).status == "on_site"


def test_a_repeated_transition_is_applied_once(login, make):
    tech = login("technician")
    job = make.job("assigned", technician=tech.user)
    first = tech.post_form(f"/jobs/{job.id}/start_travel", {"request_key": "tap-1"})
    again = tech.post_form(f"/jobs/{job.id}/start_travel", {"request_key": "tap-1"})
    assert first.status_code == 303 and again.status_code == 303
    db.session.refresh(job)
    assert job.status == "en_route"
    assert audit_actions(job.id).count("start_travel") == 1


def test_an_illegal_transition_is_refused_with_a_clear_message(login, make):
    tech = login("technician")
    job = make.job("assigned", technician=tech.user)
    response = tech.post_form(f"/jobs/{job.id}/resolve", {"request_key": "k1"}, htmx_target=f"job-card-{job.id}")
    assert response.status_code == 422
    assert "This cannot be done while the job is Assigned." in response.get_data(as_text=True)
    db.session.refresh(job)
    assert job.status == "assigned" and audit_actions(job.id) == ["created", "assign"]


def test_check_in_after_the_deadline_marks_the_job_late(login, make):
    """Policy 4.1: arriving after the arrival deadline is recorded."""
    tech = login("technician")
    job = make.job("en_route", technician=tech.user, priority="urgent", created_ago=timedelta(hours=5))
    tech.post_form(f"/jobs/{job.id}/check_in", {"request_key": "k-late"})
    db.session.refresh(job)
    assert job.status == "on_site" and job.late is True
    assert "Late arrival" in tech.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_technician_escalates_supervisor_decides_and_the_job_goes_on(login, make):
    """Policy 3.1: what cannot be solved alone is escalated and decided by a supervisor."""
    tech = login("technician")
    job = make.job("on_site", technician=tech.user)
    refused = tech.post_form(f"/jobs/{job.id}/escalate", {"request_key": "e0", "reason": " "})
    assert refused.status_code == 303
    db.session.refresh(job)
    assert job.status == "on_site"  # a reason is required
    tech.post_form(f"/jobs/{job.id}/escalate", {"request_key": "e1", "reason": "Customer wants a new unit."})
    db.session.refresh(job)
    assert job.status == "escalated"
    supervisor = login("supervisor")
    queue = supervisor.get("/escalations").get_data(as_text=True)
    assert job.reference in queue and "Customer wants a new unit." in queue
    escalation = db.session.scalar(select(Escalation))
    response = supervisor.post_form(f"/escalations/{escalation.id}/decide",
                                    {"decision": "Replace the motor at our cost.", "request_key": "d1"})
    assert response.status_code == 303
    db.session.refresh(job)
    assert job.status == "on_site"
    assert audit_actions(job.id)[-2:] == ["escalate", "decide"]
    assert f'id="escalation-{escalation.id}"' not in supervisor.get("/escalations").get_data(as_text=True)


def test_decision_without_text_is_refused_and_keeps_the_job_escalated(login, make):
    job = make.job("escalated")
    supervisor = login("supervisor")
    escalation = db.session.scalar(select(Escalation))
    response = supervisor.post_form(f"/escalations/{escalation.id}/decide", {"decision": ""})
    assert response.status_code == 422
    db.session.refresh(job)
    assert job.status == "escalated"


def test_my_jobs_shows_deadline_address_phone_and_map_link(login, make):
    tech = login("technician")
    customer = make.customer("Shijiazhuang Textile", phone="0311 555 0103", address="5 Heping Road")
    job = make.job("assigned", technician=tech.user, customer=customer)
    other = make.job("assigned")
    html = tech.get("/my-jobs").get_data(as_text=True)
    assert job.reference in html and other.reference not in html
    assert 'href="tel:03115550103"' in html
    assert "5 Heping Road" in html and "openstreetmap.org/search?query=5%20Heping%20Road" in html
    assert re.search(r'class="deadline deadline-(ok|warning|overdue)"', html)


def test_board_shows_one_column_per_technician_of_the_region(login, make):
    dispatcher = login("dispatcher")
    north_tech = make.user("technician", display_name="North Tech", region="north")
    south_tech = make.user("technician", display_name="South Tech", region="south")
    job = make.job("assigned", technician=north_tech, priority="urgent")
    north = make.region("north")
    html = dispatcher.htmx_get(f"/dispatch/board?region={north.id}", "board-columns").get_data(as_text=True)
    assert html.lstrip().startswith('<div id="board-columns"')
    assert "North Tech" in html and "South Tech" not in html and job.reference in html
    tomorrow = (date.today() + timedelta(days=3)).isoformat()
    later = dispatcher.get(f"/dispatch/board?region={north.id}&day={tomorrow}").get_data(as_text=True)
    assert job.reference not in later
    assert south_tech.display_name not in later
    # After an assignment (HX-Trigger job-updated) the columns reload the same region and day, so a
    # reassigned card moves to its new technician's column.
    assert (f'hx-get="/dispatch/board?region={north.id}&amp;day={tomorrow}"\n'
            '     hx-trigger="job-updated from:body delay:1s" hx-swap="outerHTML"') in later
