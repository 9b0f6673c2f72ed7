"""Issue 7: the board and the unassigned queue carry no technician list per card; each card's
Assign control loads the assign form of its job when the dispatcher opens it (policy 3.2)."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace
from urllib.parse import urlsplit

from sqlalchemy import func, select

from fieldservice.blueprints.dispatch import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Job
from tests.conftest import count_queries

# Due an hour ago: on today's board whatever the time of day (open jobs past due stay on it).
DUE_TODAY = {"priority": "urgent", "created_ago": timedelta(hours=5)}
FORM_RE = re.compile(r'<form class="assign".*?</form>', re.S)
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
OPTION_RE = re.compile(r'<option value="(\d+)"( selected)?>([^<]*)</option>')


def open_assign_form(client, job, from_page: str = "/dispatch/board"):
    """What the card's Assign control asks for: htmx GET, targeting the control itself."""
    return client.get(f"/jobs/{job.id}/assign-form", headers={
        "HX-Request": "true", "HX-Target": f"assign-open-{job.id}",
        "HX-Current-URL": f"http://localhost{from_page}"})


def form_fields(html: str) -> dict[str, str]:
    """The fields the loaded form would send, with no technician chosen yet."""
    form = FORM_RE.search(html)
    assert form, html[:500]
    return {name: unescape(value) for name, value in HIDDEN_RE.findall(form.group(0))}


def offered(html: str) -> dict[str, str]:
    """Technician name -> option value offered by the form (the 'choose' placeholder left out)."""
    return {unescape(label): value for value, _, label in OPTION_RE.findall(html) if value != "0"}


def assign_control(html: str, job: Job) -> str:
    match = re.search(rf'<a id="assign-open-{job.id}"[^>]*>.*?</a>', html, re.S)
    assert match, f"no assign control for {job.reference}"
    return match.group(0)


# --- the pages carry no technician lists --------------------------------------------------


def test_board_cards_have_an_assign_control_and_no_technician_list(login, make):
    dispatcher = login("dispatcher")
    north = make.region("north")
    li = make.user("technician", display_name="Li Ming", region="north")
    zhao = make.user("technician", display_name="Zhao Lei", region="north")
    assigned, en_route, on_site = (make.job(state, technician=tech, **DUE_TODAY) for state, tech in
                                   (("assigned", li), ("en_route", zhao), ("on_site", zhao)))

    page = dispatcher.get(f"/dispatch/board?region={north.id}").get_data(as_text=True)
    columns = dispatcher.htmx_get(f"/dispatch/board?region={north.id}", "board-columns").get_data(as_text=True)
    for html in (page, columns):
        assert 'name="technician_id"' not in html and "Choose a technician" not in html
    assert "<option" not in columns
    region_filter = re.search(r'<select id="b-region".*?</select>', page, re.S).group(0)
    assert page.count("<option") == region_filter.count("<option")  # the page's only list: the regions
    # Still one column per technician of the region.
    assert 'id="tech-%d"' % li.id in columns and 'id="tech-%d"' % zhao.id in columns

    for job in (assigned, en_route):
        control = assign_control(columns, job)
        assert f'href="/jobs/{job.id}"' in control  # without JavaScript: the job page, which has the form
        assert f'hx-get="/jobs/{job.id}/assign-form"' in control
        assert 'class="button assign-open"' in control and "Reassign" in control
    assert on_site.reference in columns and f'id="assign-open-{on_site.id}"' not in columns  # on site: not assignable


def test_queue_cards_have_an_assign_control_and_no_technician_list(login, make):
    dispatcher = login("dispatcher")
    make.user("technician", display_name="Li Ming", region="north")
    make.user("technician", display_name="Wu Fang", region="south")
    jobs = [make.job(), make.job(customer=make.customer(region="south"))]

    page = dispatcher.get("/dispatch/queue").get_data(as_text=True)
    results = dispatcher.htmx_get("/dispatch/queue", "queue-results").get_data(as_text=True)
    assert "<option" not in results
    for html in (page, results):
        assert 'name="technician_id"' not in html and "Li Ming" not in html and "Wu Fang" not in html
    for job in jobs:
        control = assign_control(results, job)
        assert f'href="/jobs/{job.id}"' in control and f'hx-get="/jobs/{job.id}/assign-form"' in control
        assert ">Assign<" in control


