"""End to end, in Chromium: the delivery inspection checklist (issue 4, "Done when").

On a phone the technician checks in at a delivery job, starts the inspection with two shipment
lines, answers the default checklist with the big Pass buttons, fails one item (refused first
without a note, then with a note and a photo in the real SeaweedFS), submits, and the failed
inspection opens a follow-up request; on a desktop the dispatcher finds that request in the
Unassigned queue and follows the links both ways. Then a service-centre receipt inspection from
an order reference alone, where a count that does not match fails the item by itself, and the
running checklist fits a 360 px phone with thumb-sized, labelled controls.
"""
from __future__ import annotations

import re

from PIL import Image, ImageDraw

from fieldservice.blueprints.inspections import operations as inspection_ops
from fieldservice.extensions import db
from fieldservice.models import Inspection, Job
from tests.browser.conftest import (JOB_REFERENCE, assert_images_loaded, assert_no_browser_problems,
                                    check_in_and_open, expect, shot, sign_in)
from tests.conftest import PASSWORD, Factory
from tests.inspections.conftest import DEFAULT_ITEMS

DISPATCHER = {"username": "wang.fang", "display_name": "Wang Fang"}
TECHNICIAN = {"username": "li.wei", "display_name": "Li Wei"}

ORDER_REFERENCE = "PO-7781"
LINES = (("FL-8 Filler", 3), ("CV-50 Conveyor", 1))
FAILED_ITEM = "Packaging appearance intact"
NOTE = "Two of the three FL-8 cartons are crushed at the corner; the film is torn."
FOLLOW_UP_TYPE = "Follow-up of a failed delivery inspection"

RECEIPT_REFERENCE = "SHIP-0042"
RECEIPT_LINE = ("PX-200 Press", 2)


def _setup(app, *, with_job: bool) -> int | None:
    """The default checklist (tables are emptied per test), a dispatcher, a technician and,
    if asked, a delivery-inspection job assigned to them and en route; returns the job id."""
    with app.app_context():
        make = Factory()
        make.user("dispatcher", DISPATCHER["username"], display_name=DISPATCHER["display_name"])
        tech = make.user("technician", TECHNICIAN["username"], region="north",
                         display_name=TECHNICIAN["display_name"])
        inspection_ops.new_template_version(DEFAULT_ITEMS, make.user("supervisor"))
        db.session.commit()
        job_id = None
        if with_job:
            job_id = make.job("en_route", technician=tech, request_type="delivery_inspection").id
        db.session.remove()
    return job_id


