"""Command-line tools: `flask create-user`, `flask seed-demo`."""
from __future__ import annotations

from datetime import date, timedelta

import click
from flask import Flask
from sqlalchemy import func, select

from .extensions import db
from .models import Region, User, utcnow
from .models.users import ROLES

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


def create_user(username: str, password: str, role: str, display_name: str | None = None,
                region: Region | None = None, phone: str | None = None) -> User:
    """A new staff account (usernames are case-insensitive)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    user = User(username=username.strip().lower(), display_name=display_name or username,
                role=role, region=region, phone=phone)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


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
        ops.transition_job(j, action, actor, None, reason=reason, now=now - timedelta(hours=hours_ago))

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
    step(j, "close", dispatcher, 24)
    j = job(customers[0], "PX-200 Press", "PX200-1187", "claim", "high",
            "Customer claims the new roller arrived cracked.", 26)
    assign(j, "tech", 25)
    step(j, "escalate", users["tech"], 6, reason="Customer demands a full replacement; needs a decision on cost.")
    j = job(customers[2], "SP-9 Spinner", "SP9-7790", "fault_repair", "low",
            "Duplicate call about the same spinner.", 10)
    step(j, "cancel", dispatcher, 9, reason="Duplicate of an open job.")


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

    added = 0
    for diagnosis in db.session.scalars(select(Diagnosis).where(Diagnosis.status == "submitted")):
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
    db.session.commit()
    return added


def init_app(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.option("--username", required=True)
    @click.option("--role", required=True, type=click.Choice(ROLES))
    @click.option("--name", "display_name", default=None, help="Name shown to colleagues.")
    @click.option("--region", "region_code", default=None, help="Region code (created if new).")
    @click.password_option()
    def create_user_command(username, role, display_name, region_code, password):
        """Create a staff account."""
        region = None
        if region_code:
            region = db.session.scalar(select(Region).where(Region.code == region_code))
            if region is None:
                region = Region(code=region_code, name=region_code)
                db.session.add(region)
        try:
            user = create_user(username, password, role, display_name, region)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
        db.session.commit()
        click.echo(f"Created {user.username} ({user.role}).")

    @app.cli.command("deactivate-user")
    @click.option("--username", required=True)
    def deactivate_user_command(username):
        """Deactivate a staff account; its open sessions stop working at once."""
        from .security import end_all_sessions
        from .services.audit import record_event

        user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            raise click.ClickException(f"No user {username!r}.")
        if user.active:
            user.active = False
            end_all_sessions(user)
            record_event("user", user.id, "deactivate", None, "active", "inactive", reason="flask deactivate-user")
            db.session.commit()
        click.echo(f"{user.username} is deactivated.")

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when there are users already.")
    def seed_demo_command(if_empty):
        """Fill an empty database with demo users, customers and jobs."""
        if db.session.scalar(select(func.count(User.id))):
            if if_empty:
                click.echo("Database already has data; demo data not added.")
                return
            raise click.ClickException("The database already has users; seed-demo wants an empty one.")
        seed_demo()
        db.session.commit()
        click.echo("Demo data added.")

    @app.cli.command("seed-demo-media")
    def seed_demo_media_command():
        """Add signatures and photos to the demo diagnoses (the object store must be running)."""
        click.echo(f"{seed_demo_media()} demo objects stored.")

    @app.cli.command("demo-logins")
    def demo_logins_command():
        """Print the demo accounts."""
        click.echo(demo_logins_text())


def demo_logins_text() -> str:
    lines = ["Demo logins (password for all: %s):" % DEMO_PASSWORD]
    for username, name, role, region in DEMO_USERS:
        lines.append(f"  {username:<11} {role:<11} {region:<6} {name}")
    return "\n".join(lines)