def _board_statements(client, region_id: int) -> int:
    return count_queries(client, f"/dispatch/board?region={region_id}")


def test_board_and_queue_statements_do_not_grow_with_the_cards(login, make):
    """Two cards or twenty, in several regions and states: the same number of statements."""
    dispatcher = login("dispatcher")
    north = make.region("north")
    technicians = [make.user("technician", region="north") for _ in range(4)]
    regions = ["north", "south", "east", "west"]

    def add_cards(n: int) -> None:
        for i in range(n):
            state = ("assigned", "en_route", "on_site", "resolved")[i % 4]
            make.job(state, technician=technicians[i % 4], **DUE_TODAY)
            make.job(customer=make.customer(region=regions[i % 4]))

    add_cards(2)
    board_few, queue_few = _board_statements(dispatcher, north.id), count_queries(dispatcher, "/dispatch/queue")
    add_cards(18)
    assert db.session.scalar(select(func.count(Job.id))) == 40
    board = dispatcher.get(f"/dispatch/board?region={north.id}").get_data(as_text=True)
    assert board.count('<article id="job-card-') >= 15 and board.count('id="assign-open-') >= 10
    assert _board_statements(dispatcher, north.id) == board_few
    assert count_queries(dispatcher, "/dispatch/queue") == queue_few


# --- the form, on demand ------------------------------------------------------------------


def test_assign_form_offers_the_active_technicians_of_the_job_region_and_its_version(login, make):
    dispatcher = login("dispatcher")
    li = make.user("technician", display_name="Li Ming", region="north")
    make.user("technician", display_name="Zhao Lei", region="north")
    make.user("technician", display_name="Wu Fang", region="south")
    make.user("technician", display_name="Gone Away", region="north", active=False)
    job = make.job("assigned", technician=li)
    ops.transition_job(job, "start_travel", li, None)  # the version moves on
    db.session.commit()

    response = open_assign_form(dispatcher, job)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<form class="assign"')  # only the fragment
    assert "Vary" in response.headers and "HX-Target" in response.headers["Vary"]
    assert set(offered(html)) == {"Li Ming", "Zhao Lei"}
    assert re.search(rf'<option value="{li.id}" selected>Li Ming</option>', html)
    assert form_fields(html)["version"] == str(job.version) == "3"
    assert f'hx-target="#job-card-{job.id}"' in html
    assert form_fields(html)["next"] == "/dispatch/board"
    assert " autofocus" in html


def test_assign_form_without_htmx_goes_to_the_job_page_with_the_form(login, make):
    dispatcher = login("dispatcher")
    make.user("technician", display_name="Li Ming")
    job = make.job()
    for response in (dispatcher.get(f"/jobs/{job.id}/assign-form"),
                     dispatcher.htmx_get(f"/jobs/{job.id}/assign-form", "main")):  # e.g. a boosted link
        assert response.status_code == 303
        assert urlsplit(response.headers["Location"]).path == f"/jobs/{job.id}"
    page = dispatcher.get(f"/jobs/{job.id}/assign-form", follow_redirects=True).get_data(as_text=True)
    assert job.reference in page and "Li Ming" in offered(page)


def test_assign_form_is_for_dispatchers_only(login, make):
    tech = make.user("technician", display_name="Li Ming")
    own = make.job("assigned", technician=tech)
    for who in (login(tech), login("reviewer")):
        for job in (own, make.job()):
            assert open_assign_form(who, job).status_code == 403
            assert who.get(f"/jobs/{job.id}/assign-form").status_code == 403
    assert open_assign_form(login("dispatcher"), SimpleNamespace(id=987654)).status_code == 404
    assert open_assign_form(login("supervisor"), own).status_code == 200


def test_a_card_whose_job_moved_on_is_replaced_with_its_current_state(login, make):
    dispatcher = login("dispatcher")
    tech = make.user("technician", display_name="Li Ming")
    job = make.job("en_route", technician=tech)
    ops.transition_job(job, "check_in", tech, None)  # checked in after the board was shown
    db.session.commit()
    response = open_assign_form(dispatcher, job)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == f"#job-card-{job.id}"
    assert response.headers["HX-Reswap"] == "outerHTML"
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<article id="job-card-{job.id}"')
    assert "This job is now On site: it can no longer be assigned." in html
    assert "<select" not in html


