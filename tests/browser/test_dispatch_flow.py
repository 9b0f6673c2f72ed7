"""End to end, in Chromium: a dispatcher logs a call and assigns it; the technician works it on
a phone; the history shows every step; the job page reads in Chinese; phone pages fit a 360 px
screen with thumb-sized targets and labelled fields.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from fieldservice.blueprints.dispatch import operations as dispatch_ops
from fieldservice.extensions import db
from fieldservice.models import Job
from tests.browser.conftest import assert_no_browser_problems, expect, shot, sign_in, zh
from tests.conftest import PASSWORD, Factory

DISPATCHER = {"username": "wang.fang", "display_name": "Wang Fang"}
TECHNICIAN = {"username": "li.wei", "display_name": "Li Wei"}
REF_RE = re.compile(r"J\d{6}")

# Labels of the job page, English source -> must be replaced by their zh_CN text.
JOB_PAGE_LABELS = ["History", "Customer", "Site address", "Region", "Request type", "Priority",
                   "Product", "What the customer reports", "Technician", "What was done"]
JOB_PAGE_VALUES = ["Urgent", "Fault repair", "Resolved", "Request logged", "Assigned", "Started travel",
                   "Checked in on site", "Close job", "Map", "Sign out"]


def _people(app) -> None:
    with app.app_context():
        make = Factory()
        make.user("dispatcher", DISPATCHER["username"], display_name=DISPATCHER["display_name"])
        make.user("technician", TECHNICIAN["username"], region="north", display_name=TECHNICIAN["display_name"])
        make.user("technician", "zhao.min", region="south", display_name="Zhao Min")  # another region
        db.session.remove()


def _select_starting_with(select, text: str) -> None:
    """Choose the option a person would pick by its visible text's first words."""
    labels = select.locator("option").all_inner_texts()
    matching = [label for label in labels if label.strip().startswith(text)]
    assert matching, f"no option starting with {text!r} in {labels}"
    select.select_option(label=matching[0])


def _mark_window(page) -> None:
    """Set a JS variable that only survives if the page is not reloaded."""
    page.evaluate("window.__noReload = 'still here'")


def _assert_not_reloaded(page, step: str) -> None:
    assert page.evaluate("window.__noReload") == "still here", f"{step}: the page did a full reload"


