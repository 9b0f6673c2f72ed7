"""The supervisor's penalties-and-rewards page, scorecards and the supervisor dashboard."""
from __future__ import annotations

from datetime import timedelta


from fieldservice.blueprints.performance import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, FaultCategory, FollowUp, PerformanceRecord, QualityFlag, utcnow
from tests.performance.conftest import AFTER_Q3, IN_Q3, Q3, complaint, late, suggestion
from tests.conftest import count_queries


def _counts():
    db.session.expire_all()
    return (db.session.scalar(db.select(db.func.count(PerformanceRecord.id))),
            db.session.scalar(db.select(db.func.count(AuditEvent.id))))


def _late_complaint(make, technician, when=None):
    job = late(make.job("resolved", technician=technician))
    return complaint(job, "late_arrival", when or utcnow() - timedelta(hours=2))


# --- /performance --------------------------------------------------------------------------


def test_supervisor_sees_the_quarters_candidates_by_technician_and_reading_writes_nothing(make, desk, tech, login):
    late_one = tech(display_name="Anna Late")
    tech(display_name="Bo Clean")
    c = _late_complaint(make, late_one)
    boss = login("supervisor")
    quarter = ops.current_quarter()
    before = _counts()

    page = boss.get("/performance").get_data(as_text=True)

    assert f"Penalties and rewards · {quarter}" in page
    assert "Anna Late" in page and "Bo Clean" in page
    assert f'id="candidate-4-1-complaint-{c.id}"' in page
    assert "2 candidates to decide" in page
    assert "Provisional" in page  # Bo's 5.1 while the quarter runs
    assert page.count('value="confirm"') == 1  # only the penalty may be confirmed now
    assert _counts() == before


def test_previous_and_next_quarter_links_and_a_bad_quarter_message(login):
    boss = login("supervisor")
    page = boss.get("/performance?quarter=2026-Q1").get_data(as_text=True)
    assert "quarter=2025-Q4" in page and "quarter=2026-Q2" in page
    response = boss.get("/performance?quarter=2026-Q7")
    assert response.status_code == 400
    assert "2026-Q7 is not a quarter" in response.get_data(as_text=True)


def test_confirming_in_place_swaps_the_card_and_reloads_the_decided_list(make, desk, tech, login):
    c = _late_complaint(make, tech())
    boss = login("supervisor")
    quarter = ops.current_quarter()
    key = f"4.1:complaint:{c.id}"
    data = {"basis_key": key, "quarter": quarter, "decision": "confirm", "severity": "moderate",
            "note": "Two hours late."}

    response = boss.post_form("/performance/decide", data, htmx_target=f"candidate-4-1-complaint-{c.id}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="candidate-4-1-complaint-{c.id}"' in html and "Decision recorded: final." in html
    assert "<html" not in html
    assert response.headers["HX-Trigger"] == "performance-decided"
    record = db.session.scalar(db.select(PerformanceRecord))
    assert (record.basis_key, record.status, record.severity, record.note) == (key, "confirmed", "moderate",
                                                                              "Two hours late.")
    decided = boss.htmx_get(f"/performance?quarter={quarter}", "performance-decided").get_data(as_text=True)
    assert decided.startswith('{#') is False and 'id="performance-decided"' in decided and "Two hours late." in decided
    assert "<html" not in decided

    again = boss.post_form("/performance/decide", {**data, "decision": "dismiss"},
                           htmx_target=f"candidate-4-1-complaint-{c.id}")
    assert again.status_code == 409
    assert "confirmed record is final" in again.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(PerformanceRecord.id))) == 1


def test_a_decision_without_its_note_comes_back_in_place_with_the_message(make, desk, tech, login):
    c = _late_complaint(make, tech())
    boss = login("supervisor")
    data = {"basis_key": f"4.1:complaint:{c.id}", "quarter": ops.current_quarter(), "decision": "confirm",
            "severity": "minor", "note": ""}
    before = _counts()

    fragment = boss.post_form("/performance/decide", data, htmx_target=f"candidate-4-1-complaint-{c.id}")
    assert fragment.status_code == 422
    html = fragment.get_data(as_text=True)
    assert "Write a note" in html and 'value="minor" selected' in html and "<html" not in html

    page = boss.post_form("/performance/decide", data)
    assert page.status_code == 422 and "Write a note" in page.get_data(as_text=True)
    assert _counts() == before


