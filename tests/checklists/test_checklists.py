"""The delivery inspection checklist (policy 4.3, 4.4): supervisors edit it, every change saves a
new version so inspections already done keep theirs, and they read where inspections fail."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from fieldservice.blueprints.checklists import operations as checklist_ops
from fieldservice.blueprints.inspections import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, ChecklistTemplate, Inspection
from tests.inspections.conftest import DEFAULT_ITEMS, checklist  # noqa: F401  (the fixture)

POLICY_CODES = ("model_matches", "quantity", "markings_labels", "packaging_appearance")
CHANGES_LINE = "Changes apply to inspections started from now on; inspections already done keep the version they used."


def versions() -> list[tuple[int, bool, list[tuple[str, str, str, str, str]]]]:
    """Every version as stored: (version, active, [(scope, code, label_en, label_zh, kind), ...])."""
    db.session.expire_all()
    templates = db.session.scalars(select(ChecklistTemplate).order_by(ChecklistTemplate.version))
    return [(t.version, t.active, [(i.scope, i.code, i.label_en, i.label_zh, i.kind) for i in t.items])
            for t in templates]


def active_codes() -> list[str]:
    db.session.expire_all()
    return [i.code for i in ops.active_template().items]


def checklist_events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "checklist")
                                   .order_by(AuditEvent.id)))


def receipt(inspector, lines=(("FL-8 Filler", 2),), reference="PO-7781") -> Inspection:
    """A receipt inspection at the service centre, started now from the checklist in use."""
    inspection = ops.start_inspection(kind="centre_receipt", inspector=inspector, order_reference=reference,
                                      lines=[ops.LineData(m, q) for m, q in lines])
    db.session.commit()
    return inspection


# --- reading -----------------------------------------------------------------------------


def test_supervisor_sees_the_checklist_in_use_grouped_in_both_languages(login, checklist):
    client = login("supervisor")
    page = client.get("/checklists").get_data(as_text=True)
    assert "Version 1" in page and CHANGES_LINE in page
    per_line, consignment = page.index("Per shipment line"), page.index("Whole consignment")
    assert per_line < page.index("Model matches the order") < page.index("Packaging appearance intact") < consignment
    assert consignment < page.index("Delivery note present and matching")
    assert "型号与订单一致" in page and "Quantity: expected and counted" in page
    assert "None yet: this is the first version." in page
    # The policy's four checks have no Remove button; the others do.
    assert 'aria-label="Remove “Delivery note present and matching”"' in page
    assert "Remove “Model matches the order”" not in page
    assert 'href="/checklists"' in page  # in the supervisor's navigation


def test_the_page_reads_in_chinese(login, checklist):
    client = login("supervisor")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    client.post_form("/language", {"locale": "zh_CN", "next": "/checklists"})
    page = client.get("/checklists").get_data(as_text=True)
    assert '<strong lang="zh-CN">型号与订单一致</strong>' in page
    assert '<span class="item-other" lang="en">Model matches the order</span>' in page


# --- editing makes new versions ----------------------------------------------------------


def test_adding_an_item_makes_version_2_and_inspections_done_keep_version_1(login, checklist, make):
    technician = make.user("technician")
    before = receipt(technician)
    client = login("supervisor")
    response = client.post_form("/checklists/items", {
        "code": "accessories_complete", "label_en": "Accessories complete", "label_zh": "附件齐全",
        "kind": "check", "scope": "line", "version": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/checklists#item-accessories_complete")

    stored = versions()
    assert [(v, active) for v, active, _ in stored] == [(1, False), (2, True)]
    assert stored[0][2] == [(i["scope"], i["code"], i["label_en"], i["label_zh"], i["kind"]) for i in DEFAULT_ITEMS]
    assert [code for _, code, *_ in stored[1][2]] == [
        "model_matches", "quantity", "markings_labels", "packaging_appearance", "accessories_complete",
        "consignment_packaging", "delivery_note"]
    # The inspection started before keeps version 1 and its checks; a new one gets the new item.
    db.session.expire_all()
    before = db.session.get(Inspection, before.id)
    assert before.template.version == 1 and "accessories_complete" not in {c.item_code for c in before.checks}
    after = receipt(technician, reference="PO-7782")
    assert after.template.version == 2
    assert [c.item_code for c in after.checks].count("accessories_complete") == 1
    [created, added] = checklist_events()
    assert (added.action, added.from_state, added.to_state, added.actor_id) == ("new_version", "v1", "v2", client.user.id)
    assert "added accessories_complete" in added.reason

    page = client.get("/checklists").get_data(as_text=True)
    assert "“Accessories complete” added: checklist version 2 is now in use." in page
    assert "used by 1 inspection" in page  # version 1 in the earlier versions
    old = db.session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.version == 1))
    assert f'href="/checklists/{old.id}"' in page


def test_a_shipment_item_is_added_last_of_the_consignment_items(login, checklist):
    client = login("supervisor")
    response = client.post_form("/checklists/items", {
        "code": "serial_plate", "label_en": "Serial plate readable", "label_zh": "铭牌清晰",
        "kind": "check", "scope": "shipment"}, htmx_target="checklist-editor")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="checklist-editor"') and "<html" not in body
    assert "checklist version 2 is now in use" in body
    assert active_codes()[-3:] == ["consignment_packaging", "delivery_note", "serial_plate"]


def test_rename_remove_and_reorder_each_save_a_new_version(login, checklist):
    client = login("supervisor")
    response = client.post_form("/checklists/items/delivery_note", {
        "action": "rename", "label_en": "Delivery note matches the order", "label_zh": "送货单与订单相符"},
        htmx_target="checklist-editor")
    assert response.status_code == 200 and "Wording saved: checklist version 2 is now in use." in response.get_data(as_text=True)
    stored = versions()
    assert stored[0][2][-1] == ("shipment", "delivery_note", "Delivery note present and matching", "送货单齐全且相符", "check")
    assert stored[1][2][-1] == ("shipment", "delivery_note", "Delivery note matches the order", "送货单与订单相符", "check")

    response = client.post_form("/checklists/items/quantity", {"action": "up"})
    assert response.status_code == 303 and response.headers["Location"].endswith("#item-quantity")
    assert active_codes()[:2] == ["quantity", "model_matches"]
    response = client.post_form("/checklists/items/consignment_packaging", {"action": "down"},
                                htmx_target="checklist-editor")
    assert response.status_code == 200
    assert active_codes()[-2:] == ["delivery_note", "consignment_packaging"]

    response = client.post_form("/checklists/items/delivery_note", {"action": "remove"})
    assert response.status_code == 303
    assert "delivery_note" not in active_codes()
    stored = versions()
    assert [(v, active) for v, active, _ in stored] == [(1, False), (2, False), (3, False), (4, False), (5, True)]
    assert [code for _, code, *_ in stored[0][2]] == [i["code"] for i in DEFAULT_ITEMS]  # version 1 untouched
    assert [e.reason.split(":")[0] for e in checklist_events()[1:]] == [
        "renamed delivery_note", "moved quantity up", "moved consignment_packaging down", "removed delivery_note"]


def test_unchanged_wording_saves_no_new_version(login, checklist):
    client = login("supervisor")
    response = client.post_form("/checklists/items/delivery_note", {
        "action": "rename", "label_en": "Delivery note present and matching", "label_zh": "送货单齐全且相符"})
    assert response.status_code == 303
    assert len(versions()) == 1


@pytest.mark.parametrize("code", POLICY_CODES)
def test_a_policy_check_cannot_be_removed(login, checklist, code):
    client = login("supervisor")
    before, events = versions(), len(checklist_events())
    response = client.post_form(f"/checklists/items/{code}", {"action": "remove"}, htmx_target="checklist-editor")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "cannot be removed: policy 4.3 and 4.4 require model, quantity, markings/labels and packaging appearance" in body
    item = body[body.index(f'id="item-{code}"'):]
    assert "cannot be removed" in item[:item.index('id="item-', 5)]  # shown beside that item
    label_en = next(i["label_en"] for i in DEFAULT_ITEMS if i["code"] == code)
    assert f'value="{label_en}"' in item  # its wording form still shows the stored wording
    assert versions() == before and len(checklist_events()) == events
    # Without JavaScript: the whole page with the message.
    response = client.post_form(f"/checklists/items/{code}", {"action": "remove"})
    assert response.status_code == 422 and "<html" in response.get_data(as_text=True)
    assert "cannot be removed" in response.get_data(as_text=True)
    assert versions() == before


def test_a_duplicate_code_is_refused_with_the_values_kept(login, checklist):
    client = login("supervisor")
    before = versions()
    data = {"code": "delivery_note", "label_en": "Another delivery note", "label_zh": "另一送货单",
            "kind": "check", "scope": "shipment"}
    response = client.post_form("/checklists/items", data, htmx_target="checklist-editor")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" not in body and "already used by “Delivery note present and matching”" in body
    assert 'value="Another delivery note"' in body and 'value="另一送货单"' in body
    assert '<option selected value="shipment">' in body
    assert versions() == before
    response = client.post_form("/checklists/items", data)
    assert response.status_code == 422 and "<html" in response.get_data(as_text=True)
    assert 'value="delivery_note"' in response.get_data(as_text=True)
    assert versions() == before


@pytest.mark.parametrize("data, message", [
    ({"code": "Serial Plate"}, "Use lowercase letters, digits and _ only."),
    ({"code": "x" * 41}, "Field cannot be longer than 40 characters."),
    ({"label_en": ""}, "Enter the English wording."),
    ({"label_zh": "  "}, "Enter the Chinese wording."),
    ({"kind": "photo"}, "Not a valid choice."),
    ({"scope": "truck"}, "Not a valid choice."),
])
def test_an_incomplete_item_is_refused_with_a_message(login, checklist, data, message):
    client = login("supervisor")
    form = {"code": "serial_plate", "label_en": "Serial plate readable", "label_zh": "铭牌清晰",
            "kind": "check", "scope": "line", **data}
    response = client.post_form("/checklists/items", form, htmx_target="checklist-editor")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert len(versions()) == 1


def test_a_change_from_a_page_showing_an_older_version_is_refused(login, checklist, make):
    checklist_ops.add_item("serial_plate", "Serial plate readable", "铭牌清晰", "check", "line",
                           make.user("supervisor"))
    db.session.commit()
    client = login("supervisor")
    before = versions()
    response = client.post_form("/checklists/items/delivery_note", {"action": "remove", "version": "1"},
                                htmx_target="checklist-editor")
    assert response.status_code == 422
    assert "Someone saved version 2 of the checklist meanwhile" in response.get_data(as_text=True)
    assert versions() == before
    # An item someone else removed meanwhile: the checklist as it is now, with a message.
    response = client.post_form("/checklists/items/no_such_item", {"action": "up"}, htmx_target="checklist-editor")
    assert response.status_code == 409 and "has no item “no_such_item”" in response.get_data(as_text=True)


def test_an_earlier_version_reads_as_it_was_with_its_use(login, checklist, make):
    technician = make.user("technician")
    receipt(technician)
    receipt(technician, reference="PO-2")
    client = login("supervisor")
    client.post_form("/checklists/items/delivery_note", {"action": "remove"})
    page = client.get(f"/checklists/{checklist.id}").get_data(as_text=True)
    assert "Checklist version 1" in page and "used by 2 inspections" in page
    assert "Delivery note present and matching" in page and "An earlier version, kept as it was" in page
    assert "<form method=\"post\"" not in page.split('<main id="main">')[1]  # read-only
    assert client.get("/checklists/999999").status_code == 404


@pytest.mark.parametrize("role", ["technician", "dispatcher", "reviewer"])
def test_only_supervisors_keep_the_checklist_and_read_failures(login, checklist, role):
    client = login(role)
    before = versions()
    assert client.get("/checklists").status_code == 403
    assert client.get(f"/checklists/{checklist.id}").status_code == 403
    assert client.get("/inspections/failures").status_code == 403
    assert client.post_form("/checklists/items", {"code": "x", "label_en": "X", "label_zh": "X",
                                                  "kind": "check", "scope": "line"}).status_code == 403
    assert client.post_form("/checklists/items/delivery_note", {"action": "remove"}).status_code == 403
    assert versions() == before
    assert 'href="/checklists"' not in client.get("/").get_data(as_text=True)


# --- failure statistics ------------------------------------------------------------------


def submitted(inspector, lines, failed, submitted_dt, reference="PO-1") -> Inspection:
    """A submitted receipt inspection whose listed (model or None, code) checks failed; the
    answers are set directly (these tests count, they do not exercise the evidence rules)."""
    inspection = receipt(inspector, lines, reference)
    for check in inspection.checks:
        model = check.line.product_model if check.line else None
        check.answer = "fail" if (model, check.item_code) in failed else "pass"
    inspection.status, inspection.result = "submitted", "failed" if failed else "passed"
    inspection.submitted_dt = submitted_dt
    db.session.commit()
    return inspection


@pytest.fixture
def failures(make, checklist):
    technician = make.user("technician")
    now = datetime(2025, 6, 10, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai
    two = (("FL-8 Filler", 3), ("CV-50 Conveyor", 1))
    submitted(technician, two, {("FL-8 Filler", "quantity"), ("CV-50 Conveyor", "quantity"),
                                ("FL-8 Filler", "packaging_appearance")}, now)
    submitted(technician, two, {("FL-8 Filler", "quantity"), (None, "delivery_note")}, now - timedelta(days=5))
    submitted(technician, two, set(), now - timedelta(days=1))
    draft = receipt(technician, two)  # not submitted: not counted
    for check in draft.checks:
        check.answer = "fail"
    db.session.commit()
    return now


def test_failure_statistics_count_per_item_and_per_model(login, failures):
    stats = checklist_ops.failure_statistics("en")
    assert [(c.key, c.label, c.count) for c in stats["per_item"]] == [
        ("quantity", "Quantity (expected vs counted)", 3),
        ("delivery_note", "Delivery note present and matching", 1),
        ("packaging_appearance", "Packaging appearance intact", 1),
    ]
    assert [(c.label, c.count) for c in stats["per_model"]] == [("FL-8 Filler", 3), ("CV-50 Conveyor", 1)]

    page = login("supervisor").get("/inspections/failures").get_data(as_text=True)
    rows = re.findall(r'<a class="stat-row" href="([^"]+)">\s*<span class="stat-label">([^<]+)</span>\s*'
                      r'<strong class="stat-count">(\d+)</strong>.*?class="stat-fill" x="0" y="0" width="([\d.]+)"',
                      page, re.S)
    assert [(label, count, width) for _, label, count, width in rows] == [
        ("Quantity (expected vs counted)", "3", "100.0"), ("Delivery note present and matching", "1", "33.3"),
        ("Packaging appearance intact", "1", "33.3"), ("FL-8 Filler", "3", "100.0"), ("CV-50 Conveyor", "1", "33.3")]
    assert rows[0][0] == "/inspections?result=failed&amp;item=quantity"
    assert rows[3][0] == "/inspections?result=failed&amp;model=FL-8+Filler"
    assert "style=" not in page.split('<main id="main">')[1]  # the CSP forbids style attributes


def test_failure_labels_follow_the_reader_and_the_newest_wording(login, failures, make):
    checklist_ops.rename_item("quantity", "Quantity counted", "实点数量", make.user("supervisor"))
    checklist_ops.remove_item("delivery_note", make.user("supervisor"))
    db.session.commit()
    assert [c.label for c in checklist_ops.failure_statistics("zh")["per_item"]] == [
        "实点数量", "送货单齐全且相符", "包装外观完好"]  # a removed item keeps its last wording
    assert checklist_ops.item_labels(["gone_code"], "en") == {}
    # A code no template has any more (e.g. another checklist) falls back to the code itself.
    db.session.execute(db.update(ops.InspectionCheck).where(ops.InspectionCheck.item_code == "delivery_note")
                       .values(item_code="legacy_note"))
    db.session.commit()
    assert ("legacy_note", "legacy_note", 1) in [(c.key, c.label, c.count)
                                                 for c in checklist_ops.failure_statistics("en")["per_item"]]


def test_failure_statistics_filter_by_date_of_submission(login, failures):
    client = login("supervisor")
    response = client.htmx_get("/inspections/failures?from=2025-06-08&to=2025-06-10", "failure-results")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="failure-results">')
    assert "Inspections submitted 2025-06-08 – 2025-06-10." in body
    assert re.findall(r'<span class="stat-label">([^<]+)</span>\s*<strong class="stat-count">(\d+)', body) == [
        ("Quantity (expected vs counted)", "2"), ("Packaging appearance intact", "1"),
        ("FL-8 Filler", "2"), ("CV-50 Conveyor", "1")]
    assert "from=2025-06-08&amp;to=2025-06-10" in body  # the links carry the period
    # Calendar days in the centre's time zone: 2025-06-05 12:00 local is on the 5th only.
    assert [(c.key, c.count) for c in checklist_ops.failure_statistics(
        "en", datetime(2025, 6, 5).date(), datetime(2025, 6, 5).date())["per_item"]] == [
        ("delivery_note", 1), ("quantity", 1)]
    page = client.get("/inspections/failures?from=2025-06-11").get_data(as_text=True)
    assert page.count("No failed items in this period.") == 2 and 'value="2025-06-11"' in page
    # A malformed date is ignored rather than refused.
    assert client.get("/inspections/failures?from=yesterday").status_code == 200


def test_failure_counts_without_a_period_count_everything(failures):
    counts = ops.failure_counts()
    assert dict(counts["per_item"]) == {"quantity": 3, "delivery_note": 1, "packaging_appearance": 1}
    assert ops.failure_counts(since=failures + timedelta(seconds=1))["per_item"] == []
    assert dict(ops.failure_counts(until=failures)["per_item"]) == {"quantity": 1, "delivery_note": 1}
