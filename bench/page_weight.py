"""Benchmark: page weight of the technician's pages over the wire (issue 7). Not a test: it
records numbers in bench/RESULTS.md.

A temporary SQLite database is built by the migrations and filled with the demo data
(fieldservice.demo.seed_demo), plus what the technician's pages need to be full: a job on
site with a diagnosis draft, a delivery inspection under way at the site, and a draft claim
with six photos as evidence. The app's test client signs in as the demo technician and
fetches each page the way a phone does; nothing is mocked (photo rows point to object keys
that are presigned but never fetched: photos are images, outside these figures).

Sizes are gzip level 6 of each response body, which is what nginx sends with `gzip on;
gzip_comp_level 6` for text/html, text/css and application/javascript. The app itself does not
compress: compression is the proxy's job (see the deployment notes), so the figures assume it.
- first load: the HTML plus every CSS/JS/icon file the page links (htmx included);
- repeat load: the HTML only: the static files are fingerprinted (?v=<sha256>) and cached
  for a year (Cache-Control: immutable), so a phone fetches them once per release;
- htmx fragments: the responses the pages swap in (refresh, panel, draft save, one answer).
Response headers (security headers, cookies) come on top; they are listed once per run.

Targets: first load < 30 KB, fragments < 8 KB (gzip).

Run:  python bench/page_weight.py [--no-record]
"""
from __future__ import annotations

import argparse
import gzip
import platform
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "RESULTS.md"
KB = 1024
TARGET_FIRST_KB = 30
TARGET_FRAGMENT_KB = 8
LINK_RE = re.compile(r'<(?:link|script)\b[^>]*?(?:href|src)="(/static/[^"]+)"')
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def gz(data: bytes) -> int:
    """Bytes of the body as nginx sends it with gzip_comp_level 6."""
    return len(gzip.compress(data, compresslevel=6))


def kb(n: int) -> str:
    return f"{n / KB:.1f} KB"


# --- data --------------------------------------------------------------------------------


