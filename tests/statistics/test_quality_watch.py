"""Quality watch (policy 2.4): a fault rising on one product model in a week is flagged, by
count or by share, until a supervisor acknowledges it; refreshing is idempotent."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from fieldservice.blueprints.diagnosis import operations as diagnosis_ops
from fieldservice.blueprints.statistics import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Diagnosis, QualityFlag
from fieldservice.models.diagnosis import DRAFT
from tests.statistics.conftest import MONDAY, NEXT_MONDAY, PREV_SUNDAY_LAST, SUNDAY_LAST, WEEK


def many(build, n, fault, model, when=MONDAY):
    for i in range(n):
        build.record(when + timedelta(hours=i), fault, model=model)


def keys(flags) -> set[tuple[str, str, int, int]]:
    return {(f.product_model, f.fault_category.code, f.fault_count, f.model_total) for f in flags}


@pytest.fixture
def rising(build, faults):
    """W10 with the default thresholds (count >= 5; or share >= 50 % with count >= 3):

    A: power 4, bearing 5 (total 9)  -> bearing by count; power 4/9 = 44 % is not enough
    B: power 3, wiring 3 (total 6)   -> both by share (exactly 50 %, exactly 3)
    C: power 2 (total 2)             -> 100 % but only 2: no flag
    D: power 3, bearing 4 (total 7)  -> bearing 57 % with 4; power 43 %: no flag
    Outside the week (no effect): A power on Sunday 23:59 of W09 and on Monday 00:00 of W11.
    """
    f = faults
    many(build, 4, f["power_supply"], "A")
    many(build, 5, f["bearing"], "A", when=SUNDAY_LAST - timedelta(hours=6))
    many(build, 3, f["power_supply"], "B")
    many(build, 3, f["wiring"], "B")
    many(build, 2, f["power_supply"], "C")
    many(build, 3, f["power_supply"], "D")
    many(build, 4, f["bearing"], "D")
    build.record(PREV_SUNDAY_LAST, f["power_supply"], model="A")
    build.record(NEXT_MONDAY, f["power_supply"], model="A")
    return f


def test_flags_by_count_and_by_share_hand_counted(rising):
    flags = ops.refresh_quality_flags(WEEK)
    db.session.commit()
    assert keys(flags) == {("A", "bearing", 5, 9), ("B", "power_supply", 3, 6), ("B", "wiring", 3, 6),
                           ("D", "bearing", 4, 7)}
    assert ops.open_quality_flags_count() == 4
    assert {f.iso_week for f in flags} == {WEEK}
    # The audit trail records each flag raised.
    assert db.session.scalar(select(db.func.count(AuditEvent.id)).where(
        AuditEvent.entity_type == "quality_flag", AuditEvent.action == "raise")) == 4


@pytest.mark.parametrize("app_config", [{"QUALITY_FLAG_MIN_COUNT": 4, "QUALITY_FLAG_MIN_SHARE": 0.6,
                                         "QUALITY_FLAG_SHARE_MIN_COUNT": 2}])
def test_thresholds_come_from_the_settings(app_config, rising):
    """count >= 4, or share >= 60 % with count >= 2: A power 4 and bearing 5, C power 2/2 (100 %),
    D bearing 4; B's 50 % is no longer enough."""
    assert keys(ops.refresh_quality_flags(WEEK)) == {("A", "power_supply", 4, 9), ("A", "bearing", 5, 9),
                                                     ("C", "power_supply", 2, 2), ("D", "bearing", 4, 7)}


def test_refreshing_again_changes_nothing_and_keeps_acknowledgements(rising, make, build):
    first = ops.refresh_quality_flags(WEEK)
    db.session.commit()
    ids = {f.id for f in first}
    assert {f.id for f in ops.refresh_quality_flags(WEEK)} == ids
    assert db.session.scalar(select(db.func.count(QualityFlag.id))) == 4
    supervisor = make.user("supervisor")
    flag = next(f for f in first if f.product_model == "A")
    ops.acknowledge_flag(flag, supervisor, "Told the factory about the bearings.")
    db.session.commit()
    # Two more bearing faults on A this week: the counts follow, the acknowledgement stays.
    many(build, 2, rising["bearing"], "A", when=MONDAY + timedelta(days=3))
    again = ops.refresh_quality_flags(WEEK)
    db.session.commit()
    assert {f.id for f in again} == ids
    db.session.refresh(flag)
    assert (flag.fault_count, flag.model_total) == (7, 11)
    assert flag.acknowledged_dt is not None and flag.note == "Told the factory about the bearings."
    assert ops.open_quality_flags_count() == 3


def test_a_flag_whose_records_were_corrected_away_is_withdrawn_unless_acknowledged(build, faults, make):
    f = faults
    records = [build.record(MONDAY + timedelta(hours=i), f["power_supply"], model="E") for i in range(3)]
    build.record(MONDAY, f["power_supply"], model="G")
    build.record(MONDAY, f["power_supply"], model="G")
    build.record(MONDAY, f["power_supply"], model="G")
    assert keys(ops.refresh_quality_flags(WEEK)) == {("E", "power_supply", 3, 3), ("G", "power_supply", 3, 3)}
    db.session.commit()
    g_flag = db.session.scalar(select(QualityFlag).where(QualityFlag.product_model == "G"))
    ops.acknowledge_flag(g_flag, make.user("supervisor"), "Checked: a bad batch, replaced.")
    # One of E's records and one of G's is corrected to another fault.
    for d in (records[0], db.session.scalar(select(Diagnosis).join(Diagnosis.job).where(Diagnosis.version == 1)
                                            .order_by(Diagnosis.id.desc()).limit(1))):
        d.status = "superseded"
        build.record(d.submitted_dt + timedelta(minutes=5), f["wiring"], job=d.job, version=2, supersedes=d)
    assert ops.refresh_quality_flags(WEEK) == []
    db.session.commit()
    remaining = list(db.session.scalars(select(QualityFlag)))
    assert [(q.product_model, q.fault_count, q.model_total) for q in remaining] == [("G", 2, 3)]
    assert remaining[0].acknowledged_dt is not None
    assert ops.open_quality_flags_count() == 0


