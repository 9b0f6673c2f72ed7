"""Command-line tools: `flask create-user`, `flask deactivate-user`, `flask seed-demo` (data in demo.py)."""
from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import func, select

from .extensions import db
from .models import Region, User
from .models.users import ROLES


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


def init_app(app: Flask) -> None:
    from .devtools.bulk import seed_bulk_command

    app.cli.add_command(seed_bulk_command)  # `flask seed-bulk`: data at scale (issue 7)

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
        from .demo import seed_demo

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
        from .demo import seed_demo_media

        click.echo(f"{seed_demo_media()} demo objects stored.")

    @app.cli.command("demo-logins")
    def demo_logins_command():
        """Print the demo accounts."""
        from .demo import demo_logins_text

        click.echo(demo_logins_text())
