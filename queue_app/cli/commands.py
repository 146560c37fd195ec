"""`queue-app`: the project's command line (a Flask CLI group bound to the app)."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .. import create_app
from ..extensions import db

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def _app_factory():
    return create_app()


class GuichetGroup(FlaskGroup):
    """Flask's command group; its own commands are found without loading the extensions'.

    Flask loads every installed "flask.commands" plugin (Flask-Limiter's, with
    rich; flask-smorest's...) to look any command up: `queue-app worker`
    would carry them all its life.
    """

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self.commands.get(name) or super().get_command(ctx, name)


@click.group(cls=GuichetGroup, create_app=_app_factory)
def cli() -> None:
    """Guichet: queue and appointment system for public front offices."""


def main() -> None:
    cli(prog_name="queue-app")


def alembic_config():
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


def _adapt_public_url(app: Flask, host: str, port: int) -> None:
    """Links name the host and port served on, unless PUBLIC_URL was configured."""
    if app.config.get("PUBLIC_URL_IS_DEFAULT"):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        app.config["PUBLIC_URL"] = f"http://{shown}:{port}"


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host the URLs name.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port the URLs name.")
@with_appcontext
def demo(host: str, port: int) -> None:
    """Load the example office (idempotent) and print its URLs and device tokens."""
    _adapt_public_url(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]
    from ..demo import load_office, read_spec

    upgrade_database()
    loaded = load_office(
        db.session,
        read_spec(),
        current_app.config["SECRET_KEY"],
        instance_path=current_app.instance_path,
    )
    db.session.commit()
    base = current_app.config["PUBLIC_URL"]
    site = loaded.site
    tokens = {device.kind.value: (device, token) for device, token in loaded.tokens.values()}
    kiosk, kiosk_token = tokens.get("kiosk", (None, None))
    display_token = tokens.get("display", (None, None))[1]
    tablet_token = tokens.get("tablet", (None, None))[1]
    first = site.counters[0] if site.counters else None
    echo = click.echo
    echo("")
    echo(f'Demo office ready: {site.name} (site "{site.slug}", {site.timezone})')
    echo("")
    echo("  Pages (open them in Chromium):")
    if kiosk_token:
        echo(f"    Touch kiosk        {base}/kiosk/{site.slug}?token={kiosk_token}")
    if display_token:
        echo(f"    Display (TV)       {base}/display/{site.slug}?token={display_token}")
        if first is not None:
            echo(
                f"    Counter screen     {base}/display/{site.slug}/counters/{first.id}"
                f"?token={display_token}  ({first.name})"
            )
    echo(f"    Agent console      {base}/agent")
    echo(f"    Administration     {base}/admin  (dashboard, offices, complaints)")
    if tablet_token and first is not None:
        echo(
            f"    Feedback tablet    {base}/feedback/{first.id}?token={tablet_token}"
            f"  ({first.name})"
        )
    echo(f"    Booking (public)   {base}/book/{site.slug}")
    echo(f"    Commitments        {base}/sites/{site.slug}/commitments")
    echo(f"    Complaint form     {base}/sites/{site.slug}/complaints")
    echo(f"    API docs           {base}/api/v1/docs")
    echo("")
    echo("  Sign-ins:")
    for user, password in loaded.users:
        echo(f"    {user.role.value:<8} {user.email:<24} {password}")
    echo("")
    echo("  Device tokens:")
    for name, (device, token) in loaded.tokens.items():
        echo(f"    {device.kind.value:<8} {name:<24} {token}")
    if kiosk is not None and kiosk.printer:
        echo("")
        echo(f"  The kiosk prints to {kiosk.printer}")
        echo("    (ESC/POS bytes are appended to that file; to print on paper, set the kiosk's")
        echo('     "printer" to tcp://PRINTER-IP:9100 — see the README, "Kiosk and printing")')
    if kiosk_token:
        echo("")
        echo("  Issue a ticket as the kiosk:")
        echo(
            f"    curl -X POST -H 'Authorization: Bearer {kiosk_token}' "
            f"-H 'Content-Type: application/json' -d '{{\"service\": \"CNI\"}}' "
            f"{base}/api/v1/sites/{site.slug}/tickets"
        )
    echo("")
    echo("  Book by SMS (console gateway: texts are printed, and kept in")
    echo(f"  {current_app.config['SMS_CONSOLE_PATH']}):")
    echo('    queue-app sms-simulate --from "+221 77 123 45 67" "RDV"')
    echo('    queue-app sms-simulate --from "+221 77 123 45 67" "1"   (and so on)')
    echo('    queue-app sms-simulate --from "+221 77 123 45 67" "RDV CNI demain 9h"')
    if kiosk_token:
        echo("  then check in at the kiosk (J'ai un rendez-vous), or:")
        echo(
            f"    curl -X POST -H 'Authorization: Bearer {kiosk_token}' "
            f"{base}/api/v1/appointments/<REFERENCE>/check-in"
        )
    echo("")


@cli.command("sms-simulate")
@click.option("--from", "sender", required=True, help="The citizen's number, e.g. +221771234567.")
@click.option("--site", "slug", default=None, help="Site slug (default: the only or default site).")
@click.option("--whatsapp", is_flag=True, help="As a WhatsApp message rather than an SMS.")
@click.argument("text")
@with_appcontext
def sms_simulate(sender: str, slug: str | None, whatsapp: bool, text: str) -> None:
    """Simulate an inbound SMS (console gateway) and print what Guichet answers."""
    import uuid

    from sqlalchemy import select

    from ..models import OutboundMessage
    from ..sms import inbound
    from ..sms.gateway import Inbound
    from ..sms.outbox import deliver_due

    config = current_app.config
    site = inbound.site_for(db.session, "console", None, config, slug)
    if site is None:
        raise click.ClickException("No site: name one with --site SLUG.")
    message = Inbound(
        provider="console",
        message_id=f"sim-{uuid.uuid4().hex}",
        sender=sender,
        body=text,
        channel="whatsapp" if whatsapp else "sms",
    )
    last = db.session.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()))
    inbound.receive(db.session, site, message, config=config)
    db.session.commit()
    deliver_due(db.session)
    answers = db.session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.id > (last or 0), OutboundMessage.gateway == "console")
        .order_by(OutboundMessage.id)
    ).all()
    click.echo(f"> {text}")
    for answer in answers:
        click.echo(f"< {answer.body}")
    if not answers:
        click.echo("< (no answer)")


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
    from ..models import Role
    from ..queue.accounts import create_user
    from ..queue.errors import DomainError
    from ..queue.sites import get_site

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
    from ..extensions import socketio
    from ..jobs.scheduler import build_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _adapt_public_url(app, host, port)
    scheduler = None
    if not no_scheduler:
        scheduler = build_scheduler(app, blocking=False)
        scheduler.start()
    from .. import settle_heap

    settle_heap()
    click.echo(f"Guichet is running on {app.config['PUBLIC_URL']}  (Ctrl+C to stop)")
    click.echo(f"  Agent console: {app.config['PUBLIC_URL']}/agent")
    sys.stdout.flush()
    # Flask ignores app.run() under its CLI; this command is the server on purpose.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    # The development server's "not for production" banner: known, and said in the README.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    options = {}
    if socketio.server.eio.async_mode == "gevent":
        from gevent.pywsgi import LoggingLogAdapter

        # gevent's server reports each WebSocket closed by its client as a bad request
        # line; what matters is logged by the application.
        options["error_log"] = LoggingLogAdapter(
            logging.getLogger("queue_app.server"), logging.DEBUG
        )
    try:
        socketio.run(
            app,
            host=host,
            port=port,
            use_reloader=False,
            log_output=False,
            allow_unsafe_werkzeug=True,
            **options,
        )
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


# Not in the app context of the CLI's (full) app: the worker builds its own, smaller one.
@cli.command("worker", with_appcontext=False)
def worker() -> None:
    """Run the background jobs alone (production: once, beside the web processes)."""
    from .. import create_worker_app
    from ..jobs.scheduler import build_scheduler

    app = create_worker_app()
    if not app.config.get("REDIS_URL"):
        click.echo(
            "Note: QUEUE_APP_REDIS_URL is not set; the worker's realtime events "
            "cannot reach the server's screens.",
            err=True,
        )
    click.echo("Guichet worker started.")
    from .. import settle_heap

    settle_heap()
    build_scheduler(app, blocking=True).start()


@cli.command(
    "print-agent",
    with_appcontext=False,
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def print_agent(args: tuple[str, ...]) -> None:
    """Run a print agent on a kiosk PC: --server URL --token T --printer PRINTER_URL.

    The same agent as `guichet-print-agent` (printer/), which installs without the
    server; it reads no server settings. `queue-app print-agent --help` lists its options.
    """
    from guichet_printer.agent import main as agent_main

    raise SystemExit(agent_main(list(args), prog="queue-app print-agent"))


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