def test_submitting_a_diagnosis_refreshes_the_flags_of_its_week(build, faults, make):
    """Two power faults on PX-200 already this week; the technician submits the third (3/3)."""
    technician = make.user("technician")
    job = make.job("on_site", technician=technician)
    model = job.product.model
    now = job.checked_in_dt + timedelta(minutes=30)
    build.record(now, faults["power_supply"], model=model)
    build.record(now, faults["power_supply"], model=model)
    assert ops.open_quality_flags_count() == 0
    diagnosis = diagnosis_ops.start_draft(job, technician, now=now)
    diagnosis_ops.save_draft(diagnosis, diagnosis_ops.DiagnosisData(
        symptom="No power", fault_category_id=faults["power_supply"].id, root_cause="PSU burnt",
        actions_taken="Replaced the PSU", outcome="fixed", contact_name="Wang"), now=now)
    diagnosis.signature_key = "signatures/test.png"
    diagnosis_ops.submit_diagnosis(diagnosis, technician, now=now)
    db.session.commit()
    assert diagnosis.status != DRAFT
    flag = db.session.scalar(select(QualityFlag))
    assert (flag.product_model, flag.fault_category_id, flag.fault_count, flag.model_total) == \
        (model, faults["power_supply"].id, 3, 3)
    assert ops.open_quality_flags_count() == 1


def test_acknowledging_needs_a_supervisor_and_a_note_and_happens_once(rising, make):
    flag = ops.refresh_quality_flags(WEEK)[0]
    supervisor = make.user("supervisor")
    with pytest.raises(ops.QualityRefused):
        ops.acknowledge_flag(flag, make.user("dispatcher"), "Seen.")
    with pytest.raises(ops.QualityRefused):
        ops.acknowledge_flag(flag, supervisor, "   ")
    ops.acknowledge_flag(flag, supervisor, "Factory informed.")
    db.session.commit()
    with pytest.raises(ops.QualityRefused):
        ops.acknowledge_flag(flag, supervisor, "Again.")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "quality_flag",
                                                       AuditEvent.action == "acknowledge"))
    assert (event.entity_id, event.actor_id, event.reason) == (flag.id, supervisor.id, "Factory informed.")


LEDGER_TOTAL = re.compile(r"(\d+) service records?")


def test_quality_page_lists_flags_links_their_ledger_rows_and_acknowledges(rising, login):
    ops.refresh_quality_flags(WEEK)
    db.session.commit()
    client = login("supervisor")
    page = client.get("/statistics/quality").get_data(as_text=True)
    assert page.count('class="card flag-card"') == 4
    assert "Week 2026-W10: 5 of 9 records of this model (56%)" in page
    # Each flag's link lists exactly its rows in the ledger.
    links = [html.unescape(h) for h in re.findall(r'<a class="tap" href="(/ledger\?[^"]+)">', page)]
    assert len(links) == 4
    counts = sorted(int(LEDGER_TOTAL.search(client.get(h).get_data(as_text=True)).group(1)) for h in links)
    assert counts == [3, 3, 4, 5]
    flag = db.session.scalar(select(QualityFlag).where(QualityFlag.product_model == "A"))
    url = f"/statistics/quality/{flag.id}/acknowledge"
    # No note: the block comes back with the message (422), nothing changes.
    refused = client.post_form(url, {"note": ""}, htmx_target="quality-flags")
    assert refused.status_code == 422
    assert "Write down what was done about it." in refused.get_data(as_text=True)
    assert ops.open_quality_flags_count() == 4
    done = client.post_form(url, {"note": "Asked the factory to check the bearing batch."},
                            htmx_target="quality-flags")
    assert done.status_code == 200
    fragment = done.get_data(as_text=True)
    assert "<html" not in fragment and fragment.count('class="card flag-card"') == 3
    assert "Asked the factory to check the bearing batch." in fragment
    # Without htmx: 303 back to the page; a second acknowledgement is refused with 409.
    other = db.session.scalar(select(QualityFlag).where(QualityFlag.product_model == "D"))
    response = client.post_form(f"/statistics/quality/{other.id}/acknowledge", {"note": "Seen."})
    assert response.status_code == 303 and response.headers["Location"].endswith("/statistics/quality")
    again = client.post_form(f"/statistics/quality/{other.id}/acknowledge", {"note": "Seen twice."})
    assert again.status_code == 409
    assert ops.open_quality_flags_count() == 2


def test_quality_watch_command_refreshes_a_week(rising, app):
    result = app.test_cli_runner().invoke(args=["quality-watch", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert "2026-W10: 4 flag(s)" in result.output
    assert ops.open_quality_flags_count() == 4
    result = app.test_cli_runner().invoke(args=["quality-watch", "--week", "2026-W11", "--weeks", "2"])
    assert result.exit_code == 0 and "2026-W10: 4 flag(s)" in result.output and "2026-W11: 0 flag(s)" in result.output
    assert ops.open_quality_flags_count() == 4
    bad = app.test_cli_runner().invoke(args=["quality-watch", "--week", "W10"])
    assert bad.exit_code != 0 and "ISO week" in bad.output
