"""`queue-app`: the project's command line (a Flask CLI group bound to the app)."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from . import create_app
from .extensions import db

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def _app_factory():  # type: ignore[no-untyped-def]
    return create_app()


@click.group(cls=FlaskGroup, create_app=_app_factory)
def cli() -> None:
    """Guichet: queue and appointment system for public front offices."""


def main() -> None:
    cli(prog_name="queue-app")


def alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database() -> None:
    """Create or migrate the schema to the latest revision (inside an app context)."""
    from alembic import command

    command.upgrade(alembic_config(), "head")


@cli.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or migrate the database schema."""
    upgrade_database()
    click.echo(f"Database ready: {_safe_url(current_app.config['DATABASE_URL'])}")


@cli.command("demo")
@with_appcontext
def demo() -> None:
    """Load the example office (idempotent) and print its URLs and device tokens."""
    from .demo import load_office, read_spec

    upgrade_database()
    loaded = load_office(db.session, read_spec(), current_app.config["SECRET_KEY"])
    db.session.commit()
    base = current_app.config["PUBLIC_URL"]
    site = loaded.site
    click.echo("")
    click.echo(f'Demo office ready: {site.name} (site "{site.slug}", {site.timezone})')
    click.echo("")
    click.echo(f"  Agent console    {base}/agent")
    click.echo(f"  Administration   {base}/admin  (dashboard, offices, complaints)")
    click.echo(f"  Commitments      {base}/sites/{site.slug}/commitments  (public)")
    click.echo(f"  Complaint form   {base}/sites/{site.slug}/complaints  (public)")
    click.echo(f"  API (OpenAPI)    {base}/api/v1/openapi.json")
    click.echo(f"  Display board    {base}/api/v1/sites/{site.slug}/board  (display token)")
    click.echo("")
    click.echo("  Sign-ins:")
    for user, password in loaded.users:
        click.echo(f"    {user.role.value:<8} {user.email:<24} {password}")
    click.echo("")
    click.echo("  Device tokens:")
    kiosk_token = None
    for name, (device, token) in loaded.tokens.items():
        click.echo(f"    {device.kind.value:<8} {name:<24} {token}")
        if device.kind.value == "kiosk":
            kiosk_token = token
    tablet = next((t for d, t in loaded.tokens.values() if d.kind.value == "tablet"), None)
    if tablet and site.counters:
        click.echo("")
        click.echo("  Satisfaction tablet of the first counter:")
        click.echo(f"    {base}/feedback/{site.counters[0].id}?token={tablet}")
    if kiosk_token:
        click.echo("")
        click.echo("  Issue a ticket as the kiosk:")
        click.echo(
            f"    curl -X POST -H 'Authorization: Bearer {kiosk_token}' "
            f"-H 'Content-Type: application/json' -d '{{\"service\": \"CNI\"}}' "
            f"{base}/api/v1/sites/{site.slug}/tickets"
        )
    click.echo("")


@cli.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "manager", "agent"]), required=True)
@click.option("--site", "sites", multiple=True, help="Site slug (repeatable).")
@click.option("--password", default=None, help="Generated and printed when omitted.")
@click.option("--name", "full_name", default="", help="Full name shown in the console.")
@with_appcontext
def create_user_command(
    email: str, role: str, sites: tuple[str, ...], password: str | None, full_name: str
) -> None:
    """Create a user."""
    from .models import Role
    from .queue.accounts import create_user
    from .queue.errors import DomainError
    from .queue.sites import get_site

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        site_rows = [get_site(db.session, slug) for slug in sites]
        user = create_user(
            db.session, email, password, Role(role), sites=site_rows, full_name=full_name
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        details = ", ".join(f"{k}={v}" for k, v in error.details.items())
        raise click.ClickException(
            f"{error.message} ({details})" if details else str(error.message)
        ) from error
    click.echo(f"Created {user.role.value} {user.email}")
    if generated:
        click.echo(f"Password: {password}")


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Leave the periodic jobs to `queue-app worker`.")
@with_appcontext
def run_command(host: str, port: int, no_scheduler: bool) -> None:
    """Run the server (development server with websockets, in-process scheduler)."""
    from .extensions import socketio
    from .jobs.scheduler import build_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("PUBLIC_URL_IS_DEFAULT"):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        app.config["PUBLIC_URL"] = f"http://{shown}:{port}"
    scheduler = None
    if not no_scheduler:
        scheduler = build_scheduler(app, blocking=False)
        scheduler.start()
    click.echo(f"Guichet is running on {app.config['PUBLIC_URL']}  (Ctrl+C to stop)")
    click.echo(f"  Agent console: {app.config['PUBLIC_URL']}/agent")
    sys.stdout.flush()
    # Flask ignores app.run() under its CLI; this command is the server on purpose.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    # The development server's "not for production" banner: known, and said in the README.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        socketio.run(
            app,
            host=host,
            port=port,
            use_reloader=False,
            log_output=False,
            allow_unsafe_werkzeug=True,
        )
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


@cli.command("worker")
def worker() -> None:
    """Run the background jobs alone (production: once, beside the web processes)."""
    from .jobs.scheduler import build_scheduler

    app = create_app({"SOCKETIO_WRITE_ONLY": True})
    if not app.config.get("REDIS_URL"):
        click.echo(
            "Note: QUEUE_APP_REDIS_URL is not set; the worker's realtime events "
            "cannot reach the server's screens.",
            err=True,
        )
    click.echo("Guichet worker started.")
    build_scheduler(app, blocking=True).start()


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