# --- assigning from the loaded form -------------------------------------------------------


def test_assigning_from_the_loaded_form_swaps_the_card(login, make):
    dispatcher = login("dispatcher")
    li = make.user("technician", display_name="Li Ming")
    job = make.job()
    html = open_assign_form(dispatcher, job, "/dispatch/queue").get_data(as_text=True)
    data = {**form_fields(html), "technician_id": offered(html)["Li Ming"]}
    response = dispatcher.post_form(f"/jobs/{job.id}/assign", data, htmx_target=f"job-card-{job.id}")
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "job-updated"
    card = response.get_data(as_text=True)
    assert card.lstrip().startswith(f'<article id="job-card-{job.id}"')
    assert "Assigned to Li Ming." in card
    assert "Reassign" in assign_control(card, job) and "<select" not in card  # loaded again when asked
    db.session.refresh(job)
    assert (job.status, job.technician_id) == ("assigned", li.id)


def test_assigning_from_the_loaded_form_without_htmx_returns_to_the_page(login, make):
    """The same form posted as a plain form (e.g. htmx gone mid-way): back to the board."""
    dispatcher = login("dispatcher")
    li = make.user("technician", display_name="Li Ming")
    job = make.job()
    north = make.region("north")
    html = open_assign_form(dispatcher, job, f"/dispatch/board?region={north.id}").get_data(as_text=True)
    fields = form_fields(html)
    assert fields["csrf_token"]
    response = dispatcher.post(f"/jobs/{job.id}/assign", data={**fields, "technician_id": offered(html)["Li Ming"]})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dispatch/board?region={north.id}"
    db.session.refresh(job)
    assert job.technician_id == li.id
    assert "Assigned to Li Ming." in dispatcher.get(response.headers["Location"]).get_data(as_text=True)


def test_without_a_technician_the_card_comes_back_with_the_form_and_the_message(login, make):
    dispatcher = login("dispatcher")
    make.user("technician", display_name="Li Ming")
    job = make.job()
    html = open_assign_form(dispatcher, job).get_data(as_text=True)
    response = dispatcher.post_form(f"/jobs/{job.id}/assign", {**form_fields(html), "technician_id": "0"},
                                    htmx_target=f"job-card-{job.id}")
    assert response.status_code == 422
    card = response.get_data(as_text=True)
    assert "Choose a technician." in card and "Li Ming" in offered(card)
    assert db.session.get(Job, job.id).status == "new"


def test_a_stale_form_says_who_was_faster_and_offers_the_current_version(login, make):
    first = login("dispatcher", display_name="Wang Fang")
    second = login("dispatcher", display_name="Zhou Lan")
    li = make.user("technician", display_name="Li Ming")
    make.user("technician", display_name="Zhao Lei")
    job = make.job()
    html = second.get(f"/jobs/{job.id}/assign-form", headers={
        "HX-Request": "true", "HX-Target": f"assign-open-{job.id}"}).get_data(as_text=True)
    seen = form_fields(html)
    first_html = open_assign_form(first, job).get_data(as_text=True)
    assert first.post_form(f"/jobs/{job.id}/assign", {**form_fields(first_html), "technician_id": str(li.id)},
                           htmx_target=f"job-card-{job.id}").status_code == 200

    late = second.post_form(f"/jobs/{job.id}/assign", {**seen, "technician_id": offered(html)["Zhao Lei"]},
                            htmx_target=f"job-card-{job.id}")
    assert late.status_code == 409
    card = late.get_data(as_text=True)
    assert "Wang Fang" in card and "Li Ming" in card
    db.session.refresh(job)
    # In place: the form again, now with the job's current version, to reassign if still wanted.
    assert form_fields(card)["version"] == str(job.version) != seen["version"]
    assert set(offered(card)) == {"Li Ming", "Zhao Lei"}
    assert job.technician_id == li.id
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.entity_id == job.id, AuditEvent.action == "assign")) == 1


def test_the_job_page_still_has_the_whole_assign_form(login, make):
    dispatcher = login("dispatcher")
    make.user("technician", display_name="Li Ming")
    job = make.job()
    html = dispatcher.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Li Ming" in offered(html) and 'hx-target="#job-panel"' in html
    assert f'id="assign-open-{job.id}"' not in html
