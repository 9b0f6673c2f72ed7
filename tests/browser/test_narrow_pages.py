"""Every page a role reaches from its navigation, at 360 px wide, on the demo data (phones first).

For each demo user: the start page, every navigation link and the first record each list links
to. On every page: the page loads, nothing is wider than the screen (no sideways scrolling), every
visible field has a label, every button and every link standing on its own (a paragraph's, list
item's or value's whole content) is a tap target at least 44 px high, and the browser
reports no console error or CSP violation. A screenshot of each page is kept.
"""
from __future__ import annotations

import re

import pytest

from fieldservice.demo import DEMO_PASSWORD
from tests.browser.conftest import assert_no_browser_problems, seed_demo_data, shot, sign_in

WIDTH = 360
DETAIL = re.compile(r"^/(jobs|claims|inspections|complaints|follow-ups|suggestions|performance/technicians)/\d+$")

CHECKS = """
(limit) => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const name = (el) => (el.id ? '#' + el.id : el.tagName.toLowerCase()) +
      (el.name ? '[name=' + el.name + ']' : '') + ' "' + (el.textContent || el.value || '').trim().slice(0, 30) + '"';
  const problems = [];
  const doc = document.documentElement;
  // Against the phone's width, not innerWidth: a mobile browser may zoom out to fit a wide page.
  if (doc.scrollWidth > limit + 1) {
    const wide = [...document.querySelectorAll('body *')].filter(
      (el) => visible(el) && el.getBoundingClientRect().right > limit + 1).slice(-3).map(name);
    problems.push('page is ' + doc.scrollWidth + ' px wide: ' + wide.join(', '));
  }
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'submit', 'button'].includes(el.type) || !visible(el)) continue;
    const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) problems.push('field without a label: ' + name(el));
  }
  for (const el of document.querySelectorAll('button, .button, input[type=submit], select')) {
    if (!visible(el)) continue;
    const h = el.getBoundingClientRect().height;
    if (h < 43.5) problems.push('tap target ' + Math.round(h) + ' px high: ' + name(el));
  }
  // A link that is the whole content of its paragraph, list item or value is a tap target too
  // (links inside running text are not); each line it wraps to counts, not the box around them.
  for (const el of document.querySelectorAll('main a:not(.button)')) {
    const parent = el.parentElement;
    if (!visible(el) || !parent || !['P', 'LI', 'DD'].includes(parent.tagName)
        || parent.textContent.trim() !== el.textContent.trim()) continue;
    const h = Math.min(...[...el.getClientRects()].map((r) => r.height));
    if (h < 43.5) problems.push('link tap target ' + Math.round(h) + ' px high: ' + name(el));
  }
  return problems;
}
"""


@pytest.fixture
def demo(live_app):
    seed_demo_data(live_app, media=True)


def _paths(page) -> list[str]:
    hrefs = page.eval_on_selector_all("nav.nav a", "els => els.map(e => e.getAttribute('href'))")
    return [h for h in dict.fromkeys(hrefs) if h and h.startswith("/")]


def _first_detail(page) -> str | None:
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
    return next((h for h in hrefs if DETAIL.match(h.split("?")[0])), None)


@pytest.mark.parametrize("username", ["tech", "dispatcher", "reviewer", "supervisor"])
def test_every_page_of_the_role_fits_a_360_px_phone(demo, new_page, username):
    page = new_page("phone")
    page.set_viewport_size({"width": WIDTH, "height": 740})
    sign_in(page, username, DEMO_PASSWORD)
    start = page.url.split(page.url.split("/")[2], 1)[1]
    problems: dict[str, list[str]] = {}
    seen: set[str] = set()
    queue = [start, *_paths(page)]
    while queue:
        path = queue.pop(0)
        if path in seen or path.endswith((".csv", "/logout")):
            continue
        seen.add(path)
        response = page.goto(path)
        assert response is not None and response.ok, f"{username} {path}: {response and response.status}"
        page.wait_for_load_state("networkidle")
        found = page.evaluate(CHECKS, WIDTH)
        if found:
            problems[path] = found
        slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "start"
        shot(page, f"360-{username}-{slug}")
        if DETAIL.match(path.split("?")[0]) is None:
            detail = _first_detail(page)
            if detail and detail not in seen:
                queue.append(detail)
    assert len(seen) >= 3, seen
    assert not problems, "\n".join(f"{username} {p}: {'; '.join(v)}" for p, v in problems.items())
    assert_no_browser_problems(page)


def test_the_checks_catch_a_wide_page_an_unlabelled_field_and_a_small_button_or_link(new_page):
    """The page checks above can fail: each problem planted here is reported."""
    page = new_page("phone")
    page.set_viewport_size({"width": WIDTH, "height": 740})
    page.set_content("""<meta name="viewport" content="width=device-width, initial-scale=1">
        <body style="margin:0"><main>
        <div style="width:500px">wide</div>
        <label for="ok">Named</label><input id="ok" name="ok">
        <input name="nameless">
        <button style="height:20px">tiny</button>
        <button style="height:48px">fine</button>
        <p><a href="#">small link</a></p>
        <p>Text with <a href="#">an inline link</a> in it.</p>
        <p><a href="#" style="display:inline-flex;min-height:44px">tall link</a></p></main></body>""")
    found = page.evaluate(CHECKS, WIDTH)
    assert any(p.startswith("page is 5") for p in found), found
    assert any("field without a label" in p and "nameless" in p for p in found), found
    assert any("tap target 20 px" in p for p in found), found
    assert any(p.startswith("link tap target") and "small link" in p for p in found), found
    assert not any("[name=ok]" in p or '"fine"' in p or "inline link" in p or "tall link" in p for p in found), found