def build(database_url: str):
    """The app on a fresh database with the demo data and the technician's work in progress."""
    from decimal import Decimal

    from flask_migrate import upgrade
    from sqlalchemy import select

    from fieldservice import create_app
    from fieldservice.blueprints.claims import operations as claims
    from fieldservice.blueprints.dispatch import operations as ops
    from fieldservice.blueprints.inspections import operations as inspections
    from fieldservice.demo import seed_demo
    from fieldservice.extensions import db
    from fieldservice.models import Diagnosis, Job, Photo, User

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench-page-weight",
        # Presigned photo URLs are computed offline; nothing is fetched from this address.
        "S3_ENDPOINT_URL": "http://127.0.0.1:8333", "S3_BUCKET": "fieldservice",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
    })
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
        tech = db.session.scalar(select(User).where(User.username == "tech"))

        def tech_job(status: str, request_type: str) -> Job:
            return db.session.scalar(select(Job).where(
                Job.technician_id == tech.id, Job.status == status, Job.request_type == request_type
            ).order_by(Job.id))

        # The spinner repair: the technician checks in; the diagnosis form is the one they fill.
        repair = tech_job("en_route", "fault_repair")
        ops.transition_job(repair, "check_in", tech, None)
        # The delivery of fillers: checked in, the inspection started (policy 4.3), some answered.
        delivery = tech_job("en_route", "delivery_inspection")
        ops.transition_job(delivery, "check_in", tech, None)
        inspection = inspections.start_inspection(
            kind=inspections.SITE_DELIVERY, inspector=tech, order_reference="PO-2026-1127", job=delivery,
            lines=[inspections.LineData("FL-8 Filler", 3), inspections.LineData("CV-50 Conveyor", 1)])
        for check in inspection.checks[: len(inspection.checks) // 3]:
            inspections.answer_check(check, "pass")
        # Yesterday's cracked roller: six photos of the job, a draft claim with all six (policy 3.7).
        roller = tech_job("resolved", "fault_repair")
        diagnosis = db.session.scalar(select(Diagnosis).where(Diagnosis.job_id == roller.id))
        photos = []
        for n in range(6):
            photo = Photo(job_id=roller.id, diagnosis_id=diagnosis.id, caption=f"Cracked roller, view {n + 1}",
                          original_key=f"photos/bench/{n}/original.jpg", display_key=f"photos/bench/{n}/display.jpg",
                          thumb_key=f"photos/bench/{n}/thumb.jpg", content_type="image/jpeg", sha256="0" * 64,
                          byte_size=480_000, width=2048, height=1536, uploaded_by_id=tech.id)
            db.session.add(photo)
            photos.append(photo)
        db.session.flush()
        claim = claims.open_claim(tech, claims.ClaimData(
            claim_type="transport_damage", description="Feed roller cracked in transport; crate crushed.",
            amount_claimed=Decimal("860.00")), diagnosis=diagnosis)
        for photo in photos:
            claims.add_evidence(claim, photo, tech)
        db.session.commit()
        ids = {"repair": repair.id, "delivery": delivery.id, "inspection": inspection.id,
               "check": inspection.checks[-1].id, "claim": claim.id, "roller": roller.id,
               "username": tech.username}
    return app, ids


# --- measuring ---------------------------------------------------------------------------


def signed_in_client(app, username: str, language: str):
    from fieldservice.demo import DEMO_PASSWORD

    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    html = client.get("/login").get_data(as_text=True)
    token = next(g for g in CSRF_RE.search(html).groups() if g)
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.status_code
    return client


def header_bytes(response) -> int:
    lines = [f"HTTP/1.1 {response.status}"] + [f"{k}: {v}" for k, v in response.headers.items()]
    return len(("\r\n".join(lines) + "\r\n\r\n").encode())


def page_weight(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    html = response.get_data()
    statics = []
    for link in dict.fromkeys(LINK_RE.findall(html.decode())):
        static = client.get(link.replace("&amp;", "&"))
        assert static.status_code == 200, link
        assert "immutable" in static.headers["Cache-Control"], link
        body = static.get_data()
        statics.append((link.split("?")[0].removeprefix("/static/"), len(body), gz(body)))
    return {"raw": len(html), "gz": gz(html), "statics": statics, "headers": header_bytes(response),
            "csrf": next(g for g in CSRF_RE.search(html.decode()).groups() if g)}


def fragment_weight(client, method: str, url: str, target: str, data: dict | None = None, csrf: str = "") -> dict:
    headers = {"HX-Request": "true", "HX-Target": target, "HX-Current-URL": "http://localhost" + url}
    if method == "POST":
        headers["X-CSRFToken"] = csrf
        response = client.post(url, data=data or {}, headers=headers)
    else:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, (method, url, response.status_code, response.get_data()[:300])
    body = response.get_data()
    assert b"<html" not in body, f"{url} answered a whole page, not the fragment"
    return {"raw": len(body), "gz": gz(body), "headers": header_bytes(response)}


def measure(app, ids: dict, language: str) -> dict:
    client = signed_in_client(app, ids["username"], language)
    pages = {
        "My jobs": "/my-jobs",
        "Job page (on site)": f"/jobs/{ids['repair']}",
        "Diagnosis form": f"/jobs/{ids['repair']}/diagnosis",
        "Inspection page (delivery, 2 lines)": f"/inspections/{ids['inspection']}",
        "Claim page (draft, 6 photos)": f"/claims/{ids['claim']}",
    }
    page_results = {label: page_weight(client, url) for label, url in pages.items()}
    csrf = page_results["Diagnosis form"]["csrf"]
    draft = {"symptom": "Loud vibration at high speed; worse when the drum is full.",
             "fault_category_id": "0", "root_cause": "Drum bearing worn.",
             "actions_taken": "Replaced the drum bearing.", "guidance": "", "outcome": "",
             "customer_explanation": "", "contact_name": "Mr Zhang"}
    fragments = {
        "My jobs list refresh": fragment_weight(client, "GET", "/my-jobs", "my-jobs-list"),
        "Job panel": fragment_weight(client, "GET", f"/jobs/{ids['repair']}", "job-panel"),
        "Diagnosis draft save (autosave)": fragment_weight(
            client, "POST", f"/jobs/{ids['repair']}/diagnosis/draft", "draft-status", draft, csrf),
        "Diagnosis: add a part row": fragment_weight(
            client, "POST", f"/jobs/{ids['repair']}/diagnosis", "parts", {**draft, "action": "add_part"}, csrf),
        "Inspection: answer one item": fragment_weight(
            client, "POST", f"/inspections/{ids['inspection']}/checks/{ids['check']}",
            f"check-{ids['check']}-form", {"answer": "pass"}, csrf),
        "Claim evidence list reload": fragment_weight(client, "GET", f"/claims/{ids['claim']}", "claim-evidence"),
    }
    return {"pages": page_results, "fragments": fragments}


# --- report ------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def report(results: dict[str, dict], when: str) -> str:
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    any_lang = next(iter(results.values()))
    first_page = next(iter(any_lang["pages"].values()))
    out = [
        f"### Run of {when}", "",
        f"- Date: `{when}`",
        f"- Machine: `{uname}`; nproc {nproc}; {mem_kb / KB / KB:.1f} GiB RAM; Python {platform.python_version()}",
        "- Data: the demo data (fieldservice.demo.seed_demo) on a temporary SQLite file, plus the demo "
        "technician's work in progress (a job on site, a delivery inspection of 2 lines started, a draft "
        "claim with 6 photos); signed in as the demo technician; the app's test client (no network).",
        "- Sizes: gzip level 6 of each body (as nginx `gzip_comp_level 6`; the app itself does not "
        "compress, the proxy does). Photos (images from the object store) are not counted.",
        f"- Response headers come on top: ~{first_page['headers'] / KB:.1f} KB per page response "
        "uncompressed (mostly the Content-Security-Policy and Vary/cookie headers); HTTP/2 compresses "
        "repeated headers (HPACK) to a few bytes.",
        "",
    ]
    statics = first_page["statics"]
    out.append("Static files linked by every page (fingerprinted, `Cache-Control: public, max-age=31536000, "
               "immutable`): " + ", ".join(f"{name} {kb(raw)} → **{kb(z)}**" for name, raw, z in statics)
               + f"; together **{kb(sum(z for _, _, z in statics))}** gzip.")
    out.append("")
    for language, data in results.items():
        out += [f"**Pages, {language}** (target: first load < {TARGET_FIRST_KB} KB)", "",
                "| page | HTML | HTML gzip = repeat load | + static gzip | **first load gzip** |",
                "|---|---|---|---|---|"]
        for label, page in data["pages"].items():
            static_gz = sum(z for _, _, z in page["statics"])
            first = page["gz"] + static_gz
            out.append(f"| {label} | {kb(page['raw'])} | {kb(page['gz'])} | {kb(static_gz)} "
                       f"({len(page['statics'])} files) | **{kb(first)}** {mark(first < TARGET_FIRST_KB * KB)} |")
        out += ["", f"**htmx fragments, {language}** (target < {TARGET_FRAGMENT_KB} KB)", "",
                "| fragment | body | **gzip** |", "|---|---|---|"]
        for label, fragment in data["fragments"].items():
            out.append(f"| {label} | {kb(fragment['raw'])} | **{kb(fragment['gz'])}** "
                       f"{mark(fragment['gz'] < TARGET_FRAGMENT_KB * KB)} |")
        out.append("")
    return "\n".join(out) + "\n"


SECTION = "## Page weight (bench/page_weight.py)"
SECTION_INTRO = """
Issue 7: technicians on weak signal get small pages. Targets: first load (HTML + every CSS/JS,
htmx included) under 30 KB gzip; htmx fragments under 8 KB. Static files are fingerprinted
(`static_url()`, ?v=<sha256[:12]>) and cached for a year, so a repeat load is the HTML alone.
Run: `python bench/page_weight.py`.
"""


def record(text: str, section: str = SECTION, intro: str = SECTION_INTRO) -> None:
    """Append a run at the end of its section of RESULTS.md (made when missing), before the
    next section: other benchmarks write to the same file."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if section not in current:
        current = current.rstrip("\n") + "\n\n" + section + "\n" + intro
    start = current.index(section) + len(section)
    end = current.find("\n## ", start)
    end = len(current) if end == -1 else end + 1
    head, tail = current[:end].rstrip("\n"), current[end:]
    RESULTS.write_text(head + "\n\n" + text.rstrip("\n") + "\n" + ("\n" + tail if tail else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        app, ids = build(f"sqlite:///{work}/page-weight.db")
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        results = {"Chinese (zh_CN, the default)": measure(app, ids, "zh-CN"),
                   "English": measure(app, ids, "en")}
        with app.app_context():
            from fieldservice.extensions import db

            db.engine.dispose()
    text = report(results, when)
    print(text)
    if not args.no_record:
        record(text)
        print(f"Appended to {RESULTS}")


if __name__ == "__main__":
    main()
