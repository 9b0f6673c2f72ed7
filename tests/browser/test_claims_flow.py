"""End to end, in Chromium: a claim with photo evidence, reviewed and settled (issue 5, "Done when").

On a phone the technician opens a claim from the job's submitted diagnosis, gives both of the
job's photos as evidence and submits; on a desktop the reviewer finds it in the Claims queue,
starts the review and asks for more information; on the phone the technician answers, uploads a
new photo through the claim page (stored in the real SeaweedFS), adds it and resubmits; on the
desktop the reviewer sees all three photos load (thumbnails and full size), records the
appraisal and approves a lower amount; the technician sees the outcome.
"""
from __future__ import annotations

import io
import re
from decimal import Decimal

from PIL import Image, ImageDraw

from fieldservice.extensions import db
from fieldservice.models import Claim, Diagnosis
from fieldservice.services.photos import ingest_photo
from tests.browser.conftest import (assert_images_loaded, assert_no_browser_problems, expect, full_size_original,
                                    shot, sign_in)
from tests.conftest import PASSWORD, Factory

TECHNICIAN = {"username": "li.wei", "display_name": "Li Wei"}
REVIEWER = {"username": "chen.jing", "display_name": "Chen Jing"}
SECOND_REVIEWER = {"username": "zhao.lei", "display_name": "Zhao Lei"}

DESCRIPTION = "The feed roller arrived cracked; the customer asks for a replacement roller."
QUESTION = "Please photograph the serial plate of the press next to the cracked roller."
ANSWER = "Done: the serial plate is in the new photo, next to the roller."
APPRAISAL_NOTES = "Crack pattern and crushed crate corner point to an impact in transport."
APPROVE_REASON = "Roller replaced at cost; labour is not covered for transport damage."
CLAIM_REF_RE = re.compile(r"/claims/(\d+)$")


