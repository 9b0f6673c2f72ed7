"""Demo data for `make run`: one user per role, customers, today's jobs in every state, and
eight weeks of history (diagnoses, follow-up calls, complaints, claims, suggestions) so that the
supervisor's pages have something to show from the first minute (issue 6).

Everything goes through the same operations the pages use, so the rules apply to demo data too
(follow-up calls on resolving, repeat detection of complaints, quality flags).
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from .cli import create_user
from .extensions import db
from .models import Region, utcnow

DEMO_PASSWORD = "demo1234"  # noqa: S105 - demo data only, printed by `make run`

DEMO_USERS = [
    # username, display name, role, region code
    ("dispatcher", "Wang Fang 王芳", "dispatcher", "north"),
    ("tech", "Li Ming 李明", "technician", "north"),
    ("tech2", "Zhao Lei 赵磊", "technician", "north"),
    ("tech3", "Chen Jing 陈静", "technician", "south"),
    ("tech4", "Liu Yang 刘洋", "technician", "south"),
    ("reviewer", "Sun Li 孙丽", "reviewer", "north"),
    ("supervisor", "Zhou Qiang 周强", "supervisor", "north"),
]


def seed_demo() -> None:
    """Demo data for `make run`: one user per role, two regions, customers, jobs in every state."""
    from .blueprints.dispatch import operations as ops

    north = Region(code="north", name="华北区 North")
    south = Region(code="south", name="华南区 South")
    db.session.add_all([north, south])
    regions = {"north": north, "south": south}
    users = {}
    for username, name, role, region in DEMO_USERS:
        users[username] = create_user(username, DEMO_PASSWORD, role, name, regions[region],
                                      phone="138 0000 %04d" % (len(users) + 1))
    customers = [
        ops.create_customer("Beijing Huaxin Printing 北京华信印务", "010 6555 0101",
                            "北京市朝阳区建国路 88 号 3 号厂房", north.id),
        ops.create_customer("Tianjin Port Logistics 天津港物流", "022 2555 0102",
                            "天津市滨海新区港航路 12 号", north.id),
        ops.create_customer("Shijiazhuang Textile Mill 石家庄纺织厂", "0311 555 0103",
                            "石家庄市长安区和平东路 5 号", north.id),
        ops.create_customer("Guangzhou Bright Foods 广州明亮食品", "020 3555 0104",
                            "广州市黄埔区科学城 66 号", south.id, locale="zh_CN"),
        ops.create_customer("Shenzhen Harbour Electronics", "0755 555 0105",
                            "Unit 7, 18 Nanhai Road, Nanshan, Shenzhen", south.id, locale="en"),
    ]
    dispatcher = users["dispatcher"]
    now = utcnow()
    today = date.today()

    def job(customer, model, serial, rtype, priority, text, hours_ago, made_by_us=True, coverage=None):
        return ops.log_request(
            actor=dispatcher, customer=customer, request_type=rtype, priority=priority,
            description=text, product_model=model, product_serial=serial, made_by_us=made_by_us,
            coverage_end_date=coverage, now=now - timedelta(hours=hours_ago),
        )

    def step(j, action, actor, hours_ago, reason=None):
        # Seeded history: a resolved demo job stands for a submitted record (by_hand=False).
        ops.transition_job(j, action, actor, None, reason=reason, now=now - timedelta(hours=hours_ago),
                           by_hand=False)

    def assign(j, tech, hours_ago):
        ops.assign_job(j, users[tech], dispatcher, j.version, now=now - timedelta(hours=hours_ago))

    # new, unassigned: one urgent close to its deadline, one normal.
    job(customers[0], "PX-200 Press", "PX200-1187", "fault_repair", "urgent",
        "Press stops after 10 minutes; error E42 on the panel.", 3)
    job(customers[1], "CV-50 Conveyor", "CV50-0032", "fault_repair", "normal",
        "Belt slips under load.", 2, coverage=today - timedelta(days=40))
    job(customers[3], "FL-8 Filler", None, "delivery_inspection", "high",
        "Three new filling machines delivered; inspect on arrival.", 1)
    job(customers[4], "Other brand dryer", None, "inquiry", "low",
        "Asks whether we service a dryer made by another company.", 1, made_by_us=False)
    # assigned to the demo technician (today), en route, on site
    j = job(customers[0], "PX-200 Press", "PX200-1190", "fault_repair", "high",
            "Paper jams at the feeder, twice a day.", 5)
    assign(j, "tech", 4)
    j = job(customers[2], "SP-9 Spinner", "SP9-7781", "fault_repair", "normal",
            "Loud vibration at high speed.", 20)
    assign(j, "tech", 18)
    step(j, "start_travel", users["tech"], 1)
    # A delivery to inspect at the customer's site (policy 4.3), the demo technician on the way.
    j = job(customers[2], "FL-8 Filler", None, "delivery_inspection", "high",
            "Delivery of 3 FL-8 fillers and 1 CV-50 conveyor, order PO-2026-1127; inspect on arrival.", 6)
    assign(j, "tech", 5)
    step(j, "start_travel", users["tech"], 1)
    j = job(customers[1], "CV-50 Conveyor", "CV50-0040", "complaint", "normal",
            "Customer says the last repair did not hold.", 30)
    assign(j, "tech2", 28)
    step(j, "start_travel", users["tech2"], 3)
    step(j, "check_in", users["tech2"], 2)
    # resolved, closed, escalated, cancelled, late
    j = job(customers[3], "FL-8 Filler", "FL8-0101", "fault_repair", "urgent",
            "Filler nozzle leaking.", 50)
    assign(j, "tech3", 49)
    step(j, "start_travel", users["tech3"], 48)
    step(j, "check_in", users["tech3"], 47)
    step(j, "resolve", users["tech3"], 46, reason="Replaced nozzle seal; showed the operator how to clean it.")
    demo_diagnosis(j, "leak", now - timedelta(hours=46), {
        "symptom": "Filler nozzle drips after each fill.", "root_cause": "Nozzle seal worn and cracked.",
        "actions_taken": "Replaced the nozzle seal and tested 50 fills without a drip.",
        "guidance": "Clean the nozzle with warm water at the end of each shift; do not use solvents.",
        "outcome": "fixed", "contact_name": "Ms Huang 黄女士",
    }, parts=[("SEAL-FL8-02", "Nozzle seal", 1, "", "", True)])
    j = job(customers[4], "FL-8 Filler", "FL8-0150", "fault_repair", "normal",
            "Display flickers.", 120)
    assign(j, "tech4", 118)
    step(j, "start_travel", users["tech4"], 100)
    step(j, "check_in", users["tech4"], 70)  # after the 48 h deadline: late (policy 4.1)
    step(j, "resolve", users["tech4"], 69, reason="Loose display cable re-seated.")
    demo_diagnosis(j, "wiring", now - timedelta(hours=69), {
        "symptom": "Display flickers when the machine vibrates.", "root_cause": "Display cable loose in its connector.",
        "actions_taken": "Re-seated and secured the cable with a clip.",
        "guidance": "Keep the cabinet door closed while running.", "outcome": "fixed", "contact_name": "Mr Lee",
    })
    # The follow-up call closes the job (policy 2.1); the customer complains that the technician
    # came late: a penalty candidate under policy 4.1 for the quarter.
    _call_back(j, dispatcher, now - timedelta(hours=24), 2, "Fixed, but the technician came a day late.",
               complaint=("late_arrival", "The technician arrived a day after the promised time."))
    j = job(customers[0], "PX-200 Press", "PX200-1187", "claim", "high",
            "Customer claims the new roller arrived cracked.", 26)
    assign(j, "tech", 25)
    step(j, "escalate", users["tech"], 6, reason="Customer demands a full replacement; needs a decision on cost.")
    j = job(customers[2], "SP-9 Spinner", "SP9-7790", "fault_repair", "low",
            "Duplicate call about the same spinner.", 10)
    step(j, "cancel", dispatcher, 9, reason="Duplicate of an open job.")
    # The demo technician's visit of yesterday: a cracked roller, photographed (make run adds the
    # photos). The claim for it is what a new user opens from the diagnosis (policy 3.7).
    j = job(customers[0], "PX-200 Press", "PX200-1201", "fault_repair", "high",
            "New feed roller fitted last week is cracked; paper tears.", 30)
    assign(j, "tech", 29)
    step(j, "start_travel", users["tech"], 27)
    step(j, "check_in", users["tech"], 26)
    step(j, "resolve", users["tech"], 25, reason="Replaced the cracked feed roller; kept the old one as evidence.")
    demo_diagnosis(j, "transport_damage", now - timedelta(hours=25), {
        "symptom": "Feed roller cracked across its width; paper tears at the feeder.",
        "root_cause": "Roller cracked in transport: the crate corner was crushed on delivery.",
        "actions_taken": "Replaced the feed roller from van stock; 200 sheets fed without a tear.",
        "guidance": "Report damaged crates on delivery, before signing the delivery note.",
        "outcome": "fixed", "contact_name": "Mr Zhang 张先生",
    }, parts=[("RL-PX200-01", "Feed roller", 1, "RL-88812", "RL-90115", True)])

    seed_history(users, customers, now)


def _call_back(job, dispatcher, when, satisfaction, comments, complaint=None):
    """The dispatcher's follow-up call on a resolved job: reached, with the customer's rating; a
    (category, text) complaint is opened in the same step (policy 2.1, 2.6)."""
    from .blueprints.complaints import operations as complaints

    follow_up = complaints.create_follow_up(job, now=job.resolved_dt)
    request = complaints.ComplaintRequest(*complaint) if complaint else None
    return complaints.record_follow_up(follow_up, "reached", satisfaction, comments, dispatcher,
                                       open_complaint=request, now=when)


# Eight weeks of history: (product model, fault codes it tends to have). The FL-8 filler's
# nozzle leaks pile up in the last full week: the quality watch flags it (policy 2.4).
HISTORY_WEEKS = 8
# Jobs of the history whose claim the reviewer has settled (made by seed_demo_media: claims need photos).
DEMO_CLAIM_JOB = "FL-8 filler head leaks; the customer claims a replacement head under warranty."
HISTORY_PRODUCTS = [
    ("PX-200 Press", ["jam", "alarm_code", "drive_belt", "wear"]),
    ("CV-50 Conveyor", ["drive_belt", "bearing", "motor", "wear"]),
    ("FL-8 Filler", ["leak", "sensor", "settings"]),
    ("SP-9 Spinner", ["vibration_noise", "bearing", "control_board"]),
]
HISTORY_SYMPTOMS = {
    "jam": "Paper jams at the feeder.", "alarm_code": "Alarm E42 stops the press.",
    "drive_belt": "Belt slips under load.", "wear": "Worn guide rails, uneven output.",
    "bearing": "Grinding noise from the drive end.", "motor": "Motor trips after a few minutes.",
    "leak": "Nozzle drips after each fill.", "sensor": "Level sensor reads wrong.",
    "settings": "Fill volume drifts.", "vibration_noise": "Loud vibration at high speed.",
    "control_board": "Controller resets at random.",
}


def seed_history(users: dict, customers: list, now: datetime) -> None:
    """Jobs of the past weeks, each diagnosed, called back and closed; complaints (one repeated
    and escalated), claims decided with their appraisal, suggestions (one adopted)."""
    from .blueprints.complaints import operations as complaints
    from .blueprints.dispatch import operations as ops
    from .blueprints.performance import operations as performance
    from .blueprints.statistics import operations as statistics
    from .models import FaultCategory
    from .services.periods import iso_week, week_name

    rng = random.Random(2026)
    dispatcher, supervisor = users["dispatcher"], users["supervisor"]
    technicians = {"north": [users["tech"], users["tech2"]], "south": [users["tech3"], users["tech4"]]}
    regions = {c.region_id: ("north" if c.region.code == "north" else "south") for c in customers}
    serials = {}  # one unit per (customer, model), so later calls find the same product

    def history_job(customer, model, fault, created, technician, satisfaction=None, description=None):
        serial = serials.setdefault((customer.id, model), f"{model.split()[0]}-{customer.id:02d}{len(serials):03d}")
        j = ops.log_request(actor=dispatcher, customer=customer, request_type="fault_repair", priority="normal",
                            description=description or HISTORY_SYMPTOMS[fault], product_model=model,
                            product_serial=serial, now=created)
        ops.assign_job(j, technician, dispatcher, j.version, now=created + timedelta(hours=1))
        arrive = created + timedelta(hours=rng.randint(4, 40))
        ops.transition_job(j, "start_travel", technician, None, now=arrive - timedelta(hours=1))
        ops.transition_job(j, "check_in", technician, None, now=arrive)
        done = arrive + timedelta(hours=2)
        ops.transition_job(j, "resolve", technician, None, reason="Repaired and tested.", now=done, by_hand=False)
        demo_diagnosis(j, fault, done, {
            "symptom": HISTORY_SYMPTOMS[fault], "root_cause": "See symptom; part replaced.",
            "actions_taken": "Replaced the faulty part and tested.", "guidance": "Showed the operator the daily checks.",
            "outcome": "fixed", "contact_name": "Site manager",
        })
        if satisfaction is not None:
            _call_back(j, dispatcher, done + timedelta(days=rng.randint(1, 3)), satisfaction,
                       "Customer satisfied." if satisfaction >= 4 else "Customer unhappy with the wait.")
        return j

    start_of_today = now.replace(hour=2, minute=0, second=0, microsecond=0)
    for weeks_ago in range(HISTORY_WEEKS, 0, -1):
        for n in range(rng.randint(5, 7)):
            created = start_of_today - timedelta(weeks=weeks_ago, days=rng.randint(0, 4), hours=rng.randint(0, 6))
            customer = rng.choice(customers)
            model, faults = rng.choice(HISTORY_PRODUCTS)
            technician = technicians[regions[customer.region_id]][n % 2]
            history_job(customer, model, rng.choice(faults), created, technician,
                        satisfaction=rng.choice([3, 4, 4, 5, 5]))
    # Last week's run of FL-8 leaks at three customers: a quality flag (policy 2.4).
    last_week = iso_week(week_name(now - timedelta(weeks=1)))
    for n, customer in enumerate([customers[1], customers[3], customers[2], customers[4], customers[0]]):
        created = last_week.start_dt + timedelta(days=1 + n % 2, hours=2 + n)  # Tuesday, Wednesday
        history_job(customer, "FL-8 Filler", "leak", created, technicians[regions[customer.region_id]][1],
                    satisfaction=4)

    # Complaints. Tianjin Port complained about the CV-50 conveyor's belt three weeks ago and again
    # last week: a repeated complaint, escalated to the supervisor (policy 2.6).
    cv50 = history_job(customers[1], "CV-50 Conveyor", "drive_belt", start_of_today - timedelta(weeks=4),
                       users["tech2"], satisfaction=None)
    first = _call_back(cv50, dispatcher, cv50.resolved_dt + timedelta(days=2), 2, "Belt slips again.",
                       complaint=("fault_not_fixed", "The conveyor belt slips again two days after the repair."))
    complaints.close_complaint(first, "Sent the technician back; belt tension re-set and the pulley replaced.",
                               dispatcher, now=first.logged_dt + timedelta(days=1))
    complaints.log_complaint(customers[1], "fault_not_fixed", "The conveyor belt slips once more.", dispatcher,
                             job=cv50, now=start_of_today - timedelta(days=6))
    # Shenzhen Harbour complained once about the SP-9 spinner: a second call from them on the same
    # issue is what a new user logs to see the escalation (README).
    sp9 = history_job(customers[4], "SP-9 Spinner", "vibration_noise", start_of_today - timedelta(weeks=2),
                      users["tech3"], satisfaction=None)
    _call_back(sp9, dispatcher, sp9.resolved_dt + timedelta(days=1), 2, "Still noisy.",
               complaint=("poor_communication", "Nobody told the site manager what was done or what to watch."))
    # A late arrival that led to a complaint (policy 4.1) for tech4 is in the jobs of today (above).

    # Claims decided in the past weeks, with the reviewer's appraisal (policy 3.7) — made with their
    # photo evidence by seed_demo_media once the object store runs.
    for weeks_ago in (3, 2):
        created = start_of_today - timedelta(weeks=weeks_ago, days=1)
        history_job(customers[3], "FL-8 Filler", "leak", created, users["tech3"], satisfaction=3,
                    description=DEMO_CLAIM_JOB)
    # A call-back nobody made yet, two days past due: an overdue follow-up on the dashboard.
    history_job(customers[2], "SP-9 Spinner", "bearing", start_of_today - timedelta(days=6), users["tech"])

    # Suggestions (policy 3.11): one adopted (a reward candidate under 5.2), one waiting.
    leak = db.session.scalar(select(FaultCategory).where(FaultCategory.code == "leak"))
    adopted = performance.submit_suggestion(users["tech2"], performance.SuggestionData(
        title="Ship FL-8 fillers with a spare nozzle seal",
        body="Most FL-8 leak calls are a worn nozzle seal. A spare in the box saves a visit.",
        product_model="FL-8 Filler", fault_category_id=leak.id if leak else None),
        now=start_of_today - timedelta(weeks=3))
    performance.decide_suggestion(adopted, "adopted", "Adopted from next month's shipments.", supervisor,
                                  now=start_of_today - timedelta(weeks=2))
    performance.submit_suggestion(users["tech3"], performance.SuggestionData(
        title="Reinforce the PX-200 crate corners",
        body="Two cracked rollers this month came in crates crushed at the corner.",
        product_model="PX-200 Press"), now=start_of_today - timedelta(days=2))

    for weeks_ago in range(HISTORY_WEEKS, -1, -1):
        statistics.refresh_quality_flags(week_name(now - timedelta(weeks=weeks_ago)), now=now)


def demo_diagnosis(job, fault_code: str, when, fields: dict, parts=()) -> None:
    """A submitted demo diagnosis (signature and photos come from `make run` once the store runs)."""
    from .models import Diagnosis, FaultCategory, ReplacedPart

    category = db.session.scalar(select(FaultCategory).where(FaultCategory.code == fault_code))
    diagnosis = Diagnosis(job=job, version=1, status="submitted", technician_id=job.technician_id,
                          fault_category=category, created_dt=when, draft_saved_dt=when, submitted_dt=when,
                          time_on_site_seconds=int((when - job.checked_in_dt).total_seconds()), **fields)
    diagnosis.parts = [ReplacedPart(position=i, part_number=a, description=b, quantity=c, faulty_serial=d,
                                    replacement_serial=e, kept_as_evidence=f)
                       for i, (a, b, c, d, e, f) in enumerate(parts)]
    db.session.add(diagnosis)
    db.session.flush()


def seed_demo_media() -> int:
    """Signatures and photos for the demo diagnoses (needs the object store; run by `make run`).

    Returns how many objects were added; does nothing for diagnoses that have them already.
    """
    import io

    from PIL import Image, ImageDraw

    from .models import Diagnosis, Photo
    from .services import storage
    from .services.photos import ingest_photo

    from .models import Job

    added = 0
    # Photos for the recent visits and for the history's claims; older history has none (fast start).
    recent = utcnow() - timedelta(days=4)
    wanted = select(Diagnosis).join(Job, Diagnosis.job_id == Job.id).where(
        Diagnosis.status == "submitted",
        (Diagnosis.submitted_dt >= recent) | (Job.description == DEMO_CLAIM_JOB))
    for diagnosis in db.session.scalars(wanted):
        if not diagnosis.signature_key:
            image = Image.new("RGBA", (600, 240), (255, 255, 255, 0))
            draw = ImageDraw.Draw(image)
            draw.line([(40, 170), (120, 60), (170, 180), (240, 70), (300, 170), (380, 90), (560, 150)],
                      fill=(20, 20, 20, 255), width=5)
            out = io.BytesIO()
            image.save(out, "PNG")
            out.seek(0)
            diagnosis.signature_key = storage.put(storage.new_key("signatures"), out, "image/png").key
            added += 1
        has_photos = db.session.scalar(select(func.count(Photo.id)).where(Photo.job_id == diagnosis.job_id))
        if not has_photos:
            for n, (colour, caption) in enumerate([((150, 40, 30), "Defective part, close-up"),
                                                   ((60, 70, 90), "Machine nameplate")]):
                image = Image.new("RGB", (1600, 1200), (225, 222, 215))
                draw = ImageDraw.Draw(image)
                draw.rectangle([300, 250, 1300, 950], fill=colour)
                draw.ellipse([650, 450, 950, 750], fill=(240, 240, 240))
                draw.line([(320, 270), (1280, 930)], fill=(10, 10, 10), width=12)
                out = io.BytesIO()
                image.save(out, "JPEG", quality=88)
                out.seek(0)
                ingest_photo(out, uploader=diagnosis.technician, job=diagnosis.job, diagnosis_id=diagnosis.id,
                             caption=caption)
                added += 1
    added += _settled_demo_claims()
    db.session.commit()
    return added


def _settled_demo_claims() -> int:
    """The history's two warranty claims, submitted with their photos, appraised and settled: one
    approved for less than claimed, one rejected. Does nothing when they exist already."""
    from decimal import Decimal

    from .blueprints.claims import operations as claims
    from .models import Claim, Diagnosis, Job, Photo, User

    reviewer = db.session.scalar(select(User).where(User.username == "reviewer"))
    jobs = db.session.scalars(select(Job).where(Job.description == DEMO_CLAIM_JOB).order_by(Job.id)).all()
    made = 0
    for n, job in enumerate(jobs):
        if reviewer is None or db.session.scalar(select(func.count(Claim.id)).where(Claim.job_id == job.id)):
            continue
        diagnosis = db.session.scalar(select(Diagnosis).where(Diagnosis.job_id == job.id, Diagnosis.status == "submitted"))
        when = diagnosis.submitted_dt + timedelta(hours=3)
        claim = claims.open_claim(job.technician, claims.ClaimData(
            claim_type="warranty_repair", description=DEMO_CLAIM_JOB, amount_claimed=Decimal("2400.00")),
            diagnosis=diagnosis, now=when)
        for photo in db.session.scalars(select(Photo).where(Photo.job_id == job.id)):
            claims.add_evidence(claim, photo, job.technician, now=when)
        claims.submit_claim(claim, job.technician, now=when)
        claims.start_review(claim, reviewer, now=when + timedelta(days=1))
        if n == 0:
            claims.appraise(claim, reviewer, "manufacturing_defect", "Seal seat machined off-centre.",
                            now=when + timedelta(days=1))
            claims.approve(claim, reviewer, Decimal("1800.00"), "Defect confirmed; head replaced, labour not covered.",
                           now=when + timedelta(days=1))
        else:
            claims.appraise(claim, reviewer, "misuse", "Solvent damage on the seal.", now=when + timedelta(days=1))
            claims.reject(claim, reviewer, "Cleaned with solvent against the manual.", now=when + timedelta(days=1))
        made += 1
    return made


def demo_logins_text() -> str:
    lines = ["Demo logins (password for all: %s):" % DEMO_PASSWORD]
    for username, name, role, region in DEMO_USERS:
        lines.append(f"  {username:<11} {role:<11} {region:<6} {name}")
    return "\n".join(lines)