def _photo(path) -> None:
    """A camera-like JPEG (gradient, noise, shapes) of a crushed carton, more or less."""
    size = (1600, 1200)
    base = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 45)
    image = Image.merge("RGB", (base, noise, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    draw = ImageDraw.Draw(image)
    draw.rectangle([300, 250, 1300, 950], outline=(150, 100, 40), width=30)
    draw.line([300, 250, 700, 600], fill=(20, 20, 20), width=14)
    image.save(path, "JPEG", quality=90)


def _drop_expected_refusal(page, start: int, path: str) -> None:
    """Remove the one console line Chromium writes for the 422 refusal page at `path`."""
    expected = [p for p in page.problems[start:] if "status of 422" in p and path in p]
    assert len(expected) <= 1, expected
    page.problems[start:] = [p for p in page.problems[start:] if p not in expected]


def _group(page, heading: str):
    """A checklist section (one shipment line, or the whole consignment) by its heading."""
    return page.locator("section.check-group").filter(
        has=page.get_by_role("heading", level=2, name=heading, exact=True))


def _item(scope, label: str):
    """One checklist item (its card) by its label."""
    page = getattr(scope, "page", scope)  # a Locator has .page; a Page is its own
    return scope.locator("article.check").filter(has=page.get_by_text(label, exact=True))


def _answer(item, answer: str) -> None:
    """Tap the big answer button (the radio's label) and wait for the server's answer."""
    radio = item.get_by_role("radio", name=answer, exact=True)
    item.locator(f'label[for="{radio.get_attribute("id")}"]').tap()
    value = {"Pass": "pass", "Fail": "fail", "Not applicable": "na"}[answer]
    expect(item.locator(f".check-state-{value}")).to_have_count(1)
    expect(item.get_by_role("radio", name=answer, exact=True)).to_be_checked()


def _count(item, counted: int) -> None:
    """Type the counted quantity; leaving the field sends it."""
    field = item.get_by_label("Counted", exact=True)
    field.fill(str(counted))
    field.blur()
    expect(item.get_by_label("Counted", exact=True)).to_have_value(str(counted))


def _answer_all_passing(page, skip: tuple = ()) -> None:
    """Every item of the page answered Pass (quantities: the expected count), but `skip`."""
    items = page.locator("article.check")
    for i in range(items.count()):
        item = items.nth(i)
        if any(item.locator(f"#{item.get_attribute('id')}-label").inner_text().strip() == s[1]
               and item.locator("xpath=ancestor::section[1]/h2").inner_text().strip() == s[0] for s in skip):
            continue
        if item.get_by_label("Counted", exact=True).count():
            expected = int(item.locator(".expected strong").inner_text())
            _count(item, expected)
            expect(item.locator(".check-state-pass")).to_have_count(1)
        else:
            _answer(item, "Pass")


# --- phone layout ----------------------------------------------------------------------------

_LAYOUT_JS = """
() => {
  const visible = el => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && el.checkVisibility({visibilityProperty: true})
      && !el.closest(".visually-hidden");
  };
  const describe = el => {
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || el.name || "").trim().slice(0, 40);
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).trim().replace(/\\s+/g, ".") : "")
      + (text ? " '" + text + "'" : "");
  };
  const labelOf = el => el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
  const small = [];
  const targets = new Set(document.querySelectorAll(
    "button, main a, input:not([type=hidden]), select, textarea, summary"));
  // Radios and file inputs are hidden on purpose: their labels are the buttons one taps.
  for (const el of document.querySelectorAll("input[type=radio], input[type=checkbox], input[type=file]")) {
    targets.delete(el);
    const label = labelOf(el);
    if (label) targets.add(label);
  }
  let checked = 0;
  for (const el of targets) {
    if (!visible(el)) continue;
    checked += 1;
    const r = el.getBoundingClientRect();
    if (r.height < 44 || (el.tagName !== "A" && r.width < 44))
      small.push(describe(el) + " " + Math.round(r.width) + "x" + Math.round(r.height));
  }
  const unlabelled = [];
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const hiddenOnPurpose = ["radio", "checkbox", "file"].includes(el.type);
    if (!hiddenOnPurpose && !visible(el)) continue;
    if (hiddenOnPurpose && !el.closest(".check, .photo-uploader, form")?.checkVisibility()) continue;
    const byFor = labelOf(el);
    const labelText = byFor ? byFor.textContent.trim() : "";
    if (!(labelText || el.closest("label")?.textContent.trim() || el.getAttribute("aria-label")
          || el.getAttribute("aria-labelledby")))
      unlabelled.push(describe(el));
  }
  const wide = [];
  for (const el of document.querySelectorAll("main *")) {
    const r = el.getBoundingClientRect();
    if (visible(el) && r.right > window.innerWidth + 1) wide.push(describe(el) + " right=" + Math.round(r.right));
  }
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    small, unlabelled, wide: wide.slice(0, 8), checked,
    segments: document.querySelectorAll("label.segment").length,
  };
}
"""


def _layout_problems(page, where: str) -> list[str]:
    result = page.evaluate(_LAYOUT_JS)
    print(f"layout {where}: {result['checked']} targets checked, {result['segments']} answer buttons, "
          f"scrollWidth {result['scrollWidth']}/{result['innerWidth']}")
    assert result["checked"] > 5, f"{where}: the layout check found almost nothing to check: {result}"
    problems = []
    if result["scrollWidth"] > result["innerWidth"]:
        problems.append(f"{where}: horizontal scroll (scrollWidth {result['scrollWidth']} > "
                        f"innerWidth {result['innerWidth']}); wider than the screen: {result['wide']}")
    problems += [f"{where}: smaller than 44 px: {s}" for s in result["small"]]
    problems += [f"{where}: no label: {s}" for s in result["unlabelled"]]
    return problems


# --- the tests -------------------------------------------------------------------------------


def test_delivery_inspection_fails_and_opens_follow_up(live_app, live_server, new_page, tmp_path):
    job_id = _setup(live_app, with_job=True)
    carton = tmp_path / "carton.jpg"
    _photo(carton)

    # --- phone: check in at the delivery job ----------------------------------------------
    phone = new_page("phone")
    job_reference = check_in_and_open(phone, job_id, "Delivery inspection", TECHNICIAN["username"], PASSWORD)
    phone.wait_for_url(re.compile(rf"/jobs/{job_id}/inspection/new$"))
    expect(phone.get_by_role("heading", level=1)).to_contain_text(job_reference)

    # --- the order reference and two shipment lines ---------------------------------------
    phone.get_by_label("Order or shipment reference", exact=True).fill(ORDER_REFERENCE)
    phone.get_by_label("Product model, line 1", exact=True).fill(LINES[0][0])
    phone.get_by_label("Expected quantity, line 1", exact=True).fill(str(LINES[0][1]))
    phone.get_by_role("button", name="Add a line").tap()
    expect(phone.get_by_label("Product model, line 2", exact=True)).to_be_visible()
    # The first line's entries survive the swap that added the second.
    expect(phone.get_by_label("Product model, line 1", exact=True)).to_have_value(LINES[0][0])
    phone.get_by_label("Product model, line 2", exact=True).fill(LINES[1][0])
    phone.get_by_label("Expected quantity, line 2", exact=True).fill(str(LINES[1][1]))
    shot(phone, "insp-start-form")
    phone.get_by_role("button", name="Start the checklist").tap()
    phone.wait_for_url(re.compile(r"/inspections/\d+$"))
    inspection_id = int(phone.url.rsplit("/", 1)[1])
    progress = phone.locator("#inspection-progress")
    expect(progress).to_contain_text("0 of 10 answered — 10 left")  # 4 per line × 2 + 2 for the consignment
    for model, quantity in LINES:
        expect(_group(phone, f"{model} × {quantity}")).to_have_count(1)
    expect(_group(phone, "Whole consignment")).to_have_count(1)
    shot(phone, "insp-checklist-empty")

    # --- every item passes, but one: the FL-8 cartons are damaged -------------------------
    fl8 = _group(phone, f"{LINES[0][0]} × {LINES[0][1]}")
    failing = _item(fl8, FAILED_ITEM)
    _answer_all_passing(phone, skip=((f"{LINES[0][0]} × {LINES[0][1]}", FAILED_ITEM),))
    expect(progress).to_contain_text("9 of 10 answered — 1 left")
    for model, quantity in LINES:
        expect(_item(_group(phone, f"{model} × {quantity}"), "Quantity (expected vs counted)")
               ).to_contain_text("The count matches.")
    _answer(failing, "Fail")
    note = failing.get_by_label("What is wrong (required)", exact=True)
    expect(note).to_be_visible()
    expect(failing.get_by_role("heading", name="Photos of what is wrong (at least one)")).to_be_visible()
    expect(progress).to_contain_text("All 10 answered — ready to submit")
    shot(phone, "insp-item-failed")

    # --- submitting now is refused: the failed item has no note (nor photo) ---------------
    before_refusal = len(phone.problems)
    phone.get_by_role("button", name="Submit inspection").tap()
    phone.wait_for_load_state()
    expect(phone.get_by_role("alert").filter(has_text="cannot be submitted yet")).to_be_visible()
    failing = _item(_group(phone, f"{LINES[0][0]} × {LINES[0][1]}"), FAILED_ITEM)
    expect(failing.locator(".error")).to_have_text("A failed item needs a note saying what is wrong and at least one photo.")
    shot(phone, "insp-refused-no-note")
    # The refusal is the page itself answered 422 (by design): Chromium logs any 4xx document
    # as "Failed to load resource". That one line is expected; anything else is not.
    _drop_expected_refusal(phone, before_refusal, f"/inspections/{inspection_id}/submit")
    with live_app.app_context():
        assert db.session.get(Inspection, inspection_id).status == "draft"
        db.session.remove()

    # --- the note, then a photo through the item's uploader (stored in SeaweedFS) ---------
    note = failing.get_by_label("What is wrong (required)", exact=True)
    note.tap()
    note.press_sequentially(NOTE, delay=2)
    expect(failing.locator(f"#{failing.get_attribute('id')}-note-status")).to_have_text("Note saved.", timeout=10_000)
    failing.get_by_label("Take or choose photos").set_input_files(str(carton))
    tiles = failing.locator(".photo-tile")
    expect(tiles).to_have_count(1, timeout=30_000)
    expect(failing.locator(".photo-pending .photo-row")).to_have_count(0)
    assert_images_loaded(phone, tiles.locator("img"), "the failed item's photo")
    expect(progress).to_contain_text("All 10 answered — ready to submit")
    shot(phone, "insp-note-and-photo")
    # Checked at the end (the flow goes on): the refusal shown at the item is gone once fixed.
    stale_errors = [t for t in failing.locator(".error").all_inner_texts() if "needs a note" in t]

    # --- submit: failed, with a follow-up request -----------------------------------------
    phone.get_by_role("button", name="Submit inspection").tap()
    phone.wait_for_url(re.compile(rf"/inspections/{inspection_id}$"))
    messages = phone.locator("#messages")
    expect(messages).to_contain_text("submitted: failed. Follow-up request")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Failed")
    record = phone.locator("#inspection-record")
    follow_up_link = record.locator("dt", has_text="Follow-up request").locator("xpath=following-sibling::dd[1]").get_by_role("link")
    expect(follow_up_link).to_have_text(JOB_REFERENCE)
    follow_up_reference = follow_up_link.inner_text().strip()
    expect(messages).to_contain_text(follow_up_reference)
    inspection_reference = phone.get_by_role("heading", level=1).inner_text().split()[1]
    shot(phone, "insp-submitted-failed")
    with live_app.app_context():
        inspection = db.session.get(Inspection, inspection_id)
        assert (inspection.status, inspection.result) == ("submitted", "failed")
        follow_up = inspection.follow_up_job
        assert follow_up is not None and follow_up.reference == follow_up_reference
        follow_up_id = follow_up.id
        assert (follow_up.request_type, follow_up.status) == ("inspection_follow_up", "new")
        assert db.session.get(Job, job_id).status == "resolved"
        db.session.remove()
    assert_no_browser_problems(phone)

    # --- desktop: the dispatcher finds the follow-up in the Unassigned queue --------------
    desk = new_page("desktop")
    sign_in(desk, DISPATCHER["username"], PASSWORD)
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Unassigned").click()
    desk.wait_for_url(re.compile(r"/queue|/dispatch"))
    queued = desk.locator(f"#job-card-{follow_up_id}")
    expect(queued).to_be_visible()
    expect(queued.locator(".ref")).to_have_text(follow_up_reference)
    expect(queued).to_contain_text(FOLLOW_UP_TYPE)
    shot(desk, "insp-queue-follow-up")
    queued.get_by_role("link", name=follow_up_reference, exact=True).click()
    desk.wait_for_url(re.compile(rf"/jobs/{follow_up_id}$"))
    opened_by = desk.locator("#job-panel").locator(".flash", has_text="Opened by failed inspection")
    expect(opened_by).to_be_visible()
    expect(desk.locator("#job-panel")).to_contain_text(ORDER_REFERENCE)
    shot(desk, "insp-follow-up-job")
    opened_by.get_by_role("link", name=inspection_reference).click()
    desk.wait_for_url(re.compile(rf"/inspections/{inspection_id}$"))
    record = desk.locator("#inspection-record")
    failed = record.locator("li.record-check.check-fail")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text(FAILED_ITEM)
    expect(failed.locator(".badge")).to_have_text("Fail")
    expect(failed).to_contain_text(NOTE)
    expect(failed.locator(".photo-tile")).to_have_count(1)
    assert_images_loaded(desk, failed.locator(".photo-tile img"), "the record's photo")
    expect(record.get_by_role("link", name=follow_up_reference)).to_be_visible()
    expect(record).to_contain_text(TECHNICIAN["display_name"])
    shot(desk, "insp-record-failed")
    assert_no_browser_problems(desk)

    assert not stale_errors, (
        "After the refused submit, the failed item kept saying "
        f"{stale_errors} (and its note field stayed marked in error) although the note was saved "
        "(\"Note saved.\") and a photo added: the note's autosave swaps only "
        "#check-N-note-status (_note_status.html) and the photo upload only adds a tile, so the "
        "item's <p class=\"error\"> and .has-error from the 422 page stay until the answer changes.")


def test_receipt_inspection_from_reference_on_phone(live_app, live_server, new_page):
    _setup(live_app, with_job=False)
    phone = new_page("phone")
    sign_in(phone, TECHNICIAN["username"], PASSWORD)
    problems: list[str] = []

    # --- "Inspections" -> start a receipt inspection from the reference alone ---------------
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Inspections").tap()
    phone.wait_for_url(re.compile(r"/inspections$"))
    phone.get_by_role("link", name="Start a receipt inspection").tap()
    phone.wait_for_url(re.compile(r"/inspections/new$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Receipt inspection at the service centre")
    phone.get_by_label("Order or shipment reference", exact=True).fill(RECEIPT_REFERENCE)
    phone.get_by_label("Product model, line 1", exact=True).fill(RECEIPT_LINE[0])
    phone.get_by_label("Expected quantity, line 1", exact=True).fill(str(RECEIPT_LINE[1]))
    phone.set_viewport_size({"width": 360, "height": 780})
    shot(phone, "receipt-start-360")
    problems += _layout_problems(phone, "start a receipt inspection (360 px)")
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.get_by_role("button", name="Start the checklist").tap()
    phone.wait_for_url(re.compile(r"/inspections/\d+$"))
    inspection_id = int(phone.url.rsplit("/", 1)[1])
    expect(phone.locator("header.page-head")).to_contain_text(RECEIPT_REFERENCE)
    expect(phone.locator("header.page-head")).to_contain_text("Receipt inspection at the service centre")
    progress = phone.locator("#inspection-progress")
    expect(progress).to_contain_text("0 of 6 answered")

    # --- a count that does not match fails the quantity item by itself -------------------
    quantity = _item(phone, "Quantity (expected vs counted)")
    _count(quantity, RECEIPT_LINE[1] - 1)
    expect(quantity.locator(".check-state-fail")).to_have_count(1)
    expect(quantity.locator(".derived .badge")).to_have_text("Fail")
    expect(quantity.locator(".derived")).to_contain_text(
        f"Counted {RECEIPT_LINE[1] - 1}, expected {RECEIPT_LINE[1]}: the quantity does not match.")
    expect(quantity.get_by_label("What is wrong (required)", exact=True)).to_be_visible()
    expect(quantity.get_by_label("Take or choose photos")).to_be_attached()
    expect(progress).to_contain_text("1 of 6 answered")
    border = quantity.evaluate("el => getComputedStyle(el).borderLeftColor")
    shot(phone, "receipt-quantity-mismatch")

    # --- the running checklist (with a failed item open) on a 360 px phone ---------------
    phone.set_viewport_size({"width": 360, "height": 780})
    shot(phone, "receipt-checklist-360")
    problems += _layout_problems(phone, "running checklist (360 px)")
    phone.set_viewport_size({"width": 390, "height": 844})

    # --- recounted: it matches and passes; every other item passes -----------------------
    _count(quantity, RECEIPT_LINE[1])
    expect(quantity.locator(".check-state-pass")).to_have_count(1)
    expect(quantity.locator(".derived")).to_contain_text("The count matches.")
    expect(quantity.get_by_label("What is wrong (required)", exact=True)).to_have_count(0)
    assert quantity.evaluate("el => getComputedStyle(el).borderLeftColor") != border, \
        "the quantity item's card looks the same failed and passed"
    _answer_all_passing(phone, skip=((f"{RECEIPT_LINE[0]} × {RECEIPT_LINE[1]}", "Quantity (expected vs counted)"),))
    expect(progress).to_contain_text("All 6 answered — ready to submit")
    shot(phone, "receipt-all-passed")

    phone.get_by_role("button", name="Submit inspection").tap()
    phone.wait_for_url(re.compile(rf"/inspections/{inspection_id}$"))
    expect(phone.locator("#messages")).to_contain_text("submitted: passed.")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Passed")
    record = phone.locator("#inspection-record")
    expect(record).to_contain_text(RECEIPT_REFERENCE)
    expect(record).not_to_contain_text("Follow-up request")
    expect(record.locator("li.record-check.check-pass")).to_have_count(6)
    shot(phone, "receipt-submitted-passed")
    with live_app.app_context():
        inspection = db.session.get(Inspection, inspection_id)
        assert (inspection.kind, inspection.status, inspection.result, inspection.job_id,
                inspection.follow_up_job) == ("centre_receipt", "submitted", "passed", None, None)
        db.session.remove()

    assert not problems, "\n".join(problems)
    assert_no_browser_problems(phone)
