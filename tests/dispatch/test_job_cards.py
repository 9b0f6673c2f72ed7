"""Issue 7: the lists of job cards (My jobs, the board, the unassigned queue) render each card
with one macro, with what every card shares worked out once per page. A card in a list is the
card a change answers with; it reads the same in Chinese; local times and times left read as
Babel and the catalogue have them."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import format_datetime

from fieldservice.templating import local_dt, time_left

CARD_RE = r'<article id="job-card-{id}".*?</article>'


def card(html: str, job) -> str:
    match = re.search(CARD_RE.format(id=job.id), html, re.S)
    assert match, f"no card for {job.reference}"
    return match.group(0)


def comparable(card_html: str) -> str:
    """A card without what differs between two renderings of the same state: the fresh request
    keys and tokens, the page to return to, a message about the change just tried."""
    card_html = re.sub(r'<p class="flash [^"]*" role="(status|alert)">.*?</p>', "", card_html, flags=re.S)
    card_html = re.sub(r'name="(request_key|csrf_token|next)" value="[^"]*"', r'name="\1" value=""', card_html)
    return re.sub(r"\s+", " ", card_html).strip()


# --- a card in a list is the card alone -----------------------------------------------------


def test_a_card_on_my_jobs_is_the_card_a_refused_step_answers_with(login, make):
    tech = login("technician")
    on_site = make.job("on_site", technician=tech.user, priority="urgent")
    assigned = make.job("assigned", technician=tech.user)
    page = tech.get("/my-jobs").get_data(as_text=True)

    for job, refused in ((on_site, "check_in"), (assigned, "resolve")):
        answer = tech.post_form(f"/jobs/{job.id}/{refused}", {"request_key": ""}, htmx_target=f"job-card-{job.id}")
        assert answer.status_code == 422
        alone = answer.get_data(as_text=True)
        assert 'class="flash flash-error" role="alert"' in alone
        assert comparable(card(page, job)) == comparable(alone)

    listed = card(page, on_site)
    assert f'href="/jobs/{on_site.id}/diagnosis"' in listed and "Call customer" in listed
    assert f'hx-post="/jobs/{on_site.id}/escalate" hx-target="#job-card-{on_site.id}"' in listed
    assert f'/jobs/{on_site.id}/resolve' not in listed  # a submitted record resolves (policy 3.10)
    assert f'hx-post="/jobs/{assigned.id}/start_travel"' in card(page, assigned)


def test_request_keys_differ_on_every_form_of_the_page(login, make):
    tech = login("technician")
    for status in ("assigned", "en_route", "on_site"):
        make.job(status, technician=tech.user)
    html = tech.htmx_get("/my-jobs", "my-jobs-list").get_data(as_text=True)
    keys = re.findall(r'name="request_key" value="([0-9a-f]{32})"', html)
    # travel and check in: the next step and escalate; on site: escalate (its record resolves it)
    assert len(keys) == 5 and len(set(keys)) == 5
    assert html.count('name="next" value="/my-jobs?"') == 5


def test_a_board_card_is_the_card_answering_an_assign_control_that_came_too_late(login, make):
    dispatcher = login("dispatcher")
    north = make.region("north")
    tech = make.user("technician", display_name="Li Ming", region="north")
    on_site = make.job("on_site", technician=tech, priority="urgent", created_ago=timedelta(hours=5))
    board = dispatcher.htmx_get(f"/dispatch/board?region={north.id}", "board-columns").get_data(as_text=True)

    answer = dispatcher.get(f"/jobs/{on_site.id}/assign-form",
                            headers={"HX-Request": "true", "HX-Target": f"assign-open-{on_site.id}"})
    assert answer.status_code == 409
    listed = card(board, on_site)
    assert comparable(listed) == comparable(answer.get_data(as_text=True))
    assert "Technician: Li Ming" in listed and "assign-open" not in listed


def test_queue_cards_offer_assign_and_the_board_reassign(login, make):
    dispatcher = login("dispatcher")
    north = make.region("north")
    tech = make.user("technician", region="north")
    new = make.job("new", priority="urgent")
    assigned = make.job("assigned", technician=tech, priority="urgent", created_ago=timedelta(hours=5))
    queue = dispatcher.get("/dispatch/queue").get_data(as_text=True)
    board = dispatcher.get(f"/dispatch/board?region={north.id}").get_data(as_text=True)
    assert re.search(r'>Assign<span class="visually-hidden"> ' + new.reference, card(queue, new))
    assert re.search(r'>Reassign<span class="visually-hidden"> ' + assigned.reference, card(board, assigned))


# --- the same in Chinese --------------------------------------------------------------------


def test_cards_read_in_the_users_language(login, make):
    tech = login("technician", locale="zh_CN")
    customer = make.customer(address="5 Heping Road")
    on_site = make.job("on_site", technician=tech.user, priority="urgent", customer=customer)
    assigned = make.job("assigned", technician=tech.user, priority="low")
    html = tech.get("/my-jobs").get_data(as_text=True)

    arrived = card(html, on_site)  # checked in an hour after the call, within 4 h: met
    assert 'class="deadline deadline-met" title="规定到达时间"' in arrived
    assert '<span class="visually-hidden">规定到达时间:</span>' in arrived
    assert "· 按时到达" in arrived and "剩余" not in arrived
    assert 'class="badge status-on_site">在现场</span>' in arrived and 'class="badge priority-urgent">紧急</span>' in arrived
    assert "<strong>" in arrived and "· 故障维修</p>" in arrived
    assert '>地图</a>' in arrived and "query=5%20Heping%20Road" in arrived
    waiting = card(html, assigned)
    assert 'class="badge status-assigned">已派工</span>' in waiting
    assert '<strong class="nowrap">剩余 2 天 22 小时</strong>' in waiting  # low: 72 h from an hour ago
    assert "Arrival deadline" not in html and "Map<" not in html


# --- local times and times left --------------------------------------------------------------

MOMENTS = [
    datetime(2026, 11, 27, 8, 5),  # naive: taken as UTC
    datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc),  # the new year in Shanghai
    datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc),  # either side of Berlin's clock change
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc),
    datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc),
    datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc),
    datetime(2026, 3, 8, 6, 59, 59, tzinfo=timezone.utc),  # and New York's
    datetime(2026, 3, 8, 7, 0, 1, tzinfo=timezone.utc),
]
FORMATS = ["short", "medium", "long", "full", "HH:mm", "HH:mm:ss", "yyyy-MM-dd HH:mm zzz", "EEEE d MMMM y"]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
def test_local_dt_reads_as_babel_formats_it(request, app_config, zone):
    app_config["TIMEZONE"] = zone
    app = request.getfixturevalue("app")
    for language in ("en", "zh-CN"):
        with app.test_request_context(headers={"Accept-Language": language}):
            for moment in MOMENTS:
                for fmt in FORMATS:
                    assert local_dt(moment, fmt) == format_datetime(moment, fmt), (language, moment, fmt)
            assert local_dt(None) == ""


@pytest.mark.parametrize("language, texts", [
    ("en", ["3 h 5 min left", "1 d 2 h overdue", "0 min left", "59 min overdue"]),
    ("zh-CN", ["剩余 3 小时 5 分钟", "已超时 1 天 2 小时", "剩余 0 分钟", "已超时 59 分钟"]),
])
def test_time_left_in_days_hours_and_minutes(app, language, texts):
    with app.test_request_context(headers={"Accept-Language": language}):
        seconds = [3 * 3600 + 5 * 60 + 59, -(86400 + 2 * 3600 + 30 * 60), 59, -(59 * 60 + 1)]
        assert [time_left(s) for s in seconds] == texts