def test_a_decision_by_plain_form_redirects_to_the_quarter(make, desk, tech, login):
    c = _late_complaint(make, tech())
    boss = login("supervisor")
    quarter = ops.current_quarter()
    response = boss.post_form("/performance/decide", {"basis_key": f"4.1:complaint:{c.id}", "quarter": quarter,
                                                      "decision": "dismiss", "note": "Customer withdrew it."})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/performance?quarter={quarter}")


def test_confirming_a_running_quarters_reward_is_refused(tech, login):
    t = tech()
    boss = login("supervisor")
    quarter = ops.current_quarter()
    response = boss.post_form("/performance/decide", {"basis_key": f"5.1:{quarter}:user:{t.id}", "quarter": quarter,
                                                      "decision": "confirm", "severity": "minor", "note": "Clean."})
    assert response.status_code == 422
    assert "not over yet" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(PerformanceRecord.id))) == 0


# --- scorecards ----------------------------------------------------------------------------


def _decided_scene(make, tech, boss_user):
    """t has one confirmed penalty (Q3), one dismissed penalty (Q3) and a live candidate (now)."""
    t, other = tech(), tech()
    job = late(make.job("resolved", technician=t))
    confirmed = complaint(job, "late_arrival", IN_Q3)
    dismissed = complaint(job, "poor_communication", IN_Q3)
    _late_complaint(make, t)
    ops.decide_candidate(f"4.1:complaint:{confirmed.id}", Q3, "confirm", "serious", "Late for the third time.",
                         boss_user, now=AFTER_Q3)
    ops.decide_candidate(f"4.2:complaint:{dismissed.id}", Q3, "dismiss", "", "Phone network was down.",
                         boss_user, now=AFTER_Q3)
    db.session.commit()
    return t, other, confirmed, dismissed


def test_technician_sees_only_confirmed_records_on_their_own_scorecard(app, make, desk, tech, boss, login):
    t, _, confirmed, dismissed = _decided_scene(make, tech, boss)
    me = login(t)
    page = me.get("/performance/me").get_data(as_text=True)
    assert "My scorecard" in page
    assert "Late for the third time." in page and confirmed.reference in page
    assert "Phone network was down." not in page and dismissed.reference not in page
    assert "Decision" not in page and 'name="decision"' not in page  # no candidates, no forms


def test_technician_cannot_read_another_technicians_scorecard(make, desk, tech, boss, login):
    t, other, _, _ = _decided_scene(make, tech, boss)
    me = login(t)
    assert me.get(f"/performance/technicians/{other.id}").status_code == 404
    own = me.get(f"/performance/technicians/{t.id}")
    assert own.status_code == 302 and own.headers["Location"].endswith("/performance/me")
    assert me.get("/performance").status_code == 403


def test_supervisor_reads_any_technicians_scorecard(make, desk, tech, boss, login):
    t, _, _, _ = _decided_scene(make, tech, boss)
    supervisor = login(boss)
    page = supervisor.get(f"/performance/technicians/{t.id}").get_data(as_text=True)
    assert f"Scorecard of {t.display_name}" in page and "Late for the third time." in page
    assert supervisor.get(f"/performance/technicians/{desk.id}").status_code == 404  # not a technician
    assert supervisor.get("/performance/me").status_code == 302


def test_only_technicians_have_a_scorecard_page(login):
    assert login("dispatcher").get("/performance/me").status_code == 403
    assert login("reviewer").get("/performance/me").status_code == 403


# --- the supervisor dashboard --------------------------------------------------------------


def _follow_up(job) -> FollowUp:
    follow_up = db.session.scalar(db.select(FollowUp).where(FollowUp.job_id == job.id))
    if follow_up is None:
        follow_up = FollowUp(job_id=job.id, region_id=job.region_id, due_dt=utcnow())
        db.session.add(follow_up)
    return follow_up


