"""The supervisor's escalations (policy 3.1), a page at a time (issue 7)."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from fieldservice.extensions import db
from fieldservice.models import Escalation

SMALL_PAGES = {"PAGE_SIZE": 2}


@pytest.fixture
def five_escalations(make) -> list[Escalation]:
    """Five open escalations; the first was raised first (the list is oldest first)."""
    for hours in range(10, 5, -1):
        make.job("escalated", created_ago=timedelta(hours=hours))
    return list(db.session.scalars(select(Escalation).order_by(Escalation.raised_dt)))


def shown(html: str, escalations: list[Escalation]) -> list[int]:
    """Which of the escalations the page lists (1 = the oldest), in the order shown."""
    index = {e.id: i for i, e in enumerate(escalations, 1)}
    return [index[int(n)] for n in re.findall(r'<article class="card" id="escalation-(\d+)"', html)]


@pytest.mark.parametrize("app_config", [SMALL_PAGES])
def test_escalations_are_listed_oldest_first_a_page_at_a_time(login, five_escalations, app_config):
    supervisor = login("supervisor")
    first = supervisor.get("/escalations").get_data(as_text=True)
    assert shown(first, five_escalations) == [1, 2]
    assert "<span>Page 1 of 3</span>" in first and 'href="/escalations?page=2"' in first
    assert 'name="page" value="1"' in first
    last = supervisor.get("/escalations?page=3").get_data(as_text=True)
    assert shown(last, five_escalations) == [5]
    assert 'href="/escalations?page=2"' in last and "page=4" not in last


@pytest.mark.parametrize("app_config", [SMALL_PAGES])
def test_past_the_last_page_goes_to_the_last_page(login, five_escalations, app_config):
    supervisor = login("supervisor")
    response = supervisor.get("/escalations?page=9")
    assert response.status_code == 303 and response.headers["Location"] == "/escalations?page=3"
    assert supervisor.get("/escalations?page=1").status_code == 200


@pytest.mark.parametrize("app_config", [SMALL_PAGES])
def test_deciding_on_a_later_page_returns_to_that_page(login, five_escalations, app_config):
    supervisor = login("supervisor")
    third = five_escalations[2]
    response = supervisor.post_form(f"/escalations/{third.id}/decide", {
        "decision": "Send a second technician.", "request_key": uuid.uuid4().hex, "page": "2"})
    assert response.status_code == 303 and response.headers["Location"] == "/escalations?page=2"
    page = supervisor.get(response.headers["Location"]).get_data(as_text=True)
    assert "Decision recorded for" in page
    assert shown(page, five_escalations) == [4, 5]
    db.session.refresh(third)
    assert third.decided_dt is not None


@pytest.mark.parametrize("app_config", [SMALL_PAGES])
def test_a_refused_decision_comes_back_on_its_page_with_the_message(login, five_escalations, app_config):
    supervisor = login("supervisor")
    fourth = five_escalations[3]
    response = supervisor.post_form(f"/escalations/{fourth.id}/decide",
                                    {"decision": "  ", "request_key": uuid.uuid4().hex, "page": "2"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert shown(html, five_escalations) == [3, 4]
    card = html.split(f'id="escalation-{fourth.id}"')[1].split("</article>")[0]
    assert "has-error" in card and "Write down what was decided." in card
    # The pager still leads through the list (the page was drawn by the POST).
    assert 'href="/escalations?page=1"' in html and 'href="/escalations?page=3"' in html
    db.session.refresh(fourth)
    assert fourth.decided_dt is None


@pytest.mark.parametrize("app_config", [SMALL_PAGES])
def test_a_refused_decision_keeps_the_text_when_the_list_moved(login, five_escalations, app_config):
    """Decided meanwhile by another supervisor: the message and the text stay, on top."""
    first_supervisor, second_supervisor = login("supervisor"), login("supervisor")
    fifth = five_escalations[4]
    assert first_supervisor.post_form(f"/escalations/{fifth.id}/decide", {
        "decision": "Replace the unit.", "request_key": uuid.uuid4().hex, "page": "3"}).status_code == 303
    response = second_supervisor.post_form(f"/escalations/{fifth.id}/decide", {
        "decision": "Refund the customer.", "request_key": uuid.uuid4().hex, "page": "3"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert shown(html, five_escalations)[0] == 5
    card = html.split(f'id="escalation-{fifth.id}"')[1].split("</article>")[0]
    assert "Refund the customer." in card and "already been decided" in card