def _jpeg(size=(1200, 900), seed: int = 0) -> bytes:
    """A camera-like JPEG (gradient, noise, shapes)."""
    base = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 35 + seed * 10)
    image = Image.merge("RGB", (base, noise, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle([w // 5 + seed * 20, h // 5, w * 4 // 5, h * 4 // 5], outline=(180, 60 + seed * 40, 30), width=20)
    draw.line([w // 5, h // 5, w // 2, h // 2 + seed * 30], fill=(15, 15, 15), width=12)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _setup(app) -> tuple[int, list[int]]:
    """Technician, two reviewers, a resolved job with a submitted diagnosis and two photos."""
    with app.app_context():
        make = Factory()
        technician = make.user("technician", TECHNICIAN["username"], region="north",
                               display_name=TECHNICIAN["display_name"])
        make.user("reviewer", REVIEWER["username"], display_name=REVIEWER["display_name"])
        make.user("reviewer", SECOND_REVIEWER["username"], display_name=SECOND_REVIEWER["display_name"])
        job = make.job("resolved", technician=technician)
        diagnosis = Diagnosis(job=job, version=1, status="submitted", technician_id=technician.id,
                              symptom="Feed roller cracked across its width.",
                              root_cause="Roller cracked in transport (crate corner crushed).",
                              actions_taken="Photographed the roller and the crate; fitted the spare.",
                              outcome="fixed", contact_name="Zhang Min", submitted_dt=job.created_dt)
        db.session.add(diagnosis)
        db.session.commit()
        photo_ids = []
        for seed, caption in ((0, "Cracked roller"), (1, "Crushed crate corner")):
            photo = ingest_photo(io.BytesIO(_jpeg(seed=seed)), uploader=technician, job=job, caption=caption)
            db.session.commit()
            photo_ids.append(photo.id)
        job_id = job.id
        db.session.remove()
    return job_id, photo_ids


def _add_all_candidates(page, expected: int) -> None:
    """Give every candidate photo of the job as evidence, one "Add as evidence" at a time."""
    candidates = page.locator(".claim-candidates .evidence-item")
    expect(candidates).to_have_count(expected)
    for remaining in range(expected, 0, -1):
        page.locator(".claim-candidates").get_by_role("button", name="Add as evidence").first.tap()
        page.wait_for_load_state()
        expect(page.locator("#messages")).to_contain_text("Photo added as evidence.")
        expect(page.locator(".claim-candidates .evidence-item")).to_have_count(remaining - 1)


def test_claim_with_photo_evidence_reviewed_and_approved(live_app, live_server, new_page, seaweed, tmp_path):
    job_id, photo_ids = _setup(live_app)

    # --- phone: from the diagnosis record, "Open a claim" ------------------------------------
    phone = new_page("phone")
    sign_in(phone, TECHNICIAN["username"], PASSWORD)
    phone.goto(f"/jobs/{job_id}/diagnosis")
    phone.get_by_role("link", name="Open a claim").tap()
    phone.wait_for_url(re.compile(rf"/jobs/{job_id}/claims/new$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Open a claim")
    phone.get_by_label("Type of claim", exact=True).select_option(label="Transport damage")
    phone.get_by_label("Amount claimed (optional)", exact=True).fill("1200")
    phone.get_by_label("Description", exact=True).fill(DESCRIPTION)
    phone.get_by_label("Where is the defective part?", exact=True).select_option(label="Kept at the customer's")
    shot(phone, "claim-new-filled")
    phone.get_by_role("button", name="Open the claim (draft)").tap()
    phone.wait_for_url(CLAIM_REF_RE)
    claim_id = int(CLAIM_REF_RE.search(phone.url).group(1))
    claim_url = f"/claims/{claim_id}"
    expect(phone.locator("#messages")).to_contain_text("opened as a draft")
    heading = phone.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Draft")
    claim_reference = heading.inner_text().split()[1]
    expect(phone.locator(".claim-main")).to_contain_text(DESCRIPTION)
    expect(phone.locator(".claim-main")).to_contain_text("1200")
    shot(phone, "claim-draft")

    # --- both of the job's photos as evidence, then submit -----------------------------------
    _add_all_candidates(phone, 2)
    evidence = phone.locator("#claim-evidence .evidence-item")
    expect(evidence).to_have_count(2)
    assert_images_loaded(phone, evidence.locator(".photo-tile img"), "phone evidence thumbnails")
    shot(phone, "claim-evidence-added")
    phone.get_by_role("button", name="Submit the claim").tap()
    phone.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(phone.locator("#messages")).to_contain_text(f"Claim {claim_reference} submitted for review.")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Submitted")
    shot(phone, "claim-submitted")
    with live_app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert (claim.status, claim.claim_type, claim.amount_claimed, claim.part_whereabouts) == (
            "submitted", "transport_damage", Decimal("1200"), "at_customer")
        assert sorted(e.photo_id for e in claim.evidence) == sorted(photo_ids)
        db.session.remove()
    assert_no_browser_problems(phone)

    # --- desktop: the reviewer's queue shows it; start the review; ask a question --------------
    desk = new_page("desktop")
    sign_in(desk, REVIEWER["username"], PASSWORD)
    desk.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Claims")).click()
    desk.wait_for_url(re.compile(r"/claims$"))
    card = desk.locator(".claim-card", has_text=claim_reference)
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Submitted")
    expect(card).to_contain_text("Transport damage")
    shot(desk, "claims-queue")
    card.get_by_role("link", name=claim_reference).click()
    desk.wait_for_url(re.compile(rf"{claim_url}$"))
    desk.get_by_role("button", name="Start the review").click()
    desk.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(desk.locator("#messages")).to_contain_text("Claim under review.")
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Under review")
    desk.get_by_label("Question for the claimant", exact=True).fill(QUESTION)
    desk.get_by_role("button", name="Ask for more information").click()
    desk.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(desk.locator("#messages")).to_contain_text("Question sent to the claimant.")
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Information requested")
    shot(desk, "claim-info-requested")
    assert_no_browser_problems(desk)

    # --- phone: the question; answer it; upload a new photo; add it; resubmit -----------------
    phone.goto(claim_url)
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Information requested")
    messages = phone.locator(".claim-messages")
    expect(messages).to_contain_text(QUESTION)
    expect(messages).to_contain_text(REVIEWER["display_name"])
    shot(phone, "claim-question")
    phone.get_by_label("Your answer", exact=True).fill(ANSWER)
    phone.get_by_role("button", name="Send the answer").tap()
    phone.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(phone.locator("#messages")).to_contain_text("Answer sent.")
    expect(phone.locator(".claim-messages")).to_contain_text(ANSWER)

    plate = tmp_path / "serial-plate.jpg"
    plate.write_bytes(_jpeg(size=(1600, 1200), seed=2))
    uploader = phone.locator(".photo-uploader")
    uploader.get_by_label("Take or choose photos").set_input_files(str(plate))
    expect(uploader.locator(".photo-tile")).to_have_count(1, timeout=30_000)
    expect(uploader.locator(".photo-pending .photo-row")).to_have_count(0)
    assert_images_loaded(phone, uploader.locator(".photo-tile img"), "the uploaded photo")
    # A photo taken on the claim page is evidence at once: the evidence list reloads by itself.
    expect(phone.locator("#claim-evidence .evidence-item")).to_have_count(3)
    assert_images_loaded(phone, phone.locator("#claim-evidence .photo-tile img"), "the evidence after the upload")
    shot(phone, "claim-new-photo-uploaded")
    phone.get_by_role("button", name="Resubmit the claim").tap()
    phone.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(phone.locator("#messages")).to_contain_text("submitted for review.")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Resubmitted")
    shot(phone, "claim-resubmitted")
    assert_no_browser_problems(phone)

    # --- desktop: three photos, each loads as a thumbnail and full size -----------------------
    desk.goto(claim_url)
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Resubmitted")
    desk.get_by_role("button", name="Start the review").click()
    desk.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Under review")
    expect(desk.locator(".claim-messages")).to_contain_text(ANSWER)
    tiles = desk.locator("#claim-evidence .photo-tile")
    expect(tiles).to_have_count(3)
    assert_images_loaded(desk, tiles.locator("img"), "reviewer evidence thumbnails")
    shot(desk, "claim-review-evidence")
    for i in range(tiles.count()):
        with Image.open(io.BytesIO(full_size_original(desk, tiles.nth(i), seaweed.endpoint_url))) as full:
            assert full.size[0] > 0, f"photo {i}"
        link = tiles.nth(i).get_by_role("link", name="Open full size")
        href = link.get_attribute("href")
        with desk.expect_popup() as popup_info:
            link.click()
        popup = popup_info.value
        popup.wait_for_load_state()
        assert popup.url.startswith(seaweed.endpoint_url), popup.url
        natural = popup.evaluate("document.images.length ? document.images[0].naturalWidth : 0")
        assert natural > 0, f"full size of photo {i} ({href}) did not load in the browser"
        popup.close()

    # --- the appraisal, then approval of a lower amount --------------------------------------
    desk.get_by_label("Product appraisal", exact=True).select_option(label="Transport damage")
    desk.get_by_label("Appraisal notes", exact=True).fill(APPRAISAL_NOTES)
    desk.get_by_role("button", name="Record the appraisal").click()
    desk.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(desk.locator("#messages")).to_contain_text("Appraisal recorded.")
    expect(desk.locator(".claim-main .facts").first).to_contain_text("Transport damage")
    expect(desk.locator(".claim-main .facts").first).to_contain_text(APPRAISAL_NOTES)
    amount = desk.get_by_label(re.compile(r"^Approved amount"))
    amount.fill("900")
    desk.get_by_label("Reason for the approval", exact=True).fill(APPROVE_REASON)
    shot(desk, "claim-approving")
    desk.get_by_role("button", name="Approve", exact=True).click()
    desk.wait_for_url(re.compile(rf"{claim_url}$"))
    expect(desk.locator("#messages")).to_contain_text("Claim approved.")
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Approved")
    expect(desk.locator(".claim-outcome")).to_contain_text("900")
    shot(desk, "claim-approved")
    with live_app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert (claim.status, claim.approved_amount, claim.appraisal) == (
            "approved", Decimal("900"), "transport_damage")
        assert len(claim.evidence) == 3
        assert [e.added_in_status for e in claim.evidence].count("info_requested") == 1
        db.session.remove()
    assert_no_browser_problems(desk)

    # --- phone: the technician sees the outcome ----------------------------------------------
    phone.goto(claim_url)
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Approved")
    outcome = phone.locator(".claim-outcome")
    expect(outcome).to_contain_text("Approved")
    expect(outcome).to_contain_text("900")
    expect(outcome).to_contain_text(APPROVE_REASON)
    expect(phone.get_by_role("button", name="Resubmit the claim")).to_have_count(0)
    shot(phone, "claim-outcome")
    assert_no_browser_problems(phone)
