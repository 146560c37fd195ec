"""`queue-app`: the project's command line (a Flask CLI group bound to the app)."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


@cli.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write a consistent copy of the whole database to PATH, while the server runs.

    PATH is a file, or a folder where a dated file is made. SQLite: a SQLite
    file (online backup API); PostgreSQL: a pg_dump archive (custom format).
    """
    from ..models import utcnow
    from ..ops import backup as backups

    url = current_app.config["DATABASE_URL"]
    if path.is_dir():
        path = path / backups.nightly_name(url, utcnow())
    try:
        written = backups.backup(url, path)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Backup of {_safe_url(url)} written to {written} ({written.stat().st_size} bytes)")


@cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(path: Path) -> None:
    """Load the backup PATH into the (empty) database of the settings, then migrate it.

    Stop the server and the worker first. A database holding any row is refused.
    """
    from ..ops import backup as backups

    url = current_app.config["DATABASE_URL"]
    db.session.remove()
    try:
        backups.restore(db.engine, path)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from error
    # A backup of an earlier release is brought to this release's schema.
    upgrade_database()
    click.echo(f"Restored {path} into {_safe_url(url)}; the schema is up to date.")


def _adapt_public_url(app: Flask, host: str, port: int) -> None:
    """Links name the host and port served on, unless PUBLIC_URL was configured."""
    if app.config.get("PUBLIC_URL_IS_DEFAULT"):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        app.config["PUBLIC_URL"] = f"http://{shown}:{port}"


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host the URLs name.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port the URLs name.")
@click.option(
    "--no-history",
    is_flag=True,
    help="Leave the office without its past weeks of tickets, ratings and complaints.",
)
@click.option(
    "--history-days",
    default=None,
    type=click.IntRange(1, 400),
    help="Days of past activity played into a new demo office (default: 60).",
)
@with_appcontext
def demo(host: str, port: int, no_history: bool, history_days: int | None) -> None:
    """Load the example office (idempotent) and print its URLs and device tokens.

    A new demo office first gets 60 days of past activity (tickets, calls,
    no-shows, ratings, complaints), played by the product's own operations, so
    that its dashboard and its public commitments page show results.
    """
    _adapt_public_url(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]
    from ..demo import load_office, read_spec

    upgrade_database()
    spec = read_spec()
    loaded = load_office(
        db.session,
        spec,
        current_app.config["SECRET_KEY"],
        instance_path=current_app.instance_path,
    )
    db.session.commit()
    if not no_history:
        _demo_history(loaded.site, spec.get("history") or {}, history_days)
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
    _say_public_url(base)
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
        echo('     "printer" to tcp://PRINTER-IP:9100 — see docs/operations/printers.md)')
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


def _demo_history(site: Any, plan: dict[str, Any], days: int | None) -> None:
    """Play the demo office's past weeks, saying so (it takes some seconds)."""
    from ..demo.history import DEFAULT_DAYS, has_history, load_history
    from ..models import utcnow
    from ..queue.days import service_day

    config = current_app.config
    if has_history(db.session, site, service_day(site, utcnow())):
        click.echo("The demo office already has tickets of earlier days: no past activity added.")
        return
    days = days or int(plan.get("days", DEFAULT_DAYS))
    click.echo(
        f"Playing {days} days of past activity into the demo office "
        "(tickets, calls, no-shows, ratings, complaints; --no-history skips it), a dot a day:"
    )
    # The made-up complaints and the roll-up would each log a line: the summary says it.
    quiet = [logging.getLogger(f"queue_app.quality.{name}") for name in ("complaints", "rollup")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    try:
        played = load_history(
            db.session,
            site,
            days=days,
            staffing=plan.get("staffing"),
            arrivals=plan.get("arrivals"),
            answer_days=float(config["COMPLAINT_ANSWER_DAYS"]),
            grace=timedelta(minutes=float(config["DAY_CLOSE_GRACE_MINUTES"])),
            learning_days=int(config["ESTIMATE_LEARNING_DAYS"]),
            progress=lambda _day: click.echo(".", nl=False),
        )
        click.echo("")
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    if played.skipped:
        click.echo(
            "  Not played: a counter is open. Close the counters, then run queue-app demo again."
        )
        return
    click.echo(
        f"  {played.days} working days: {played.tickets} tickets, {played.served} served, "
        f"{played.no_shows} no-shows, {played.cancelled} gave up, {played.ratings} ratings, "
        f"{played.complaints} complaints "
        f"({played.seconds:.0f} s)"
    )


def _lan_address() -> str | None:
    """This machine's address on its network, as phones on the same Wi-Fi would reach it.

    Asks the system which address it would send from (a UDP socket sends nothing
    when it connects); None when it has none but loopback.
    """
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


def _say_public_url(base: str) -> None:
    """Where the QR codes and SMS links point, and how to point them at phones' reach."""
    from ..infra.config import reaches_only_this_machine

    echo = click.echo
    echo(f"  Citizens' phones: QR codes on tickets and links in SMS point to {base}")
    if not reaches_only_this_machine(base):
        echo("    (PUBLIC_URL): phones must reach that address.")
        echo("")
        return
    port = urlsplit(base).port or 5000
    lan = _lan_address()
    example = f"http://{lan or '192.168.1.20'}:{port}"
    echo("    — this computer only: a phone scanning a ticket cannot open it.")
    echo("    To try it with phones on the same Wi-Fi, serve on every interface and set")
    echo(
        "    PUBLIC_URL to this computer's address on that network"
        + ("" if lan else " (ip addr shows it)")
        + ":"
    )
    echo(f"      QUEUE_APP_PUBLIC_URL={example} make demo HOST=0.0.0.0 PORT={port}")
    echo("    In production, PUBLIC_URL is the office's public address, on HTTPS;")
    echo("    `queue-app check-settings` and the production server refuse 127.0.0.1 and localhost.")
    echo("")


@cli.command("check-settings")
@with_appcontext
def check_settings() -> None:
    """Check the settings a production server needs (PUBLIC_URL phones reach...); exit 1 if not."""
    from ..infra.config import production_problems

    problems = production_problems(current_app.config)
    for problem in problems:
        click.echo(f"- {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"Settings fit production (PUBLIC_URL {current_app.config['PUBLIC_URL']}).")


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
    # The development server's "not for production" banner: known, and said in
    # docs/operations/production.md.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    options = {}
    if socketio.server.eio.async_mode == "gevent":
        from gevent.pywsgi import LoggingLogAdapter

        # gevent's server reports each WebSocket closed by its client as a bad request
        # line; what matters is logged by the application.
        options["error_log"] = LoggingLogAdapter(
            logging.getLogger("queue_app.server"), logging.DEBUG
        )
        from .serving import handler_options

        options.update(handler_options())
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
    from ..infra.config import production_problems

    for problem in production_problems(app.config):
        click.echo(f"Note: {problem}", err=True)
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