def test_request_to_resolution(live_app, live_server, new_page, zh_catalog):
    _people(live_app)

    # --- desktop: the dispatcher logs the call -------------------------------------------
    desk = new_page("desktop")
    sign_in(desk, DISPATCHER["username"], PASSWORD)
    shot(desk, "dispatcher-start")
    desk.get_by_role("link", name="Log request").click()
    expect(desk.get_by_role("heading", name="Log a service request")).to_be_visible()
    shot(desk, "log-request-empty")

    desk.get_by_label("Customer name", exact=True).fill("Harbin Boilers Ltd")
    desk.get_by_label("Customer phone", exact=True).fill("0451 555 0199")
    desk.get_by_label("Site address", exact=True).fill("8 Songhua Road, Daoli District, Harbin")
    desk.get_by_label("Region", exact=True).select_option(label="Region north")
    desk.get_by_label("Product model", exact=True).fill("PX-200")
    desk.get_by_label("Serial number", exact=True).fill("PX200-0077")
    desk.get_by_label("Request type", exact=True).select_option(label="Fault repair")
    _select_starting_with(desk.get_by_label("Priority", exact=True), "Urgent")  # "Urgent — on site within 4 h"
    desk.get_by_label("What the customer reports", exact=True).fill(
        "Press stops after ten minutes with error E42. Customer needs it running by tonight.")
    shot(desk, "log-request-filled")
    desk.get_by_role("button", name="Log request").click()

    desk.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(desk.url.rsplit("/", 1)[1])
    heading = desk.get_by_role("heading", level=1)
    expect(heading).to_contain_text(REF_RE)
    reference = REF_RE.search(heading.inner_text()).group(0)
    expect(desk.locator("#messages")).to_contain_text(f"Request logged as {reference}")
    expect(desk.locator("#job-panel")).to_contain_text("Harbin Boilers Ltd")
    expect(desk.locator("#job-panel")).to_contain_text("Not assigned yet")
    shot(desk, "job-logged")

    # --- desktop: assign from the job page; htmx swaps only the panel ---------------------
    _mark_window(desk)
    technician_select = desk.get_by_label("Technician", exact=True)
    options = technician_select.locator("option").all_inner_texts()
    assert TECHNICIAN["display_name"] in options
    assert "Zhao Min" not in options, "a technician of another region is offered"
    technician_select.select_option(label=TECHNICIAN["display_name"])
    desk.get_by_role("button", name="Assign").click()
    panel = desk.locator("#job-panel")
    expect(panel).to_contain_text(f"Assigned to {TECHNICIAN['display_name']}.")
    _assert_not_reloaded(desk, "assign")
    expect(panel.locator("dd", has_text=TECHNICIAN["display_name"])).to_be_visible()
    expect(desk.get_by_label("Reassign to", exact=True)).to_be_visible()
    shot(desk, "job-assigned")

    # --- phone: the technician works the job ----------------------------------------------
    phone = new_page("phone")
    sign_in(phone, TECHNICIAN["username"], PASSWORD)
    phone.wait_for_url(re.compile(r"/my-jobs$"))
    expect(phone.get_by_role("heading", name="My jobs")).to_be_visible()
    card = phone.locator(f"#job-card-{job_id}")
    expect(card).to_be_visible()
    expect(card).to_contain_text(reference)
    expect(card).to_contain_text("Harbin Boilers Ltd")
    expect(card.locator(".deadline time")).to_have_count(1)
    expect(card.locator(".deadline")).to_contain_text(re.compile(r"left|overdue"))
    expect(card.locator('a[href="tel:04515550199"]')).to_be_visible()
    shot(phone, "my-jobs-assigned")

    _mark_window(phone)
    card.get_by_role("button", name="Start travel").tap()
    expect(card).to_contain_text("Done: On the way.")
    expect(card.locator(".badge.status-en_route")).to_be_visible()
    _assert_not_reloaded(phone, "start travel")
    shot(phone, "my-jobs-en-route")

    card.get_by_role("button", name="Arrived — check in").tap()
    expect(card).to_contain_text("Done: On site.")
    _assert_not_reloaded(phone, "check in")
    shot(phone, "my-jobs-on-site")

    # On site, the card leads to the diagnosis: submitting that record resolves the job (policy
    # 3.10; tests/browser/test_diagnosis_flow.py fills and signs it) — there is no bare "Resolved".
    expect(card.locator("summary", has_text="Resolved")).to_have_count(0)
    card.get_by_role("link", name="Diagnosis", exact=True).tap()
    phone.wait_for_url(re.compile(rf"/jobs/{job_id}/diagnosis$"))
    expect(phone.get_by_label("Symptom, as the customer describes it", exact=True)).to_be_visible()
    shot(phone, "diagnosis-from-my-jobs")
    with live_app.app_context():  # what the record's submission does to the job
        job = db.session.get(Job, job_id)
        dispatch_ops.transition_job(job, "resolve", job.technician, None, by_hand=False,
                                    reason="Replaced the pressure sensor; ran the press for 30 minutes without error.")
        db.session.commit()
        db.session.remove()
    phone.goto("/my-jobs")
    expect(phone.locator(f"#job-card-{job_id}")).to_have_count(0)  # done: off the technician's list
    phone.goto(f"/jobs/{job_id}")
    expect(phone.locator("#job-panel .badge.status-resolved")).to_be_visible()
    history = phone.locator(".history li")
    expected = [
        ("Request logged", DISPATCHER["display_name"]),
        ("Assigned", DISPATCHER["display_name"]),
        ("Started travel", TECHNICIAN["display_name"]),
        ("Checked in on site", TECHNICIAN["display_name"]),
        ("Resolved", TECHNICIAN["display_name"]),
    ]
    expect(history).to_have_count(len(expected))
    for item, (action, actor) in zip(history.all(), expected):
        expect(item.locator("strong")).to_have_text(action)
        expect(item).to_contain_text(actor)
    expect(phone.locator("#job-panel")).to_contain_text("Replaced the pressure sensor")
    shot(phone, "job-page-history")

    with live_app.app_context():
        job = db.session.get(Job, job_id)
        assert (job.status, job.priority, job.technician.username) == ("resolved", "urgent", TECHNICIAN["username"])
        db.session.remove()

    assert_no_browser_problems(phone)

    # --- the dispatcher reads the job page in Chinese -------------------------------------
    desk.goto(f"/jobs/{job_id}")
    assert_no_browser_problems(desk)
    desk.get_by_role("button", name="中文").click()
    desk.wait_for_load_state()
    expect(desk.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(desk).to_have_url(re.compile(rf"/jobs/{job_id}$"))
    shot(desk, "job-page-zh")
    main = desk.locator("main")
    for msgid in JOB_PAGE_LABELS:
        expect(main.get_by_text(zh(zh_catalog, msgid), exact=True).first).to_be_visible()
    deadline = desk.locator("#job-panel .deadline").first
    expect(deadline).to_have_attribute("title", zh(zh_catalog, "Arrival deadline"))
    expect(deadline.locator(".visually-hidden")).to_have_text(zh(zh_catalog, "Arrival deadline") + ":")
    still_english = [text for text in JOB_PAGE_LABELS + JOB_PAGE_VALUES
                     if desk.get_by_text(text, exact=True).filter(visible=True).count()]
    assert not still_english, f"English left on the Chinese job page: {still_english}"
    expect(desk.get_by_role("button", name="English")).to_be_visible()
    assert_no_browser_problems(desk)


# --- assigning from the queue and the board (issue 7) ----------------------------------------


def test_queue_and_board_cards_load_the_assign_form_when_tapped(live_app, live_server, new_page):
    """The cards carry no technician list: tapping Assign loads the form in the card's place,
    assigning swaps only the card, and all of it fits a 360 px phone."""
    _people(live_app)
    with live_app.app_context():
        make = Factory()
        make.user("technician", "sun.li", region="north", display_name="Sun Li")
        job = make.job(priority="urgent", created_ago=timedelta(hours=5))  # due: on today's board
        job_id, reference, region_id = job.id, job.reference, job.region_id
        db.session.remove()

    page = new_page("phone")
    page.set_viewport_size({"width": 360, "height": 780})
    sign_in(page, DISPATCHER["username"], PASSWORD)
    problems: list[str] = []

    page.goto("/dispatch/queue")
    card = page.locator(f"#job-card-{job_id}")
    expect(card).to_contain_text(reference)
    expect(page.locator("main select[name=technician_id]")).to_have_count(0)
    problems += _layout_problems(page, "queue")
    _mark_window(page)
    card.get_by_role("link", name=f"Assign {reference}").tap()
    technician_select = card.get_by_label("Technician", exact=True)
    expect(technician_select).to_be_focused()
    options = technician_select.locator("option").all_inner_texts()
    assert TECHNICIAN["display_name"] in options and "Zhao Min" not in options, options
    shot(page, "360-queue-assign-open")
    problems += _layout_problems(page, "queue, assign form open")
    technician_select.select_option(label=TECHNICIAN["display_name"])
    card.get_by_role("button", name="Assign", exact=True).tap()
    expect(card).to_contain_text(f"Assigned to {TECHNICIAN['display_name']}.")
    expect(card.get_by_role("link", name=f"Reassign {reference}")).to_be_visible()
    _assert_not_reloaded(page, "assign from the queue")
    shot(page, "360-queue-assigned")

    page.goto(f"/dispatch/board?region={region_id}")
    card = page.locator(f"#job-card-{job_id}")
    expect(page.locator("section.column", has=card)).to_contain_text(TECHNICIAN["display_name"])
    expect(page.locator("main select[name=technician_id]")).to_have_count(0)
    card.get_by_role("link", name=f"Reassign {reference}").tap()
    expect(card.get_by_label("Reassign to", exact=True)).to_be_focused()
    shot(page, "360-board-reassign-open")
    problems += _layout_problems(page, "board, reassign form open")

    # Reassigned: the card says so, then the columns reload and it stands under its new technician.
    _mark_window(page)
    card.get_by_label("Reassign to", exact=True).select_option(label="Sun Li")
    card.get_by_role("button", name="Assign", exact=True).tap()
    expect(card).to_contain_text("Assigned to Sun Li.")
    column = page.locator("section.column", has=page.locator(f"#job-card-{job_id}"))
    expect(column.locator("h2")).to_contain_text("Sun Li")
    expect(column.locator("h2")).to_contain_text("1 job")
    expect(page.locator("section.column", has_text=TECHNICIAN["display_name"]).locator(".empty")).to_be_visible()
    _assert_not_reloaded(page, "reassign on the board")
    shot(page, "360-board-reassigned")

    assert not problems, "\n".join(problems)
    assert_no_browser_problems(page)


# --- phone layout ----------------------------------------------------------------------------

_LAYOUT_JS = """
() => {
  const visible = el => {
    // checkVisibility: false inside a closed <details> too (its content keeps a layout box).
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && el.checkVisibility({visibilityProperty: true})
      && !el.closest(".visually-hidden");
  };
  const describe = el => {
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || el.name || "").trim().slice(0, 40);
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).trim().replace(/\\s+/g, ".") : "")
      + (text ? " '" + text + "'" : "");
  };
  const small = [];
  const targets = document.querySelectorAll(
    "button, main a, input:not([type=hidden]), select, textarea, summary");
  for (const el of targets) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.height < 44) small.push(describe(el) + " " + Math.round(r.width) + "x" + Math.round(r.height));
  }
  const unlabelled = [];
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!visible(el)) continue;
    const byFor = el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    const labelText = byFor ? byFor.textContent.trim() : "";
    if (!(labelText || el.closest("label") || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")))
      unlabelled.push(describe(el));
  }
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    small, unlabelled,
  };
}
"""


def _layout_problems(page, where: str) -> list[str]:
    result = page.evaluate(_LAYOUT_JS)
    problems = []
    if result["scrollWidth"] > result["innerWidth"]:
        problems.append(f"{where}: horizontal scroll (scrollWidth {result['scrollWidth']} > "
                        f"innerWidth {result['innerWidth']})")
    problems += [f"{where}: smaller than 44 px: {s}" for s in result["small"]]
    problems += [f"{where}: no label: {s}" for s in result["unlabelled"]]
    return problems


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_phone_pages_fit_360px(live_app, live_server, new_page, zh_catalog, locale):
    with live_app.app_context():
        make = Factory()
        tech = make.user("technician", TECHNICIAN["username"], display_name=TECHNICIAN["display_name"])
        assigned = make.job("assigned", technician=tech, priority="urgent")
        on_site = make.job("on_site", technician=tech)
        ids = (assigned.id, on_site.id)
        db.session.remove()

    page = new_page("phone", locale=locale)
    page.set_viewport_size({"width": 360, "height": 780})
    tag = "en" if locale.startswith("en") else "zh"
    sign_in(page, TECHNICIAN["username"], PASSWORD, catalog=zh_catalog if tag == "zh" else None)
    expect(page.locator("html")).to_have_attribute("lang", "en" if tag == "en" else "zh-CN")
    problems: list[str] = []

    page.goto("/my-jobs")
    expect(page.locator(".card")).to_have_count(2)
    page.locator(f"#job-card-{ids[1]} details.action-more summary").first.tap()  # open the resolve box
    shot(page, f"360-my-jobs-{tag}")
    problems += _layout_problems(page, f"my jobs ({tag})")

    for job_id in ids:
        page.goto(f"/jobs/{job_id}")
        details = page.locator("details.action-more summary")
        if details.count():
            details.first.tap()
        shot(page, f"360-job-{job_id}-{tag}")
        problems += _layout_problems(page, f"job page {job_id} ({tag})")

    assert not problems, "\n".join(problems)
    assert_no_browser_problems(page)