def _dashboard_world(make, tech, n: int):
    """n of everything the dashboard counts, plus things it must not count."""
    now = utcnow()
    group = FaultCategory(code=f"grp{n}", name_en="Group", name_zh="组")
    db.session.add(group)
    db.session.flush()
    for i in range(n):
        t = tech()
        make.job("escalated", technician=t)
        job = make.job("resolved", technician=t)
        c = complaint(job, "poor_communication", now - timedelta(hours=1))  # 4.2 candidate
        c.escalated = True
        _follow_up(job).due_dt = now - timedelta(days=1)  # resolving the job created its call
        db.session.add(QualityFlag(product_model=f"PX-{n}-{i}", fault_category_id=group.id, iso_week="2026-W40",
                                   fault_count=6, model_total=8))
        suggestion(t, "proposed")
    _follow_up(make.job("resolved")).due_dt = now + timedelta(days=2)  # not overdue
    db.session.add(QualityFlag(product_model=f"ACK-{n}", fault_category_id=group.id, iso_week="2026-W40",
                               fault_count=6, model_total=8, acknowledged_dt=now))
    db.session.commit()


def test_dashboard_counts_what_waits_and_links_each_list(make, desk, tech, login):
    _dashboard_world(make, tech, 2)
    boss = login("supervisor")
    page = boss.get("/dashboard").get_data(as_text=True)
    # 2 technicians with a complaint each (4.2) and the resolved job's technician without (5.1).
    expected = {"escalations": 2, "repeated_complaints": 2, "overdue_follow_ups": 2, "quality_flags": 2,
                "performance_candidates": 3, "suggestions": 2}
    for key, count in expected.items():
        tile = page.split(f'id="count-{key}"', 1)[1].split("</a>", 1)[0]
        assert f'<span class="tile-count">{count}</span>' in tile, (key, tile)
    for path in ("/escalations", "/complaints/escalated", "/follow-ups", "/statistics/quality", "/performance",
                 "/suggestions?status=proposed"):
        assert f'href="{path}"' in page


def test_supervisor_starts_the_day_on_the_dashboard(login):
    boss = login("supervisor")
    response = boss.get("/")
    assert response.headers["Location"].endswith("/dashboard")
    for role in ("technician", "dispatcher", "reviewer"):
        assert login(role).get("/dashboard").status_code == 403


def test_dashboard_and_performance_page_use_a_constant_number_of_queries(make, desk, tech, login):
    boss = login("supervisor")
    _dashboard_world(make, tech, 1)
    for url in ("/dashboard", "/performance"):
        boss.get(url)  # warm up (session, templates)
    small = [count_queries(boss, url) for url in ("/dashboard", "/performance")]
    _dashboard_world(make, tech, 4)
    assert [count_queries(boss, url) for url in ("/dashboard", "/performance")] == small


def test_every_clause_reads_in_words_on_the_page(make, desk, tech, boss, login):
    """One candidate of each clause in 2026-Q3 (a past quarter: nothing is provisional)."""
    from tests.performance.conftest import claim, inspection

    a, b = tech(display_name="Anna"), tech(display_name="Bo")
    job = late(make.job("resolved", technician=a))
    late_one = complaint(job, "late_arrival", IN_Q3)
    talk = complaint(job, "poor_communication", IN_Q3)
    delivery = make.job("resolved", technician=a, request_type="delivery_inspection")
    site = inspection("site_delivery", b, "passed", IN_Q3, job=delivery)
    careless = complaint(delivery, "inspection_negligence", IN_Q3)
    receipt = inspection("centre_receipt", b, "passed", IN_Q3, customer=job.customer)
    paid = claim(receipt, job.customer, desk, "approved", IN_Q3)
    idea = suggestion(b, "adopted", IN_Q3, boss)
    clean = tech(display_name="Cai")

    page = login(boss).get(f"/performance?quarter={Q3}").get_data(as_text=True)

    assert (f"Complaint {late_one.reference} (late arrival) from {job.customer.name}; job {job.reference} was "
            "checked in after its arrival deadline.") in page
    assert f"Complaint {talk.reference} (poor communication)" in page
    assert f"Complaint {careless.reference} (delivery inspection negligence)" in page
    assert f"Delivery inspection {site.reference} by Bo." in page
    assert f"Claim {paid.reference} approved (800.00 CNY), though receipt inspection {receipt.reference}" in page
    assert f"No complaint about Cai in {Q3}." in page and "Provisional" not in page
    assert f"Suggestion {idea.reference} adopted: {idea.title}" in page
    assert page.count('value="confirm"') == 6  # 4.1, 4.2, 4.3 (b), 4.4 (b), 5.1 (Cai), 5.2 (b)
    assert clean.id
